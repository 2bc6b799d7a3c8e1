"""The I/O model a server shows: evidence from two observations -> a named model, by a table of rules.

Rules of this module:
- pure: functions of `Evidence` values, no /proc, no clock, no I/O;
- the rules are one ordered table (`RULES`); the first rule that holds names
  the model, and its reason is reported with the evidence, so a reader can
  check the verdict by hand;
- a declared model is checked against the observed one by another table
  (`DECLARED`), which says in words what the declaration means;
- thresholds are named constants, stated in the messages they shape;
- the one rule a scale behaviour judges of the costs it measures is here too
  (`check_loop_flat`): a readiness or completion loop keeps its threads as its
  clients grow; whether a server is held to it is `loop_reason`'s to say.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sockspec.language.timing import format_duration
from sockspec.servers.config import DeclaredModel
from sockspec.servers.observe import Snapshot, Wait, describe_waits

#: Growth per client that counts as "one per client" (some may not have started yet).
PER_CLIENT = 0.8
#: Share of its clients a server must still hold for its model to be inferred from them.
STILL_CONNECTED = 0.5
#: Growth per client below which the server "keeps its threads and processes".
STEADY = 0.2
#: CPU share of one core that counts as spinning while every client idles.
BUSY_SHARE = 0.3
#: A lower share that still counts as spinning when every thread was seen running, never parked:
#: on a loaded machine a spinning loop gets only what the scheduler leaves it.
RUNNING_SHARE = 0.1
#: Waits of a thread blocked on one connection (or on accept).
BLOCKING_WAITS = (Wait.RECV, Wait.SEND, Wait.ACCEPT)


class Observed(enum.Enum):
    """The models the checker can recognise."""

    BUSY_POLLING = "busy polling"
    PROCESS_PER_CLIENT = "process-per-client"
    THREAD_PER_CLIENT = "thread-per-client"
    COMPLETION_LOOP = "completion loop"
    READINESS_LOOP = "readiness loop"
    ONE_AT_A_TIME = "one client at a time"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Evidence:
    """What two observations of the server show: before clients came, and with them connected.

    waits: threads per syscall they are parked in (e.g. {'recvfrom': 50});
    kinds: threads per kind of wait;
    cpu_share: the tree's CPU time over the window, as a fraction of one core.
    """

    clients: int
    base: tuple[int, int, int | None]
    loaded: tuple[int, int, int | None]
    waits: Mapping[str, int] = field(default_factory=dict)
    kinds: Mapping[Wait, int] = field(default_factory=dict)
    cpu_share: float | None = None
    window: float | None = None
    kept: int | None = None

    @property
    def process_growth(self) -> int:
        return self.loaded[0] - self.base[0]

    @property
    def thread_growth(self) -> int:
        """New threads in existing processes (a new process brings its own first thread)."""
        return (self.loaded[1] - self.base[1]) - self.process_growth

    def steady(self) -> bool:
        return self.process_growth + self.thread_growth <= STEADY * self.clients

    def lines(self) -> list[str]:
        """The evidence in words, one fact a line."""
        (p0, t0, f0), (p1, t1, f1) = self.base, self.loaded
        fds = f", open descriptors {f0} -> {f1}" if f0 is not None and f1 is not None else ""
        of = f" of {self.kept}" if self.kept is not None and self.kept != self.clients else ""
        found = [
            f"with {self.clients}{of} {'client' if self.clients == 1 and not of else 'clients'} connected: "
            f"processes {p0} -> {p1}, threads {t0} -> {t1}{fds}"
        ]
        if self.waits:
            found.append(f"threads wait: {describe_waits(self.waits)}")
        if self.cpu_share is not None and self.window is not None:
            found.append(f"CPU {self.cpu_share:.1%} of one core over {format_duration(self.window)}")
        return found


def evidence(
    base: Snapshot,
    loaded: Snapshot,
    clients: int,
    cpu_share: float | None = None,
    window: float | None = None,
    waits: Mapping[str, int] | None = None,
    kinds: Mapping[Wait, int] | None = None,
    kept: int | None = None,
) -> Evidence:
    """Evidence from a baseline and a loaded snapshot; `waits`/`kinds` (e.g. the majority over
    the window's samples) default to the loaded snapshot's own."""
    return Evidence(
        clients=clients,
        base=base.counts(),
        loaded=loaded.counts(),
        waits=dict(waits if waits is not None else loaded.waits()),
        kinds=dict(kinds if kinds is not None else loaded.wait_kinds()),
        cpu_share=cpu_share,
        window=window,
        kept=kept,
    )


@dataclass(frozen=True)
class Rule:
    model: Observed
    holds: Callable[[Evidence], bool]
    because: Callable[[Evidence], str]


def _share(e: Evidence) -> str:
    return f"{e.cpu_share:.0%}" if e.cpu_share is not None else "?"


RULES: tuple[Rule, ...] = (
    Rule(
        Observed.BUSY_POLLING,
        lambda e: e.cpu_share is not None and e.cpu_share >= BUSY_SHARE,
        lambda e: f"it uses {_share(e)} of a core while every client idles (at least {BUSY_SHARE:.0%})",
    ),
    Rule(
        Observed.BUSY_POLLING,
        lambda e: (
            e.cpu_share is not None
            and e.cpu_share >= RUNNING_SHARE
            and e.kinds.get(Wait.RUNNING, 0) > 0
            and sum(e.kinds.values()) == e.kinds.get(Wait.RUNNING, 0)
        ),
        lambda e: (
            f"it uses {_share(e)} of a core while every client idles (at least {RUNNING_SHARE:.0%}) "
            "and no thread was seen waiting in a syscall"
        ),
    ),
    Rule(
        Observed.UNKNOWN,
        lambda e: e.clients == 0 or (e.kept is not None and e.clients < STILL_CONNECTED * e.kept),
        lambda e: (
            f"only {e.clients}{f' of {e.kept}' if e.kept is not None else ''} clients were still "
            "connected when it was observed (the server had closed the others), so how it serves "
            "clients could not be seen"
        ),
    ),
    Rule(
        Observed.PROCESS_PER_CLIENT,
        lambda e: e.clients > 0 and e.process_growth >= PER_CLIENT * e.clients,
        lambda e: f"{e.process_growth} new processes for {e.clients} clients",
    ),
    Rule(
        Observed.THREAD_PER_CLIENT,
        lambda e: e.clients > 0 and e.thread_growth >= PER_CLIENT * e.clients,
        lambda e: f"{e.thread_growth} new threads for {e.clients} clients",
    ),
    Rule(
        Observed.COMPLETION_LOOP,
        lambda e: e.steady() and e.kinds.get(Wait.COMPLETION, 0) > 0,
        lambda e: "no thread or process per client, and it waits in io_uring_enter",
    ),
    Rule(
        Observed.READINESS_LOOP,
        lambda e: e.steady() and e.kinds.get(Wait.READINESS, 0) > 0,
        lambda e: "no thread or process per client, and it waits in poll, epoll or select",
    ),
    Rule(
        Observed.ONE_AT_A_TIME,
        lambda e: e.steady() and any(e.kinds.get(kind, 0) > 0 for kind in BLOCKING_WAITS),
        lambda e: (
            "no thread or process per client, and it blocks in recv, send or accept: "
            "a blocking server without threads serves one client at a time"
        ),
    ),
    Rule(
        Observed.UNKNOWN,
        lambda e: True,
        lambda e: "no rule matched: neither one thread or process per client, nor a loop waiting for events",
    ),
)


@dataclass(frozen=True)
class Inference:
    """The model observed, why, and the evidence."""

    model: Observed
    reason: str
    evidence: Evidence

    def title(self) -> str:
        """The model's name; a readiness loop says how many threads wait for readiness."""
        if self.model is Observed.READINESS_LOOP:
            waiting = self.evidence.kinds.get(Wait.READINESS, 0)
            return "single-thread readiness loop" if waiting == 1 else f"readiness loop ({waiting} threads)"
        return str(self.model.value)

    def describe(self) -> str:
        return f"{self.title()} ({self.reason}; {'; '.join(self.evidence.lines())})"


def infer(found: Evidence) -> Inference:
    """The first rule of RULES that holds."""
    for rule in RULES:
        if rule.holds(found):
            return Inference(rule.model, rule.because(found), found)
    raise AssertionError("the last rule always holds")


# A declared model: the observed models that satisfy it, and what it means in words.
DECLARED: dict[DeclaredModel, tuple[frozenset[Observed], str]] = {
    DeclaredModel.THREADS: (
        frozenset({Observed.THREAD_PER_CLIENT}),
        "a thread per client: the thread count grows with the clients",
    ),
    DeclaredModel.PROCESSES: (
        frozenset({Observed.PROCESS_PER_CLIENT}),
        "a process per client: the process count grows with the clients",
    ),
    DeclaredModel.READINESS: (
        frozenset({Observed.READINESS_LOOP}),
        "no thread or process per client, and a thread that waits in poll, epoll or select",
    ),
    DeclaredModel.COMPLETION: (
        frozenset({Observed.COMPLETION_LOOP, Observed.READINESS_LOOP}),
        "no thread or process per client, and a loop that waits for completions (io_uring_enter) "
        "or, for a completion-style API built on readiness such as asyncio or trio, in epoll",
    ),
}


def check_declared(declared: DeclaredModel, inference: Inference) -> list[str]:
    """Mismatches between a declared model and the observed one (empty when it matches)."""
    accepted, meaning = DECLARED[declared]
    if inference.model in accepted:
        return []
    return [
        f"expected the declared model {declared.value} ({meaning}), observed {inference.title()}: "
        f"{inference.reason}",
        *(f"evidence: {line}" for line in inference.evidence.lines()),
    ]


#: The models whose threads and processes do not grow with the clients (the seed's loops).
LOOPS: frozenset[Observed] = frozenset({Observed.READINESS_LOOP, Observed.COMPLETION_LOOP})
LOOP_DECLARATIONS: frozenset[DeclaredModel] = frozenset({DeclaredModel.READINESS, DeclaredModel.COMPLETION})


def loop_reason(declared: DeclaredModel | None, first: Inference | None) -> str | None:
    """Why the server is held to a loop's rule: it declares a loop, or (declaring nothing) it
    was observed as one at the first level of a scale behaviour (`first`); None: it is not."""
    if declared is not None:
        return f"it declares {declared.value}" if declared in LOOP_DECLARATIONS else None
    if first is not None and first.model in LOOPS:
        return f"it was observed as a {first.title()} with {first.evidence.clients} clients"
    return None


def check_loop_flat(reason: str | None, found: Evidence) -> list[str]:
    """A loop keeps its threads and processes as its clients grow: at most STEADY new ones per
    client connected (empty when it does, or when `reason` is None: the rule does not apply)."""
    if reason is None or found.clients == 0 or found.steady():
        return []
    grown = found.process_growth + found.thread_growth
    return [
        f"expected a readiness or completion loop ({reason}) to keep its threads and processes "
        f"as clients come (at most {STEADY:g} new per client), observed {grown} new for "
        f"{found.clients} clients ({grown / found.clients:.2f} per client)",
        *(f"evidence: {line}" for line in found.lines()),
    ]
