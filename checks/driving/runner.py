"""The runner: plays one behaviour's steps against one driver over one family.

Rules of this module:
- it performs no socket operation of its own: the implementation's side goes
  through the driver (sockspec.driving.operations), the checker's side through `peer`,
  sockets come from `connections`; judging is `judge`'s;
- the step loop, the item deadline and the clean-up's verdict are the shared
  skeleton's (sockspec.judging.steprun); the only sleeps are the delays a spec
  asks for (`after:`) and the short polls of a check's probes;
- one clock (`timing.Clock`) stamps every event; each event is a structured
  value (sockspec.judging.events), never a phrase to be parsed;
- every call runs on a worker thread (a submission completes on the driver's
  own thread) and every wait is bounded by the step limit and the item limit,
  so a hung implementation gets a verdict, not a hang;
- a call's time is its own: it is stamped on its worker thread just before the
  driver is called and just after it returns, so starting the thread is not
  counted; what noise is left is what sockspec.driving.calibration measures;
- a call past its upper bound (at once, within T) is waited for a little
  longer (`LATE_GRACE`), only to say how late it was and what it returned;
- every submission must return at once (the completion contract,
  drivers.CompletionDriver): one that takes longer than the tolerance fails;
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
from sockspec.judging.events import Actor, Kind, What
from sockspec.judging.judge import Observation
from sockspec.judging.steprun import StepFailed, StepRun
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
from sockspec.language.timing import Timing, format_duration

JOIN_LIMIT = 2.0
POLL_INTERVAL = 0.001
#: How long a call past its upper bound is still waited for, to report how late it was.
LATE_GRACE = 0.25
#: How long a check's probes may wait for kernel state to settle (loopback delivery).
SETTLE = 0.25


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
    observed: Observation | None = None


_SUCCESS = Expectation(ok=True)
_AT_ONCE = Expectation(at_once=True)


class DriverRun(StepRun):
    """One behaviour, one driver, one family: call `run()` once."""

    def __init__(self, behaviour: Behaviour, driver: Driver, family: Family, timing: Timing) -> None:
        super().__init__(behaviour, timing)
        self.driver = driver
        self.family = family
        self.pending: dict[str, _Pending] = {}
        self.workers: list[_Pending] = []
        self.ends: list[Endpoints] = []

    # -- the whole run -------------------------------------------------------

    def run(self) -> Verdict:
        failure, notes = self.play()
        return Verdict(self.behaviour, self.driver.name, self.family, self.trace.events(), failure, notes)

    def set_up(self) -> None:
        for _ in range(self.behaviour.connections):
            self.ends.append(open_endpoints(self.family, self.behaviour.topology, self.behaviour.socket))
        for ends in self.ends:
            self._set_mode(ends)

    def _set_mode(self, ends: Endpoints) -> None:
        mode = self.behaviour.mode
        sock = ends.impl if ends.impl is not None else ends.impl_listener
        if mode is None or sock is None or not isinstance(self.driver, SocketDriver):
            return
        blocking = mode is Mode.BLOCKING
        self.record(
            "impl", What(Kind.SET_UP, "set_blocking", args=str(blocking), note=f"{mode.value} mode"), None
        )
        try:
            self.driver.set_blocking(sock, blocking)
        except Exception as exc:  # the driver's fault: report it as a failure of set-up
            raise StepFailed(
                Failure(
                    None,
                    self.behaviour.origin,
                    "set-up (set_blocking)",
                    (f"the driver raised {type(exc).__name__}: {exc}",),
                )
            ) from exc

    def clean_up(self) -> list[str]:
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

    def _bounded(self, step: Step, bound: float | None) -> float:
        """How long a call may take: its upper bound (0 for at once) plus the tolerance, else its limit."""
        return self.limit(step) if bound is None else self.capped(self.timing.upper(bound))

    # -- steps ---------------------------------------------------------------

    def step(self, index: int, step: Step) -> float:
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
            raise self.fail(
                index, step, f"step {index + 1}", [f"the spec asks the impossible: {exc}"]
            ) from None

    def _ends(self, step: Call | Peer | Check) -> Endpoints:
        return self.ends[step.conn - 1]

    def _unread(self, pending: _Pending, ends: Endpoints) -> int | None:
        """FIONREAD of the implementation's socket when a recv or wait returns, else None."""
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
            observed = Observation(pending.started, ended, value, unread=unread)
        else:
            observed = _failed(pending.started, ended, error, unread)
        pending.observed = observed
        kind = Kind.COMPLETE if pending.completion is not None else Kind.RETURN
        self.record(
            "impl", _result(kind, pending.step.op, pending.step.background, observed), pending.index, at=ended
        )
        pending.done.set()

    def _start(self, index: int, step: Call) -> _Pending:
        """Start a call on a worker thread, or submit it to a completion driver."""
        ends = self._ends(step)
        started = self.clock.now()
        pending = _Pending(step, index, started)
        self.workers.append(pending)
        args = operations.arguments(step)
        submit = operations.submit_call(self.driver, step)
        if submit is not None:
            what = What(Kind.SUBMIT, step.op, step.background, args=args)
            self._submit(index, step, pending, lambda: submit(ends), ends, what)
            return pending
        call = operations.plain_call(self.driver, step)
        if call is None:
            raise self.fail(
                index,
                step,
                f"step {index + 1} ({operations.describe(step)})",
                [f"the driver {self.driver.name} has no operation {step.op!r} for this model"],
            )
        called = What(Kind.CALL, step.op, step.background, args=args)

        def work() -> None:
            pending.started = self.record("impl", called, index)
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
        self,
        index: int,
        step: Call,
        pending: _Pending,
        submit: Callable[[], Completion],
        ends: Endpoints,
        what: What,
    ) -> None:
        """Submit on a worker thread (a submission returns at once), then follow its completion."""
        box: list[tuple[Completion | BaseException, float]] = []

        def attempt() -> None:
            pending.started = self.record("impl", what, index)
            outcome = _attempt(submit)
            box.append((outcome, self.clock.now()))

        worker = threading.Thread(target=attempt, name="sockspec-submit", daemon=True)
        worker.start()
        worker.join(self.limit(step))
        title = f"step {index + 1} (submit {operations.describe(step)})"
        if not box:
            pending.thread = worker
            raise self.fail(
                index,
                step,
                title,
                [f"the submission did not return within {format_duration(self.limit(step))}: it blocks"],
            )
        submitted, returned = box[0]
        late = judging.assess(_AT_ONCE, Observation(pending.started, returned), self.acted, self.timing)
        if isinstance(submitted, BaseException):
            self._observed(pending, ends, None, submitted)
        else:
            self._follow(pending, submitted, ends)
        if late:
            raise self.fail(index, step, title, late)

    def _follow(self, pending: _Pending, submitted: Completion, ends: Endpoints) -> None:
        """Record a submitted operation's completion when it comes."""
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
        limit = self._bounded(step, expect.bound)
        if pending.deadline:
            limit = max(0.0, min(limit, pending.deadline - self.clock.now()))
        returned = pending.done.wait(limit)
        if not returned and expect.bound is not None:
            # Late already: wait a little more, only to say how late, and with what, it returned.
            grace = self.capped(LATE_GRACE)
            returned = pending.done.wait(grace)
            limit += grace
        if not returned:
            observed = Observation(pending.started, None)
            self.record("checker", What(Kind.GAVE_UP, limit=limit), index)
        else:
            assert pending.observed is not None
            observed = pending.observed
        name = pending.step.background or pending.step.name
        if name is not None and observed.ended is not None:
            self.acted[name] = observed.ended
        mismatches = judging.assess(expect, observed, self.acted, self.timing)
        if mismatches:
            raise self.fail(index, step, label, mismatches)
        return observed.ended if observed.ended is not None else self.clock.now()

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
            pending.deadline = self.clock.now() + self._bounded(step, expect.bound)
            if not pending.done.wait(max(0.0, pending.deadline - self.clock.now())):
                return self._finish(index, step, pending, expect, label)
            assert pending.observed is not None
            if pending.observed.error is not None:
                return self._finish(index, step, pending, expect, label)
        return self._finish(index, step, self._start(index, step), expect, label)

    def _cancel(self, index: int, step: Call) -> float:
        assert step.target is not None
        pending = self.pending[step.target]
        self.record("impl", What(Kind.CANCEL, "cancel", step.target), index)
        if pending.completion is None:
            raise self.fail(
                index, step, f"step {index + 1} (cancel)", [f"{step.target!r} is not a submitted operation"]
            )
        pending.completion.cancel()
        return self.clock.now()

    def _await(self, index: int, step: Await) -> float:
        pending = self.pending[step.call]
        origin = f"{operations.describe(pending.step)} from step {pending.index + 1}"
        label = f"step {index + 1} (await {step.call}: {origin})"
        self.record("checker", What(Kind.AWAIT, "await", step.call), index)
        return self._finish(index, step, pending, step.expect or _SUCCESS, label)

    def _peer(self, index: int, step: Peer) -> float:
        ends = self._ends(step)
        started = self.clock.now()
        if step.name is not None:
            self.acted[step.name] = started
        actor: Actor = "checker" if step.action == "steal" else "peer"
        self.record(actor, What(Kind.PEER, step.action, args=peer.arguments(step)), index, at=started)
        label = f"step {index + 1} ({actor} {peer.describe(step)})"
        try:
            value = peer.ACTIONS[step.action](ends, step, self.limit(step))
        except peer.PeerError as exc:
            raise self.fail(index, step, label, [f"the peer cannot do this: {exc}"]) from None
        except OSError as exc:
            ended = self.clock.now()
            failed = _failed(started, ended, exc, None)
            self.record(actor, _result(Kind.RETURN, step.action, None, failed), index, at=ended)
            if step.action in {"read", "steal"} and step.expect is not None:  # an error it expects
                mismatches = judging.assess(step.expect, failed, self.acted, self.timing)
                if not mismatches:
                    return ended
                raise self.fail(index, step, label, mismatches) from None
            raise self.fail(
                index, step, label, [f"the {actor}'s {step.action} failed with {classify(exc)} ({exc})"]
            ) from None
        ended = self.clock.now()
        if step.action in {"read", "steal"}:
            observed = Observation(started, ended, value)
            self.record(actor, _result(Kind.RETURN, step.action, None, observed), index, at=ended)
            if step.expect is not None:
                mismatches = judging.assess(step.expect, observed, self.acted, self.timing)
                if mismatches:
                    raise self.fail(index, step, label, mismatches)
        return ended

    def _check(self, index: int, step: Check) -> float:
        """Probe kernel state; a probe may take until its limit to settle (loopback delivery)."""
        ends = self._ends(step)
        label = f"step {index + 1} (check)"
        if ends.impl is None and (
            step.unread is not None
            or step.unread_data is not None
            or step.so_error is not None
            or step.hung_up is not None
        ):
            raise self.fail(index, step, label, ["the implementation has no connected socket to inspect"])
        limit = self.clock.now() + self.limit(step, SETTLE)
        once: list[tuple[str, object, object]] | None = None
        while True:
            try:
                if once is None:
                    once = self._probe_once(step, ends)
                observed = once + self._probe(step, ends)
            except (OSError, ValueError) as exc:
                raise self.fail(
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
        shown = tuple((what, repr(got)) for what, _want, got in observed)
        self.record("checker", What(Kind.STATE, "check", values=shown), index)
        if mismatches:
            raise self.fail(index, step, label, mismatches)
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
        if step.hung_up is not None and ends.impl is not None:
            observed.append(("hung_up", step.hung_up, peer.hung_up(ends.impl)))
        for name in sorted(step.pending):
            observed.append((f"{name} pending", True, not self.pending[name].done.is_set()))
        for name in sorted(step.done):
            observed.append((f"{name} done", True, self.pending[name].done.is_set()))
        return observed


def _result(kind: Kind, op: str, label: str | None, observed: Observation) -> What:
    """A call's or an action's return (or completion) as an event: what it observed."""
    return What(kind, op, label, outcome=observed.describe(), error=observed.error, count=observed.length)


def _failed(started: float, ended: float, error: BaseException, unread: int | None) -> Observation:
    """What a call or an action that raised `error` observed."""
    return Observation(
        started, ended, None, classify(error), f"{type(error).__name__}: {error}", unread=unread
    )


def _attempt(submit: Callable[[], Completion]) -> Completion | BaseException:
    try:
        return submit()
    except BaseException as exc:  # the submission's own error is an outcome too
        return exc


def run_behaviour(behaviour: Behaviour, driver: Driver, family: Family, timing: Timing) -> Verdict:
    """Play `behaviour` against `driver` over `family` and judge it."""
    return DriverRun(behaviour, driver, family, timing).run()
