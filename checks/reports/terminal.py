"""Words for people: a failed behaviour, and the conformance summary.

Rules of this module:
- text only: functions take verdicts and item records and return strings;
- a failure says, in this order: which behaviour on which impl and family, the
  rule, each mismatch, the step (file:line), the rule's source, then the
  timeline: the first lines are what a CI system shows of it (JUnit's message
  keeps about 500 characters); a behaviour whose set-up failed says "not
  reached" instead of "failed", and which behaviour tests that set-up;
- the summary counts what did not reach its rule apart from what broke it, and
  names each impl's causes of failure (sockspec.reports.causes) once;
- the timeline is one event a line, in words from sockspec.judging.events
  (`describe`); nothing reads those words back;
- a verdict that was run again because it failed only on time says so: a
  failure on its first line ("confirmed in 3 of 3 runs"), a pass in the
  summary's list of reruns ("passed on rerun (1st run: ...)");
- no pytest, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sockspec.judging import confirm
from sockspec.judging.events import Event, describe
from sockspec.language.model import Model
from sockspec.language.timing import Timing
from sockspec.reports import causes
from sockspec.reports.record import (
    GATE_FAILS,
    CauseRecord,
    ItemRecord,
    NotApplicableRecord,
    Outcome,
    RerunRecord,
    ServerRecord,
)

if TYPE_CHECKING:
    from sockspec.judging.verdict import Verdict


def render_failure(verdict: Verdict, impl: str | None = None, confirmed: str | None = None) -> str:
    """The failure text; `impl` is the name the user gave (default: the driver's own name);
    `confirmed` says in how many runs it failed, when it was run again ("confirmed in 3 of 3 runs")."""
    behaviour = verdict.behaviour
    failure = verdict.failure
    assert failure is not None
    runs = f", {confirmed}" if confirmed else ""
    see = verdict.not_reached
    lines = [
        f"{behaviour.id} {'failed' if see is None else 'not reached'} on {impl or verdict.driver} "
        f"over {verdict.family.value} ({behaviour.model.value}, {behaviour.level.value.upper()}){runs}",
        f"  rule:    {behaviour.rule}",
        *([not_reached_line(failure.title, see)] if see is not None else []),
        *(f"  problem: {mismatch}" for mismatch in failure.mismatches),
        f"  where:   {failure.origin}: {failure.title}",
        f"  source:  {behaviour.source}",
    ]
    lines.append("  timeline (ms since the behaviour started; '>' marks the failing step):")
    lines.extend(f"  {line}" for line in timeline(verdict.events, failure.step))
    return "\n".join(lines)


def not_reached_line(title: str, see: str) -> str:
    """What failed before the rule could be judged, and where to look."""
    return f"  not reached: {title} failed, so the rule was not judged; see {see}"


def timeline(events: Iterable[Event], mark_step: int | None = None) -> list[str]:
    """The events one a line, in time order; the events of step `mark_step` (an index) marked '>'."""
    lines = []
    for event in sorted(events, key=lambda event: event.at):
        marker = ">" if mark_step is not None and event.step == mark_step else " "
        step = f"step {event.step + 1}" if event.step is not None else "setup"
        lines.append(f"{marker} {event.at * 1000:9.1f} ms  {event.actor:<7} {step:<8} {describe(event.what)}")
    return lines


@dataclass
class Tally:
    """Counts of one impl on one model, by outcome."""

    counts: Counter[Outcome] = field(default_factory=Counter)

    def verdict(self) -> str:
        if any(self.counts[outcome] for outcome in GATE_FAILS):
            return "FAIL"
        if self.counts[Outcome.WARNED]:
            return "warn"
        ran = self.counts.total() - self.counts[Outcome.NOT_APPLICABLE]
        return "pass" if ran else "n/a "


# Outcomes named after the three columns every line has, only when some item came to them.
EXTRA_COLUMNS: tuple[tuple[Outcome, str], ...] = (
    (Outcome.NOT_REACHED, "not reached"),
    (Outcome.WARNED, "warned (SHOULD)"),
    (Outcome.EXPECTED_FAIL, "expected failures"),
    (Outcome.UNEXPECTED_PASS, "unexpected passes"),
    (Outcome.ERROR, "checker errors"),
)


def render_server(server: ServerRecord) -> list[str]:
    """A server's model lines from its record: what it declares, what was observed, the evidence."""
    said = f"declared {server.declared}" if server.declared is not None else "no model declared"
    if server.observed is None:
        return [f"{server.impl}: observed model: not observed (no behaviour observing it ran); {said}"]
    if server.matches is not None:
        said += ": matches" if server.matches else ": does NOT match"
    return [
        f"{server.impl}: observed model: {server.observed.model} ({said})",
        f"{server.impl}:   because {server.observed.reason}",
        *(f"{server.impl}:   {line}" for line in server.observed.evidence),
    ]


# The summary's order of models: the corpus's.
MODEL_ORDER: dict[str, int] = {model.value: index for index, model in enumerate(Model)}


def _model_order(model: str) -> tuple[int, str]:
    return MODEL_ORDER.get(model, len(MODEL_ORDER)), model


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_summary(
    items: Iterable[ItemRecord],
    not_applicable: Iterable[NotApplicableRecord] = (),
    found: Sequence[CauseRecord] = (),
) -> list[str]:
    """One line per (impl, model) that tested something: passed / failed / not applicable, then any
    other outcome (not reached first); then the causes of failure that `found` groups, per impl
    (sockspec.reports.causes); then one line per impl naming the models where no item that ran
    applied; then `render_not_applicable`.

    "Not applicable" counts both the items found not applicable while running and those left
    out before the run (`not_applicable`); a model left out whole is said only by the latter.
    """
    items = tuple(items)
    tallies: dict[tuple[str, str], Tally] = {}
    for item in items:
        tallies.setdefault((item.impl, item.model), Tally()).counts[item.outcome] += 1
    ran = set(tallies)
    left_out = tuple(not_applicable)
    for left in left_out:
        for model, count in left.models.items():
            tallies.setdefault((left.impl, model), Tally()).counts[Outcome.NOT_APPLICABLE] += count
    width = max((len(impl) for impl, _model in tallies), default=4)
    lines = []
    untested: dict[str, list[tuple[str, int]]] = {}
    for impl, model in sorted(tallies, key=lambda key: (key[0], _model_order(key[1]))):
        tally = tallies[impl, model]
        counts = tally.counts
        if counts.total() == counts[Outcome.NOT_APPLICABLE]:
            if (impl, model) in ran:
                untested.setdefault(impl, []).append((model, counts.total()))
            continue
        extra = "".join(f", {counts[outcome]} {words}" for outcome, words in EXTRA_COLUMNS if counts[outcome])
        lines.append(
            f"{tally.verdict()}  {impl:<{width}}  {model:<12} {counts[Outcome.PASSED]:4d} passed "
            f"{counts[Outcome.FAILED]:4d} failed {counts[Outcome.NOT_APPLICABLE]:4d} not applicable{extra}"
        )
    lines.extend(causes.render(found, items))
    for impl, models in untested.items():
        total = sum(count for _model, count in models)
        names = ", ".join(model for model, _count in models)
        lines.append(f"n/a   {impl:<{width}}  {names}: {total} not applicable")
    return lines + render_not_applicable(left_out)


def render_not_applicable(not_applicable: Iterable[NotApplicableRecord]) -> list[str]:
    """What was left out before the run, once per impl and reason: the models, how many items,
    and why (nothing when nothing was left out)."""
    lines = []
    for left in not_applicable:
        names = ", ".join(sorted(left.models, key=_model_order))
        lines.append(f"  {left.impl}: {names} ({_plural(sum(left.models.values()), 'item')}): {left.reason}")
    return ["not applicable, so deselected (not run):", *lines] if lines else []


def render_opt_in(opt_in: Iterable[tuple[str, str]]) -> list[str]:
    """The scale items left out because -m did not name them, in one line (nothing when none)."""
    found = list(opt_in)
    if not found:
        return []
    ids = ", ".join(dict.fromkeys(behaviour for _impl, behaviour in found))
    return [
        f"opt-in, so deselected: {_plural(len(found), 'scale item')} ({ids}): they measure a server "
        "with up to thousands of clients connected at once; run them with -m scale"
    ]


def render_timing(timing: Timing, reruns: RerunRecord) -> list[str]:
    """The summary's timing lines: the limits, where the tolerance came from, and what was run again."""
    lines = [f"timing: {timing.describe()}", f"  tolerance {timing.derivation}", f"  {confirm.describe()}"]
    if reruns.rerun:
        lines.append(
            f"  run again: {_plural(reruns.rerun, 'item')} whose verdict failed only on time: "
            f"{reruns.passed} passed on rerun, {reruns.confirmed} confirmed"
        )
    return lines


def render_reruns(items: Iterable[ItemRecord]) -> list[str]:
    """One line per item that was run again because its verdict failed only on time."""
    lines = []
    for item in items:
        if not item.reruns:
            continue
        runs = item.reruns + 1
        said = item.note or f"{item.outcome.value}, confirmed in {runs} of {runs} runs"
        lines.append(f"{item.id} [{item.impl}-{item.family}]: {said}")
    return lines
