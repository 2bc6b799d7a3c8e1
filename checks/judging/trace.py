"""The trace collector: the events of one behaviour run, gathered from the runner's threads.

Rules of this module:
- the events are sockspec.judging.events values; this module only collects them;
- `Trace.add` is safe to call from any thread (a call returns on its worker
  thread, a server's client events come from the I/O thread), so it holds a
  lock: the one reason judging imports threading;
- `events()` is a snapshot in time order; a verdict carries that snapshot, so
  nothing after the run needs the collector.
"""

from __future__ import annotations

import threading

from sockspec.judging.events import Actor, Event, What


class Trace:
    """The events of one run, appended from the runner's threads."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def add(self, at: float, actor: Actor, step: int | None, what: What) -> Event:
        event = Event(at, actor, step, what)
        with self._lock:
            self._events.append(event)
        return event

    def events(self) -> tuple[Event, ...]:
        with self._lock:
            return tuple(sorted(self._events, key=lambda event: event.at))
