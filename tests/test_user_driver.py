"""A user's own driver: the README's example runs, and a class that cannot run is said once, at start.

Rules of this file:
- the example is taken from README.md as written (the python block under
  "### Your own driver"), so the README cannot show code that does not work;
- a broken class is a module written into a pytester directory and named with
  --impl=module:Class, as a user would; every run is a subprocess;
- a class that cannot run is a usage error naming the class and each problem,
  never a traceback and never one failure per item.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BROKEN = '''\
from __future__ import annotations

from sockspec import Model, SocketDriver
from sockspec.reference_impls.sockets_ref import SocketsDriver


class Incomplete(SocketDriver):
    """Declares the blocking model and implements none of its operations."""

    name = "incomplete"
    models = frozenset({Model.BLOCKING})


class StringModels(SocketsDriver):
    """Declares its models as the words a spec file uses."""

    models = frozenset({"blocking", "nonblocking"})


class Explodes(SocketsDriver):
    """Needs something the machine lacks when it is built."""

    def __init__(self) -> None:
        raise RuntimeError("no such config file: driver.ini")


class NoModels(SocketsDriver):
    models = frozenset()
'''


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Your own driver", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "README.md's 'Your own driver' section has no python block"
    return found.group(1)


def test_the_readme_driver_example_runs_and_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mydriver=readme_example())
    result = pytester.runpytest_subprocess("--impl=mydriver:RecvIntoDriver", "-k", "recv and tcp4")
    assert result.ret == pytest.ExitCode.OK, "\n".join(result.outlines[-30:])
    assert result.parseoutcomes()["passed"] >= 10
    result.stdout.re_match_lines([r"^pass  mydriver:RecvIntoDriver  blocking +\d+ passed +0 failed"])
    result.stdout.re_match_lines([r"^pass  mydriver:RecvIntoDriver  nonblocking +\d+ passed +0 failed"])


@pytest.mark.parametrize(
    ("cls", "problems"),
    [
        (
            "Incomplete",
            [
                "  - it does not implement accept, close, connect, recv, send, set_blocking, set_timeout, "
                "shutdown (abstract in the driver contract it subclasses)"
            ],
        ),
        (
            "StringModels",
            [
                "  - models holds plain strings ['blocking', 'nonblocking']; declare sockspec.Model members "
                "(write Model.BLOCKING, Model.NONBLOCKING, from sockspec import Model)"
            ],
        ),
        ("Explodes", ["  - building it raised RuntimeError: no such config file: driver.ini"]),
        ("NoModels", ["  - it declares no models, so no behaviour would run (declare some of *)"]),
    ],
)
def test_a_driver_class_that_cannot_run_is_one_usage_error(
    pytester: pytest.Pytester, cls: str, problems: list[str]
) -> None:
    pytester.makepyfile(userdrivers=BROKEN)
    result = pytester.runpytest_subprocess(f"--impl=userdrivers:{cls}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: impl 'userdrivers:{cls}': the driver class userdrivers.{cls} cannot run:", *problems]
    )
    text = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in text
    assert "sockspec itself failed" not in text
