"""The spec model: what a behaviour says, as frozen values.

Rules of this module:
- values only: frozen dataclasses and enums, no I/O, no pytest, no socket module;
- every value knows where it came from (`Origin`: file and line), so any later
  message can name the place in the spec;
- durations are float seconds, byte strings are `bytes`; parsing text into these
  values is the loader's job, not this module's; byte fields stay out of `repr`
  (a payload may be MiB, and pytest prints a traceback's values on Ctrl-C);
- a step marked `setup` (the id of the behaviour that tests it directly) only
  prepares what the rule judges: its failure means the rule was not reached.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Model(enum.Enum):
    """The I/O models a behaviour can belong to and a driver can declare."""

    BLOCKING = "blocking"
    NONBLOCKING = "nonblocking"
    READINESS = "readiness"
    COMPLETION = "completion"
    SERVER = "server"


class Level(enum.Enum):
    """How binding a behaviour is (RFC 2119 words, lower case in specs)."""

    MUST = "must"
    SHOULD = "should"


class Family(enum.Enum):
    """The kinds of connection a behaviour can run over."""

    TCP4 = "tcp4"
    TCP6 = "tcp6"
    UNIX = "unix"


class Topology(enum.Enum):
    """What the connection factory hands the implementation before step 1.

    PAIR: a connected socket (the implementation's end) and the peer's end.
    LISTENER: a listening socket for the implementation; the peer connects on a step.
    CLIENT: an unconnected socket for the implementation and a listening peer;
        the implementation connects on a step.
    """

    PAIR = "pair"
    LISTENER = "listener"
    CLIENT = "client"


class Mode(enum.Enum):
    """The mode the runner asks the driver to put the socket in before step 1."""

    BLOCKING = "blocking"
    NONBLOCKING = "nonblocking"


@dataclass(frozen=True)
class Origin:
    """Where something was written: a spec file and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Payload:
    """Bytes a spec names: literal text, or `size` bytes of the standard pattern."""

    data: bytes

    @staticmethod
    def pattern(size: int) -> Payload:
        """The deterministic pattern (0, 1, ..., 255, 0, 1, ...) of `size` bytes."""
        return Payload(bytes(range(256)) * (size // 256) + bytes(range(size % 256)))

    def describe(self) -> str:
        if len(self.data) <= 32:
            return repr(self.data)
        return f"{len(self.data)} bytes ({self.data[:12]!r}...)"


@dataclass(frozen=True)
class Range:
    """An inclusive integer range; `None` leaves that side open."""

    low: int | None = None
    high: int | None = None

    def contains(self, value: int) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.low == self.high and self.low is not None:
            return str(self.low)
        if self.high is None:
            return f"at least {self.low}"
        if self.low is None:
            return f"at most {self.high}"
        return f"{self.low}..{self.high}"


@dataclass(frozen=True)
class Expectation:
    """What a call's outcome must look like. Unset fields are not judged.

    `any_of` holds alternatives: the outcome must match at least one of them;
    the other fields must hold as well. `ready*` judge the events a readiness
    wait reported for the step's socket; `unread` is FIONREAD of that socket at
    the moment the outcome happened (a return, or a completion). `at_once`: the
    call returns at once, within the run's tolerance alone; `within`: it returns
    within that duration plus the tolerance (a rule about a real duration).
    `prefix_of`: the bytes returned are the first N of these bytes, for any N
    from none to all (what a cancelled send had sent by then, for instance).
    """

    data: bytes | None = field(default=None, repr=False)
    length: Range | None = None
    eof: bool | None = None
    ok: bool | None = None
    errors: frozenset[str] = frozenset()
    not_before: str | None = None
    before: str | None = None
    within: float | None = None
    at_once: bool | None = None
    min_elapsed: float | None = None
    ready: frozenset[str] | None = None
    ready_includes: frozenset[str] = frozenset()
    ready_excludes: frozenset[str] = frozenset()
    unread: int | None = None
    prefix_of: bytes | None = field(default=None, repr=False)
    any_of: tuple[Expectation, ...] = ()

    @property
    def bound(self) -> float | None:
        """The upper time bound it states, before the tolerance: 0 for at once, T for within T."""
        return 0.0 if self.at_once else self.within


@dataclass(frozen=True)
class Placed:
    """What every kind of step has (see `Step`): its place in the spec and, keyword-only (last in
    every step's arguments), `after`, `limit` and `setup`."""

    origin: Origin
    after: float = field(default=0.0, kw_only=True)
    limit: float | None = field(default=None, kw_only=True)
    setup: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Named(Placed):
    """A step that may be named, for later steps to refer to (an observation's name is required)."""

    name: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Call(Named):
    """The implementation performs one operation through its driver.

    `background` names a call that runs on while later steps go on; it is
    judged at the `Await` step with that name. A foreground call is awaited at
    once. `repeat` re-issues the call while it succeeds, up to that many times,
    and the expectation judges the last outcome.
    """

    op: str
    size: int | None = None
    payload: bytes | None = field(default=None, repr=False)
    flags: frozenset[str] = frozenset()
    how: str | None = None
    timeout: float | None = None
    blocking: bool | None = None
    events: frozenset[str] = frozenset()
    trigger: str = "level"
    sock: str | None = None
    target: str | None = None
    conn: int = 1
    background: str | None = None
    repeat: int = 1
    expect: Expectation | None = None


@dataclass(frozen=True)
class Peer(Named):
    """The checker's own end acts: send, read, shutdown, close, reset, accept, connect.

    `steal` is the one action on the implementation's side: another reader in the
    same process takes bytes through a duplicate of the implementation's socket.
    `fill_backlog` connects other clients to the peer's own AF_UNIX listener, never
    accepted, until its backlog is full.
    """

    action: str
    payload: bytes | None = field(default=None, repr=False)
    size: int | None = None
    how: str | None = None
    conn: int = 1
    expect: Expectation | None = None


@dataclass(frozen=True)
class Await(Named):
    """Wait for a background call to return, then judge it."""

    call: str
    expect: Expectation | None = None


@dataclass(frozen=True)
class Check(Named):
    """The checker inspects kernel state without changing it.

    unread: bytes in the implementation socket's receive queue (FIONREAD);
    unread_data: those bytes, peeked (MSG_PEEK), which leaves them in place;
    peer_unread: bytes in the peer's receive queue;
    pending: background calls that have not returned (or completed) yet;
    done: background calls that have;
    so_error: the implementation socket's pending error (SO_ERROR) as an error
        kind, or 'none'; read once per check, as connect(2) tells a process to
        learn how a non-blocking connect ended (reading it clears it);
    hung_up: whether poll(2) reports POLLHUP or POLLERR on the implementation's
        socket (the connection was reset or is shut down both ways); reading it
        changes nothing, so a check can wait for a reset to arrive.
    """

    unread: int | None = None
    unread_data: bytes | None = field(default=None, repr=False)
    peer_unread: int | None = None
    pending: frozenset[str] = frozenset()
    done: frozenset[str] = frozenset()
    so_error: str | None = None
    hung_up: bool | None = None
    conn: int = 1


#: In a client step's bytes, replaced by each client's own name (e.g. "many#7").
CLIENT_PLACEHOLDER = b"{client}"


@dataclass(frozen=True)
class Client(Named):
    """One of the checker's clients of a server under test acts (server behaviours only).

    client: the client's name; a connect step with `count` N makes a group whose
        members are NAME#1 ... NAME#N, and later steps naming NAME act on each;
    action: connect, send, read, stop_reading, wait_stalled, shutdown, close,
        reset, or cycle (connect, exchange `payload`, close: `count` times in turn);
    payload: bytes to send (or, for cycle, to exchange); `per_client` when they
        hold {client}, which each client replaces with its own name;
    fragment, pause: send in pieces of `fragment` bytes, `pause` apart;
    size: the bytes a read waits for (None: as many as `expect.data` holds);
    rcvbuf, sndbuf: socket buffer sizes set before connect;
    scaled: the connect's count is the level a scale behaviour runs at (`count: level`);
        until a level is chosen (`server_steps.at_level`), `count` is the largest level.
    """

    client: str
    action: str
    count: int = 1
    payload: bytes | None = field(default=None, repr=False)
    per_client: bool = False
    fragment: int | None = None
    pause: float = 0.0
    size: int | None = None
    how: str | None = None
    rcvbuf: int | None = None
    sndbuf: int | None = None
    expect: Expectation | None = None
    scaled: bool = False


@dataclass(frozen=True)
class ObserveExpectation:
    """What an observation of the server's process tree must show. Unset fields are not judged.

    cpu_below: CPU time over the window, as a fraction of one core;
    back_to: the name of an earlier observation whose process, thread and
        descriptor counts the server returns to (or below) within the step's limit;
    model: 'declared' (the model the impl declares) or a model name; the model
        observed against `baseline` must be that one;
    loop_flat: a server that works as a readiness or completion loop (it declares one,
        or a scale behaviour's first level showed it as one) has no thread or process
        per client connected since `baseline`; other servers are only measured.
    """

    cpu_below: float | None = None
    back_to: str | None = None
    model: str | None = None
    loop_flat: bool = False


@dataclass(frozen=True)
class Observe(Placed):
    """The checker reads the server's process tree in /proc (server behaviours only).

    name: the observation's name, for `baseline` and `back_to` of later steps;
    over: a window to measure CPU time over, sampling where threads wait;
    baseline: an earlier observation to compare with, to infer the model.
    """

    name: str
    over: float | None = None
    baseline: str | None = None
    expect: ObserveExpectation | None = None


Step = Call | Peer | Await | Check | Client | Observe
"""A step of a behaviour. Every kind has `name`, `after`, `limit` and `setup`: the id of the
behaviour that tests directly what this step only sets up (None: the step is part of what the
rule judges). When a set-up step fails, the behaviour's rule was not reached, not broken."""


@dataclass(frozen=True)
class SocketOptions:
    """Buffer sizes set on each side before connect/listen (read back, doubled by Linux)."""

    sndbuf: int | None = None
    rcvbuf: int | None = None
    peer_sndbuf: int | None = None
    peer_rcvbuf: int | None = None
    rcvlowat: int | None = None
    fd_at_least: int | None = None


@dataclass(frozen=True)
class Scale:
    """How a scale behaviour runs (server behaviours; opt-in: pytest -m scale).

    levels: how many clients are connected at once, in rising order: the steps run once
        per level, and the connect with `count: level` makes that many clients;
    measure: the name of the observe step whose costs, against its `baseline`, are the
        level's (processes, threads, memory, CPU time, context switches);
    limit: the longest one level may take, all its steps together (None: the item limit).
    """

    levels: tuple[int, ...]
    measure: str
    limit: float | None = None


@dataclass(frozen=True)
class Behaviour:
    """One rule of one model, with the script that shows it.

    connections: how many connections the factory makes (steps pick one with `conn`);
    requires: capabilities a driver must declare for the behaviour to apply
        (e.g. 'edge', 'oneshot', 'rdhup', 'kernel_completion');
    scale: how a scale behaviour runs its levels (None: an ordinary behaviour, run once).
    """

    id: str
    model: Model
    level: Level
    rule: str
    source: str
    origin: Origin
    steps: tuple[Step, ...]
    families: tuple[Family, ...] = tuple(Family)
    topology: Topology = Topology.PAIR
    mode: Mode | None = None
    socket: SocketOptions = SocketOptions()
    connections: int = 1
    requires: frozenset[str] = frozenset()
    file_source: str = ""
    scale: Scale | None = None


@dataclass(frozen=True)
class SpecFile:
    """A loaded spec file: its behaviours in file order."""

    path: str
    model: Model
    source: str
    behaviours: tuple[Behaviour, ...] = field(default_factory=tuple)
