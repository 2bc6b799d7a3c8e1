"""Every "at once" expectation catches a 50 ms stall, with the timing a run uses by default.

Rules of this file:
- the timing is a run's default: the tolerance measured on this machine
  (sockspec.driving.calibration), and a verdict that fails only on an upper time
  bound confirmed by running it again (sockspec.judging.confirm), exactly as the
  plugin does;
- each stall driver (tests/faulty_stalls.py) fails every behaviour it covers,
  over every family, only on time, in every run ("confirmed in 3 of 3 runs");
  the reference driver it changes passes those same behaviours;
- every step of the corpus whose call must return at once is covered by the
  stall driver of its operation, and every completion behaviour that submits a
  recv by the submit stall (the runner judges every submission at once);
- one run through the plugin, with no timing option, shows the same verdicts as
  a user sees them.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
from sockspec.driving.calibration import CEILING, calibrate
from sockspec.driving.connections import unavailable
from sockspec.driving.drivers import Driver
from sockspec.driving.runner import run_behaviour
from sockspec.judging.applicability import not_applicable
from sockspec.judging.confirm import RUNS, Confirmed, confirm
from sockspec.judging.verdict import Verdict
from sockspec.language.loader import load_file
from sockspec.language.model import Await, Behaviour, Call, Family, Model
from sockspec.language.timing import Timing
from sockspec.plugin.profiles import profile
from sockspec.plugin.registry import Impl, resolve
from sockspec.reports.terminal import render_failure

from tests.faulty_stalls import STALL, STALLS, Stall, SubmitRecvStall

ROOT = Path(__file__).resolve().parent.parent
BEHAVIOURS = {
    behaviour.id: behaviour
    for path in sorted((ROOT / "spec").glob("*.yaml"))
    for behaviour in load_file(path, f"spec/{path.name}").behaviours
}


@functools.cache
def default_timing() -> Timing:
    """The timing of a run without timing options: the tolerance measured here, once."""
    measured = calibrate()
    return Timing(tolerance=measured.tolerance, derivation=measured.describe())


def reference(stall: type[Stall]) -> type[Driver]:
    (impl,) = resolve([stall.reference])
    assert impl.driver is not None
    return impl.driver


def run(driver: type[Driver], behaviour: Behaviour, family: Family) -> Confirmed:
    """The behaviour as a run judges it by default: a fresh driver each run, late verdicts confirmed."""
    reason = driver.unavailable_reason() or unavailable(family)
    if reason is not None:
        pytest.skip(reason)

    def once() -> Verdict:
        instance = driver()
        try:
            return run_behaviour(behaviour, instance, family, default_timing())
        finally:
            instance.release()

    return confirm(once)


CASES = [
    pytest.param(stall, BEHAVIOURS[behaviour_id], family, id=f"{stall.name}-{behaviour_id}-{family.value}")
    for stall in STALLS
    for behaviour_id in stall.covers
    if behaviour_id in BEHAVIOURS  # an unknown id is test_covers_names_real_behaviours' to report
    for family in BEHAVIOURS[behaviour_id].families
]


def test_the_stall_is_longer_than_any_tolerance() -> None:
    assert STALL > CEILING
    assert default_timing().tolerance <= CEILING


@pytest.mark.parametrize(("stall", "behaviour", "family"), CASES)
def test_stall_fails_the_behaviour_in_every_run(
    stall: type[Stall], behaviour: Behaviour, family: Family
) -> None:
    confirmed = run(stall, behaviour, family)
    verdict = confirmed.verdict
    assert verdict.failure is not None, (
        f"{stall.name} passed {behaviour.id} over {family.value}: the stall went unnoticed"
    )
    text = render_failure(verdict, stall.name, confirmed.confirmation())
    assert verdict.failure.late, f"{stall.name} failed {behaviour.id} for more than time:\n{text}"
    assert stall.covers[behaviour.id] in "\n".join(verdict.failure.mismatches), text
    assert confirmed.confirmation() == f"confirmed in {RUNS} of {RUNS} runs", text
    assert not verdict.notes, f"{stall.name} outlived the run: {verdict.notes}"


@pytest.mark.parametrize(("stall", "behaviour", "family"), CASES)
def test_reference_passes_what_the_stall_fails(
    stall: type[Stall], behaviour: Behaviour, family: Family
) -> None:
    confirmed = run(reference(stall), behaviour, family)
    verdict = confirmed.verdict
    assert verdict.passed, render_failure(verdict, stall.reference, confirmed.confirmation())


@pytest.mark.parametrize("stall", STALLS, ids=lambda stall: stall.name)
def test_stall_driver_says_what_it_stalls(stall: type[Stall]) -> None:
    assert stall.name.startswith("stall-")
    assert stall.covers, f"{stall.name} covers nothing"
    doc = (stall.__doc__ or "").strip()
    assert doc and "\n" not in doc, f"{stall.name} needs a one-line docstring saying its stall"
    impl = Impl(stall.name, stall)
    applies = {
        behaviour_id: not_applicable(BEHAVIOURS[behaviour_id], profile(impl)) for behaviour_id in stall.covers
    }
    assert not {key: why for key, why in applies.items() if why}, "covers behaviours that do not apply"


def test_covers_names_real_behaviours() -> None:
    unknown = sorted(
        f"{stall.name}: {key}" for stall in STALLS for key in stall.covers if key not in BEHAVIOURS
    )
    assert not unknown, f"`covers` names behaviours that are not in the corpus: {', '.join(unknown)}"


def _at_once_calls(behaviour: Behaviour) -> set[str]:
    """The operations of the behaviour's steps that must return at once."""
    background: dict[str, Call] = {}
    found = set()
    for step in behaviour.steps:
        if isinstance(step, Call) and step.background is not None:
            background[step.background] = step
        expect = getattr(step, "expect", None)
        if expect is None or not getattr(expect, "at_once", None):
            continue
        call = background[step.call] if isinstance(step, Await) else step
        assert isinstance(call, Call), f"{behaviour.id}: at_once on a step that is not a call"
        found.add(call.op)
    return found


def test_every_at_once_call_is_covered_by_a_stall() -> None:
    covered = {(behaviour_id, stall.stalls) for stall in STALLS for behaviour_id in stall.covers}
    wanted = {(behaviour.id, op) for behaviour in BEHAVIOURS.values() for op in _at_once_calls(behaviour)}
    assert wanted, "the corpus states no at_once expectation"
    missing = sorted(f"{behaviour_id} ({op})" for behaviour_id, op in wanted - covered)
    assert not missing, f"no stall driver shows these at-once calls catch a stall: {', '.join(missing)}"


def test_every_recv_submission_is_covered_by_the_submit_stall() -> None:
    impl = Impl(SubmitRecvStall.name, SubmitRecvStall)
    submitting = {
        behaviour.id
        for behaviour in BEHAVIOURS.values()
        if behaviour.model is Model.COMPLETION
        and not_applicable(behaviour, profile(impl)) is None
        and any(isinstance(step, Call) and step.op == "recv" for step in behaviour.steps)
    }
    assert submitting, "no completion behaviour submits a recv"
    assert submitting == set(SubmitRecvStall.covers)


def test_stall_and_reference_through_the_plugin_with_default_settings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests package, for --impl=tests.faulty_stalls:...
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--impl=tests.faulty_stalls:NonblockingAcceptStall",
        "--impl=epoll",
        "-k",
        "nonblocking.accept.none-pending or nonblocking.accept.pending",
        "--sockspec-json=run.json",
    )
    document = json.loads((pytester.path / "run.json").read_text(encoding="utf-8"))
    items = {(item["id"], item["impl"], item["family"]): item for item in document["items"]}
    assert len(items) == 12, result.stdout.str()
    for (behaviour_id, impl, family), item in items.items():
        where = f"{behaviour_id} on {impl} over {family}"
        if impl == "epoll":
            assert item["outcome"] == "passed", f"{where}: {item['text'] or item['note']}"
            continue
        assert item["outcome"] == "failed", where
        assert item["reruns"] == RUNS - 1, where
        assert "expected it to return at once (within the " in item["text"], item["text"]
        assert f", confirmed in {RUNS} of {RUNS} runs" in item["text"].splitlines()[0], item["text"]
    assert document["timing"]["derivation"].startswith("measured at the start of the run: ")
    assert document["reruns"]["confirmed"] == 6
    result.stdout.fnmatch_lines(
        [
            "sockspec tolerance: measured at the start of the run: *",
            "*= sockspec reruns: verdicts that failed only on time, run again =*",
            f"nonblocking.accept.none-pending ?tests.faulty_stalls:NonblockingAcceptStall-tcp4?: "
            f"failed, confirmed in {RUNS} of {RUNS} runs",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
