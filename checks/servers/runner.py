"""The server runner: plays one server behaviour's client and observe steps, and judges them.

Rules of this module:
- it performs no socket operation of its own: the clients are `clients.ClientPool`'s,
  the server's process tree is read through the target's `observe`; judging
  of what was observed is `sockspec.judging.judge`'s, inference of the model `infer`'s;
- the step loop, the item deadline and the clean-up's verdict are the shared
  skeleton's (sockspec.judging.steprun);
- one clock stamps every event, and each event is a structured value
  (sockspec.judging.events); the only sleeps are the delays a spec asks for
  (`after:`, `pause:`), an observation's window (`over:`), and the short polls
  of /proc while counts settle (a process tree has no event to wait on); every
  other wait is for a condition, bounded by the step's limit and the item limit;
- a group of clients is judged client by client, and its failures are shown
  for the first few clients with a count of the rest;
- whatever happens, every client connection is closed and the I/O thread is
  joined before `run` returns; when the server process exited during the
  behaviour, the failure says so, and names it as its cause;
- connection-level symptoms get a diagnosis (sockspec.servers.diagnose): connects
  left unanswered read the listener's accept queue, refused ones whether anything
  still listens on the port, a group whose clients were
  partly ended unserved is checked for a connection cap, and a read that ran out
  of time while bytes kept coming reports the rate, never "missing" bytes;
- whether the rule was reached (a `setup` step failed) is the verdict's to say,
  from the failing step (sockspec.judging.verdict);
- when a step fails because a client's wait ran out (a connect left unanswered, a read
  that got nothing, stalled or did not complete within its limit), the server is looked
  inside before anything is cleaned up (sockspec.servers.stacks: each thread's syscall,
  wait channel and stack, within CAPTURE_BUDGET) and the summary goes on the failure
  (`Failure.stuck`); a passing behaviour, or a failure of anything else, captures nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sockspec.judging import judge as judging
from sockspec.judging.events import Kind, What
from sockspec.judging.judge import Observation
from sockspec.judging.steprun import StepFailed, StepRun
from sockspec.judging.verdict import Failure, Verdict
from sockspec.language.model import Behaviour, Client, Expectation, Family, Observe, Payload, Step
from sockspec.language.timing import Timing, format_duration
from sockspec.servers import diagnose
from sockspec.servers import infer as inferring
from sockspec.servers import listeners as listening
from sockspec.servers import observe as observing
from sockspec.servers import stacks as stacking
from sockspec.servers.clients import FLOOD, ClientError, ClientPool, View, ensure_descriptors
from sockspec.servers.config import DeclaredModel
from sockspec.servers.observe import Snapshot

#: In a client step's data, this stands for the client's own name ("I am {client}").
CLIENT_PLACEHOLDER = b"{client}"
SHOWN_CLIENTS = 3
STALL_QUIET = 0.2
SETTLE_SAMPLES = 3
SETTLE_INTERVAL = 0.03
WINDOW_SAMPLES = 8
DEFAULT_SETTLE_LIMIT = 1.0
SALVAGE_WINDOW = 0.5
EXIT_GRACE = 0.3  # after a failure: time for a crashing server to finish exiting, so the report says so
QUEUE_SAMPLE = 0.2  # between two looks at the accept queue, to see whether the server accepts
QUEUE_LOOKS = 5  # looks for a full accept queue, in the first half of QUEUE_SAMPLE
CAPTURE_BUDGET = stacking.DEFAULT_BUDGET  # looking inside a stuck server, at most this long (seconds)
REFUSED = "refused"  # the error kind of a connect nothing listened for
FAMILIES: dict[Family, socket.AddressFamily] = {Family.TCP4: socket.AF_INET, Family.TCP6: socket.AF_INET6}


class ServerTarget(Protocol):
    """The server under test, as the runner sees it."""

    name: str
    declared: DeclaredModel | None

    @property
    def cwd(self) -> Path | None:
        """The server's working directory, when sockspec started it (else None)."""

    def address(self, family: Family) -> tuple[str, int]:
        """Where to connect over `family`."""

    def observe(self, at: float, costs: bool = False) -> Snapshot | None:
        """The server's process tree now (None when it cannot be observed); with `costs`, its
        processes' memory and its threads' context switches too."""

    def exited(self, grace: float = 0.0) -> str | None:
        """'exited (exit code 1)' once the server process has ended, else None; `grace`
        waits that long for an exit that may be under way."""


@dataclass(frozen=True)
class ServerVerdict(Verdict):
    """A server behaviour's verdict, with the models inferred on the way."""

    inferences: tuple[inferring.Inference, ...] = field(default=())


def _with_client(data: bytes, label: str) -> bytes:
    return data.replace(CLIENT_PLACEHOLDER, label.encode())


def _expect_for(expect: Expectation, label: str) -> Expectation:
    """The expectation with {client} in its data replaced by this client's name."""
    if not expect.any_of and (expect.data is None or CLIENT_PLACEHOLDER not in expect.data):
        return expect
    return dataclasses.replace(
        expect,
        data=_with_client(expect.data, label) if expect.data is not None else None,
        any_of=tuple(_expect_for(option, label) for option in expect.any_of),
    )


def total_clients(behaviour: Behaviour) -> int:
    """The most connections a behaviour has open at once (its groups, and one for a cycle)."""
    return sum(
        step.count for step in behaviour.steps if isinstance(step, Client) and step.action == "connect"
    ) + max((1 for step in behaviour.steps if isinstance(step, Client) and step.action == "cycle"), default=0)


def describe_client_step(step: Client) -> str:
    """The step as the trace shows it: "send 512 bytes", "read 5", "connect 200 clients"."""
    shown = client_arguments(step)
    return f"{step.action} {shown}" if shown else step.action


def client_arguments(step: Client) -> str:
    """The step's arguments as shown: "512 bytes", "5", "200 clients", or nothing."""
    parts: list[str] = []
    if step.action in {"connect", "cycle"} and step.count > 1:
        parts.append(f"{step.count} {'clients' if step.action == 'connect' else 'connections in turn'}")
    if step.payload is not None:
        parts.append(Payload(step.payload).describe())
    if step.fragment is not None:
        pieces = -(-len(step.payload or b"") // step.fragment)
        parts.append(f"in {pieces} pieces of {step.fragment} byte(s), {format_duration(step.pause)} apart")
    if step.size is not None:
        parts.append(str(step.size))
    if step.how is not None:
        parts.append(step.how)
    options = [
        f"{name} {value}" for name, value in (("rcvbuf", step.rcvbuf), ("sndbuf", step.sndbuf)) if value
    ]
    if options:
        parts.append(f"({', '.join(options)})")
    return " ".join(parts)


class ServerRun(StepRun):
    """One server behaviour against one server over one family: call `run()` once."""

    def __init__(self, behaviour: Behaviour, target: ServerTarget, family: Family, timing: Timing) -> None:
        super().__init__(behaviour, timing)
        self.target = target
        self.family = family
        self.groups: dict[str, list[str]] = {}
        self.snapshots: dict[str, Snapshot] = {}
        self.inferences: list[inferring.Inference] = []
        self.pool: ClientPool | None = None
        self.wait_ran_out = False  # the current client step's wait for the server ran out
        # The model seen at a scale behaviour's first level (sockspec.servers.scale), which holds
        # an undeclared server seen as a loop there to a loop's rule (`loop_flat`) at later levels.
        self.first_level: inferring.Inference | None = None

    # -- the whole run -------------------------------------------------------

    def run(self) -> ServerVerdict:
        failure, notes = self.play()
        return ServerVerdict(
            self.behaviour,
            self.target.name,
            self.family,
            self.trace.events(),
            failure,
            notes,
            tuple(self.inferences),
        )

    def set_up(self) -> None:
        with self._clients_fault():
            ensure_descriptors(total_clients(self.behaviour))
            self.pool = ClientPool(
                FAMILIES[self.family], self.target.address(self.family), self.clock, self._notify
            )

    def failed(self, failure: Failure) -> Failure:
        if self.wait_ran_out and failure.step == self.index:
            failure = dataclasses.replace(failure, stuck=self._where_stuck())
        self._observe_anyway(failure)
        return failure

    def _where_stuck(self) -> str:
        """Where the server's threads are now, while its clients still wait: the summary of
        sockspec.servers.stacks, or one line saying why it could not be taken."""
        snap = self.target.observe(self.clock.now())
        cwd = self.target.cwd
        if snap is None or cwd is None:
            return (
                "not captured: the server's threads cannot be read "
                "(sockspec did not start it, or /proc is missing)"
            )
        taken = stacking.capture([process.pid for process in snap.processes], cwd, CAPTURE_BUDGET)
        return stacking.summarise(taken, cwd)

    def clean_up(self) -> list[str]:
        return self.pool.close() if self.pool is not None else []

    def finish(self, failure: Failure | None) -> Failure | None:
        """When the server process exited during the behaviour, the failure says so."""
        exited = self.target.exited(EXIT_GRACE if failure is not None else 0.0)
        if exited is None:
            return failure
        line = f"the server {exited} during this behaviour"
        cause = f"the server {exited}"
        if failure is None:
            return Failure(None, self.behaviour.origin, "the server process", (line,), cause=cause)
        return dataclasses.replace(failure, mismatches=(*failure.mismatches, line), cause=cause)

    @contextlib.contextmanager
    def _clients_fault(self) -> Iterator[None]:
        """A failure of the checker's own clients ends the run, blaming the checker, not the server."""
        try:
            yield
        except ClientError as exc:
            raise StepFailed(
                Failure(
                    None,
                    self.behaviour.origin,
                    "the checker's clients",
                    (f"{exc} (not the server's fault)",),
                )
            ) from None

    def _notify(self, label: str, what: str) -> None:
        """What the server did to a single client, as the client saw it (from the I/O thread)."""
        if "#" not in label:
            self.record("server", What(Kind.SERVER, client=label, outcome=what), self.index)

    # -- steps ---------------------------------------------------------------

    def step(self, index: int, step: Step) -> float:
        with self._clients_fault():
            if isinstance(step, Client):
                return self._client(index, step)
            if isinstance(step, Observe):
                return self._observe(index, step)
        raise self.fail(
            index,
            step,
            f"step {index + 1}",
            ["the spec asks the impossible: a driver step in a server behaviour"],
        )

    def _labels(self, step: Client) -> list[str]:
        if step.action == "connect":
            labels = (
                [step.client] if step.count == 1 else [f"{step.client}#{n}" for n in range(1, step.count + 1)]
            )
            self.groups[step.client] = labels
            return labels
        return self.groups.get(step.client, [])

    def _client(self, index: int, step: Client) -> float:
        assert self.pool is not None
        started = self.clock.now()
        labels = self._labels(step)
        what = What(Kind.CLIENT, step.action, client=step.client, args=client_arguments(step))
        self.record("client", what, index, at=started)
        if step.name is not None:
            self.acted[step.name] = started
        self.wait_ran_out = False
        CLIENT_ACTIONS[step.action](self, index, step, labels, self.pool)
        ended = self.clock.now()
        if step.name is not None and step.action in {"read", "connect", "cycle"}:
            self.acted[step.name] = ended
        return ended

    def _judge_group(
        self,
        index: int,
        step: Client,
        labels: list[str],
        observations: dict[str, tuple[Observation, list[str]]],
        expect: Expectation,
        limit: float,
        judged: dict[str, list[str]] | None = None,
        diagnosis: Callable[[], list[str]] | None = None,
    ) -> None:
        """Judge what each client observed; raise a failure naming the first few clients that fail.
        `judged` holds mismatches already found for some clients (instead of judging them);
        `diagnosis`, asked only when some client failed, adds lines about the whole group."""
        failing: list[tuple[str, list[str]]] = []
        for label in labels:
            observed, extra = observations[label]
            wanted = _expect_for(expect, label)
            if judged and judged.get(label):
                found = judged[label]
            elif observed.ended is None:
                found = [
                    f"expected {judging.describe(wanted)}, observed nothing within {format_duration(limit)}"
                ]
            else:
                found = judging.judge(wanted, observed, self.acted, self.timing)
            if found:
                failing.append((label, found + extra))
        title = f"step {index + 1} ({step.client}: {describe_client_step(step)})"
        if len(labels) > 1:
            what = What(
                Kind.JUDGED,
                step.action,
                client=step.client,
                count=len(labels) - len(failing),
                total=len(labels),
            )
            self.record("checker", what, index)
        if not failing:
            return
        problems = [f"client {label}: {line}" for label, lines in failing[:SHOWN_CLIENTS] for line in lines]
        if len(failing) > SHOWN_CLIENTS:
            rest = [label for label, _lines in failing[SHOWN_CLIENTS:]]
            problems.append(
                f"and {len(rest)} more of the {len(labels)} clients failed too "
                f"({', '.join(rest[:5])}{', ...' if len(rest) > 5 else ''})"
            )
        if diagnosis is not None:
            problems.extend(diagnosis())
        raise self.fail(index, step, title, problems)

    # -- client actions ---------------------------------------------------------

    def _connect(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        started = self.clock.now()
        limit = self.limit(step)
        deadline = started + limit
        observations: dict[str, tuple[Observation, list[str]]] = {}
        pool.connect_group(labels, step.rcvbuf, step.sndbuf, max(0.0, deadline - self.clock.now()))
        now = self.clock.now()
        views = pool.views(labels)
        for label in labels:
            observations[label] = (_connect_observation(views[label], started, now), [])
        said, connected = connect_summary(list(views.values()))
        what = What(
            Kind.RETURN, "connect", client=step.client, outcome=said, count=connected, total=len(labels)
        )
        self.record("client", what, index)
        unanswered = sum(1 for view in views.values() if view.state == "connecting")
        refused = any(view.error == REFUSED for view in views.values())
        self.wait_ran_out = unanswered > 0
        self._judge_group(
            index,
            step,
            labels,
            observations,
            step.expect or Expectation(ok=True),
            limit,
            diagnosis=(
                (lambda: self._accept_queue(len(labels), unanswered))
                if unanswered
                else self._refused
                if refused
                else None
            ),
        )

    def _accept_queue(self, connecting: int, unanswered: int) -> list[str]:
        """Connects were left unanswered: what the server's listening socket shows (its accept
        queue, twice, QUEUE_SAMPLE apart), when the kernel's tables can be read."""
        port = self.target.address(self.family)[1]
        snap = self.target.observe(self.clock.now())
        pids = [process.pid for process in snap.processes] if snap is not None else []
        # A queue that fills only while retransmitted SYNs arrive may be empty at any one look:
        # look a few times in the first half of the window and keep the fullest look.
        started = self.clock.now()
        looks = [listening.listening(port, pids)]
        for _ in range(QUEUE_LOOKS - 1):
            time.sleep(self.capped(QUEUE_SAMPLE / 2 / QUEUE_LOOKS))
            looks.append(listening.listening(port, pids))
        now = max(looks, key=lambda found: max((listener.queued for listener in found), default=-1))
        time.sleep(self.capped(max(0.0, started + QUEUE_SAMPLE - self.clock.now())))
        later = listening.listening(port, pids)
        return diagnose.accept_queue(port, now, later, self.clock.now() - started, connecting, unanswered)

    def _refused(self) -> list[str]:
        """Connects were refused: whether anything still listens on the server's port."""
        port = self.target.address(self.family)[1]
        snap = self.target.observe(self.clock.now())
        pids = [process.pid for process in snap.processes] if snap is not None else []
        return diagnose.refused(port, listening.listening(port, pids), self.target.exited() is not None)

    def _send(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        assert step.payload is not None
        for label in labels:
            data = _with_client(step.payload, label) if step.per_client else step.payload
            pool.send(label, data, step.fragment, step.pause)

    def _read(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        started = self.clock.now()
        limit = self.limit(step)
        expect = step.expect or Expectation(ok=True)
        sizes = {label: _read_size(step, expect, label) for label in labels}
        before = {label: view.received for label, view in pool.views(labels).items()}
        for label in labels:
            pool.resume_reading(label)

        stopped = pool.wait_read(sizes, limit, self.timing.step_limit)
        ended = self.clock.now()
        observations = {}
        judged: dict[str, list[str]] = {}
        views: dict[str, View] = {}
        for label in labels:
            view = views[label] = pool.view(label)
            data = pool.take(label, sizes[label])
            observed, notes = _read_observation(view, data, sizes[label], started, ended, limit)
            if label in stopped:
                notes = [
                    f"only {len(data)} of {sizes[label]} bytes arrived, then nothing more for "
                    f"{format_duration(self.timing.step_limit)}; the connection is still open"
                ]
            elif _still_arriving(view, data, sizes[label], before[label], started):
                wanted = _expect_for(expect, label)
                if wanted.data is not None and wanted.data.startswith(data):
                    judged[label] = diagnose.still_arriving(
                        sizes[label],
                        len(data),
                        view.received - before[label],
                        ended - started,
                        max(0.0, ended - view.received_at),
                        limit,
                    )
                    notes = []
            observations[label] = (observed, notes)
            self.wait_ran_out |= _incomplete(view, data, sizes[label])
        if len(labels) == 1:
            observed = observations[labels[0]][0]
            shown = (
                observed.describe()
                if observed.ended is not None
                else f"nothing within {format_duration(limit)}"
            )
            what = What(
                Kind.RETURN,
                "read",
                client=step.client,
                outcome=shown,
                error=observed.error,
                count=observed.length,
            )
            self.record("client", what, index, at=ended)
        served = [label for label in labels if views[label].received >= sizes[label]]
        ended_unserved = [
            label
            for label in labels
            if views[label].received == 0 and (views[label].eof or views[label].error is not None)
        ]
        self._judge_group(
            index,
            step,
            labels,
            observations,
            expect,
            limit,
            judged,
            diagnosis=lambda: diagnose.connection_cap(served, ended_unserved, labels),
        )

    def _stop_reading(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        for label in labels:
            pool.stop_reading(label)

    def _wait_stalled(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        limit = self.limit(step)
        for label in labels:
            said = pool.wait_stalled(label, STALL_QUIET, limit)
            self.record("client", What(Kind.RETURN, "wait_stalled", client=label, outcome=said), index)

    def _shutdown(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        for label in labels:
            pool.shutdown(label, step.how or "write")

    def _close(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        for label in labels:
            pool.close_client(label)

    def _reset(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        for label in labels:
            pool.reset(label)
        pool.wait(labels, lambda view: view.state != "open", self.limit(step))

    def _cycle(self, index: int, step: Client, labels: list[str], pool: ClientPool) -> None:
        """Connect, exchange the payload, close: `count` times, one connection after another."""
        started = self.clock.now()
        limit = self.limit(step)
        deadline = started + limit
        expect = step.expect or (Expectation(data=step.payload) if step.payload else Expectation(ok=True))
        for number in range(1, step.count + 1):
            label = f"{step.client}#{number}"
            self.groups[step.client] = [label]
            began = self.clock.now()
            pool.connect(label, step.rcvbuf, step.sndbuf, max(0.0, deadline - self.clock.now()))
            connected = _connect_observation(pool.view(label), began, self.clock.now())
            self.wait_ran_out = connected.ended is None
            found: list[str] = []
            if connected.ended is None or connected.error is not None:
                found = judging.judge(Expectation(ok=True), connected, self.acted, self.timing) or [
                    f"expected success, observed nothing within {format_duration(limit)}"
                ]
            elif step.payload:
                data = _with_client(step.payload, label) if step.per_client else step.payload
                pool.send(label, data, None, 0.0)
                pool.wait_read(
                    {label: len(data)}, max(0.0, deadline - self.clock.now()), self.timing.step_limit
                )
                view = pool.view(label)
                got = pool.take(label, len(data))
                self.wait_ran_out = _incomplete(view, got, len(data))
                read, extra = _read_observation(view, got, len(data), began, self.clock.now(), limit)
                wanted = _expect_for(expect, label)
                if read.ended is None:
                    found = [
                        f"expected {judging.describe(wanted)}, "
                        f"observed nothing within {format_duration(limit)}"
                    ]
                else:
                    found = judging.judge(wanted, read, self.acted, self.timing)
                    found += extra if found else []
            pool.close_client(label)
            if found and connected.error == REFUSED:
                found += self._refused()
            if found:
                self.record("client", What(Kind.RETURN, "cycle", client=label, outcome="failed"), index)
                raise self.fail(
                    index,
                    step,
                    f"step {index + 1} ({step.client}: {describe_client_step(step)})",
                    [f"connection {number} of {step.count} ({label}): {line}" for line in found],
                )
        done = f"{step.count} connections done"
        what = What(Kind.RETURN, "cycle", client=step.client, outcome=done, count=step.count)
        self.record("client", what, index)

    # -- observation -------------------------------------------------------------

    def _snapshot(self, index: int, step: Observe) -> Snapshot:
        snap = self.target.observe(self.clock.now())
        if snap is None:
            raise self.fail(
                index,
                step,
                f"step {index + 1} (observe {step.name})",
                [
                    "the server's process cannot be observed here "
                    "(it was not started by sockspec, or /proc is missing)"
                ],
            )
        return snap

    def _settled(self, index: int, step: Observe, limit: float) -> Snapshot:
        """A snapshot taken once the counts have stayed the same for a few samples (bounded)."""
        deadline = self.clock.now() + limit
        recent = [self._snapshot(index, step)]
        while self.clock.now() < deadline:
            if (
                len(recent) >= SETTLE_SAMPLES
                and len({snap.counts() for snap in recent[-SETTLE_SAMPLES:]}) == 1
            ):
                break
            time.sleep(SETTLE_INTERVAL)
            recent.append(self._snapshot(index, step))
        return recent[-1]

    def _observe(self, index: int, step: Observe) -> float:
        title = f"step {index + 1} (observe {step.name})"
        expect = step.expect
        if expect is not None and expect.back_to is not None:
            snap, problems = self._back_to(index, step, expect.back_to)
        elif step.over is not None:
            snap, problems = self._window(index, step, step.over)
        else:
            snap, problems = self._settled(index, step, self.limit(step, DEFAULT_SETTLE_LIMIT)), []
        self.snapshots[step.name] = snap
        what = What(Kind.OBSERVE, "observe", args=step.name, outcome=_describe_snapshot(snap))
        self.record("checker", what, index)
        if expect is not None and expect.loop_flat and step.baseline is not None:
            problems.extend(self._loop_flat(index, step.name, self.snapshots[step.baseline], snap))
        self.acted[step.name] = self.clock.now()
        if problems:
            raise self.fail(index, step, title, problems)
        return self.clock.now()

    def _back_to(self, index: int, step: Observe, name: str) -> tuple[Snapshot, list[str]]:
        base = self.snapshots[name]
        limit = self.limit(step)
        deadline = self.clock.now() + limit
        while True:
            snap = self._snapshot(index, step)
            grown = _grown(base, snap)
            if not grown or self.clock.now() >= deadline:
                break
            time.sleep(SETTLE_INTERVAL)
        exited = self.target.exited()
        if exited is None and (not grown or snap.counts()[0] == 0):
            # Back at base (or no live process left) may be a server on its way out: an exiting
            # process lets go of what it held (a Python interpreter closes its leaked sockets as
            # it finalises, the kernel closes the rest) before it is gone.
            exited = self.target.exited(EXIT_GRACE)
            if exited is None and snap.counts()[0] == 0:
                exited = "ended (no process of its tree is left)"
        if exited is not None:  # a server that is gone holds nothing: that is no return to base
            return snap, [
                f"expected the server to return to its counts at {name!r}, but it {exited}, "
                "so what it holds after its clients close cannot be seen"
            ]
        if not grown:
            return snap, []
        return snap, [
            f"expected the server to return to its counts at {name!r} within {format_duration(limit)}, "
            f"observed {'; '.join(grown)}",
            *([f"threads wait: {waits}"] if (waits := observing.describe_waits(snap.waits())) else []),
        ]

    def _window(self, index: int, step: Observe, over: float) -> tuple[Snapshot, list[str]]:
        assert self.pool is not None
        clients = len(self.pool.connected_labels())
        kept = len(self.pool.kept_labels())
        first = self._snapshot(index, step)
        samples = [first]
        for number in range(1, WINDOW_SAMPLES + 1):
            self.wait_until(first.at + over * number / WINDOW_SAMPLES)
            samples.append(self._snapshot(index, step))
        last = samples[-1]
        elapsed = max(last.at - first.at, 1e-9)
        share = max(0, last.cpu_ticks - first.cpu_ticks) / observing.clock_ticks() / elapsed
        problems: list[str] = []
        expect = step.expect
        waits = observing.majority_waits(samples)
        if expect is not None and expect.cpu_below is not None and share >= expect.cpu_below:
            problems.append(
                f"expected the server to use less than {expect.cpu_below:.0%} of one core while its "
                f"{clients} clients idle, "
                f"observed {share:.1%} over {format_duration(elapsed)} "
                f"(threads: {observing.describe_waits(waits)})"
            )
        if step.baseline is not None:
            found = inferring.evidence(
                self.snapshots[step.baseline],
                first,
                clients,
                share,
                elapsed,
                waits,
                observing.majority_kinds(samples),
                kept,
            )
            inference = inferring.infer(found)
            self.inferences.append(inference)
            what = What(Kind.MODEL, "observe", args=step.name, outcome=inference.describe())
            self.record("checker", what, index)
            if expect is not None and expect.model is not None:
                problems.extend(self._check_model(expect.model, inference))
        return last, problems

    def _loop_flat(self, index: int, name: str, base: Snapshot, snap: Snapshot) -> list[str]:
        """The model from `base` to `snap` (recorded), and a loop's rule: it keeps its threads."""
        assert self.pool is not None
        found = inferring.evidence(
            base, snap, len(self.pool.connected_labels()), kept=len(self.pool.kept_labels())
        )
        inference = inferring.infer(found)
        self.inferences.append(inference)
        what = What(Kind.MODEL, "observe", args=name, outcome=inference.describe())
        self.record("checker", what, index)
        return inferring.check_loop_flat(inferring.loop_reason(self.target.declared, self.first_level), found)

    def _observe_anyway(self, failure: Failure) -> None:
        """After a failure, take the model observation a later step would have taken (over a
        shorter window), so the summary can still name the model; nothing of it is judged."""
        if failure.step is None or self.pool is None:
            return
        later = [
            step
            for step in self.behaviour.steps[failure.step + 1 :]
            if isinstance(step, Observe) and step.over is not None and step.baseline in self.snapshots
        ]
        if not later:
            return
        quick = dataclasses.replace(later[0], expect=None, over=min(later[0].over or 0.0, SALVAGE_WINDOW))
        try:
            self._window(failure.step, quick, quick.over or SALVAGE_WINDOW)
        except StepFailed:
            return
        if self.inferences:
            last = self.inferences[-1]
            self.inferences[-1] = dataclasses.replace(
                last, reason=f"{last.reason} (observed after step {failure.step + 1} failed)"
            )

    def _check_model(self, wanted: str, inference: inferring.Inference) -> list[str]:
        declared = self.target.declared if wanted == "declared" else DeclaredModel(wanted)
        if declared is None:
            return [f"{self.target.name} declares no model, so there is nothing to check it against"]
        return inferring.check_declared(declared, inference)


def _grown(base: Snapshot, snap: Snapshot) -> list[str]:
    """What is above the baseline: processes, threads, descriptors."""
    found = []
    for what, before, now in zip(
        ("processes", "threads", "open descriptors"), base.counts(), snap.counts(), strict=True
    ):
        if before is not None and now is not None and now > before:
            found.append(f"{what} {before} -> {now}")
    if snap.zombies > base.zombies:
        found.append(f"zombie processes {base.zombies} -> {snap.zombies} (children never reaped)")
    return found


def _describe_snapshot(snap: Snapshot) -> str:
    processes, threads, fds = snap.counts()
    waits = observing.describe_waits(snap.waits())
    fd_text = f", {fds} open descriptors" if fds is not None else ""
    return f"{processes} process(es), {threads} thread(s){fd_text}; threads wait: {waits or 'unknown'}"


def _read_size(step: Client, expect: Expectation, label: str) -> int:
    if step.size is not None:
        return step.size
    assert expect.data is not None
    return len(_with_client(expect.data, label))


def _incomplete(view: View, data: bytes, size: int) -> bool:
    """The read ran out of time with the connection open: the client was still waiting."""
    return len(data) < size and not view.eof and view.error is None


def _still_arriving(view: View, data: bytes, size: int, before: int, started: float) -> bool:
    """The read ran out of time while the connection was open and bytes kept coming."""
    return (
        len(data) < size
        and not view.eof
        and view.error is None
        and view.received > before
        and view.received_at > started
    )


def connect_summary(views: list[View]) -> tuple[str, int]:
    """How a group's connect ended, and how many handshakes completed: a connection the server
    has already closed or reset still connected ("connected, closed since: reset")."""
    connected = [view for view in views if view.state in {"open", "closed"}]
    closed = [view for view in connected if view.state == "closed"]
    if len(views) == 1:
        single = views[0]
        said = (
            "connected"
            if connected
            else f"not connected: {single.error}"
            if single.error is not None
            else "no answer yet"
        )
    else:
        said = f"{len(connected)} of {len(views)} connected"
    if len(views) == 1 and closed:
        said += f", closed since: {closed[0].error or 'EOF'}"
    elif closed:
        said += f", {len(closed)} closed since"
    return said, len(connected)


def _connect_observation(view: View, started: float, now: float) -> Observation:
    if view.state in {"open", "closed"}:
        return Observation(started, now, None)
    if view.state == "failed":
        return Observation(started, now, None, view.error, view.detail)
    return Observation(started, None)


def _read_observation(
    view: View, data: bytes, size: int, started: float, ended: float, limit: float
) -> tuple[Observation, list[str]]:
    """What a read got, and notes on how it ended when short (EOF, an error, nothing more)."""
    if len(data) >= size:
        return Observation(started, ended, data), [view.detail] if view.error == FLOOD else []
    if view.error is not None and not data:
        return Observation(started, ended, None, view.error, view.detail), []
    if view.error is not None:
        return Observation(started, ended, data), [
            f"after {len(data)} bytes the connection failed: {view.detail}"
        ]
    if view.eof:
        note = [f"the server closed the connection (EOF) after {view.received} bytes"] if data else []
        return Observation(started, ended, data), note
    if not data:
        return Observation(started, None), []
    return Observation(started, ended, data), [
        f"only {len(data)} of {size} bytes arrived within {format_duration(limit)}; "
        "the connection is still open"
    ]


ClientAction = Callable[[ServerRun, int, Client, list[str], ClientPool], None]

CLIENT_ACTIONS: dict[str, ClientAction] = {
    "connect": ServerRun._connect,
    "send": ServerRun._send,
    "read": ServerRun._read,
    "stop_reading": ServerRun._stop_reading,
    "wait_stalled": ServerRun._wait_stalled,
    "shutdown": ServerRun._shutdown,
    "close": ServerRun._close,
    "reset": ServerRun._reset,
    "cycle": ServerRun._cycle,
}


def run_server_behaviour(
    behaviour: Behaviour, target: ServerTarget, family: Family, timing: Timing
) -> ServerVerdict:
    """Play `behaviour` against the server `target` over `family` and judge it."""
    return ServerRun(behaviour, target, family, timing).run()
