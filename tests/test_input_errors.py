"""Wrong inputs through the plugin, as a user meets them: a wrong impl table, an id used twice,
a spec file sockspec cannot read.

Rules of this file:
- every run is a separate pytest process in a fresh folder (pytester) that
  collects only, or stops at collection (nothing runs, no server starts);
- a wrong [tool.sockspec.impls.NAME] table is a usage error naming the file,
  the line, the table and the key, when that impl is named, and only then;
- a --spec file that cannot be loaded (a YAML bomb, 10 MB, empty) stops the
  run at collection with one located message, in bounded time (each run has a
  timeout), and nothing runs, not even the corpus's valid files; a --spec
  folder without spec files is a usage error;
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


def assert_refused_before_anything_ran(result: pytest.RunResult, *lines: str) -> None:
    """The run stopped at collection with these lines, ran nothing and printed no traceback."""
    assert result.ret == pytest.ExitCode.INTERRUPTED, output(result)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["sockspec cannot load this spec file:", *lines])
    assert "Traceback" not in output(result)


# A "billion laughs": nine aliases of nine, 9**9 values from nine lines.
BOMB = "lol: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{level}: &{chr(98 + level)} [{', '.join([f'*{chr(97 + level)}'] * 9)}]\n" for level in range(8)
)


def test_a_yaml_bomb_is_refused_at_once_and_nothing_runs(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", bomb="model: blocking\nsource: io-models-blog.md\nbehaviours: []\n" + BOMB)
    # Beside the bundled corpus: its files load, but the run stops before any of them runs.
    result = pytester.runpytest_subprocess(
        "--impl=sockets", "--spec", "bomb.yaml", "-p", "no:cacheprovider", timeout=120
    )
    assert_refused_before_anything_ran(
        result, "bomb.yaml:4: lol3*: aliases repeat more than 10000 values: write the values out instead"
    )


def test_a_spec_file_of_10_mb_is_refused_at_once_and_nothing_runs(pytester: pytest.Pytester) -> None:
    line = (
        "  - {id: blocking.big.x, level: must, rule: A thing happens., source: x, steps: [{call: close}]}\n"
    )
    path = pytester.path / "big.yaml"
    path.write_text(
        "model: blocking\nsource: x\nbehaviours:\n" + line * (10_000_000 // len(line)), encoding="utf-8"
    )
    result = pytester.runpytest_subprocess(
        "--impl=sockets", "--spec", "big.yaml", "--spec-only", "-p", "no:cacheprovider", timeout=120
    )
    assert_refused_before_anything_ran(
        result,
        "big.yaml:1: a spec file holds at most 1,000,000 characters: split this one into several files",
    )


def test_an_empty_spec_file_is_refused_and_nothing_runs(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", empty="")
    result = pytester.runpytest_subprocess(
        "--impl=sockets", "--spec", "empty.yaml", "--spec-only", "-p", "no:cacheprovider", timeout=120
    )
    assert_refused_before_anything_ran(
        result,
        "empty.yaml:1: the file holds no YAML document: "
        "a spec file is a mapping with model, source and behaviours",
    )


def test_a_spec_folder_without_spec_files_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "specs").mkdir()
    (pytester.path / "specs" / "notes.txt").write_text("model: blocking\n", encoding="utf-8")
    result = pytester.runpytest_subprocess(
        "--impl=sockets", "--spec", "specs", "-p", "no:cacheprovider", timeout=120
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --spec specs: no .yaml spec files in */specs"])
    assert "Traceback" not in output(result)
    assert "passed" not in output(result)
