"""The skeleton every runner shares: a behaviour's steps played in order, on one clock, within limits.

Rules of this module:
- no I/O of its own: a runner (sockspec.driving.runner, sockspec.servers.runner)
  subclasses `StepRun` and does the I/O in `set_up`, `step` and `clean_up`;
- the only wait here is the deliberate delay a spec asks for (`after:`), never
  past the item's deadline; every other wait a step makes is bounded by `limit`
  (its own limit, a default, or the step limit, never past the deadline);
- one clock stamps every event of the trace; the runner's threads may add
  events at any time (the collector holds the lock);
- a step that fails raises `StepFailed` (made by `fail`), which ends the steps;
  `clean_up` runs whatever happens, and what it reports becomes the failure
  ("clean-up") when nothing else failed.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence

from sockspec.judging.events import Actor, What
from sockspec.judging.judge import Mismatch, only_late
from sockspec.judging.trace import Trace
from sockspec.judging.verdict import Failure
from sockspec.language.model import Behaviour, Step
from sockspec.language.timing import Clock, Timing


class StepFailed(Exception):
    """A step did not go as the spec says; it carries the failure the verdict reports."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.title)
        self.failure = failure


class StepRun(abc.ABC):
    """One behaviour's run: call `play()` once, then build the verdict from `failure` and `notes`."""

    def __init__(self, behaviour: Behaviour, timing: Timing) -> None:
        self.behaviour = behaviour
        self.timing = timing
        self.clock = Clock()
        self.trace = Trace()
        self.acted: dict[str, float] = {}
        self.deadline = timing.item_limit
        self.index = 0  # the step being played

    # -- what a runner provides ----------------------------------------------------

    @abc.abstractmethod
    def set_up(self) -> None:
        """Prepare what the steps need (connections, clients); may raise StepFailed."""

    @abc.abstractmethod
    def step(self, index: int, step: Step) -> float:
        """Perform one step; return when it acted (the time `after:` of the next step counts from)."""

    @abc.abstractmethod
    def clean_up(self) -> list[str]:
        """Release everything, whatever happened; return what went wrong doing so."""

    def failed(self, failure: Failure) -> Failure:
        """The failure of a step, taken before clean-up, while a runner can still look around
        (default: as it is)."""
        return failure

    def finish(self, failure: Failure | None) -> Failure | None:
        """The failure to report once everything is cleaned up (default: as it is)."""
        return failure

    # -- the skeleton ----------------------------------------------------------------

    def play(self) -> tuple[Failure | None, tuple[str, ...]]:
        """Set up, play every step, clean up: the failure (None when every step held) and the
        clean-up's notes."""
        failure: Failure | None = None
        notes: list[str] = []
        try:
            self.set_up()
            last = 0.0
            for index, step in enumerate(self.behaviour.steps):
                self.index = index
                self.wait_until(last + step.after)
                last = self.step(index, step)
        except StepFailed as stopped:
            failure = self.failed(stopped.failure)
        finally:
            notes.extend(self.clean_up())
        failure = self.finish(failure)
        if failure is None and notes:
            failure = Failure(None, self.behaviour.origin, "clean-up", tuple(notes))
        return failure, tuple(notes)

    def fail(self, index: int, step: Step, title: str, mismatches: Sequence[str | Mismatch]) -> StepFailed:
        """The failure of step `index`, to raise; late when every mismatch is a judged LATE one."""
        found = [mismatch for mismatch in mismatches if isinstance(mismatch, Mismatch)]
        late = len(found) == len(mismatches) and only_late(found)
        texts = tuple(str(mismatch) for mismatch in mismatches)
        return StepFailed(Failure(index, step.origin, title, texts, late))

    def record(self, actor: Actor, what: What, step: int | None, at: float | None = None) -> float:
        """Add an event to the trace (at now, unless `at` says when); return its time."""
        when = self.clock.now() if at is None else at
        self.trace.add(when, actor, step, what)
        return when

    # -- time ------------------------------------------------------------------------

    def wait_until(self, when: float) -> None:
        """The deliberate delay a spec asks for (`after:`), never past the item's deadline."""
        delay = min(when, self.deadline) - self.clock.now()
        if delay > 0:
            time.sleep(delay)

    def capped(self, wanted: float) -> float:
        """`wanted` seconds of waiting, cut at the item's deadline."""
        return max(0.0, min(wanted, self.deadline - self.clock.now()))

    def limit(self, step: Step, default: float | None = None) -> float:
        """How long a step may wait: its own limit, else `default`, else the step limit (capped)."""
        if step.limit is not None:
            return self.capped(step.limit)
        return self.capped(default if default is not None else self.timing.step_limit)
