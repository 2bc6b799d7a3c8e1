"""The CI gate seen from the command line: levels, the baseline, and the JSON report.

Rules of this file:
- every run is a pytest subprocess in a fresh pytester folder (outside the
  clone), as a pipeline runs sockspec, and is judged by its exit status and its
  output; the run's JSON report is validated against sockspec/report.schema.json;
- the implementations that fail are real: a user driver written into that
  folder, and a faulty server from tests/faulty_servers/ named in its
  pyproject.toml; the ones that pass are reference impls;
- runs stay small: each selects a few behaviours with -k.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sockspec.reports import jsonreport

from tests.server_runs import new_mark, pyproject
from tests.test_plugin import DRIVERS  # Broken: recv returns b'' at once instead of waiting

FAULTY_SERVERS = Path(__file__).resolve().parent / "faulty_servers"

MUST = "blocking.recv.waits-for-peer"
MUST_SELECT = "blocking.recv.waits-for-peer and tcp4"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def report(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, jsonreport.schema())
    return document


def test_a_must_failure_fails_the_gate_and_the_baseline_makes_it_expected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    failing = run(pytester, "--impl=userdrivers:Broken", "-k", MUST_SELECT)
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    failing.stdout.fnmatch_lines(["FAIL  userdrivers:Broken  blocking * 0 passed * 1 failed *"])

    written = run(
        pytester, "--impl=userdrivers:Broken", "-k", MUST_SELECT, "--sockspec-write-baseline=known.yaml"
    )
    written.stdout.fnmatch_lines(["wrote baseline: *known.yaml (1 known failures)"])
    text = (pytester.path / "known.yaml").read_text()
    assert f"id: {MUST}" in text
    assert "impl: userdrivers:Broken" in text

    gated = run(pytester, "--impl=userdrivers:Broken", "-k", MUST_SELECT, "--sockspec-baseline=known.yaml")
    assert gated.ret == pytest.ExitCode.OK, gated.stdout.str()
    gated.stdout.fnmatch_lines(["*1 xfailed*"])
    gated.stdout.fnmatch_lines(["* 0 passed * 0 failed * 0 not applicable, 1 expected failures"])

    # Rewriting from a run that selects other behaviours keeps the entries it did not test.
    rewritten = run(
        pytester,
        "--impl=userdrivers:Broken",
        "-k",
        "blocking.accept.waits-for-client and tcp4",
        "--sockspec-baseline=known.yaml",
        "--sockspec-write-baseline=known.yaml",
    )
    rewritten.stdout.fnmatch_lines(
        ["wrote baseline: *known.yaml (0 known failures, 1 kept as they were: not tested in this run)"]
    )
    assert f"id: {MUST}" in (pytester.path / "known.yaml").read_text()


def test_a_known_failure_that_passes_fails_the_gate_as_an_unexpected_pass(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml", known=f"known_failures:\n  - id: {MUST}\n    impl: sockets\n    reason: it used to give up\n"
    )
    result = run(pytester, "--impl=sockets", "-k", MUST_SELECT, "--sockspec-baseline=known.yaml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"{MUST} passed on sockets over tcp4, but the baseline lists it as a known failure "
            "(*known.yaml:2: it used to give up).",
            "If the implementation is fixed, remove that entry from the baseline*",
        ]
    )
    result.stdout.fnmatch_lines(["FAIL  sockets  blocking * 0 passed * 0 failed * 1 unexpected passes"])


def test_a_baseline_naming_a_behaviour_the_corpus_lacks_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", known="known_failures:\n  - id: blocking.recv.waits-for-pee\n    reason: x\n")
    result = run(pytester, "--impl=sockets", "--sockspec-baseline=known.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: sockspec cannot use the baseline *known.yaml:",
            "*known.yaml:2: id: no behaviour 'blocking.recv.waits-for-pee' in the spec files run "
            "(did you mean 'blocking.recv.waits-for-peer'?)",
        ]
    )
    assert "Traceback" not in result.stderr.str()


def test_a_baseline_set_in_pyproject_is_used(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", known=f"known_failures:\n  - id: {MUST}\n    reason: it gives up early\n")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nsockspec_baseline = "known.yaml"\n')
    pytester.makepyfile(userdrivers=DRIVERS)
    result = run(pytester, "--impl=userdrivers:Broken", "-k", MUST_SELECT, "-rx")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["XFAIL *waits-for-peer* - known failure (*known.yaml:2): it gives up early"])


SHOULD = "readiness.write.drain-hysteresis"
LAZY_DRAIN = '''\
from __future__ import annotations

import socket
from collections.abc import Mapping

from sockspec.reference_impls.selectors_ref import PollDriver


class Lazy(PollDriver):
    """Reports a socket watched for writing as writable whenever asked, even with its buffer full."""

    name = "lazy"

    def register(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        super().register(sock, events, trigger)
        if "write" in events:
            self.writers = {*getattr(self, "writers", ()), sock.fileno()}

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        writers = getattr(self, "writers", set())
        ready = {fd: set(events) for fd, events in super().wait(0 if writers else timeout).items()}
        for fd in writers:
            ready.setdefault(fd, set()).add("write")
        return {fd: frozenset(events) for fd, events in ready.items()}
'''


def test_a_should_failure_warns_and_fails_only_when_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=LAZY_DRAIN)
    selected = ("--impl=userdrivers:Lazy", "-k", f"{SHOULD} and tcp4")
    warned = run(pytester, *selected, "--sockspec-json=run.json")
    assert warned.ret == pytest.ExitCode.OK, warned.stdout.str()
    warned.stdout.fnmatch_lines(
        [
            "*sockspec warnings: SHOULD behaviours that failed*",
            f"{SHOULD} failed on userdrivers:Lazy over tcp4 (readiness, SHOULD)",
            "(--sockspec-strict makes them fail the run)",
            "warn  userdrivers:Lazy  readiness * 0 passed * 0 failed * 0 not applicable, 1 warned (SHOULD)",
        ]
    )
    (item,) = report(pytester.path / "run.json")["items"]
    assert (item["id"], item["level"], item["outcome"]) == (SHOULD, "should", "warned")

    strict = run(pytester, *selected, "--sockspec-strict")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nsockspec_strict = true\n")
    assert run(pytester, *selected).ret == pytest.ExitCode.TESTS_FAILED


def test_the_json_report_validates_and_carries_each_item(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = run(
        pytester,
        "--impl=sockets",
        "--impl=userdrivers:Broken",
        "-k",
        f"{MUST} or blocking.accept.waits-for-client",
        "--sockspec-json=out/run.json",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = report(pytester.path / "out" / "run.json")
    assert document["gate"] == "fail"
    assert [impl["name"] for impl in document["impls"]] == ["sockets", "userdrivers:Broken"]
    assert 0.02 <= document["timing"]["tolerance"] <= 0.04  # measured at the start of the run
    assert document["timing"]["derivation"].startswith("measured at the start of the run: ")
    assert document["corpus"]["files"]
    outcomes = {(item["id"], item["impl"], item["family"]): item for item in document["items"]}
    failed = outcomes[(MUST, "userdrivers:Broken", "tcp4")]
    assert failed["outcome"] == "failed"
    assert failed["rule"] and failed["source"]
    assert failed["failure"]["where"].startswith("spec/blocking.yaml:")
    assert failed["failure"]["observed"]
    assert {event["actor"] for event in failed["trace"]} >= {"impl", "peer"}
    passed = outcomes[(MUST, "sockets", "tcp4")]
    assert passed["outcome"] == "passed"
    assert passed["failure"] is None
    assert passed["trace"]
    assert document["counts"]["failed"] == sum(item["outcome"] == "failed" for item in document["items"])


def test_the_gate_over_a_student_server_follows_its_baseline(pytester: pytest.Pytester) -> None:
    """The pipeline's view: a known defect passes the gate, a new one fails it, a fix must be recorded."""
    (pytester.path / "server.py").write_bytes((FAULTY_SERVERS / "reads_once.py").read_bytes())
    (pytester.path / "_listen.py").write_bytes((FAULTY_SERVERS / "_listen.py").read_bytes())
    mark = new_mark()
    faulty = pyproject("student", [sys.executable, "server.py", "--port", "{port}"], mark)
    pytester.makepyprojecttoml(faulty)
    pytester.makefile(
        ".yaml",
        known="known_failures:\n  - id: server.echo.large\n    impl: student\n    reason: reads only once\n",
    )
    selected = ("--impl=student", "-k", "server.echo")

    gated = run(pytester, *selected, "--sockspec-baseline=known.yaml")
    assert gated.ret == pytest.ExitCode.OK, gated.stdout.str()
    gated.stdout.fnmatch_lines(["pass  student  server * 1 passed * 0 failed *, 1 expected failures"])

    ungated = run(pytester, *selected)
    assert ungated.ret == pytest.ExitCode.TESTS_FAILED
    ungated.stdout.fnmatch_lines(["FAIL  student  server * 1 passed * 1 failed *"])

    fixed = pyproject(
        "student", [sys.executable, "-m", "sockspec.reference_impls.threads_server", "--port", "{port}"], mark
    )
    pytester.makepyprojecttoml(fixed)
    unexpected = run(pytester, *selected, "--sockspec-baseline=known.yaml")
    assert unexpected.ret == pytest.ExitCode.TESTS_FAILED
    unexpected.stdout.fnmatch_lines(
        ["*server.echo.large passed on student over tcp4, but the baseline lists it*"]
    )

    rewritten = run(pytester, *selected, "--sockspec-write-baseline=known.yaml")
    rewritten.stdout.fnmatch_lines(["wrote baseline: *known.yaml (0 known failures)"])
    assert run(pytester, *selected, "--sockspec-baseline=known.yaml").ret == pytest.ExitCode.OK


def test_reports_under_xdist_carry_what_each_item_saw(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = run(pytester, "-n", "2", "--impl=userdrivers:Broken", "-k", MUST, "--sockspec-json=run.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    items = report(pytester.path / "run.json")["items"]
    assert {item["family"] for item in items} == {"tcp4", "tcp6", "unix"} or len(items) >= 2
    for item in items:
        if item["outcome"] == "failed":
            assert item["failure"]["observed"] and item["trace"] and item["text"]


def test_last_failed_reruns_only_the_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    selected = ("--impl=userdrivers:Broken", "-k", f"{MUST} or blocking.accept.waits-for-client")
    first = pytester.runpytest_subprocess(*selected)
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    failed = first.parseoutcomes()["failed"]
    again = pytester.runpytest_subprocess(*selected, "--lf")
    outcomes = again.parseoutcomes()
    assert (outcomes["failed"], outcomes.get("passed", 0)) == (failed, 0)


def test_a_stopped_run_fails_the_gate_in_its_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = run(pytester, "--impl=userdrivers:Broken", "-k", MUST, "-x", "--sockspec-json=run.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["run stopped early (*): the items that had not run are missing; the gate fails"]
    )
    document = report(pytester.path / "run.json")
    assert document["gate"] == "fail"
    assert document["stopped"].startswith("stopped early")


def test_report_paths_are_checked_before_anything_runs(pytester: pytest.Pytester) -> None:
    (pytester.path / "out").mkdir()
    result = run(pytester, "--impl=sockets", "--sockspec-json=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --sockspec-json=out: */out is a folder; name the JSON report file to write"]
    )
    written = run(
        pytester, "--impl=sockets", "-k", MUST_SELECT, "--sockspec-write-baseline=ci/new/known.yaml"
    )
    assert written.ret == pytest.ExitCode.OK
    assert (pytester.path / "ci" / "new" / "known.yaml").read_text().endswith("known_failures: []\n")


def test_a_baseline_entry_that_matches_nothing_is_pointed_out(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", known=f"known_failures:\n  - id: {MUST}\n    impl: socket\n    reason: typo\n")
    result = run(pytester, "--impl=sockets", "-k", MUST_SELECT, "--sockspec-baseline=known.yaml")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [f"sockspec: *known.yaml:2: this baseline entry matched no item of {MUST} that ran (impl socket, *"]
    )


def test_a_run_that_checks_nothing_passes_no_gate(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--impl=sockets", "-m", "completion", "-k", "tcp4", "--sockspec-json=run.json")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(
        ["sockspec: nothing was checked: every behaviour selected was not applicable*"]
    )
    document = report(pytester.path / "run.json")
    assert document["gate"] == "fail"
    assert document["items"] == []  # not applicable: not collected, said once in not_applicable
    assert [(left["impl"], list(left["models"])) for left in document["not_applicable"]] == [
        ("sockets", ["completion"])
    ]


def test_a_strict_setting_that_is_not_true_or_false_names_itself(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nsockspec_strict = "maybe"\n')
    result = run(pytester, "--impl=sockets", "--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: sockspec_strict: invalid truth value 'maybe' (write true or false)"])
