"""A verdict: the result of one behaviour run, and why it failed.

Rules of this module:
- values only (frozen dataclasses), no I/O: the driver and server runners make
  verdicts, the reports read them;
- a verdict names its failing step by index (0-based) and its place in the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sockspec.judging.trace import Trace
from sockspec.language.model import Behaviour, Family, Origin


@dataclass(frozen=True)
class Failure:
    """Why a behaviour failed: the step, what was expected, what was seen."""

    step: int | None
    origin: Origin
    title: str
    mismatches: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """The result of one behaviour on one driver over one family."""

    behaviour: Behaviour
    driver: str
    family: Family
    trace: Trace
    failure: Failure | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.failure is None
