"""pytest-xdist's `--dist loadgroup` keeps the tests of one `xdist_group` on one worker.

Rules of this file:
- the project's own server-run tests (one pool of server runs per file) and the plugin's
  scale items (no two measuring at once) rely on it; a pytest and pytest-xdist pair that
  loses the groups runs each file's whole pool once per worker, silently
  (pytest-dev/pytest-xdist#1386 with pytest 9.2), so this test runs a grouped file on two
  workers and fails when its tests were split;
- skipped, saying so, when pytest-xdist is not installed.
"""

from __future__ import annotations

import pytest

pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install -e '.[dev]')")

GROUPED = """\
import os
import pytest

pytestmark = pytest.mark.xdist_group("one")


@pytest.mark.parametrize("n", range(8))
def test_grouped(n, tmp_path_factory):
    root = tmp_path_factory.getbasetemp().parent.parent
    (root / f"ran-{n}").write_text(os.environ["PYTEST_XDIST_WORKER"])
"""


def test_one_group_runs_on_one_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grouped=GROUPED)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-p", "no:sockspec")
    result.assert_outcomes(passed=8)
    workers = {path.read_text() for path in pytester.path.rglob("ran-*")}
    assert len(workers) == 1, (
        f"the 8 tests of one xdist_group ran on {sorted(workers)}: this pytest "
        f"({pytest.__version__}) and pytest-xdist lose --dist loadgroup's groups; see pyproject.toml"
    )
