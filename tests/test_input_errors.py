"""Wrong inputs through the plugin, as a user meets them: a wrong impl table, an id used twice.

Rules of this file:
- every run is a separate pytest process in a fresh folder (pytester) that
  collects only (nothing runs, no server starts);
- a wrong [tool.sockspec.impls.NAME] table is a usage error naming the file,
  the line, the table and the key, when that impl is named, and only then;
- a message for a person is never a Python traceback.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from sockspec.language.loader import load_file

ROOT = Path(__file__).resolve().parent.parent
TABLES = f"""
[tool.sockspec.impls.good]
command = ["{sys.executable}", "server.py", "{{port}}"]

[tool.sockspec.impls.broken]
command = ["{sys.executable}", "server.py", "{{port}}"]
model = "thread"
"""


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


@pytest.mark.parametrize("name", ["good", "sockets"])
def test_other_impls_run_beside_a_wrong_table(pytester: pytest.Pytester, name: str) -> None:
    pytester.makepyprojecttoml(TABLES)
    result = pytester.runpytest_subprocess(
        f"--impl={name}", "-m", "server", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.OK, output(result)
    result.stdout.fnmatch_lines([f"spec/server.yaml::server.*[[]{name}-tcp4[]]"])


def test_naming_the_wrong_table_is_a_usage_error_naming_its_line(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(TABLES)
    result = pytester.runpytest_subprocess(
        "--impl=good", "--impl=broken", "--collect-only", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: */pyproject.toml:6: [[]tool.sockspec.impls.broken[]] model: 'thread' is not one of: "
            "threads, processes, readiness, completion (did you mean 'threads'?)"
        ]
    )
    assert "Traceback" not in output(result)


def test_an_id_of_the_corpus_used_again_in_a_spec_file_names_both(pytester: pytest.Pytester) -> None:
    first = load_file(ROOT / "spec" / "blocking.yaml", "spec/blocking.yaml").behaviours[0]
    pytester.makefile(
        ".yaml",
        again=(
            "model: blocking\nsource: io-models-blog.md\nbehaviours:\n"
            f"  - id: {first.id}\n    level: must\n    rule: A thing happens when it happens.\n"
            "    source: recv(2)\n    steps: [{call: close}]\n"
        ),
    )
    result = pytester.runpytest_subprocess("--impl=sockets", "--spec", "again.yaml", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.re_match_lines(
        [
            r"^sockspec cannot load this spec file:$",
            re.escape(f"again.yaml:4: id: id {first.id!r} is already used at {first.origin}"),
        ]
    )
    assert "Traceback" not in output(result)
