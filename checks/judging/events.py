"""The events of a trace: what happened on a behaviour's timeline, as values.

Rules of this module:
- an event is a frozen value: when (seconds on the behaviour's clock), who
  (`Actor`), the step it belongs to (its index, 0-based; None for set-up), and
  what happened (`What`): its kind, the operation, and its values as typed
  fields, never a phrase to be parsed back;
- `describe` is the one place an event becomes words (the terminal timeline and
  the HTML report both show it); it reads the fields, one phrase per kind;
- pure: no I/O, no clock, no threads (the collector is sockspec.judging.trace).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sockspec.language.timing import format_duration

Actor = Literal["impl", "peer", "checker", "client", "server"]


class Kind(enum.Enum):
    """What sort of thing happened."""

    SET_UP = "set-up"  # the checker prepares the implementation's socket (set_blocking)
    CALL = "call"  # the implementation's call starts
    SUBMIT = "submit"  # an operation handed to a completion driver
    RETURN = "return"  # a call or an action returned, with its outcome
    COMPLETE = "complete"  # a submitted operation completed, with its outcome
    CANCEL = "cancel"  # a submitted operation is cancelled
    AWAIT = "await"  # the checker waits for a background call
    GAVE_UP = "gave-up"  # the checker stopped waiting at the step's limit
    PEER = "peer"  # the checker's own end of a connection acts
    CLIENT = "client"  # a client of a server behaviour acts
    SERVER = "server"  # what the server did to a client, as the client saw it
    STATE = "state"  # a check step's probes of kernel state
    JUDGED = "judged"  # a group of clients judged: how many met the expectation
    OBSERVE = "observe"  # the server's process tree, observed
    MODEL = "model"  # the server's I/O model, inferred
    RESTART = "restart"  # the checker restarted the server before this behaviour (or could not)
    LEVEL = "level"  # a scale behaviour moves to its next level (`count` clients), or cannot


@dataclass(frozen=True)
class What:
    """What happened, as fields; unset fields do not apply to that kind.

    op: the operation or action ("recv", "send", "connect", "set_blocking", "observe");
    label: the background call's label ("r" in "[r] recv(1024) called");
    client: the client or group of a server behaviour ("first", "g", "g#2");
    args: the arguments as shown ("1024", "b'hello'", "5 clients");
    outcome: the outcome described ("EOF (b'')", "events {read}", "3 of 5 connected");
    error: the portable error kind when the outcome is an error ("would_block");
    count, total: bytes returned or clients that did it, out of `total`;
    limit: seconds the checker waited before it gave up;
    note: a remark beside the event ("blocking mode");
    values: named values a probe saw, each shown as text (("unread", "5"),).
    """

    kind: Kind
    op: str = ""
    label: str | None = None
    client: str | None = None
    args: str = ""
    outcome: str = ""
    error: str | None = None
    count: int | None = None
    total: int | None = None
    limit: float | None = None
    note: str = ""
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Event:
    """One thing that happened: when, who, in which step (index), and what."""

    at: float
    actor: Actor
    step: int | None
    what: What


#: Results of client actions that read as a sentence of their own: "first: connected",
#: "g#1: stalled: ...", "c: 50 connections done" (other returns read "op -> outcome").
CLIENT_SENTENCES: frozenset[str] = frozenset({"connect", "cycle", "wait_stalled"})


def _who(what: What) -> str:
    """The prefix naming whose call or client it was: "[r] ", "first: "."""
    label = f"[{what.label}] " if what.label is not None else ""
    client = f"{what.client}: " if what.client is not None else ""
    return label + client


def _returned(what: What) -> str:
    if what.client is not None and what.op in CLIENT_SENTENCES:
        return f"{_who(what)}{what.outcome}"
    return f"{_who(what)}{what.op} -> {what.outcome}"


def _spaced(*parts: str) -> str:
    return " ".join(part for part in parts if part)


#: The outcome of a restart event when the server was restarted (else it says why it was not).
RESTARTED = "restarted"
#: Why a server was restarted (a restart event's `op`) -> the reason in words. `args` names the
#: behaviour that ran before; `note` says how the server ended; `values` how it had not settled.
RESTART_CAUSES: dict[str, Callable[[What], str]] = {
    "failed": lambda w: f"previous behaviour {w.args} failed",
    "errored": lambda w: f"previous behaviour {w.args} errored",
    "exited": lambda w: f"it {w.note}" + (f" after {w.args}" if w.args else ""),
    "unsettled": lambda w: f"did not settle after {w.args}: {_unsettled(dict(w.values))}",
    "each": lambda w: 'restart = "each"',
}
#: A value of an unsettled server (a restart event's `values`) -> in words.
UNSETTLED: dict[str, Callable[[dict[str, str]], str]] = {
    "connections": lambda v: (
        _counted(v["connections"], "connection", "connections")
        + " still open"
        + (f" ({v['states']})" if v.get("states") else "")
    ),
    "held": lambda v: _counted(v["held"], "closed connection", "closed connections") + " still held open",
    "cpu": lambda v: f"CPU {v['cpu']} of one core",
}


def _counted(count: str, one: str, many: str) -> str:
    return f"{count} {one if count == '1' else many}"


def _unsettled(values: dict[str, str]) -> str:
    return ", ".join(phrase(values) for name, phrase in UNSETTLED.items() if name in values)


def _restart(what: What) -> str:
    cause = RESTART_CAUSES.get(what.op)
    return f"server {what.outcome}: {cause(what) if cause is not None else what.op}"


PHRASES: dict[Kind, Callable[[What], str]] = {
    Kind.SET_UP: lambda w: f"{w.op}({w.args})" + (f"  [{w.note}]" if w.note else ""),
    Kind.CALL: lambda w: f"{_who(w)}{w.op}({w.args}) called",
    Kind.SUBMIT: lambda w: f"{_who(w)}submit {w.op}({w.args})",
    Kind.RETURN: _returned,
    Kind.COMPLETE: lambda w: f"{_who(w)}{w.op} completed {w.outcome}",
    Kind.CANCEL: lambda w: f"cancel [{w.label}]",
    Kind.AWAIT: lambda w: f"await [{w.label}]",
    Kind.GAVE_UP: lambda w: f"gave up waiting after {format_duration(w.limit or 0.0)}",
    Kind.PEER: lambda w: _spaced(w.op, w.args),
    Kind.CLIENT: lambda w: f"{_who(w)}{_spaced(w.op, w.args)}",
    Kind.SERVER: lambda w: f"-> {_who(w)}{w.outcome}",
    Kind.STATE: lambda w: "state: " + ", ".join(f"{name} {shown}" for name, shown in w.values),
    Kind.JUDGED: lambda w: f"{_who(w)}{w.count} of {w.total} as expected",
    Kind.OBSERVE: lambda w: f"{w.op} {w.args}: {w.outcome}",
    Kind.MODEL: lambda w: f"model: {w.outcome}",
    Kind.RESTART: _restart,
    Kind.LEVEL: lambda w: f"level: {w.count} clients" + (f": {w.outcome}" if w.outcome else ""),
}


def describe(what: What) -> str:
    """The event in words, as the timelines show it: "[r] recv -> EOF (b'')"."""
    return PHRASES[what.kind](what)


#: Kinds that start something the timeline may draw as a wait, and kinds that end one.
STARTS: frozenset[Kind] = frozenset({Kind.CALL, Kind.SUBMIT, Kind.PEER, Kind.CLIENT})
ENDS: frozenset[Kind] = frozenset({Kind.RETURN, Kind.COMPLETE})
#: Starts that are a wait even with no end in the trace (the call never returned).
CALLS: frozenset[Kind] = frozenset({Kind.CALL, Kind.SUBMIT})


def pairing(actor: str, what: What) -> tuple[str, str | None, str | None, str]:
    """What a start and its end share: the actor, the label, the client and the operation."""
    return (actor, what.label, what.client, what.op)
