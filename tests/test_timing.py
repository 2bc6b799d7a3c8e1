"""The run's timing: the measured tolerance, how it is reported, and confirming late verdicts.

Rules of this file:
- the calibration is run for real (it takes a fraction of a second) and judged
  by its bounds, never by a value this machine happens to give;
- confirming is shown twice: with scripted verdicts (sockspec.judging.confirm,
  no sockets), and through the plugin with drivers late once or late every time;
- the plugin's output is checked as a user sees it: header, summary, JSON
  (against its schema) and HTML; with pytest-xdist, every worker judges with the
  controller's tolerance.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from sockspec.driving import calibration
from sockspec.judging.confirm import RUNS, confirm
from sockspec.judging.verdict import Failure, Verdict
from sockspec.language.loader import load_text
from sockspec.language.model import Family, Origin
from sockspec.reports.plain import from_plain
from sockspec.reports.record import RunRecord

SCHEMA = Path(calibration.__file__).resolve().parent.parent / "reports" / "report.schema.json"

# -- the calibration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("worst", "tolerance"),
    [(0.0, calibration.FLOOR), (0.001, calibration.FLOOR), (0.0075, 0.030), (0.5, calibration.CEILING)],
)
def test_derive_multiplies_the_worst_within_floor_and_ceiling(worst: float, tolerance: float) -> None:
    assert calibration.derive(worst) == pytest.approx(tolerance)


def test_calibrate_measures_quickly_and_stays_within_its_bounds() -> None:
    started = time.monotonic()
    measured = calibration.calibrate()
    assert time.monotonic() - started < 1.0
    assert calibration.LEAST <= measured.samples <= calibration.SAMPLES
    assert 0 <= measured.median <= measured.p99 <= measured.worst
    assert calibration.FLOOR <= measured.tolerance <= calibration.CEILING
    assert measured.tolerance == calibration.derive(measured.worst)
    assert measured.describe().startswith(
        f"measured at the start of the run: {measured.samples} no-op socket calls on a worker thread, median "
    )
    assert measured.describe().endswith("tolerance = 4 x worst, within [20.0 ms, 40.0 ms]")


# -- confirming, with scripted verdicts --------------------------------------------------------------

BEHAVIOUR = load_text(
    """
model: nonblocking
source: recv(2)
behaviours:
  - id: nonblocking.recv.scripted
    level: must
    rule: A non-blocking recv on an empty buffer fails at once with would_block.
    source: recv(2) EAGAIN
    steps:
      - call: recv
        size: 1
        expect: {error: would_block, at_once: true}
""",
    "scripted.yaml",
).behaviours[0]
LATE = "expected it to return at once (within the 20.0 ms tolerance), observed 51.3 ms"


def verdict(*mismatches: str, late: bool = True) -> Verdict:
    failure = (
        Failure(0, Origin("scripted.yaml", 10), "step 1 (recv(1))", mismatches, late) if mismatches else None
    )
    return Verdict(BEHAVIOUR, "scripted", Family.UNIX, (), failure)


def scripted(*verdicts: Verdict) -> Iterator[Verdict]:
    yield from verdicts
    raise AssertionError("ran more often than scripted")


def test_confirm_runs_a_pass_once() -> None:
    runs = scripted(verdict())
    confirmed = confirm(lambda: next(runs))
    assert (confirmed.runs, confirmed.note(), confirmed.confirmation()) == (1, None, None)


def test_confirm_passes_a_verdict_late_once_with_a_note() -> None:
    runs = scripted(verdict(LATE), verdict())
    confirmed = confirm(lambda: next(runs))
    assert confirmed.verdict.passed
    assert confirmed.reruns == 1
    assert confirmed.note() == f"passed on rerun (1st run: step 1 (recv(1)): {LATE})"
    assert confirmed.confirmation() is None


def test_confirm_reports_a_verdict_late_every_time_as_confirmed() -> None:
    runs = scripted(*(verdict(LATE) for _ in range(RUNS)))
    confirmed = confirm(lambda: next(runs))
    assert not confirmed.verdict.passed
    assert confirmed.runs == RUNS == 3
    assert confirmed.confirmation() == "confirmed in 3 of 3 runs"
    assert confirmed.note() is None


def test_confirm_names_each_late_run_before_a_pass() -> None:
    runs = scripted(
        verdict(LATE), verdict("expected it to return at once (...), observed 45.0 ms"), verdict()
    )
    note = confirm(lambda: next(runs)).note()
    assert note == (
        f"passed on rerun (1st run: step 1 (recv(1)): {LATE}; "
        "2nd run: step 1 (recv(1)): expected it to return at once (...), observed 45.0 ms)"
    )


def test_confirm_never_reruns_a_failure_that_is_not_only_late() -> None:
    runs = scripted(verdict("expected error would_block, observed b'x'", LATE, late=False))
    confirmed = confirm(lambda: next(runs))
    assert (confirmed.runs, confirmed.confirmation()) == (1, None)


def test_confirm_stops_at_a_failure_for_another_reason() -> None:
    runs = scripted(verdict(LATE), verdict("expected error would_block, observed b'x'", late=False))
    confirmed = confirm(lambda: next(runs))
    assert confirmed.verdict.failure is not None
    assert confirmed.verdict.failure.mismatches == ("expected error would_block, observed b'x'",)
    assert confirmed.confirmation() == "confirmed in 2 of 2 runs"


# -- through the plugin -------------------------------------------------------------------------------

LATE_SPEC = """\
model: nonblocking
source: recv(2)
behaviours:
  - id: nonblocking.recv.stalls
    level: must
    rule: A non-blocking recv on an empty buffer fails at once with would_block.
    source: recv(2) EAGAIN
    families: [unix]
    steps:
      - call: recv
        size: 1
        expect: {error: would_block, at_once: true}
"""

LATE_DRIVERS = '''\
from __future__ import annotations

import socket
import time

from sockspec.reference_impls.sockets_ref import SocketsDriver


class LateOnce(SocketsDriver):
    """recv stalls 60 ms in the first run only, as noise would (the behaviour's run has one recv;
    the plugin also builds the class once at start to check it, so instances are not runs)."""

    name = "late-once"
    stalled = False

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if not type(self).stalled:
            type(self).stalled = True
            time.sleep(0.06)
        return super().recv(sock, size, flags)


class AlwaysLate(SocketsDriver):
    """recv stalls 60 ms every time, as a real defect does."""

    name = "always-late"

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        time.sleep(0.06)
        return super().recv(sock, size, flags)
'''

# With pytest-xdist: the controller "measures" 33 ms, a worker must not measure at all.
XDIST_CONFTEST = """\
import pytest

from sockspec.driving import calibration
from sockspec.plugin import options


def _controller() -> calibration.Calibration:
    return calibration.Calibration(10, 0.001, 0.002, 0.00825, 0.033)


def _worker() -> calibration.Calibration:
    raise AssertionError("a worker measured the tolerance itself")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    options.calibrate = _worker if hasattr(config, "workerinput") else _controller
"""

LATE_ARGS = (
    "-p",
    "no:cacheprovider",
    "--spec-only",
    "--spec=late.yaml",
    "--impl=userdrivers:LateOnce",
    "--impl=userdrivers:AlwaysLate",
    "--sockspec-json=run.json",
)


def run_late(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, object]]:
    pytester.makepyfile(userdrivers=LATE_DRIVERS)
    pytester.makefile(".yaml", late=LATE_SPEC)
    result = pytester.runpytest_subprocess(*LATE_ARGS, *args)
    document: dict[str, object] = json.loads((pytester.path / "run.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, json.loads(SCHEMA.read_text(encoding="utf-8")))
    return result, document


def items_by_impl(document: dict[str, object]) -> dict[str, dict[str, object]]:
    items = document["items"]
    assert isinstance(items, list)
    return {item["impl"]: item for item in items}


def test_plugin_passes_late_once_with_a_note_and_confirms_late_every_time(pytester: pytest.Pytester) -> None:
    result, document = run_late(pytester, "--sockspec-html=run.html")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1)
    items = items_by_impl(document)
    once, always = items["userdrivers:LateOnce"], items["userdrivers:AlwaysLate"]
    assert (once["outcome"], once["reruns"]) == ("passed", 1)
    assert isinstance(once["note"], str)
    assert once["note"].startswith(
        "passed on rerun (1st run: step 1 (recv(1)): expected it to return at once (within the "
    )
    assert (always["outcome"], always["reruns"], always["note"]) == ("failed", RUNS - 1, None)
    assert isinstance(always["text"], str)
    assert always["text"].splitlines()[0] == (
        f"nonblocking.recv.stalls failed on userdrivers:AlwaysLate over unix (nonblocking, MUST), "
        f"confirmed in {RUNS} of {RUNS} runs"
    )
    assert document["reruns"] == {"rerun": 2, "passed": 1, "confirmed": 1}
    timing = document["timing"]
    assert isinstance(timing, dict)
    assert timing["confirm_runs"] == RUNS
    result.stdout.fnmatch_lines(
        [
            "sockspec timing: tolerance * ms on upper bounds, step limit 2.000 s, item limit 15.0 s",
            "sockspec tolerance: measured at the start of the run: * no-op socket calls on a worker "
            "thread, *; a verdict that fails only on an upper time bound is run up to 3 times before it "
            "is reported",
            "*nonblocking.recv.stalls failed on userdrivers:AlwaysLate over unix (nonblocking, MUST), "
            "confirmed in 3 of 3 runs",
            "*  problem: expected it to return at once (within the * ms tolerance), observed *",
            "*= sockspec reruns: verdicts that failed only on time, run again =*",
            "nonblocking.recv.stalls ?userdrivers:LateOnce-unix?: passed on rerun "  # ? for [ ]
            "(1st run: step 1 (recv(1)): expected it to return at once (within the * ms tolerance), "
            "observed *)",
            "nonblocking.recv.stalls ?userdrivers:AlwaysLate-unix?: failed, confirmed in 3 of 3 runs",
            "*= sockspec conformance =*",
            "timing: tolerance * ms on upper bounds, step limit 2.000 s, item limit 15.0 s",
            "  tolerance measured at the start of the run: *",
            "  a verdict that fails only on an upper time bound is run up to 3 times before it is reported",
            "  run again: 2 items whose verdict failed only on time: 1 passed on rerun, 1 confirmed",
        ]
    )
    page = (pytester.path / "run.html").read_text(encoding="utf-8")
    assert "Run again: verdicts that failed only on time" in page
    assert "passed on rerun (1st run: step 1 (recv(1)): expected it to return at once" in page
    assert "failed, confirmed in 3 of 3 runs" in page
    assert '<dt>tolerance</dt><dd class="mono">measured at the start of the run: ' in page
    assert from_plain(RunRecord, document).reruns.passed == 1


def test_tolerance_option_is_said_to_be_set_by_it(pytester: pytest.Pytester) -> None:
    result, document = run_late(pytester, "--sockspec-tolerance=45ms")
    timing = document["timing"]
    assert isinstance(timing, dict)
    assert (timing["tolerance"], timing["derivation"]) == (0.045, "set by --sockspec-tolerance")
    result.stdout.fnmatch_lines(
        [
            "sockspec timing: tolerance 45.0 ms on upper bounds, *",
            "sockspec tolerance: set by --sockspec-tolerance; a verdict that fails only on an upper time *",
            "*  problem: expected it to return at once (within the 45.0 ms tolerance), observed *",
        ]
    )


def test_tolerance_ini_setting_is_said_to_be_set_by_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsockspec_tolerance = 300ms\n")
    result, document = run_late(pytester)
    timing = document["timing"]
    assert isinstance(timing, dict)
    assert timing["derivation"] == "set by sockspec_tolerance in the ini file"
    result.stdout.fnmatch_lines(["sockspec tolerance: set by sockspec_tolerance in the ini file; *"])
    result.assert_outcomes(passed=2)  # a 60 ms stall hides under 300 ms of slack


def test_xdist_workers_judge_with_the_controllers_tolerance(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(XDIST_CONFTEST)
    result, document = run_late(pytester, "-n", "2")
    timing = document["timing"]
    assert isinstance(timing, dict)
    assert timing["tolerance"] == 0.033
    always = items_by_impl(document)["userdrivers:AlwaysLate"]
    assert isinstance(always["text"], str)
    assert "expected it to return at once (within the 33.0 ms tolerance)" in always["text"]
    result.stdout.fnmatch_lines(
        [
            "sockspec timing: tolerance 33.0 ms on upper bounds, *",
            "sockspec tolerance: measured at the start of the run: 10 no-op socket calls on a worker thread, "
            "median 1.0 ms, p99 2.0 ms, worst 8.2 ms; *",
        ]
    )
    assert "a worker measured the tolerance itself" not in result.stdout.str() + result.stderr.str()
