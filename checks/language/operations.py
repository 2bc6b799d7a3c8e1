"""The operations a spec names: the fields each needs and takes, and what performs it.

Rules of this module:
- `CALLS` is the one table of the operations a `call:` step names; the loader
  checks a step's fields with it, the runner's tables (sockspec.driving.operations)
  are built from it, and spec/schema.json's `call` enum and the operation table
  of spec/README.md list the same names in the same order
  (tests/test_operations.py holds them together);
- `PEERS` is the same for the actions of a `peer:` step (the client actions of
  server behaviours are in sockspec.language.server_steps);
- a field that every step of a kind may have (`name`, `after`, ...) is in
  CALL_COMMON / PEER_COMMON, not in each entry;
- values only: no I/O, nothing performed here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Arguments:
    """The fields a step needs, and the other fields it may take."""

    needs: frozenset[str] = frozenset()
    takes: frozenset[str] = frozenset()

    @staticmethod
    def of(needs: Iterable[str] = (), takes: Iterable[str] = ()) -> Arguments:
        return Arguments(frozenset(needs), frozenset(takes))

    @property
    def fields(self) -> frozenset[str]:
        return self.needs | self.takes


class Performer(enum.Enum):
    """What performs an operation, and so which runner table holds it."""

    SOCKET = "socket"  # a SocketDriver method on the step's socket (every driver has them)
    READINESS = "readiness"  # a ReadinessDriver method on its interest set
    DRIVER = "driver"  # a CompletionDriver method on the driver as a whole
    RUNNER = "runner"  # the runner itself, on a pending submission's handle


@dataclass(frozen=True)
class Operation:
    """One operation of a call step.

    submitted: a CompletionDriver submits it (it completes later, on the
    driver's own thread) instead of calling it.
    """

    arguments: Arguments
    performer: Performer
    submitted: bool = False


CALLS: dict[str, Operation] = {
    "recv": Operation(Arguments.of({"size"}, {"flags"}), Performer.SOCKET, submitted=True),
    "send": Operation(Arguments.of({"data"}, {"flags"}), Performer.SOCKET, submitted=True),
    "accept": Operation(Arguments.of(), Performer.SOCKET, submitted=True),
    "connect": Operation(Arguments.of(), Performer.SOCKET, submitted=True),
    "shutdown": Operation(Arguments.of({"how"}), Performer.SOCKET),
    "close": Operation(Arguments.of(), Performer.SOCKET),
    "setblocking": Operation(Arguments.of({"blocking"}), Performer.SOCKET),
    "settimeout": Operation(Arguments.of({"timeout"}), Performer.SOCKET),
    "register": Operation(Arguments.of({"events"}, {"trigger", "sock"}), Performer.READINESS),
    "modify": Operation(Arguments.of({"events"}, {"trigger", "sock"}), Performer.READINESS),
    "unregister": Operation(Arguments.of((), {"sock"}), Performer.READINESS),
    "wait": Operation(Arguments.of({"timeout"}, {"sock"}), Performer.READINESS),
    "cancel": Operation(Arguments.of({"target"}), Performer.RUNNER),
    "pause": Operation(Arguments.of(), Performer.DRIVER),
    "resume": Operation(Arguments.of(), Performer.DRIVER),
}
CALL_COMMON = frozenset({"call", "as", "repeat", "expect", "name", "after", "limit", "conn", "setup"})

PEERS: dict[str, Arguments] = {
    "send": Arguments.of({"data"}),
    "read": Arguments.of({"size"}, {"expect"}),
    "shutdown": Arguments.of({"how"}),
    "close": Arguments.of(),
    "reset": Arguments.of(),
    "accept": Arguments.of(),
    "connect": Arguments.of(),
    "steal": Arguments.of({"size"}, {"expect"}),
    "fill_backlog": Arguments.of(),
}
PEER_COMMON = frozenset({"peer", "name", "after", "limit", "conn", "setup"})


def performed_by(performer: Performer) -> list[str]:
    """The operations `performer` performs, in table order."""
    return [name for name, operation in CALLS.items() if operation.performer is performer]


def submitted() -> list[str]:
    """The operations a CompletionDriver submits, in table order."""
    return [name for name, operation in CALLS.items() if operation.submitted]
