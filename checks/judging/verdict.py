"""A verdict: the result of one behaviour run, and why it failed.

Rules of this module:
- values only (frozen dataclasses), no I/O: the driver and server runners make
  verdicts, the reports read them; a verdict carries its trace's events, in
  time order, so no report needs the collector;
- a verdict names its failing step by index (0-based) and its place in the spec.
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
    """

    step: int | None
    origin: Origin
    title: str
    mismatches: tuple[str, ...]
    late: bool = False


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
