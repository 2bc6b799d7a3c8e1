"""The completion handle the completion drivers hand out, and the parking of a loop thread.

Rules of this module:
- a `Handle` is finished exactly once, by the driver's own thread (an event
  loop's, or an io_uring ring's), with a value or an error; later finishes are
  ignored, so an operation that already completed keeps its result;
- callbacks run in the finishing thread, outside the lock (at once, in the
  caller's thread, when the handle is already finished);
- `cancel` only asks: it passes the request to the driver's machinery, which
  finishes the handle when the operation has really stopped (with a
  cancellation error, or with its result if it won the race).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sockspec.driving.drivers import Completion


class Handle(Completion):
    """A submitted operation, finished once by the driver that performs it."""

    def __init__(self, request_cancel: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._finished = False
        self._value: object = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._request_cancel = request_cancel
        self._cancel_requested = False

    def finish(self, value: object = None, error: BaseException | None = None) -> bool:
        """Complete with `value`, or with `error`; False when it was already complete."""
        with self._lock:
            if self._finished:
                return False
            self._finished = True
            self._value, self._error = value, error
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
        return True

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self._finished:
                self._callbacks.append(callback)
                return
        callback()

    def done(self) -> bool:
        with self._lock:
            return self._finished

    def result(self) -> object:
        with self._lock:
            if not self._finished:
                raise RuntimeError("result() of an operation that has not completed")
            value, error = self._value, self._error
        if error is not None:
            raise error
        return value

    def cancel(self) -> None:
        with self._lock:
            if self._finished or self._cancel_requested:
                return
            self._cancel_requested = True
        self._request_cancel()


class Parking:
    """Stops an event loop's thread for pause()/resume(): a callback the loop runs
    blocks until resume(), so nothing of the application runs meanwhile."""

    def __init__(self, what: str, limit: float) -> None:
        self._what = what
        self._limit = limit
        self._parked = threading.Event()
        self._resumed = threading.Event()
        self._resumed.set()

    def pause(self, schedule: Callable[[Callable[[], None]], object]) -> None:
        """Have the loop run the parking callback (via `schedule`), and wait until it does."""
        self._resumed.clear()
        self._parked.clear()
        schedule(self._park)
        if not self._parked.wait(self._limit):
            raise TimeoutError(f"{self._what} did not pause within {self._limit} s")

    def _park(self) -> None:
        self._parked.set()
        self._resumed.wait()

    def resume(self) -> None:
        self._resumed.set()
