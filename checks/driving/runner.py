"""The runner: plays one behaviour's steps against one driver over one family.

Rules of this module:
- it performs no socket operation of its own: the implementation's side goes
  through the driver (sockspec.driving.operations), the checker's side through `peer`,
  sockets come from `connections`; judging is `judge`'s;
- one clock (`timing.Clock`) stamps every event; the only sleeps are the delays
  a spec asks for (`after:`), which are the deliberate gaps order sockspec need;
- every call runs on a worker thread (a submission completes on the driver's
  own thread) and every wait is bounded by the step limit and the item limit,
  so a hung implementation gets a verdict, not a hang;
- whatever happens, every socket is shut down and closed and every worker
  thread is joined (or reported when it will not return) before `run` returns.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sockspec.driving import operations, peer
from sockspec.driving.connections import Endpoints, open_endpoints
from sockspec.driving.drivers import Completion, CompletionDriver, Driver, SocketDriver
from sockspec.judging import judge as judging
from sockspec.judging.judge import Outcome
from sockspec.judging.trace import Actor, Trace
from sockspec.judging.verdict import Failure, Verdict
from sockspec.language.errorkinds import classify
from sockspec.language.model import (
    Await,
    Behaviour,
    Call,
    Check,
    Expectation,
    Family,
    Mode,
    Peer,
    Step,
)
from sockspec.language.timing import Clock, Timing, format_duration

JOIN_LIMIT = 2.0
POLL_INTERVAL = 0.001


class _StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.title)
        self.failure = failure


@dataclass
class _Pending:
    """A call running on a worker thread, or a submitted operation not yet complete."""

    step: Call
    index: int
    started: float
    deadline: float = 0.0
    thread: threading.Thread | None = None
    completion: Completion | None = None
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None


_SUCCESS = Expectation(ok=True)


class Run:
    """One behaviour, one driver, one family: call `run()` once."""

    def __init__(self, behaviour: Behaviour, driver: Driver, family: Family, timing: Timing) -> None:
        self.behaviour = behaviour
        self.driver = driver
        self.family = family
        self.timing = timing
        self.clock = Clock()
        self.trace = Trace()
        self.acted: dict[str, float] = {}
        self.pending: dict[str, _Pending] = {}
        self.workers: list[_Pending] = []
        self.deadline = timing.item_limit
        self.ends: list[Endpoints] = []

    # -- the whole run -------------------------------------------------------

    def run(self) -> Verdict:
        failure: Failure | None = None
        notes: list[str] = []
        try:
            for _ in range(self.behaviour.connections):
                self.ends.append(open_endpoints(self.family, self.behaviour.topology, self.behaviour.socket))
            for ends in self.ends:
                self._set_mode(ends)
            last = 0.0
            for index, step in enumerate(self.behaviour.steps):
                self._wait_until(last + step.after)
                last = self._step(index, step)
        except _StepFailed as failed:
            failure = failed.failure
        finally:
            notes.extend(self._clean_up())
        if failure is None and notes:
            failure = Failure(None, self.behaviour.origin, "clean-up", tuple(notes))
        return Verdict(self.behaviour, self.driver.name, self.family, self.trace, failure, tuple(notes))

    def _set_mode(self, ends: Endpoints) -> None:
        mode = self.behaviour.mode
        sock = ends.impl if ends.impl is not None else ends.impl_listener
        if mode is None or sock is None or not isinstance(self.driver, SocketDriver):
            return
        blocking = mode is Mode.BLOCKING
        self.trace.add(self.clock.now(), "impl", f"set_blocking({blocking})  [{mode.value} mode]")
        try:
            self.driver.set_blocking(sock, blocking)
        except Exception as exc:  # the driver's fault: report it as a failure of set-up
            raise _StepFailed(
                Failure(
                    None,
                    self.behaviour.origin,
                    "set-up (set_blocking)",
                    (f"the driver raised {type(exc).__name__}: {exc}",),
                )
            ) from exc

    def _clean_up(self) -> list[str]:
        notes = []
        try:
            if isinstance(self.driver, CompletionDriver):
                try:
                    self.driver.resume()
                except Exception as exc:  # the driver's fault; clean-up goes on
                    notes.append(f"the driver's resume() raised {type(exc).__name__}: {exc}")
            for ends in self.ends:
                ends.shutdown_all()
            notes.extend(self._join_workers())
        finally:
            for ends in self.ends:
                ends.close_all()
        return notes

    def _join_workers(self) -> list[str]:
        notes = []
        for worker in self.workers:
            if worker.thread is not None:
                worker.thread.join(JOIN_LIMIT)
                if worker.thread.is_alive():
                    notes.append(
                        f"the implementation's {operations.describe(worker.step)} (step {worker.index + 1}) "
                        f"did not return within {format_duration(JOIN_LIMIT)} after its socket was shut down"
                    )
            elif worker.completion is not None and not worker.done.is_set():
                worker.completion.cancel()
                if not worker.done.wait(JOIN_LIMIT):
                    notes.append(
                        f"the implementation's {operations.describe(worker.step)} (step {worker.index + 1}) "
                        f"did not complete within {format_duration(JOIN_LIMIT)} after it was cancelled "
                        "and its socket shut down"
                    )
        return notes

    # -- time ----------------------------------------------------------------

    def _wait_until(self, when: float) -> None:
        """The deliberate delay a spec asks for with `after:`, never past the item limit."""
        delay = min(when, self.deadline) - self.clock.now()
        if delay > 0:
            time.sleep(delay)

    def _limit(self, step: Step, bound: float | None = None) -> float:
        """How long a step may wait: its bound (+tolerance), its limit, or the default."""
        if bound is not None:
            wanted = self.timing.upper(bound)
        elif step.limit is not None:
            wanted = step.limit
        else:
            wanted = self.timing.step_limit
        return max(0.0, min(wanted, self.deadline - self.clock.now()))

    # -- steps ---------------------------------------------------------------

    def _step(self, index: int, step: Step) -> float:
        """Perform one step; return when it finished (or, for a background call, started)."""
        try:
            if isinstance(step, Call):
                return self._call(index, step)
            if isinstance(step, Peer):
                return self._peer(index, step)
            if isinstance(step, Await):
                return self._await(index, step)
            if isinstance(step, Check):
                return self._check(index, step)
            raise operations.SpecMismatch("client and observe steps belong to server behaviours")
        except operations.SpecMismatch as exc:
            raise self._fail(
                index, step, f"step {index + 1}", [f"the spec asks the impossible: {exc}"]
            ) from None

    def _fail(self, index: int, step: Step, title: str, mismatches: list[str]) -> _StepFailed:
        return _StepFailed(Failure(index, step.origin, title, tuple(mismatches)))

    def _ends(self, step: Call | Peer | Check) -> Endpoints:
        return self.ends[step.conn - 1]

    def _unread(self, pending: _Pending, ends: Endpoints) -> int | None:
        """FIONREAD of the implementation's socket for a recv or wait outcome, else None."""
        if ends.impl is None or pending.step.op not in {"recv", "wait"}:
            return None
        try:
            return peer.unread(ends.impl)
        except (OSError, ValueError):  # the socket is gone (a driver closed it): nothing to probe
            return None

    def _observed(
        self,
        pending: _Pending,
        ends: Endpoints,
        value: object,
        error: BaseException | None,
        unread: int | Literal["now"] | None = "now",
    ) -> None:
        """Record what a call returned or completed with. Kernel state is probed first ("now"),
        unless the caller probed it at the completion moment and passes what it saw."""
        ended = self.clock.now()
        if isinstance(unread, str):
            unread = self._unread(pending, ends)
        if isinstance(value, socket.socket):
            ends.impl = ends.adopt(value)
            value = None
        if error is None:
            outcome = Outcome(pending.started, ended, value, unread=unread)
        else:
            outcome = Outcome(
                pending.started,
                ended,
                None,
                classify(error),
                f"{type(error).__name__}: {error}",
                unread=unread,
            )
        pending.outcome = outcome
        label = f"[{pending.step.background}] " if pending.step.background else ""
        verb = "completed" if pending.completion is not None else "->"
        self.trace.add(ended, "impl", f"{label}{pending.step.op} {verb} {outcome.describe()}", pending.index)
        pending.done.set()

    def _start(self, index: int, step: Call) -> _Pending:
        """Start a call on a worker thread, or submit it to a completion driver."""
        ends = self._ends(step)
        started = self.clock.now()
        label = f"[{step.background}] " if step.background else ""
        pending = _Pending(step, index, started)
        self.workers.append(pending)
        submit = operations.submit_call(self.driver, step)
        if submit is not None:
            self.trace.add(started, "impl", f"{label}submit {operations.describe(step)}", index)
            self._submit(index, step, pending, lambda: submit(ends), ends)
            return pending
        call = operations.plain_call(self.driver, step)
        if call is None:
            raise self._fail(
                index,
                step,
                f"step {index + 1} ({operations.describe(step)})",
                [f"the driver {self.driver.name} has no operation {step.op!r} for this model"],
            )
        self.trace.add(started, "impl", f"{label}{operations.describe(step)} called", index)

        def work() -> None:
            try:
                value = call(ends)
            except BaseException as exc:  # every outcome is data here
                self._observed(pending, ends, None, exc)
            else:
                self._observed(pending, ends, value, None)

        pending.thread = threading.Thread(target=work, name=f"sockspec-{step.op}", daemon=True)
        pending.thread.start()
        return pending

    def _submit(
        self, index: int, step: Call, pending: _Pending, submit: Callable[[], Completion], ends: Endpoints
    ) -> None:
        """Submit on a worker thread (a submission must not block), then follow its completion."""
        box: list[Completion | BaseException] = []
        worker = threading.Thread(
            target=lambda: box.append(_attempt(submit)), name="sockspec-submit", daemon=True
        )
        worker.start()
        worker.join(self._limit(step))
        if not box:
            pending.thread = worker
            raise self._fail(
                index,
                step,
                f"step {index + 1} (submit {operations.describe(step)})",
                [f"the submission did not return within {format_duration(self._limit(step))}: it blocks"],
            )
        submitted = box[0]
        if isinstance(submitted, BaseException):
            self._observed(pending, ends, None, submitted)
            return
        pending.completion = submitted

        def completed() -> None:
            # Kernel state at the completion moment, before the result is asked for: a driver
            # that reads only when result() is called has not drained the buffer at completion.
            unread = self._unread(pending, ends)
            try:
                value = submitted.result()
            except BaseException as exc:  # every outcome is data here
                self._observed(pending, ends, None, exc, unread)
            else:
                self._observed(pending, ends, value, None, unread)

        submitted.add_done_callback(completed)

    def _finish(self, index: int, step: Step, pending: _Pending, expect: Expectation, label: str) -> float:
        limit = self._limit(step, expect.within)
        if pending.deadline:
            limit = max(0.0, min(limit, pending.deadline - self.clock.now()))
        if not pending.done.wait(limit):
            outcome = Outcome(pending.started, None)
            self.trace.add(
                self.clock.now(), "checker", f"gave up waiting after {format_duration(limit)}", index
            )
        else:
            assert pending.outcome is not None
            outcome = pending.outcome
        name = pending.step.background or pending.step.name
        if name is not None and outcome.ended is not None:
            self.acted[name] = outcome.ended
        mismatches = judging.judge(expect, outcome, self.acted, self.timing)
        if mismatches:
            raise self._fail(index, step, label, mismatches)
        return outcome.ended if outcome.ended is not None else self.clock.now()

    def _call(self, index: int, step: Call) -> float:
        if step.op == "cancel":
            return self._cancel(index, step)
        if step.background is not None:
            self.pending[step.background] = self._start(index, step)
            return self.clock.now()
        expect = step.expect or _SUCCESS
        label = f"step {index + 1} ({operations.describe(step)})"
        for _attempt_number in range(step.repeat - 1):
            pending = self._start(index, step)
            pending.deadline = self.clock.now() + self._limit(step, expect.within)
            if not pending.done.wait(max(0.0, pending.deadline - self.clock.now())):
                return self._finish(index, step, pending, expect, label)
            assert pending.outcome is not None
            if pending.outcome.error is not None:
                return self._finish(index, step, pending, expect, label)
        return self._finish(index, step, self._start(index, step), expect, label)

    def _cancel(self, index: int, step: Call) -> float:
        assert step.target is not None
        pending = self.pending[step.target]
        self.trace.add(self.clock.now(), "impl", f"cancel [{step.target}]", index)
        if pending.completion is None:
            raise self._fail(
                index, step, f"step {index + 1} (cancel)", [f"{step.target!r} is not a submitted operation"]
            )
        pending.completion.cancel()
        return self.clock.now()

    def _await(self, index: int, step: Await) -> float:
        pending = self.pending[step.call]
        origin = f"{operations.describe(pending.step)} from step {pending.index + 1}"
        label = f"step {index + 1} (await {step.call}: {origin})"
        self.trace.add(self.clock.now(), "checker", f"await [{step.call}]", index)
        return self._finish(index, step, pending, step.expect or _SUCCESS, label)

    def _peer(self, index: int, step: Peer) -> float:
        ends = self._ends(step)
        started = self.clock.now()
        if step.name is not None:
            self.acted[step.name] = started
        actor: Actor = "checker" if step.action == "steal" else "peer"
        self.trace.add(started, actor, peer.describe(step), index)
        label = f"step {index + 1} ({actor} {peer.describe(step)})"
        try:
            value = peer.ACTIONS[step.action](ends, step, self._limit(step))
        except peer.PeerError as exc:
            raise self._fail(index, step, label, [f"the peer cannot do this: {exc}"]) from None
        except OSError as exc:
            ended = self.clock.now()
            self.trace.add(ended, actor, f"{step.action} failed: {classify(exc)} ({exc})", index)
            raise self._fail(
                index, step, label, [f"the {actor}'s {step.action} failed with {classify(exc)} ({exc})"]
            ) from None
        ended = self.clock.now()
        if step.action in {"read", "steal"}:
            outcome = Outcome(started, ended, value)
            self.trace.add(ended, actor, f"{step.action} -> {outcome.describe()}", index)
            if step.expect is not None:
                mismatches = judging.judge(step.expect, outcome, self.acted, self.timing)
                if mismatches:
                    raise self._fail(index, step, label, mismatches)
        return ended

    def _check(self, index: int, step: Check) -> float:
        """Probe kernel state; a probe may take until its limit to settle (loopback delivery)."""
        ends = self._ends(step)
        label = f"step {index + 1} (check)"
        if ends.impl is None and (
            step.unread is not None or step.unread_data is not None or step.so_error is not None
        ):
            raise self._fail(index, step, label, ["the implementation has no connected socket to inspect"])
        limit = self.clock.now() + self._limit(step, 0.0 if step.limit is None else None)
        once: list[tuple[str, object, object]] | None = None
        while True:
            try:
                if once is None:
                    once = self._probe_once(step, ends)
                observed = once + self._probe(step, ends)
            except (OSError, ValueError) as exc:
                raise self._fail(
                    index,
                    step,
                    label,
                    [f"cannot inspect the implementation's socket: {exc} (did the implementation close it?)"],
                ) from None
            mismatches = [
                f"expected {what} {want!r}, observed {got!r}" for what, want, got in observed if want != got
            ]
            if not mismatches or self.clock.now() >= limit:
                break
            time.sleep(POLL_INTERVAL)
        shown = ", ".join(f"{what} {got!r}" for what, _want, got in observed)
        self.trace.add(self.clock.now(), "checker", f"state: {shown}", index)
        if mismatches:
            raise self._fail(index, step, label, mismatches)
        if step.name is not None:
            self.acted[step.name] = self.clock.now()
        return self.clock.now()

    def _probe_once(self, step: Check, ends: Endpoints) -> list[tuple[str, object, object]]:
        """Probes that consume what they read (SO_ERROR): taken once, never retried."""
        if step.so_error is None or ends.impl is None:
            return []
        return [("so_error", step.so_error, peer.pending_error(ends.impl))]

    def _probe(self, step: Check, ends: Endpoints) -> list[tuple[str, object, object]]:
        observed: list[tuple[str, object, object]] = []
        if step.unread is not None and ends.impl is not None:
            observed.append(("unread", step.unread, peer.unread(ends.impl)))
        if step.unread_data is not None and ends.impl is not None:
            peeked = peer.peek(ends.impl, len(step.unread_data) + 1)
            observed.append(("unread_data", step.unread_data, peeked))
        if step.peer_unread is not None and ends.peer is not None:
            observed.append(("peer_unread", step.peer_unread, peer.unread(ends.peer)))
        for name in sorted(step.pending):
            observed.append((f"{name} pending", True, not self.pending[name].done.is_set()))
        for name in sorted(step.done):
            observed.append((f"{name} done", True, self.pending[name].done.is_set()))
        return observed


def _attempt(submit: Callable[[], Completion]) -> Completion | BaseException:
    try:
        return submit()
    except BaseException as exc:  # the submission's own error is an outcome too
        return exc


def run_behaviour(behaviour: Behaviour, driver: Driver, family: Family, timing: Timing) -> Verdict:
    """Play `behaviour` against `driver` over `family` and judge it."""
    return Run(behaviour, driver, family, timing).run()
