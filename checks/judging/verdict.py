"""A verdict: the result of one behaviour run, and why it failed.

Rules of this module:
- values only (frozen dataclasses), no I/O: the driver and server runners make
  verdicts, the reports read them; a verdict carries its trace's events, in
  time order, so no report needs the collector;
- a verdict names its failing step by index (0-based) and its place in the spec;
- a verdict whose failing step is a set-up step (the step's `setup` names the
  behaviour that tests it) did not reach its rule: `not_reached` says so, and
  which behaviour to see; the rule was neither held nor broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sockspec.judging.events import Event
from sockspec.language.model import Behaviour, Family, Origin


@dataclass(frozen=True)
class Failure:
    """Why a behaviour failed: the step, what was expected, what was seen.

    late: every mismatch is an upper time bound missed (see judge.only_late), so
    noise could have caused it; the plugin runs the behaviour again to confirm it.
    cause: what the runner saw for itself behind the failure, when it knows one
    that other verdicts may share (e.g. "the server exited (exit code 1)").
    stuck: where the server was when the client's wait behind the failure ran out, as
    sockspec.servers.stacks summarises it: one sentence, then the stacks folded, one line each
    (None when nothing was captured).
    """

    step: int | None
    origin: Origin
    title: str
    mismatches: tuple[str, ...]
    late: bool = False
    cause: str | None = None
    stuck: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The result of one behaviour on one driver over one family, and its trace's events."""

    behaviour: Behaviour
    driver: str
    family: Family
    events: tuple[Event, ...]
    failure: Failure | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def not_reached(self) -> str | None:
        """When a set-up step failed, the id of the behaviour that tests that set-up directly (the
        rule itself was not reached); None when the verdict passed or the rule failed."""
        failure = self.failure
        if failure is None or failure.step is None or failure.step >= len(self.behaviour.steps):
            return None
        return self.behaviour.steps[failure.step].setup
