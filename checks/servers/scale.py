"""Scale behaviours: one behaviour run at each of its levels against a server, and what each costs.

Rules of this module:
- a scale behaviour runs once per level, from the fewest clients up: each level is
  the behaviour with its `count: level` connect set to that many clients
  (sockspec.language.server_steps.at_level), played by `LevelRun`, a ServerRun that
  also measures; the server is not restarted between levels (each level's costs are
  counted from its own baseline);
- before each level, what the machine allows is read (this process's RLIMIT_NOFILE,
  the ephemeral port range, the server's own RLIMIT_NOFILE, MemAvailable, pid_max and
  threads-max less the tasks there are) and a level past it is not applicable, with
  the reason (sockspec.judging.scale.unreachable); when the first level is, the whole
  behaviour is (`Unreachable`);
- a level that fails ends the run: the levels above it are not run, and the verdict is
  that level's failure, its title naming the level, with that level's trace alone (so
  its failing step is marked once); a verdict that passed carries every level's trace
  on one clock, each level's after a `level` event;
- the figures come from the level's own steps: the connect time is the scaled connect
  step's; a client's echo latency runs from its bytes leaving (the pool's last send
  progress) to its whole echo arriving (the pool's last receive), for each client whose
  echo came back whole; the costs are two observations read with costs (memory, context
  switches): the `measure` step's and its baseline's;
- the one rule judged of those costs is a loop's (`loop_flat`, sockspec.servers.infer),
  with the model seen at the first level as the evidence that an undeclared server is a loop;
- what the figures mean, per client, and the percentiles are sockspec.judging.scale's (pure);
- one scale behaviour measures at a time on the machine: every run holds a file lock
  (`measuring_alone`, SCALE_LOCK in the temporary folder) while it plays one, so pytest-xdist
  workers and runs side by side wait for each other, and a wait shows in the trace.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import resource
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sockspec.judging.events import Event, Kind, What
from sockspec.judging.scale import Level, LevelOutcome, Machine, Tree, Work, level, unreachable
from sockspec.language.model import Behaviour, Client, Family, Observe, Step
from sockspec.language.server_steps import at_level
from sockspec.language.timing import Clock, Timing, format_duration
from sockspec.servers import infer as inferring
from sockspec.servers import observe as observing
from sockspec.servers.clients import DESCRIPTOR_MARGIN, ClientPool
from sockspec.servers.observe import Snapshot
from sockspec.servers.runner import ServerRun, ServerTarget, ServerVerdict

PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PID_MAX = Path("/proc/sys/kernel/pid_max")
THREADS_MAX = Path("/proc/sys/kernel/threads-max")
LOADAVG = Path("/proc/loadavg")
MEMINFO = Path("/proc/meminfo")
#: What a limit that cannot be read is taken to be: no bound.
UNBOUNDED = 1 << 30
#: Held by every sockspec run on this machine while it plays a scale behaviour: two measures at
#: once would each count the other's load (pytest-xdist workers, whether or not they keep the
#: scale items on one worker, or two runs side by side).
SCALE_LOCK = Path(tempfile.gettempdir()) / "sockspec-scale.lock"
#: A wait for the lock at least this long is shown in the behaviour's trace.
WAIT_SHOWN = 0.01


class ScaleTarget(ServerTarget, Protocol):
    """The server under test, as a scale run sees it: a ServerTarget that also tells its own
    RLIMIT_NOFILE."""

    def open_files_limit(self) -> int | None:
        """The server process's soft RLIMIT_NOFILE (None when it cannot be read)."""


class Unreachable(Exception):
    """Not one level of the scale behaviour fits this machine (the message says why)."""


@dataclass(frozen=True)
class ScaleVerdict(ServerVerdict):
    """A scale behaviour's verdict, with each level's figures (in rising order of clients)."""

    levels: tuple[Level, ...] = field(default=())


# -- what the machine allows ------------------------------------------------------------------------


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _port_count() -> int:
    try:
        low, high = (int(word) for word in PORT_RANGE.read_text(encoding="ascii").split())
    except (OSError, ValueError):
        return UNBOUNDED
    return high - low + 1


def _available_memory() -> int | None:
    try:
        text = MEMINFO.read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _task_room() -> int | None:
    """How many more threads and processes the kernel may make."""
    limits = [value for value in (_read_int(PID_MAX), _read_int(THREADS_MAX)) if value is not None]
    try:
        # The fourth field of /proc/loadavg is running/total scheduling entities: every thread there is.
        total = int(LOADAVG.read_text(encoding="ascii").split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, min(limits) - total) if limits else None


def machine(target: ScaleTarget) -> Machine:
    """What this machine allows the next level, read now."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_now = 0
    room = UNBOUNDED if hard == resource.RLIM_INFINITY else hard - open_now - DESCRIPTOR_MARGIN
    return Machine(
        descriptors=max(0, room),
        ports=_port_count(),
        server_descriptors=target.open_files_limit(),
        memory=_available_memory(),
        tasks=_task_room(),
    )


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (servers started later inherit
    it); return (soft, hard) as they are then."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft, hard
    return hard, hard


# -- figures from snapshots --------------------------------------------------------------------------


def tree(snap: Snapshot) -> Tree:
    return Tree(snap.process_count, snap.thread_count, snap.fd_count, snap.rss, snap.pss)


def work(before: Snapshot, during: Snapshot, ticks: int) -> Work:
    """What the tree did from `before` to `during`: a process or thread that is new counts whole,
    one that ended in between is not counted (its counters went with it)."""
    cpu_before = before.cpu_by_process()
    cpu = sum(max(0, now - cpu_before.get(key, 0)) for key, now in during.cpu_by_process().items())
    switches_before = before.switches_by_thread()
    switches_during = during.switches_by_thread()
    voluntary = nonvoluntary = None
    if switches_before is not None and switches_during is not None:
        voluntary = nonvoluntary = 0
        for key, (vol, nonvol) in switches_during.items():
            vol0, nonvol0 = switches_before.get(key, (0, 0))
            voluntary += max(0, vol - vol0)
            nonvoluntary += max(0, nonvol - nonvol0)
    return Work(max(0.0, during.at - before.at), cpu / ticks, voluntary, nonvoluntary)


# -- one level ---------------------------------------------------------------------------------------


def _scaled_group(steps: Sequence[Step]) -> str:
    (group,) = {step.client for step in steps if isinstance(step, Client) and step.scaled}
    return group


class LevelRun(ServerRun):
    """A scale behaviour at one level: a ServerRun that also takes the level's figures."""

    def __init__(
        self,
        behaviour: Behaviour,
        target: ScaleTarget,
        family: Family,
        timing: Timing,
        first_level: inferring.Inference | None,
    ) -> None:
        super().__init__(behaviour, target, family, timing)
        assert behaviour.scale is not None
        self.first_level = first_level
        self.group = _scaled_group(behaviour.steps)
        self.measure = behaviour.scale.measure
        (measured,) = (s for s in behaviour.steps if isinstance(s, Observe) and s.name == self.measure)
        assert measured.baseline is not None
        self.costly = {self.measure: "during", measured.baseline: "before"}
        self.costs: dict[str, Snapshot] = {}
        self.connect_time: float | None = None
        self.latencies: list[float] = []

    def _client(self, index: int, step: Client) -> float:
        started = self.clock.now()
        try:
            return super()._client(index, step)
        finally:
            if step.client == self.group and self.pool is not None:
                if step.action == "connect":
                    self.connect_time = self.clock.now() - started
                elif step.action == "read":
                    self.latencies = _latencies(self.pool, self.groups.get(step.client, []))

    def _observe(self, index: int, step: Observe) -> float:
        try:
            return super()._observe(index, step)
        finally:
            if step.name in self.costly and step.name in self.snapshots:
                snap = self.target.observe(self.clock.now(), costs=True)
                if snap is not None:
                    self.costs[self.costly[step.name]] = snap

    def figures(
        self, clients: int, outcome: LevelOutcome, reason: str | None
    ) -> tuple[Level, inferring.Inference | None]:
        """The level's record, and the model seen from its baseline to its measure."""
        before, during = self.costs.get("before"), self.costs.get("during")
        inference = self.inferences[-1] if self.inferences else None
        if inference is None and before is not None and during is not None:
            inference = inferring.infer(inferring.evidence(before, during, clients))
        return (
            level(
                clients,
                outcome,
                reason=reason,
                connect=self.connect_time,
                latencies=self.latencies,
                before=tree(before) if before is not None else None,
                during=tree(during) if during is not None else None,
                work=work(before, during, observing.clock_ticks())
                if before is not None and during is not None
                else None,
                model=inference.title() if inference is not None else None,
            ),
            inference,
        )


def _latencies(pool: ClientPool, labels: Sequence[str]) -> list[float]:
    """Each client's echo latency: from its last bytes leaving to its last echo byte arriving,
    for the clients whose echo came back whole."""
    views = pool.views(list(labels)) if labels else {}
    return [
        max(0.0, view.received_at - view.progress_at)
        for view in views.values()
        if view.sent > 0 and view.received >= view.sent
    ]


# -- every level -------------------------------------------------------------------------------------


def _marker(at: float, clients: int, outcome: str = "") -> Event:
    return Event(at, "checker", None, What(Kind.LEVEL, "level", count=clients, outcome=outcome))


def _shifted(events: Sequence[Event], by: float) -> list[Event]:
    return [dataclasses.replace(event, at=event.at + by) for event in events]


@contextlib.contextmanager
def measuring_alone(path: Path = SCALE_LOCK) -> Iterator[float | None]:
    """Hold the machine's scale lock (flock on `path`) while measuring; yields how long it
    waited for it, in seconds, or None when the lock file cannot be opened (measuring goes on)."""
    started = time.monotonic()
    try:
        handle = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        yield None
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield time.monotonic() - started
    finally:
        os.close(handle)  # releases the lock


def run_scale_behaviour(
    behaviour: Behaviour,
    target: ScaleTarget,
    family: Family,
    timing: Timing,
    levels: Sequence[int] | None = None,
    lock: Path = SCALE_LOCK,
) -> ScaleVerdict:
    """Play the scale behaviour at each level (its own, or `levels`) and judge it, measuring alone
    on this machine (`measuring_alone`); Unreachable when this machine cannot run even the first
    level."""
    with measuring_alone(lock) as waited:
        verdict = _run_levels(behaviour, target, family, timing, levels)
    if waited is None or waited < WAIT_SHOWN:
        return verdict
    note = f"waited {format_duration(waited)} for another scale measurement on this machine to end"
    wait = Event(0.0, "checker", None, What(Kind.SET_UP, "scale_lock", args=str(lock), note=note))
    return dataclasses.replace(verdict, events=(wait, *verdict.events))


def _run_levels(
    behaviour: Behaviour,
    target: ScaleTarget,
    family: Family,
    timing: Timing,
    levels: Sequence[int] | None,
) -> ScaleVerdict:
    scale = behaviour.scale
    assert scale is not None, f"{behaviour.id} is not a scale behaviour"
    wanted = sorted(set(levels or scale.levels))
    per_level = dataclasses.replace(timing, item_limit=scale.limit or timing.item_limit)
    clock = Clock()
    events: list[Event] = []
    results: list[Level] = []
    inferences: list[inferring.Inference] = []
    notes: list[str] = []
    first: inferring.Inference | None = None
    failed: tuple[ServerVerdict, int] | None = None
    last: Level | None = None
    for clients in wanted:
        if failed is not None:
            results.append(
                level(clients, LevelOutcome.NOT_RUN, reason=f"the level of {failed[1]} clients failed")
            )
            continue
        reason = unreachable(clients, machine(target), last)
        if reason is not None:
            if not results:
                raise Unreachable(f"{clients} clients, the fewest it runs at: {reason}")
            results.append(level(clients, LevelOutcome.NOT_APPLICABLE, reason=reason))
            events.append(_marker(clock.now(), clients, f"not applicable: {reason}"))
            continue
        started = clock.now()
        run = LevelRun(at_level(behaviour, clients), target, family, per_level, first)
        verdict = run.run()
        outcome = LevelOutcome.MEASURED if verdict.passed else LevelOutcome.FAILED
        said = None
        if verdict.failure is not None:
            said = "; ".join((verdict.failure.title, *verdict.failure.mismatches[:1]))
        figures, inference = run.figures(clients, outcome, said)
        results.append(figures)
        inferences.extend(verdict.inferences)
        notes.extend(verdict.notes)
        if first is None:
            first = inference
        events.append(_marker(started, clients))
        events.extend(_shifted(verdict.events, started))
        if verdict.passed:
            last = figures
        else:
            failed = (verdict, clients)
    if failed is not None:
        verdict, clients = failed
        assert verdict.failure is not None
        failure = dataclasses.replace(verdict.failure, title=f"at {clients} clients, {verdict.failure.title}")
        return ScaleVerdict(
            verdict.behaviour,
            verdict.driver,
            family,
            (_marker(0.0, clients), *verdict.events),
            failure,
            tuple(notes),
            tuple(inferences),
            tuple(results),
        )
    return ScaleVerdict(
        behaviour, target.name, family, tuple(events), None, tuple(notes), tuple(inferences), tuple(results)
    )
