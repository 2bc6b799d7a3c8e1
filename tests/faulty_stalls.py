"""Stall drivers: a reference driver that stalls 50 ms in exactly one call that must return at once.

Rules of this module:
- each stall driver is a reference driver (sockspec.reference_impls) with one
  call changed: it sleeps `STALL` before doing what the reference does, and only
  where that call must return at once (a non-blocking recv, send, accept or
  connect; a readiness wait with timeout 0; a completion submit; a blocking
  recv or send whose outcome is already there); its docstring says which;
- `stalls` names the operation it stalls, `covers` maps each behaviour whose
  "at once" expectation covers that call to a substring of the failure's text;
  `reference` is the registry name of the driver it changes, which passes those
  same behaviours (tests/test_stalls.py shows both with default settings);
- the stall is 50 ms because the measured tolerance never exceeds 40 ms
  (sockspec.driving.calibration.CEILING): such a stall is caught on a quiet
  machine and a loaded one alike, since a call's time only grows with load;
- `FAULTY` is empty: the falsifiability matrix (tests/test_matrix.py) judges with
  a fixed 250 ms tolerance, under which a 50 ms stall passes; these drivers are
  judged with the measured tolerance instead, and listed in `STALLS`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from sockspec.driving.drivers import Driver
from sockspec.reference_impls._completion import Handle
from sockspec.reference_impls.asyncio_ref import AsyncioDriver
from sockspec.reference_impls.selectors_ref import EpollDriver
from sockspec.reference_impls.sockets_ref import SocketsDriver

#: How long each stall lasts: more than the largest tolerance the calibration can derive.
STALL = 0.050
#: The phrase every failure of a stalled "at once" call shows.
AT_ONCE = "expected it to return at once (within the"


def _at_once(*behaviours: str) -> Mapping[str, str]:
    """`covers` for behaviours whose failure, under the stall, is a call that did not return at once."""
    return dict.fromkeys(behaviours, AT_ONCE)


def _stall() -> None:
    time.sleep(STALL)


def _nonblocking(sock: socket.socket, flags: int = 0) -> bool:
    """Whether this call on `sock` is a non-blocking one (the socket's mode, or MSG_DONTWAIT)."""
    return sock.gettimeout() == 0.0 or bool(flags & socket.MSG_DONTWAIT)


def _blocking(sock: socket.socket) -> bool:
    """Whether `sock` is in blocking mode without a timeout (settimeout's calls are not at once)."""
    return sock.gettimeout() is None


class Stall(Driver):
    """What every stall driver says of itself (mixed in before the reference driver it changes)."""

    name: ClassVar[str]
    stalls: ClassVar[str]
    reference: ClassVar[str]
    covers: ClassVar[Mapping[str, str]]


class NonblockingRecvStall(Stall, EpollDriver):
    """A non-blocking recv (or one with MSG_DONTWAIT) that sleeps 50 ms before it asks the kernel."""

    name = "stall-nonblocking-recv"
    stalls = "recv"
    reference = "epoll"
    covers = _at_once(
        "nonblocking.recv.empty-would-block",
        "nonblocking.recv.partial-copy",
        "nonblocking.recv.data-after-would-block",
        "nonblocking.recv.leaves-rest",
        "nonblocking.recv.eof-not-would-block",
        "nonblocking.recv.dontwait-one-call",
        "nonblocking.recv.zero-size",
        "nonblocking.recv.reset-after-data",
        "nonblocking.recv.other-work-meanwhile",
        "nonblocking.mode.setblocking-switches",
        "nonblocking.mode.settimeout-zero",
        "nonblocking.connect.refused-read",
        "readiness.hint.steal",
        "readiness.connect.refused-reported-once",
    )

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if _nonblocking(sock, flags):
            _stall()
        return super().recv(sock, size, flags)


class NonblockingSendStall(Stall, EpollDriver):
    """A non-blocking send that sleeps 50 ms before it queues anything."""

    name = "stall-nonblocking-send"
    stalls = "send"
    reference = "epoll"
    covers = _at_once(
        "nonblocking.send.partial-then-would-block",
        "nonblocking.send.fits-whole",
        "nonblocking.send.after-peer-close",
        "nonblocking.recv.other-work-meanwhile",
    )

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        if _nonblocking(sock, flags):
            _stall()
        return super().send(sock, data, flags)


class NonblockingAcceptStall(Stall, EpollDriver):
    """A non-blocking accept that sleeps 50 ms before it looks at the queue of pending connections."""

    name = "stall-nonblocking-accept"
    stalls = "accept"
    reference = "epoll"
    covers = _at_once("nonblocking.accept.none-pending", "nonblocking.accept.pending")

    def accept(self, listener: socket.socket) -> socket.socket:
        if _nonblocking(listener):
            _stall()
        return super().accept(listener)


class NonblockingConnectStall(Stall, EpollDriver):
    """A non-blocking connect that sleeps 50 ms before it starts the handshake."""

    name = "stall-nonblocking-connect"
    stalls = "connect"
    reference = "epoll"
    covers = _at_once(
        "nonblocking.connect.in-progress",
        "nonblocking.connect.refused-read",
        "nonblocking.connect.unix-backlog-would-block",
    )

    def connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> None:
        if _nonblocking(sock):
            _stall()
        super().connect(sock, address)


class ZeroTimeoutWaitStall(Stall, EpollDriver):
    """An epoll wait with timeout 0 that sleeps 50 ms before it asks the kernel."""

    name = "stall-zero-timeout-wait"
    stalls = "wait"
    reference = "epoll"
    covers = _at_once(
        "readiness.read.data-arrives",
        "readiness.read.eof",
        "readiness.read.interest-only",
        "readiness.accept.pending-connection",
        "readiness.write.full-not-writable",
        "readiness.wait.timeout-zero",
        "readiness.wait.per-socket",
        "readiness.level.repeats",
        "readiness.oneshot.silent-until-rearmed",
        "readiness.modify.changes-interest",
        "readiness.reset.error-hangup",
        "readiness.hint.steal",
    )

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        if timeout == 0:
            _stall()
        return super().wait(timeout)


class SubmitRecvStall(Stall, AsyncioDriver):
    """An asyncio submit of a recv that sleeps 50 ms before it hands the operation to the loop."""

    name = "stall-submit-recv"
    stalls = "submit"
    reference = "asyncio"
    covers = _at_once(
        "completion.recv.pending-at-once",
        "completion.recv.completes-after-peer",
        "completion.recv.drained-at-completion",
        "completion.recv.at-most-size",
        "completion.recv.cancel-consumes-nothing",
        "completion.many.independent",
        "completion.recv.eof",
        "completion.recv.data-before-eof",
        "completion.recv.reset",
        "completion.accept.after-connect",
        "completion.connect.completes",
    )

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        _stall()
        return super().submit_recv(sock, size)


class BlockingRecvStall(Stall, SocketsDriver):
    """A blocking recv that sleeps 50 ms before it asks the kernel, even when its outcome is there."""

    name = "stall-blocking-recv"
    stalls = "recv"
    reference = "sockets"
    covers = _at_once(
        "blocking.recv.partial-copy",
        "blocking.recv.data-before-eof",
        "blocking.recv.zero-size",
        "blocking.recv.reset-after-data",
        "blocking.recv.reset-once",
    )

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if _blocking(sock) and not flags & socket.MSG_DONTWAIT:
            _stall()
        return super().recv(sock, size, flags)


class BlockingSendStall(Stall, SocketsDriver):
    """A blocking send that sleeps 50 ms before it queues anything, even when the bytes fit."""

    name = "stall-blocking-send"
    stalls = "send"
    reference = "sockets"
    covers = _at_once("blocking.send.returns-when-queued", "blocking.send.after-peer-close")

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        if _blocking(sock):
            _stall()
        return super().send(sock, data, flags)


#: The stall drivers, for tests/test_stalls.py.
STALLS: tuple[type[Stall], ...] = (
    NonblockingRecvStall,
    NonblockingSendStall,
    NonblockingAcceptStall,
    NonblockingConnectStall,
    ZeroTimeoutWaitStall,
    SubmitRecvStall,
    BlockingRecvStall,
    BlockingSendStall,
)
#: None here for the falsifiability matrix: see this module's rules.
FAULTY: tuple[type[Driver], ...] = ()
