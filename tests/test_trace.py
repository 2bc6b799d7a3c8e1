"""The trace as values, records as plain data, and the runners' shared skeleton, without sockets.

Rules of this file:
- events are made by hand; their words are checked by exact text, one kind at a time,
  and every kind has a phrase;
- records go through `to_plain`, JSON and `from_plain` and come back equal; data
  that does not fit is refused with the path to it;
- the skeleton (`StepRun`) is played by a scripted runner that does no I/O: it
  records each step, fails where it is told to, and reports what clean-up found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sockspec.judging.events import PHRASES, Event, Kind, What, describe
from sockspec.judging.steprun import StepRun
from sockspec.judging.verdict import Failure
from sockspec.language.loader import load_text
from sockspec.language.model import Behaviour, Step
from sockspec.language.timing import Timing
from sockspec.reports.plain import PlainError, from_plain, to_plain
from sockspec.reports.record import FailureRecord, ObservedModel, Outcome
from sockspec.reports.results import Seen, detail, events, item_record
from sockspec.reports.terminal import timeline

# -- events in words ------------------------------------------------------------------------------

PHRASED: list[tuple[What, str]] = [
    (What(Kind.LEVEL, "level", count=1000), "level: 1000 clients"),
    (
        What(Kind.LEVEL, "level", count=10000, outcome="not applicable: the machine says no"),
        "level: 10000 clients: not applicable: the machine says no",
    ),
    (
        What(Kind.SET_UP, "set_blocking", args="True", note="blocking mode"),
        "set_blocking(True)  [blocking mode]",
    ),
    (What(Kind.CALL, "recv", "r", args="1024"), "[r] recv(1024) called"),
    (What(Kind.SUBMIT, "recv", "h", args="5"), "[h] submit recv(5)"),
    (What(Kind.RETURN, "recv", outcome="EOF (b'')", count=0), "recv -> EOF (b'')"),
    (What(Kind.COMPLETE, "recv", "h", outcome="b'hi'", count=2), "[h] recv completed b'hi'"),
    (What(Kind.CANCEL, "cancel", "h"), "cancel [h]"),
    (What(Kind.AWAIT, "await", "r"), "await [r]"),
    (What(Kind.GAVE_UP, limit=0.25), "gave up waiting after 250.0 ms"),
    (What(Kind.PEER, "send", args="b'hello'"), "send b'hello'"),
    (What(Kind.PEER, "close"), "close"),
    (What(Kind.CLIENT, "connect", client="g", args="5 clients"), "g: connect 5 clients"),
    (What(Kind.CLIENT, "read", client="first"), "first: read"),
    (What(Kind.RETURN, "read", client="first", outcome="b'first\\n'", count=6), "first: read -> b'first\\n'"),
    (
        What(Kind.RETURN, "connect", client="g", outcome="3 of 5 connected", count=3, total=5),
        "g: 3 of 5 connected",
    ),
    (What(Kind.RETURN, "connect", outcome="returned"), "connect -> returned"),
    (
        What(Kind.SERVER, client="a", outcome="EOF from the server after 5 bytes"),
        "-> a: EOF from the server after 5 bytes",
    ),
    (
        What(Kind.STATE, "check", values=(("unread", "5"), ("h pending", "True"))),
        "state: unread 5, h pending True",
    ),
    (What(Kind.JUDGED, "read", client="g", count=4, total=5), "g: 4 of 5 as expected"),
    (What(Kind.OBSERVE, "observe", args="idle", outcome="1 process(es)"), "observe idle: 1 process(es)"),
    (What(Kind.MODEL, "observe", args="loaded", outcome="thread-per-client"), "model: thread-per-client"),
    (
        What(Kind.RESTART, "failed", args="server.echo.small", outcome="restarted"),
        "server restarted: previous behaviour server.echo.small failed",
    ),
    (
        What(
            Kind.RESTART,
            "unsettled",
            args="server.a",
            outcome="restarted",
            values=(("connections", "3"), ("states", "3 CLOSE_WAIT"), ("cpu", "85%")),
        ),
        "server restarted: did not settle after server.a: 3 connections still open (3 CLOSE_WAIT), "
        "CPU 85% of one core",
    ),
]


@pytest.mark.parametrize(("what", "words"), PHRASED)
def test_describe_says_each_kind_from_its_fields(what: What, words: str) -> None:
    assert describe(what) == words


def test_every_kind_has_a_phrase_and_an_example() -> None:
    assert set(PHRASES) == set(Kind)
    assert {what.kind for what, _words in PHRASED} == set(Kind)


def test_terminal_timeline_marks_the_failing_step_in_time_order() -> None:
    found = [
        Event(0.1005, "impl", 0, What(Kind.RETURN, "recv", "r", outcome="b'hi'", count=2)),
        Event(0.0003, "impl", None, What(Kind.SET_UP, "set_blocking", args="True", note="blocking mode")),
        Event(0.0004, "impl", 0, What(Kind.CALL, "recv", "r", args="1024")),
    ]
    assert timeline(found, mark_step=0) == [
        "        0.3 ms  impl    setup    set_blocking(True)  [blocking mode]",
        ">       0.4 ms  impl    step 1   [r] recv(1024) called",
        ">     100.5 ms  impl    step 1   [r] recv -> b'hi'",
    ]


# -- records as plain data ------------------------------------------------------------------------


def _seen() -> Seen:
    return Seen(
        failure=FailureRecord(2, "spec/x.yaml:3", "step 2 (recv(5))", None, ("expected b'x', observed b''",)),
        trace=events(
            [
                Event(0.25, "impl", 0, What(Kind.CALL, "recv", "r", args="5")),
                Event(0.5, "checker", 1, What(Kind.STATE, "check", values=(("unread", "0"),))),
                Event(0.75, "checker", 1, What(Kind.GAVE_UP, limit=1.0)),
            ]
        ),
        observed_model=ObservedModel("thread per client", "thread-per-client", "why", ("threads 1 -> 21",)),
        text="failed",
        known=None,
    )


def test_plain_round_trip_through_json_gives_the_same_record() -> None:
    seen = _seen()
    plain = json.loads(json.dumps(to_plain(seen)))
    assert plain["trace"][0] == {
        "at": 0.25,
        "actor": "impl",
        "step": 1,
        "what": {
            "kind": "call",
            "op": "recv",
            "label": "r",
            "client": None,
            "args": "5",
            "outcome": "",
            "error": None,
            "count": None,
            "total": None,
            "limit": None,
            "note": "",
            "values": [],
        },
    }
    assert from_plain(Seen, plain) == seen


def test_item_record_carries_what_the_run_saw() -> None:
    properties = {
        "spec_id": "a.b",
        "model": "blocking",
        "level": "must",
        "impl": "x",
        "family": "tcp4",
        "rule": "r",
        "source": "s",
    }
    seen = _seen()
    record = item_record("n", properties, Outcome.FAILED, 0.5, None, to_plain(seen))
    assert (record.failure, record.trace, record.observed_model, record.text) == (
        seen.failure,
        seen.trace,
        seen.observed_model,
        seen.text,
    )
    unrun = item_record("n", properties, Outcome.NOT_APPLICABLE, 0.0, "no unix here", None)
    assert (unrun.trace, unrun.failure, unrun.reason) == ((), None, "no unix here")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p["trace"][0]["what"].update(kind="jump"),
            "Seen.trace[0].what.kind: 'jump' is not a Kind",
        ),
        (lambda p: p["trace"][1].update(actor="nobody"), "Seen.trace[1].actor: 'nobody' is not one of"),
        (
            lambda p: p["trace"][2]["what"].update(count="3"),
            "Seen.trace[2].what.count: expected int, got str",
        ),
        (lambda p: p.update(extra=1), "Seen: unknown fields extra"),
        (lambda p: p["failure"].pop("title"), "Seen.failure: the field title is missing"),
    ],
)
def test_from_plain_names_the_path_to_what_does_not_fit(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    plain = to_plain(_seen())
    change(plain)
    with pytest.raises(PlainError, match=re.escape(message)):
        from_plain(Seen, plain)


def test_detail_of_no_verdict_is_empty_plain_data() -> None:
    assert detail(None, known="flaky") == to_plain(Seen(known="flaky"))


# -- the skeleton ---------------------------------------------------------------------------------


#: Three peer steps, the second 30 ms after the first.
THREE = load_text(
    """\
model: blocking
source: recv(2)
behaviours:
  - id: blocking.x.y
    level: must
    rule: A rule holds.
    source: recv(2)
    steps:
      - {peer: send, data: a}
      - {peer: send, data: b, after: 30ms}
      - {peer: send, data: c}
""",
    "t.yaml",
).behaviours[0]


class Scripted(StepRun):
    """Records each step it plays; fails at `failing`; clean-up reports `leftover`."""

    def __init__(
        self, behaviour: Behaviour, failing: int | None = None, leftover: tuple[str, ...] = ()
    ) -> None:
        super().__init__(behaviour, Timing(step_limit=1.0, item_limit=5.0))
        self.failing = failing
        self.leftover = leftover
        self.played: list[tuple[int, float]] = []
        self.log: list[str] = []

    def set_up(self) -> None:
        self.log.append("set up")

    def step(self, index: int, step: Step) -> float:
        if index == self.failing:
            raise self.fail(index, step, f"step {index + 1}", ["it broke"])
        now = self.record("peer", What(Kind.PEER, "send"), index)
        self.played.append((index, now))
        return now

    def failed(self, failure: Failure) -> Failure:
        self.log.append(f"failed at {failure.step}")
        return failure

    def clean_up(self) -> list[str]:
        self.log.append("clean up")
        return list(self.leftover)


def test_step_run_plays_each_step_after_its_delay() -> None:
    run = Scripted(THREE)
    assert run.play() == (None, ())
    assert [index for index, _at in run.played] == [0, 1, 2]
    assert run.played[1][1] - run.played[0][1] >= 0.03
    assert [event.step for event in run.trace.events()] == [0, 1, 2]
    assert run.log == ["set up", "clean up"]


def test_step_run_failure_stops_the_steps_and_still_cleans_up() -> None:
    run = Scripted(THREE, failing=1)
    failure, notes = run.play()
    assert failure is not None
    assert (failure.step, failure.title, failure.mismatches, notes) == (1, "step 2", ("it broke",), ())
    assert [index for index, _at in run.played] == [0]
    assert run.log == ["set up", "failed at 1", "clean up"]


def test_step_run_clean_up_problems_fail_a_run_that_held() -> None:
    run = Scripted(THREE, leftover=("a thread did not return",))
    failure, notes = run.play()
    assert notes == ("a thread did not return",)
    assert failure == Failure(None, run.behaviour.origin, "clean-up", notes)


def test_step_run_limits_never_pass_the_item_deadline() -> None:
    run = Scripted(THREE)
    step = run.behaviour.steps[0]
    assert run.limit(step) == 1.0
    assert run.limit(step, 0.5) == 0.5
    run.deadline = 0.0
    assert run.limit(step) == 0.0
