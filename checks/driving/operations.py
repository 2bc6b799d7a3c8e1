"""The operations a spec's `call:` asks of an implementation, one table per contract.

Rules of this module:
- each entry does exactly one driver method on the step's socket and returns
  what it returned; there is no retry, no wait and no judging here;
- which socket a step means is decided in one place (`target`);
- the runner picks the table by the driver's contract: socket calls for every
  SocketDriver, readiness calls for a ReadinessDriver, submits for a
  CompletionDriver;
- which operations each table holds is the language's table
  (sockspec.language.operations.CALLS: its performer and `submitted`); each
  table here only says how, and one that names other operations than the
  language's is a checker bug, refused when this module is imported. `cancel`
  is the runner's own (it acts on a pending submission, not on the driver).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import TypeVar

from sockspec.driving.connections import Endpoints
from sockspec.driving.drivers import (
    FLAG_VALUES,
    SHUTDOWN_HOW,
    Completion,
    CompletionDriver,
    Driver,
    ReadinessDriver,
    SocketDriver,
)
from sockspec.language.model import Call
from sockspec.language.operations import CALLS, Performer, performed_by, submitted
from sockspec.language.timing import format_duration

Perform = TypeVar("Perform")


class SpecMismatch(Exception):
    """The step asks for something this behaviour's sockets cannot give (the spec author's to fix)."""


def _table(names: Sequence[str], performs: dict[str, Perform], what: str) -> dict[str, Perform]:
    """`performs`, in the language table's order, when it holds exactly the operations `names`."""
    if set(performs) != set(names):
        raise RuntimeError(
            f"sockspec bug: the {what} table performs {', '.join(sorted(performs))}; "
            f"the language's table (sockspec.language.operations) names {', '.join(names)}"
        )
    return {name: performs[name] for name in names}


def listener(ends: Endpoints) -> socket.socket:
    """The implementation's listening socket."""
    if ends.impl_listener is None:
        raise SpecMismatch("there is no listening socket (use connection: listener)")
    return ends.impl_listener


def target(ends: Endpoints, step: Call) -> socket.socket:
    """The implementation's socket a step acts on: `sock:` names it, else the
    connected socket, else the listening one."""
    if step.sock == "listener" or (step.sock is None and ends.impl is None):
        return listener(ends)
    if ends.impl is None:
        raise SpecMismatch("there is no connected socket at this step (accept or connect first)")
    return ends.impl


def describe(step: Call) -> str:
    """The call as the trace shows it: "recv(1024, MSG_PEEK)"."""
    return f"{step.op}({arguments(step)})"


def arguments(step: Call) -> str:
    """The call's arguments as shown: "1024, MSG_PEEK"."""
    args: list[str] = []
    if step.size is not None:
        args.append(str(step.size))
    if step.payload is not None:
        args.append(repr(step.payload) if len(step.payload) <= 32 else f"<{len(step.payload)} bytes>")
    args.extend(f"MSG_{flag.upper()}" for flag in sorted(step.flags))
    if step.how is not None:
        args.append({"read": "SHUT_RD", "write": "SHUT_WR", "both": "SHUT_RDWR"}[step.how])
    operation = CALLS.get(step.op)
    if operation is not None and "timeout" in operation.arguments.needs:
        args.append("None" if step.timeout is None else format_duration(step.timeout))
    if step.blocking is not None:
        args.append(str(step.blocking))
    if step.events:
        args.append("|".join(sorted(step.events)) + ("" if step.trigger == "level" else f", {step.trigger}"))
    if step.target is not None:
        args.append(step.target)
    if step.sock is not None:
        args.append(f"on the {step.sock}")
    if step.conn != 1:
        args.append(f"conn {step.conn}")
    return ", ".join(args)


def _flags(step: Call) -> int:
    value = 0
    for flag in step.flags:
        value |= FLAG_VALUES[flag]
    return value


def _accept(driver: SocketDriver, ends: Endpoints, step: Call) -> object:
    accepted = driver.accept(listener(ends))
    if not isinstance(accepted, socket.socket):
        raise TypeError(f"accept returned {type(accepted).__name__}, not a socket")
    ends.impl = ends.adopt(accepted)
    return None


SocketCall = Callable[[SocketDriver, Endpoints, Call], object]

SOCKET_CALLS: dict[str, SocketCall] = _table(
    performed_by(Performer.SOCKET),
    {
        "recv": lambda d, e, s: d.recv(target(e, s), s.size or 0, _flags(s)),
        "send": lambda d, e, s: d.send(target(e, s), s.payload or b"", _flags(s)),
        "accept": _accept,
        "connect": lambda d, e, s: d.connect(target(e, s), e.address),
        "shutdown": lambda d, e, s: d.shutdown(target(e, s), SHUTDOWN_HOW[s.how or "both"]),
        "close": lambda d, e, s: d.close(target(e, s)),
        "setblocking": lambda d, e, s: d.set_blocking(target(e, s), bool(s.blocking)),
        "settimeout": lambda d, e, s: d.set_timeout(target(e, s), s.timeout),
    },
    "socket call",
)


def _wait(driver: ReadinessDriver, ends: Endpoints, step: Call) -> object:
    """The events reported for the step's socket (other sockets' events are not judged)."""
    sock = target(ends, step)
    ready = driver.wait(step.timeout)
    return frozenset(ready.get(sock.fileno(), frozenset()))


ReadinessCall = Callable[[ReadinessDriver, Endpoints, Call], object]

READINESS_CALLS: dict[str, ReadinessCall] = _table(
    performed_by(Performer.READINESS),
    {
        "register": lambda d, e, s: d.register(target(e, s), s.events, s.trigger),
        "modify": lambda d, e, s: d.modify(target(e, s), s.events, s.trigger),
        "unregister": lambda d, e, s: d.unregister(target(e, s)),
        "wait": _wait,
    },
    "readiness call",
)


def _submit_accept(driver: CompletionDriver, ends: Endpoints, step: Call) -> Completion:
    return driver.submit_accept(listener(ends))


Submit = Callable[[CompletionDriver, Endpoints, Call], Completion]

SUBMITS: dict[str, Submit] = _table(
    submitted(),
    {
        "recv": lambda d, e, s: d.submit_recv(target(e, s), s.size or 0),
        "send": lambda d, e, s: d.submit_send(target(e, s), s.payload or b""),
        "accept": _submit_accept,
        "connect": lambda d, e, s: d.submit_connect(target(e, s), e.address),
    },
    "submit",
)

# Calls the runner performs on the driver as a whole rather than on a socket.
DRIVER_CALLS: dict[str, Callable[[CompletionDriver], None]] = _table(
    performed_by(Performer.DRIVER),
    {
        "pause": lambda d: d.pause(),
        "resume": lambda d: d.resume(),
    },
    "driver call",
)


def plain_call(driver: Driver, step: Call) -> Callable[[Endpoints], object] | None:
    """The synchronous operation for `step` on `driver`, or None when it has none."""
    if isinstance(driver, ReadinessDriver) and step.op in READINESS_CALLS:
        readiness = READINESS_CALLS[step.op]
        return lambda ends: readiness(driver, ends, step)
    if isinstance(driver, CompletionDriver) and step.op in DRIVER_CALLS:
        whole = DRIVER_CALLS[step.op]
        return lambda ends: whole(driver)
    if isinstance(driver, SocketDriver) and step.op in SOCKET_CALLS:
        call = SOCKET_CALLS[step.op]
        return lambda ends: call(driver, ends, step)
    return None


def submit_call(driver: Driver, step: Call) -> Callable[[Endpoints], Completion] | None:
    """The submission for `step` when `driver` completes operations, else None."""
    if isinstance(driver, CompletionDriver) and step.op in SUBMITS:
        submit = SUBMITS[step.op]
        return lambda ends: submit(driver, ends, step)
    return None
