"""Scale figures: what a scale behaviour measured at each level, summarised.

Rules of this module:
- pure: numbers in, frozen values out; no /proc, no clock, no I/O
  (sockspec.servers.scale measures, sockspec.reports shows);
- figures are measurements, never verdicts: nothing here passes or fails a server
  (the one rule a scale behaviour judges besides its echoes, that a loop keeps its
  threads, is sockspec.servers.infer's);
- each cost is given whole and per client: what the server's tree grew by (or
  used) between the level's baseline and its measure, divided by the level's clients;
- latencies are per client, summarised by nearest-rank percentiles;
- whether the machine can reach a level is decided here from numbers the caller
  read (`Machine`) and the level measured before it: a level past them is not
  applicable, with the reason in words; the machine is shared, so one level may
  take at most SHARE of the memory and of the room for tasks left when it starts.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: The part of the machine's free memory, and of its room for new threads and processes, that one
#: level may take: what is left is for the checker, and for whoever else uses the machine.
SHARE = 0.5
MB = 1_000_000
GB = 1_000_000_000


class LevelOutcome(enum.Enum):
    """How one level of a scale behaviour went."""

    MEASURED = "measured"  # every step held: each client got its echo, the figures were taken
    FAILED = "failed"  # a step failed at this level (the behaviour fails; figures taken are kept)
    NOT_APPLICABLE = "n/a"  # the machine cannot reach this level (the reason says why)
    NOT_RUN = "not run"  # a level below it failed, so it was not tried


@dataclass(frozen=True)
class Latency:
    """Per-client echo latencies (seconds): from a client's bytes leaving to its whole echo
    arriving, as the checker's clients saw it."""

    p50: float
    p99: float
    max: float
    count: int


@dataclass(frozen=True)
class Tree:
    """The server's process tree at one observation.

    rss: resident memory summed over its processes (bytes): pages a forked child shares
        with its parent are counted once per process;
    pss: proportional set size summed (bytes): each shared page divided among the processes
        that share it, so the sum is the memory the tree really holds (None: not readable).
    """

    processes: int
    threads: int
    fds: int | None
    rss: int | None
    pss: int | None


@dataclass(frozen=True)
class Work:
    """What the tree did between the level's baseline and its measure.

    seconds: wall time between the two observations; cpu: CPU seconds (user + system) of its
    processes; voluntary, nonvoluntary: context switches of its threads (a thread that ended
    in between takes its count with it: these are the live threads' counts).
    """

    seconds: float
    cpu: float
    voluntary: int | None
    nonvoluntary: int | None

    @property
    def switches(self) -> int | None:
        if self.voluntary is None or self.nonvoluntary is None:
            return None
        return self.voluntary + self.nonvoluntary


@dataclass(frozen=True)
class PerClient:
    """A level's costs divided by its clients.

    threads, processes: new ones per client since the baseline; rss, pss: bytes the tree
    grew by per client; cpu: CPU seconds per client; switches: context switches per echo
    (each client is echoed once).
    """

    threads: float
    processes: float
    rss: float | None
    pss: float | None
    cpu: float
    switches: float | None


@dataclass(frozen=True)
class Level:
    """One level of a scale behaviour: `clients` connected at once, and what was measured.

    connect: seconds to connect them all (one after another, as the checker's clients do);
    latency: their echo latencies; before, during: the tree at the baseline and at the
    measure; work: what it did in between; per_client: the costs divided by the clients;
    model: the model inferred from before and during (sockspec.servers.infer), in words;
    reason: why the level is not applicable, or what failed, or why it was not run.
    """

    clients: int
    outcome: LevelOutcome
    reason: str | None = None
    connect: float | None = None
    latency: Latency | None = None
    before: Tree | None = None
    during: Tree | None = None
    work: Work | None = None
    per_client: PerClient | None = None
    model: str | None = None


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of values in rising order (fraction 0.5 is the median)."""
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency(values: Sequence[float]) -> Latency | None:
    """p50, p99 and max of per-client latencies (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return Latency(percentile(ordered, 0.5), percentile(ordered, 0.99), ordered[-1], len(ordered))


def _each(total: float | None, clients: int) -> float | None:
    return None if total is None else total / clients


def _grown(before: int | None, during: int | None) -> int | None:
    return None if before is None or during is None else during - before


def per_client(clients: int, before: Tree, during: Tree, work: Work) -> PerClient:
    """The level's costs divided by its clients."""
    new_processes = during.processes - before.processes
    return PerClient(
        # A new process brings its own first thread: count only the threads beyond those.
        threads=(during.threads - before.threads - new_processes) / clients,
        processes=new_processes / clients,
        rss=_each(_grown(before.rss, during.rss), clients),
        pss=_each(_grown(before.pss, during.pss), clients),
        cpu=work.cpu / clients,
        switches=_each(work.switches, clients),
    )


def level(
    clients: int,
    outcome: LevelOutcome,
    *,
    reason: str | None = None,
    connect: float | None = None,
    latencies: Sequence[float] = (),
    before: Tree | None = None,
    during: Tree | None = None,
    work: Work | None = None,
    model: str | None = None,
) -> Level:
    """A level's record from what was measured: latencies summarised, costs per client."""
    each = (
        per_client(clients, before, during, work)
        if before is not None and during is not None and work is not None
        else None
    )
    return Level(clients, outcome, reason, connect, latency(latencies), before, during, work, each, model)


# -- what the machine can reach ------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """What this machine allows one level, as read when the level starts.

    descriptors: how many more sockets the checker may open (RLIMIT_NOFILE hard limit, less
        those open and a margin), for its clients;
    ports: local ports a client may take towards one server address (the ephemeral range,
        net.ipv4.ip_local_port_range);
    server_descriptors: the descriptors the server's process may open (its RLIMIT_NOFILE soft
        limit; None: unknown);
    memory: bytes available (MemAvailable; None: unknown);
    tasks: threads and processes the kernel may still make (kernel.pid_max or kernel.threads-max,
        whichever is lower, less the tasks that exist; None: unknown).
    """

    descriptors: int
    ports: int
    server_descriptors: int | None = None
    memory: int | None = None
    tasks: int | None = None


#: Descriptors a server holds besides its clients' (its listener, stdio, a selector).
SERVER_MARGIN = 16


def _memory(size: float) -> str:
    return f"{size / GB:.1f} GB" if size >= GB else f"{size / MB:.0f} MB"


def unreachable(clients: int, machine: Machine, last: Level | None = None) -> str | None:
    """Why this machine cannot run a level of `clients` (None when it can). `last` is the level
    measured before it: its costs per client, times `clients`, estimate what this level needs."""
    if clients > machine.descriptors:
        return (
            f"{clients} clients need {clients} open descriptors in the checker, and its RLIMIT_NOFILE "
            f"hard limit leaves room for {machine.descriptors}: raise it (ulimit -Hn) to run this level"
        )
    if clients > machine.ports:
        return (
            f"{clients} clients need {clients} local ports towards the server, and the ephemeral port "
            f"range (net.ipv4.ip_local_port_range) has {machine.ports}"
        )
    if machine.server_descriptors is not None and clients + SERVER_MARGIN > machine.server_descriptors:
        return (
            f"the server may open {machine.server_descriptors} descriptors (its RLIMIT_NOFILE), "
            f"fewer than {clients} clients and its own {SERVER_MARGIN} need"
        )
    each = last.per_client if last is not None and last.outcome is LevelOutcome.MEASURED else None
    if last is None or each is None:
        return None
    memory = each.pss if each.pss is not None else each.rss
    if memory is not None and machine.memory is not None and memory * clients > SHARE * machine.memory:
        kind = "PSS" if each.pss is not None else "RSS"
        return (
            f"at {last.clients} clients the server's tree grew by {_memory(memory)} a client ({kind}); "
            f"{clients} clients would take about {_memory(memory * clients)}, more than "
            f"{SHARE:.0%} of the {_memory(machine.memory)} this machine has available"
        )
    tasks = each.threads + each.processes
    if machine.tasks is not None and tasks * clients > SHARE * machine.tasks:
        return (
            f"at {last.clients} clients the server made {tasks:.2f} threads or processes a client; "
            f"{clients} clients would need about {tasks * clients:.0f}, more than {SHARE:.0%} of the "
            f"{machine.tasks} this machine may still make (kernel.pid_max, kernel.threads-max)"
        )
    return None
