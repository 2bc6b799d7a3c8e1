"""The runner: plays one behaviour's steps against one driver over one family.

Rules of this module:
- it performs no socket operation of its own: the implementation's side goes
  through the driver, the checker's side through `peer`, sockets come from
  `connections`; judging is `judge`'s;
- one clock (`timing.Clock`) stamps every event; the only sleeps are the delays
  a spec asks for (`after:`), which are the deliberate gaps order checks need;
- every call runs on a worker thread and every wait is bounded by the step limit
  and the item limit, so a hung implementation gets a verdict, not a hang;
- whatever happens, every socket is shut down and closed and every worker
  thread is joined (or reported when it will not return) before `run` returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from checks import judge as judging
from checks import peer
from checks.connections import Endpoints, open_endpoints
from checks.drivers import FLAG_VALUES, SHUTDOWN_HOW, SocketDriver
from checks.errorkinds import classify
from checks.judge import Outcome
from checks.model import Await, Behaviour, Call, Check, Expectation, Family, Mode, Origin, Peer, Step
from checks.timing import Clock, Timing, format_duration
from checks.trace import Trace

if TYPE_CHECKING:
    import socket

JOIN_LIMIT = 2.0
POLL_INTERVAL = 0.001


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


class _StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.title)
        self.failure = failure


@dataclass
class _Pending:
    """A call running on a worker thread."""

    step: Call
    index: int
    started: float
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None


def _describe_call(step: Call) -> str:
    args: list[str] = []
    if step.size is not None:
        args.append(str(step.size))
    if step.payload is not None:
        args.append(repr(step.payload) if len(step.payload) <= 32 else f"<{len(step.payload)} bytes>")
    if step.flags:
        args.append("|".join(f"MSG_{flag.upper()}" for flag in sorted(step.flags)))
    if step.how is not None:
        args.append(f"SHUT_{ {'read': 'RD', 'write': 'WR', 'both': 'RDWR'}[step.how] }")
    if step.op == "settimeout":
        args.append("None" if step.timeout is None else format_duration(step.timeout))
    if step.blocking is not None:
        args.append(str(step.blocking))
    return f"{step.op}({', '.join(args)})"


def _need(sock: socket.socket | None, what: str) -> socket.socket:
    if sock is None:
        raise RuntimeError(f"no {what} socket at this step (check the behaviour's connection:)")
    return sock


def _flags(step: Call) -> int:
    value = 0
    for flag in step.flags:
        value |= FLAG_VALUES[flag]
    return value


def _accept(driver: SocketDriver, ends: Endpoints, step: Call) -> object:
    conn = driver.accept(_need(ends.impl_listener, "listening"))
    ends.impl = ends.adopt(conn)
    return None


# Each operation a spec may ask of the implementation, done through its driver.
CALLS: dict[str, Callable[[SocketDriver, Endpoints, Call], object]] = {
    "recv": lambda d, e, s: d.recv(_need(e.impl, "connected"), s.size or 0, _flags(s)),
    "send": lambda d, e, s: d.send(_need(e.impl, "connected"), s.payload or b"", _flags(s)),
    "accept": _accept,
    "connect": lambda d, e, s: d.connect(_need(e.impl, "client"), e.address),
    "shutdown": lambda d, e, s: d.shutdown(_need(e.impl, "connected"), SHUTDOWN_HOW[s.how or "both"]),
    "close": lambda d, e, s: d.close(_need(e.impl, "connected")),
    "setblocking": lambda d, e, s: d.set_blocking(_need(e.impl, "connected"), bool(s.blocking)),
    "settimeout": lambda d, e, s: d.set_timeout(_need(e.impl, "connected"), s.timeout),
}

_SUCCESS = Expectation(ok=True)


class Run:
    """One behaviour, one driver, one family: call `run()` once."""

    def __init__(self, behaviour: Behaviour, driver: SocketDriver, family: Family, timing: Timing) -> None:
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
        self.ends: Endpoints | None = None

    # -- the whole run -------------------------------------------------------

    def run(self) -> Verdict:
        failure: Failure | None = None
        notes: list[str] = []
        try:
            self.ends = open_endpoints(self.family, self.behaviour.topology, self.behaviour.socket)
            self._set_mode(self.ends)
            last = 0.0
            for index, step in enumerate(self.behaviour.steps):
                self._wait_until(last + step.after)
                last = self._step(index, step, self.ends)
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
        if mode is None or sock is None:
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
        if self.ends is not None:
            self.ends.shutdown_all()
        for worker in self.workers:
            if worker.thread is not None:
                worker.thread.join(JOIN_LIMIT)
                if worker.thread.is_alive():
                    notes.append(
                        f"the implementation's {_describe_call(worker.step)} (step {worker.index + 1}) "
                        f"did not return within {format_duration(JOIN_LIMIT)} after its socket was shut down"
                    )
        if self.ends is not None:
            self.ends.close_all()
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

    def _step(self, index: int, step: Step, ends: Endpoints) -> float:
        """Perform one step; return when it finished (or, for a background call, started)."""
        if isinstance(step, Call):
            return self._call(index, step, ends)
        if isinstance(step, Peer):
            return self._peer(index, step, ends)
        if isinstance(step, Await):
            return self._await(index, step)
        return self._check(index, step, ends)

    def _fail(self, index: int, step: Step, title: str, mismatches: list[str]) -> _StepFailed:
        return _StepFailed(Failure(index, step.origin, title, tuple(mismatches)))

    def _start(self, index: int, step: Call, ends: Endpoints) -> _Pending:
        started = self.clock.now()
        label = f"[{step.background}] " if step.background else ""
        self.trace.add(started, "impl", f"{label}{_describe_call(step)} called", index)
        pending = _Pending(step, index, started)

        def work() -> None:
            try:
                value = CALLS[step.op](self.driver, ends, step)
                outcome = Outcome(pending.started, self.clock.now(), value)
            except BaseException as exc:  # every outcome is data here
                outcome = Outcome(
                    pending.started, self.clock.now(), None, classify(exc), f"{type(exc).__name__}: {exc}"
                )
            pending.outcome = outcome
            self.trace.add(outcome.ended or 0.0, "impl", f"{label}{step.op} -> {outcome.describe()}", index)
            pending.done.set()

        pending.thread = threading.Thread(target=work, name=f"sockspec-{step.op}", daemon=True)
        self.workers.append(pending)
        pending.thread.start()
        return pending

    def _finish(
        self, index: int, step: Step, pending: _Pending, expect: Expectation, name: str | None, label: str
    ) -> float:
        limit = self._limit(step, expect.within)
        if not pending.done.wait(limit):
            outcome = Outcome(pending.started, None)
            self.trace.add(
                self.clock.now(), "checker", f"gave up waiting after {format_duration(limit)}", index
            )
        else:
            assert pending.outcome is not None
            outcome = pending.outcome
        if name is not None and outcome.ended is not None:
            self.acted[name] = outcome.ended
        mismatches = judging.judge(expect, outcome, self.acted, self.timing)
        if mismatches:
            raise self._fail(index, step, label, mismatches)
        return outcome.ended if outcome.ended is not None else self.clock.now()

    def _call(self, index: int, step: Call, ends: Endpoints) -> float:
        if step.background is not None:
            self.pending[step.background] = self._start(index, step, ends)
            return self.clock.now()
        expect = step.expect or _SUCCESS
        label = f"step {index + 1} ({_describe_call(step)})"
        for attempt in range(step.repeat):
            pending = self._start(index, step, ends)
            last = attempt == step.repeat - 1
            if not pending.done.wait(self._limit(step, expect.within)) or last:
                return self._finish(index, step, pending, expect, step.name, label)
            assert pending.outcome is not None
            if pending.outcome.error is not None:
                return self._finish(index, step, pending, expect, step.name, label)
        raise AssertionError("unreachable: the last attempt always finishes")

    def _await(self, index: int, step: Await) -> float:
        pending = self.pending[step.call]
        origin = f"{_describe_call(pending.step)} from step {pending.index + 1}"
        label = f"step {index + 1} (await {step.call}: {origin})"
        self.trace.add(self.clock.now(), "checker", f"await [{step.call}]", index)
        return self._finish(index, step, pending, step.expect or _SUCCESS, step.call, label)

    def _peer(self, index: int, step: Peer, ends: Endpoints) -> float:
        started = self.clock.now()
        if step.name is not None:
            self.acted[step.name] = started
        self.trace.add(started, "peer", peer.describe(step), index)
        label = f"step {index + 1} (peer {peer.describe(step)})"
        try:
            value = peer.ACTIONS[step.action](ends, step, self._limit(step))
        except peer.PeerError as exc:
            raise self._fail(index, step, label, [f"the peer cannot do this: {exc}"]) from None
        except OSError as exc:
            ended = self.clock.now()
            self.trace.add(ended, "peer", f"{step.action} failed: {classify(exc)} ({exc})", index)
            raise self._fail(
                index, step, label, [f"the peer's {step.action} failed with {classify(exc)} ({exc})"]
            ) from None
        ended = self.clock.now()
        if step.action == "read":
            outcome = Outcome(started, ended, value)
            self.trace.add(ended, "peer", f"read -> {outcome.describe()}", index)
            if step.expect is not None:
                mismatches = judging.judge(step.expect, outcome, self.acted, self.timing)
                if mismatches:
                    raise self._fail(index, step, label, mismatches)
        return ended

    def _check(self, index: int, step: Check, ends: Endpoints) -> float:
        """Probe kernel state; a probe may take until its limit to settle (loopback delivery)."""
        label = f"step {index + 1} (check)"
        sock = ends.impl
        if sock is None and (step.unread is not None or step.unread_data is not None):
            raise self._fail(index, step, label, ["the implementation has no connected socket to inspect"])
        limit = self.clock.now() + self._limit(step, 0.0 if step.limit is None else None)
        while True:
            observed = self._probe(step, ends)
            mismatches = [
                f"expected {what} {want!r}, observed {got!r}" for what, want, got in observed if want != got
            ]
            if not mismatches or self.clock.now() >= limit:
                break
            time.sleep(POLL_INTERVAL)
        shown = ", ".join(f"{what} {got!r}" for what, _want, got in observed)
        self.trace.add(self.clock.now(), "checker", f"kernel state: {shown}", index)
        if mismatches:
            raise self._fail(index, step, label, mismatches)
        if step.name is not None:
            self.acted[step.name] = self.clock.now()
        return self.clock.now()

    @staticmethod
    def _probe(step: Check, ends: Endpoints) -> list[tuple[str, object, object]]:
        observed: list[tuple[str, object, object]] = []
        if step.unread is not None and ends.impl is not None:
            observed.append(("unread", step.unread, peer.unread(ends.impl)))
        if step.unread_data is not None and ends.impl is not None:
            observed.append(
                ("unread_data", step.unread_data, peer.peek(ends.impl, len(step.unread_data) + 1))
            )
        if step.peer_unread is not None and ends.peer is not None:
            observed.append(("peer_unread", step.peer_unread, peer.unread(ends.peer)))
        return observed


def run_behaviour(behaviour: Behaviour, driver: SocketDriver, family: Family, timing: Timing) -> Verdict:
    """Play `behaviour` against `driver` over `family` and judge it."""
    return Run(behaviour, driver, family, timing).run()
