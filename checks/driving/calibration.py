"""Calibration: the timing noise this machine adds to a call that returns at once.

Rules of this module:
- it measures the path every driver call takes through the runner: a worker
  thread is started, it makes one socket call that returns at once (a recv on
  an empty non-blocking socket, EAGAIN), it signals the runner, and the runner
  wakes; the elapsed time is what the judge sees for a correct "at once" call;
- the tolerance is a fixed multiple of the worst hand-off measured, clamped to
  a floor (so a quiet machine does not make verdicts brittle) and a ceiling
  (so the slack never grows to hide the stalls the corpus promises to catch);
- it runs in well under a second and returns a value that says how it was
  derived, for the header and the reports.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass

from sockspec.language.timing import format_duration

#: Hand-offs measured at the start of a run.
SAMPLES = 200
#: Worst hand-off x FACTOR is the tolerance, within [FLOOR, CEILING].
FACTOR = 4.0
FLOOR = 0.020
#: Below the 50 ms stall every "at once" expectation is shown to catch (tests/faulty_stalls.py).
CEILING = 0.040


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
            f"measured {self.samples} thread hand-offs with a socket call: median "
            f"{format_duration(self.median)}, p99 {format_duration(self.p99)}, worst "
            f"{format_duration(self.worst)}; tolerance = {FACTOR:g} x worst, within "
            f"[{format_duration(FLOOR)}, {format_duration(CEILING)}]"
        )


def derive(worst: float) -> float:
    """The tolerance for the worst hand-off measured."""
    return min(CEILING, max(FLOOR, FACTOR * worst))


def _hand_off(sock: socket.socket) -> float:
    done = threading.Event()

    def work() -> None:
        with contextlib.suppress(BlockingIOError):
            sock.recv(1)
        done.set()

    started = time.monotonic()
    worker = threading.Thread(target=work, name="sockspec-calibrate", daemon=True)
    worker.start()
    done.wait(CEILING * 10)
    elapsed = time.monotonic() - started
    worker.join()
    return elapsed


def calibrate(samples: int = SAMPLES) -> Calibration:
    """Measure `samples` hand-offs on a fresh non-blocking socket pair."""
    left, right = socket.socketpair()
    try:
        left.setblocking(False)
        times = sorted(_hand_off(left) for _ in range(samples))
    finally:
        left.close()
        right.close()
    worst = times[-1]
    return Calibration(
        samples=samples,
        median=times[len(times) // 2],
        p99=times[min(len(times) - 1, int(len(times) * 0.99))],
        worst=worst,
        tolerance=derive(worst),
    )
