"""Whether a server settled after a behaviour: its CPU back near idle, its client connections closed.

Rules of this module:
- judged from /proc only: the server tree's CPU time (observe.Snapshot), and its
  sockets: the socket inodes behind /proc/PID/fd of every process of the tree;
  the sockets it held when it had just started (its listener, its event loop's
  socketpair) are its own, any other is looked up in /proc/net/tcp and
  /proc/net/tcp6 (read only then: on a busy machine they are long). A listener
  is not a connection; TIME_WAIT entries belong to no descriptor;
- a new socket the server holds that neither table lists is a TCP connection the
  kernel has closed while the server never closed its descriptor ("held");
- the parsers and `judge` are pure, tested on captured text and made-up samples;
  `sample` is the thin reader; the waiting (a poll with a bound) is the caller's;
- a server settles as soon as one window of `WINDOW` seconds shows it near idle
  with no connection open; until the bound it may still get there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

from sockspec.servers import observe, tcptable

PROC = Path("/proc")
#: How long a server may take to settle after a behaviour, and how often it is looked at.
SETTLE_LIMIT = 1.0
POLL_INTERVAL = 0.025
#: The window CPU time is judged over, and what counts as near idle (of one core).
WINDOW = 0.1
NEAR_IDLE = 0.25
LISTEN = tcptable.STATES[tcptable.LISTEN]


def parse_net_tcp(text: str) -> dict[int, str]:
    """/proc/net/tcp or tcp6 -> socket inode -> TCP state name (entries without an inode left out)."""
    return {row.inode: row.state_name for row in tcptable.parse(text) if row.inode}


@dataclass(frozen=True)
class Sockets:
    """The sockets a server tree holds beyond those it started with.

    connections: TCP state -> how many of them are connections in that state;
    held: how many are in neither TCP table (closed by the kernel, still held by the server).
    """

    connections: Mapping[str, int] = field(default_factory=dict)
    held: int = 0

    @property
    def open(self) -> int:
        return sum(self.connections.values())


def classify(inodes: Iterable[int], tcp: Mapping[int, str]) -> Sockets:
    """New socket inodes of the server, looked up in the TCP tables (a listener is not counted)."""
    states: Counter[str] = Counter()
    held = 0
    for inode in set(inodes):
        state = tcp.get(inode)
        if state is None:
            held += 1
        elif state != LISTEN:
            states[state] += 1
    return Sockets(dict(sorted(states.items())), held)


@dataclass(frozen=True)
class Sample:
    """The server at one moment (seconds on the caller's clock): CPU time in clock ticks, sockets."""

    at: float
    cpu_ticks: int
    sockets: Sockets


@dataclass(frozen=True)
class Unsettled:
    """How a server was when it did not settle: connections still open (by state), sockets held
    that are no longer connected, its CPU over the last window (share of one core) when busy."""

    connections: Mapping[str, int]
    held: int
    cpu: float | None

    def values(self) -> tuple[tuple[str, str], ...]:
        """As a trace event's named values."""
        found: list[tuple[str, str]] = []
        if self.connections:
            found.append(("connections", str(sum(self.connections.values()))))
            found.append(("states", ", ".join(f"{n} {state}" for state, n in self.connections.items())))
        if self.held:
            found.append(("held", str(self.held)))
        if self.cpu is not None:
            found.append(("cpu", f"{self.cpu:.0%}"))
        return tuple(found)


def cpu_share(first: Sample, last: Sample, ticks_per_second: int) -> float:
    """The CPU time between two samples, as a share of one core."""
    elapsed = last.at - first.at
    used = (last.cpu_ticks - first.cpu_ticks) / ticks_per_second
    return max(0.0, used / elapsed) if elapsed > 0 else 0.0


def judge(samples: Sequence[Sample], ticks_per_second: int) -> Unsettled | None:
    """None when the last sample shows the server settled: no connection open, no closed one
    held, and near idle over the window ending there; else how it was (its CPU only when that
    was not near idle)."""
    last = samples[-1]
    window = [sample for sample in samples if last.at - sample.at >= WINDOW]
    cpu = cpu_share(window[-1], last, ticks_per_second) if window else None
    busy = cpu is None or cpu > NEAR_IDLE
    if not last.sockets.open and not last.sockets.held and not busy:
        return None
    return Unsettled(last.sockets.connections, last.sockets.held, cpu if busy else None)


# -- the thin reader ----------------------------------------------------------


def tcp_table() -> dict[int, str]:
    """Every TCP socket of this network namespace with an inode: inode -> state."""
    return {row.inode: row.state_name for row in tcptable.rows() if row.inode}


def held_by(snapshot: observe.Snapshot) -> set[int]:
    """The socket inodes the processes of `snapshot` hold now."""
    return tcptable.socket_inodes(process.pid for process in snapshot.processes)


def sample(snapshot: observe.Snapshot, own: Set[int]) -> Sample:
    """The server tree of `snapshot` as settling judges it; `own`: the sockets it started with.
    Its sockets are read now; the TCP tables only when it holds sockets beyond its own."""
    new = held_by(snapshot) - own
    return Sample(snapshot.at, snapshot.cpu_ticks, classify(new, tcp_table()) if new else Sockets())
