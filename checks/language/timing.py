"""Time: the one clock, the one tolerance, and durations as written in specs.

Rules of this module:
- every timestamp in sockspec comes from `Clock` (time.monotonic, seconds since
  the behaviour started); nothing else reads the time;
- the tolerance is added to upper bounds only, and only here (`Timing.upper`):
  lower bounds are exact because the kernel never returns early; "at once" is
  the bound 0, so its limit is the tolerance alone;
- the plugin measures the tolerance at the start of a run
  (sockspec.driving.calibration) unless the user sets it; `derivation` says
  which, in words, for the header and the reports;
- no sleeping here: the runner decides when to wait.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

_DURATION = re.compile(r"^\+?(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>us|ms|s)$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_duration(text: str) -> float:
    """'100ms' -> 0.1; '+2s' -> 2.0; '250us' -> 0.00025. ValueError on anything else."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (write e.g. 100ms, 1.5s, 250us)")
    return float(match["number"]) * _UNIT_SECONDS[match["unit"]]


def format_duration(seconds: float) -> str:
    """A short human form: 0.1004 -> '100.4 ms'."""
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    return f"{seconds * 1000:.1f} ms"


@dataclass(frozen=True)
class Timing:
    """The time limits of a run, reported in pytest's header.

    tolerance: added to every upper bound a spec states ("within 200ms"); a call that
        must return at once (`at_once: true`) gets the tolerance alone;
    step_limit: the longest any step may wait when the spec gives no limit.
    item_limit: the longest one behaviour may run, all steps together.
    derivation: where the tolerance came from, in words ("measured at the start of
        the run: ...", "set by --sockspec-tolerance"). The default of this class is
        for direct use of the runner, which measures nothing; the plugin measures.
    """

    tolerance: float = 0.25
    step_limit: float = 2.0
    item_limit: float = 15.0
    derivation: str = "the fixed default of sockspec's Timing (not measured)"

    def upper(self, bound: float) -> float:
        """An upper bound from a spec, with the tolerance added."""
        return bound + self.tolerance

    def describe(self) -> str:
        return (
            f"tolerance {format_duration(self.tolerance)} on upper bounds, "
            f"step limit {format_duration(self.step_limit)}, "
            f"item limit {format_duration(self.item_limit)}"
        )


class Clock:
    """Monotonic seconds since this clock was made (the start of one behaviour)."""

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._origin
