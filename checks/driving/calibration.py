"""Calibration: the timing noise this machine adds to a call that returns at once.

Rules of this module:
- it measures what the runner measures of a call (sockspec.driving.runner): a
  worker thread is started as the runner starts one, it stamps the clock, makes
  one socket call that returns at once (a recv on an empty non-blocking socket,
  EAGAIN), stamps the clock again and signals; the time between the stamps is
  what the judge would see of a correct "at once" call. Starting the thread is
  not counted (the runner does not count it either), but the main thread waking
  at the same time is: competing for the interpreter lock and for a CPU is the
  noise a call's own time carries;
- the first samples warm the path up and are left out;
- the tolerance is a fixed multiple of the worst call measured, clamped to a
  floor (so a quiet machine does not make verdicts brittle) and a ceiling (so
  the slack never grows to hide the 50 ms stalls the corpus is shown to catch,
  tests/test_stalls.py); the worst, not a percentile, because a false verdict
  costs more than a few milliseconds of slack, and a verdict that still fails
  only on time is run again before it is reported;
- it takes at most `BUDGET` seconds (fewer samples on a slow machine), and
  returns a value that says how it was derived, for the header and the reports.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass

from sockspec.language.timing import format_duration

#: Calls measured at the start of a run (at most), after `WARM_UP` left out.
SAMPLES = 200
WARM_UP = 5
#: The longest the measurement takes; it stops early when the samples take longer.
BUDGET = 0.15
#: At least this many samples, whatever the budget.
LEAST = 20
#: Worst call x FACTOR is the tolerance, within [FLOOR, CEILING].
FACTOR = 4.0
FLOOR = 0.020
#: Below the 50 ms stall every "at once" expectation is shown to catch (tests/test_stalls.py).
CEILING = 0.040
#: How long one sample may wait for its worker thread (a machine this slow gets the ceiling).
SAMPLE_LIMIT = 1.0


@dataclass(frozen=True)
class Calibration:
    """What was measured and the tolerance derived from it (seconds)."""

    samples: int
    median: float
    p99: float
    worst: float
    tolerance: float

    def describe(self) -> str:
        return (
            f"measured at the start of the run: {self.samples} no-op socket calls on a worker thread, "
            f"median {_fine(self.median)}, p99 {_fine(self.p99)}, worst {_fine(self.worst)}; "
            f"tolerance = {FACTOR:g} x worst, within [{format_duration(FLOOR)}, {format_duration(CEILING)}]"
        )


def _fine(seconds: float) -> str:
    """A duration to the microsecond below a millisecond: 0.000014 -> '14 us'."""
    return f"{seconds * 1e6:.0f} us" if seconds < 0.001 else format_duration(seconds)


def derive(worst: float) -> float:
    """The tolerance for the worst call measured."""
    return min(CEILING, max(FLOOR, FACTOR * worst))


def _one_call(sock: socket.socket) -> float:
    """One call as the runner times it: stamped on its worker thread, around the socket call."""
    done = threading.Event()
    stamps: list[float] = []

    def work() -> None:
        stamps.append(time.monotonic())
        with contextlib.suppress(BlockingIOError):
            sock.recv(1)
        stamps.append(time.monotonic())
        done.set()

    worker = threading.Thread(target=work, name="sockspec-calibrate", daemon=True)
    worker.start()
    if not done.wait(SAMPLE_LIMIT):
        return SAMPLE_LIMIT
    worker.join()
    return stamps[1] - stamps[0]


def calibrate(samples: int = SAMPLES, budget: float = BUDGET) -> Calibration:
    """Measure up to `samples` calls (at least `LEAST`, within `budget` s) on a fresh socket pair."""
    left, right = socket.socketpair()
    try:
        left.setblocking(False)
        for _ in range(WARM_UP):
            _one_call(left)
        started = time.monotonic()
        times: list[float] = []
        while len(times) < samples and (len(times) < LEAST or time.monotonic() - started < budget):
            times.append(_one_call(left))
    finally:
        left.close()
        right.close()
    times.sort()
    worst = times[-1]
    return Calibration(
        samples=len(times),
        median=times[len(times) // 2],
        p99=times[min(len(times) - 1, int(len(times) * 0.99))],
        worst=worst,
        tolerance=derive(worst),
    )
