"""From verdicts to records: what one item saw, carried to where the run's record is written.

Rules of this module:
- pure: functions of verdicts, records and plain data; no I/O, no pytest;
- what a run saw (`Seen`) travels as a `Detail`, plain JSON-able data made by
  `plain.to_plain` and read back by `plain.from_plain`, because pytest hands it
  from the process that ran the item to the one that writes the reports (with
  pytest-xdist they differ) in the item's `user_properties`;
- `item_record` is the one place that builds an `ItemRecord`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sockspec.judging import judge as judging
from sockspec.judging.events import RESTARTED, Event, Kind
from sockspec.judging.scale import Level
from sockspec.judging.verdict import Verdict
from sockspec.language.model import Behaviour, Expectation, Model
from sockspec.language.server_steps import clients_at_once
from sockspec.reports.plain import from_plain, to_plain
from sockspec.reports.record import (
    EventRecord,
    FailureRecord,
    ItemRecord,
    ObservedModel,
    Outcome,
    ServerRecord,
)
from sockspec.servers.config import DeclaredModel
from sockspec.servers.infer import DECLARED, Inference, Observed

#: The user property that carries an item's Detail, and the one that carries its outcome.
DETAIL = "sockspec_detail"
OUTCOME = "sockspec_outcome"
#: The user property of a SHOULD behaviour that failed outside strict mode: its first problem.
WARNING = "sockspec_warning"
#: The user property of a behaviour whose rule was not reached: what failed, and what to see.
NOT_REACHED = "sockspec_not_reached"

#: The cause of every item that could not run because the server is not there.
NOT_AVAILABLE = "the server is not available"

#: A `Seen` as plain data (see `plain`).
Detail = dict[str, Any]


@dataclass(frozen=True)
class Seen:
    """What one item's run saw, for its record: its failure, its trace, the model observed, the
    failure text, the baseline's reason when the baseline lists it, how many more times it ran
    to confirm a verdict that failed only on time, the note that says so, and a scale
    behaviour's levels with their figures."""

    failure: FailureRecord | None = None
    trace: tuple[EventRecord, ...] = ()
    observed_model: ObservedModel | None = None
    text: str | None = None
    known: str | None = None
    reruns: int = 0
    note: str | None = None
    scale: tuple[Level, ...] = ()


def events(found: Iterable[Event]) -> tuple[EventRecord, ...]:
    """A verdict's events as records: times to the microsecond, steps counted from 1."""
    return tuple(
        EventRecord(
            round(event.at, 6), event.actor, event.step + 1 if event.step is not None else None, event.what
        )
        for event in found
    )


def failure(verdict: Verdict) -> FailureRecord | None:
    """Where and how the verdict's behaviour failed, with what its failing step expected, whether
    that step was set-up (`see`), and for a server behaviour how many clients it had connected."""
    found = verdict.failure
    if found is None:
        return None
    behaviour = verdict.behaviour
    expected = None
    at_once = None
    if found.step is not None and found.step < len(behaviour.steps):
        expect = getattr(behaviour.steps[found.step], "expect", None)
        if isinstance(expect, Expectation):
            expected = judging.describe(expect)
        if behaviour.model is Model.SERVER:
            at_once = clients_at_once(behaviour.steps, found.step)
    return FailureRecord(
        step=found.step + 1 if found.step is not None else None,
        where=str(found.origin),
        title=found.title,
        expected=expected,
        observed=tuple(found.mismatches),
        see=verdict.not_reached,
        cause=found.cause,
        clients_at_once=at_once,
        stuck=found.stuck,
    )


def unavailable(behaviour: Behaviour, problem: str, cause: str = "") -> FailureRecord:
    """The failure record of a server behaviour that could not run: the server is not there;
    `cause`, what happened to it in one line, goes after NOT_AVAILABLE in the record's cause."""
    return FailureRecord(
        step=None,
        where=str(behaviour.origin),
        title="the server is not available",
        expected=None,
        observed=tuple(problem.splitlines()[:1]),
        cause=f"{NOT_AVAILABLE}: {cause}" if cause else NOT_AVAILABLE,
    )


def observed_model(inference: Inference) -> ObservedModel:
    return ObservedModel(
        inference.title(), inference.model.value, inference.reason, tuple(inference.evidence.lines())
    )


def detail(
    verdict: Verdict | None,
    text: str | None = None,
    inference: Inference | None = None,
    known: str | None = None,
    reruns: int = 0,
    note: str | None = None,
    failed: FailureRecord | None = None,
    levels: tuple[Level, ...] = (),
) -> Detail:
    """What a run saw (a `Seen`), as plain data; `failed` stands for the failure of a run that
    made no verdict (the server was not there)."""
    seen = Seen(
        failure=failure(verdict) if verdict is not None else failed,
        trace=events(verdict.events) if verdict is not None else (),
        observed_model=observed_model(inference) if inference is not None else None,
        text=text,
        known=known,
        reruns=reruns,
        note=note,
        scale=levels,
    )
    plain: Detail = to_plain(seen)
    return plain


def item_record(
    nodeid: str,
    behaviour: Mapping[str, str],
    outcome: Outcome,
    duration: float,
    reason: str | None,
    seen: Detail | None,
) -> ItemRecord:
    """The record of one item: `behaviour` holds the item's properties (spec_id, model, level,
    impl, family, rule, source), `seen` its Detail (None when it did not run)."""
    saw = from_plain(Seen, seen) if seen is not None else Seen()
    return ItemRecord(
        nodeid=nodeid,
        id=behaviour["spec_id"],
        model=behaviour["model"],
        level=behaviour["level"],
        impl=behaviour["impl"],
        family=behaviour["family"],
        outcome=outcome,
        duration=round(duration, 6),
        rule=behaviour["rule"],
        source=behaviour["source"],
        reason=saw.known or reason,
        failure=saw.failure,
        trace=saw.trace,
        observed_model=saw.observed_model,
        text=saw.text,
        reruns=saw.reruns,
        note=saw.note,
        scale=saw.scale,
    )


def properties(behaviour: Behaviour, impl: str, family: str) -> list[tuple[str, str]]:
    """The item's properties (JUnit <properties>; the first fields of its record)."""
    return [
        ("spec_id", behaviour.id),
        ("model", behaviour.model.value),
        ("level", behaviour.level.value),
        ("impl", impl),
        ("family", family),
        ("rule", behaviour.rule),
        ("source", behaviour.source),
    ]


def servers(
    items: Sequence[ItemRecord], declared: Mapping[str, DeclaredModel | None]
) -> tuple[ServerRecord, ...]:
    """Each server impl (`declared` maps its name to its declared model): the model observed last,
    and the restarts its items' traces show."""
    found = []
    for impl, model in declared.items():
        seen = [item.observed_model for item in items if item.impl == impl and item.observed_model]
        observed = seen[-1] if seen else None
        matches = None
        if model is not None and observed is not None:
            matches = Observed(observed.kind) in DECLARED[model][0]
        causes = Counter(
            event.what.op
            for item in items
            if item.impl == impl
            for event in item.trace
            if event.what.kind is Kind.RESTART and event.what.outcome == RESTARTED
        )
        found.append(
            ServerRecord(
                impl,
                model.value if model is not None else None,
                observed,
                matches,
                sum(causes.values()),
                dict(sorted(causes.items())),
            )
        )
    return tuple(found)
