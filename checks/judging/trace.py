"""The trace: timestamped events of one behaviour run, and its timeline text.

Rules of this module:
- an event is a frozen value: when (seconds on the behaviour's clock), who
  (impl, peer, checker; for a server: client, server), what, and the step it
  belongs to;
- `Trace.add` is safe to call from any thread; events are shown in time order;
- no I/O: rendering returns text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

Actor = Literal["impl", "peer", "checker", "client", "server"]


@dataclass(frozen=True)
class Event:
    """One thing that happened: `what` is a short phrase, e.g. "recv(1024) -> b'hi'"."""

    at: float
    actor: Actor
    what: str
    step: int | None = None


class Trace:
    """The events of one run, appended from the runner's threads."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def add(self, at: float, actor: Actor, what: str, step: int | None = None) -> Event:
        event = Event(at, actor, what, step)
        with self._lock:
            self._events.append(event)
        return event

    def events(self) -> tuple[Event, ...]:
        with self._lock:
            return tuple(sorted(self._events, key=lambda event: event.at))

    def render(self, mark_step: int | None = None) -> str:
        """The timeline, one event a line; the failing step's events are marked '>'."""
        lines = []
        for event in self.events():
            marker = ">" if mark_step is not None and event.step == mark_step else " "
            step = f"step {event.step + 1}" if event.step is not None else "setup"
            lines.append(f"{marker} {event.at * 1000:9.1f} ms  {event.actor:<7} {step:<8} {event.what}")
        return "\n".join(lines)
