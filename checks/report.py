"""Words for people: a failed behaviour, and the conformance summary.

Rules of this module:
- text only: functions take verdicts and counts and return strings;
- a failure says, in this order: which behaviour on which impl and family, the
  rule and its source, the step (file:line), each mismatch, then the timeline;
- no pytest, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checks.runner import Verdict


def render_failure(verdict: Verdict, impl: str | None = None) -> str:
    """The failure text; `impl` is the name the user gave (default: the driver's own name)."""
    behaviour = verdict.behaviour
    failure = verdict.failure
    assert failure is not None
    lines = [
        f"{behaviour.id} failed on {impl or verdict.driver} over {verdict.family.value} "
        f"({behaviour.model.value}, {behaviour.level.value.upper()})",
        f"  rule:    {behaviour.rule}",
        f"  source:  {behaviour.source}",
        f"  where:   {failure.origin}: {failure.title}",
    ]
    lines.extend(f"  problem: {mismatch}" for mismatch in failure.mismatches)
    lines.append("  timeline (ms since the behaviour started; '>' marks the failing step):")
    lines.extend(f"  {line}" for line in verdict.trace.render(failure.step).splitlines())
    return "\n".join(lines)


@dataclass
class Tally:
    """Counts of one impl on one model."""

    passed: int = 0
    failed: int = 0
    not_applicable: int = 0

    def add(self, outcome: str) -> None:
        if outcome == "passed":
            self.passed += 1
        elif outcome == "failed":
            self.failed += 1
        else:
            self.not_applicable += 1


def render_summary(tallies: Mapping[tuple[str, str], Tally]) -> list[str]:
    """One line per (impl, model): passed / failed / not applicable."""
    width = max((len(impl) for impl, _model in tallies), default=4)
    lines = []
    for (impl, model), tally in sorted(tallies.items()):
        verdict = "FAIL" if tally.failed else ("pass" if tally.passed else "n/a ")
        lines.append(
            f"{verdict}  {impl:<{width}}  {model:<12} {tally.passed:4d} passed {tally.failed:4d} failed "
            f"{tally.not_applicable:4d} not applicable"
        )
    return lines
