"""The driver contract: what an implementation under test must provide.

A driver performs the primitive operations of the I/O models it declares, on
sockets that sockspec's connection factory made. The runner never performs an
implementation's operation itself: every recv, send, accept and connect of the
implementation's side goes through these methods, so what is judged is what the
driver did.

Rules of this module:
- the contract is an abstract class whose docstrings state each method's
  timing contract; a reference driver is a faithful, thin use of one stack;
- errors are Python's own: a driver lets OSError subclasses (BlockingIOError,
  TimeoutError, ConnectionResetError, ...) propagate unchanged; sockspec maps
  them to portable kinds (sockspec.language.errorkinds) itself;
- a driver keeps no state between behaviours that changes results.
"""

from __future__ import annotations

import abc
import socket
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from sockspec.language.model import Model

# Flags a spec may name, mapped to the socket module's constants.
FLAG_VALUES: dict[str, int] = {
    "peek": socket.MSG_PEEK,
    "waitall": socket.MSG_WAITALL,
    "dontwait": socket.MSG_DONTWAIT,
}
SHUTDOWN_HOW: dict[str, int] = {
    "read": socket.SHUT_RD,
    "write": socket.SHUT_WR,
    "both": socket.SHUT_RDWR,
}


class Driver(abc.ABC):  # noqa: B024 - the base of every model's contract
    """Base of every driver: a name for reports and the models it declares.

    Behaviours of a model the driver does not declare are reported as not
    applicable, with that reason.
    """

    #: Short name shown in item ids and reports.
    name: ClassVar[str] = "driver"
    #: The models whose behaviours apply to this driver.
    models: ClassVar[frozenset[Model]] = frozenset()
    #: One line saying what the driver is built on.
    description: ClassVar[str] = ""
    #: Optional features a behaviour may require ('edge', 'oneshot', 'rdhup',
    #: 'hangup': error and hang-up reported as events of their own; for completion,
    #: 'kernel_completion': the kernel performs submitted work and posts its completion
    #: while the application's side is paused, 'kernel_send_all': the kernel itself
    #: carries a submitted send to its last byte, 'write_flow_control': a send completes
    #: once the application's side holds its unsent bytes, up to a 64 KiB high-water
    #: mark, and a send past it completes once they are down to 16 KiB);
    #: a behaviour needing one the driver lacks is not applicable.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def release(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release what the driver holds (event loops, threads). Called once after a run."""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this driver cannot run on this machine (e.g. the kernel refuses io_uring), or None.

        Asked before a driver is made: its behaviours are then not applicable, with this reason.
        """
        return None


class SocketDriver(Driver):
    """The blocking and non-blocking models: one call, one kernel request.

    Timing contract, for a socket in blocking mode (`set_blocking(sock, True)`,
    no timeout): a call that needs the kernel to wait (recv on an empty buffer,
    send with full buffers, accept with none pending) does not return until the
    kernel has done the work. In non-blocking mode the same call returns at once,
    with BlockingIOError (EAGAIN) when nothing could be done; recv and send move
    what they can and return that length.
    """

    @abc.abstractmethod
    def set_blocking(self, sock: socket.socket, blocking: bool) -> None:
        """Put the socket in blocking (True) or non-blocking (False) mode. Returns at once."""

    @abc.abstractmethod
    def set_timeout(self, sock: socket.socket, seconds: float | None) -> None:
        """Give blocking calls a time limit (None: no limit; 0: non-blocking). Returns at once.

        With a limit T, a call that would wait longer fails with TimeoutError,
        never before T has passed.
        """

    @abc.abstractmethod
    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        """Receive at most `size` bytes; b'' means the peer shut down writing (EOF).

        Blocking mode: waits until at least one byte or EOF is there (MSG_WAITALL:
        until `size` bytes, EOF or an error), then returns what is buffered, up to
        `size`: a partial copy, not a wait for `size`. Non-blocking mode (or
        MSG_DONTWAIT): returns at once; BlockingIOError when the buffer is empty.
        MSG_PEEK returns the bytes and leaves them in the kernel.
        """

    @abc.abstractmethod
    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        """Queue bytes for the peer and return how many were queued.

        Blocking mode: waits until all of `data` is queued, then returns len(data).
        Non-blocking mode: queues what fits at once and returns that count;
        BlockingIOError when nothing fits.
        """

    @abc.abstractmethod
    def accept(self, listener: socket.socket) -> socket.socket:
        """Take one pending connection from a listening socket.

        Blocking mode: waits for a client. Non-blocking mode: BlockingIOError when
        none is pending.
        """

    @abc.abstractmethod
    def connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> None:
        """Connect to `address`.

        Blocking mode: returns once connected (or raises, e.g. ConnectionRefusedError).
        Non-blocking mode: raises BlockingIOError (EINPROGRESS) at once while the
        handshake goes on.
        """

    @abc.abstractmethod
    def shutdown(self, sock: socket.socket, how: int) -> None:
        """Shut down reading, writing or both (socket.SHUT_*). Returns at once."""

    @abc.abstractmethod
    def close(self, sock: socket.socket) -> None:
        """Close the socket. Returns at once."""


#: Portable readiness events a wait may report for a socket.
EVENTS = frozenset({"read", "write", "error", "hangup", "rdhup", "priority"})


class ReadinessDriver(SocketDriver):
    """Synchronous notification (select, poll, epoll): ask the kernel which sockets are ready.

    The driver keeps one interest set (a selector) for the run. `wait` only asks:
    it never reads or writes a socket, so after a 'read' report the bytes are
    still in the kernel buffer until the process calls recv. The socket
    operations (recv, send, ...) are the non-blocking model's.

    Timing contract of `wait`: timeout 0 returns at once; None waits until an
    event; T > 0 waits until an event or T, never returning empty before T.
    """

    @abc.abstractmethod
    def register(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        """Add interest in `events` ('read', 'write', 'rdhup') with `trigger`
        ('level', 'edge' or 'oneshot'; only those in `capabilities` besides level)."""

    @abc.abstractmethod
    def modify(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        """Change the interest of a registered socket; re-arms a one-shot registration."""

    @abc.abstractmethod
    def unregister(self, sock: socket.socket) -> None:
        """Remove the socket from the interest set."""

    @abc.abstractmethod
    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        """Wait for readiness; return {file descriptor: events} of the ready sockets.

        Events are named from EVENTS: 'read' (data, EOF or a pending connection),
        'write' (send room), 'error', 'hangup' (both directions shut), 'rdhup'
        (the peer shut down writing), 'priority' (urgent data).
        """


class Completion(abc.ABC):
    """A submitted operation: pending at first, completed once, with a result or an error."""

    @abc.abstractmethod
    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once, at completion, from the thread that completes it
        (at once if already complete). sockspec probes kernel state there."""

    @abc.abstractmethod
    def done(self) -> bool:
        """True once the operation has completed (with a result, an error or cancelled)."""

    @abc.abstractmethod
    def result(self) -> object:
        """The operation's result, or raise its error (CancelledError when cancelled).
        Only called after completion."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Ask to cancel. A cancelled recv consumes no byte; an operation that had
        already completed keeps its result."""


class CompletionDriver(Driver):
    """Asynchronous notification: hand the operation over, be told when it is done.

    Every submit returns a pending `Completion` at once, without waiting for the
    peer; the driver's own machinery (an event loop or the kernel) performs the
    operation and completes it. At completion a recv's bytes have already left
    the kernel buffer and are in the result.
    """

    @abc.abstractmethod
    def submit_recv(self, sock: socket.socket, size: int) -> Completion:
        """Receive up to `size` bytes; completes with bytes (b'' at EOF)."""

    @abc.abstractmethod
    def submit_send(self, sock: socket.socket, data: bytes) -> Completion:
        """Send all of `data`; completes (with len(data)) once everything is queued."""

    @abc.abstractmethod
    def submit_accept(self, listener: socket.socket) -> Completion:
        """Accept a connection; completes with the new socket."""

    @abc.abstractmethod
    def submit_connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> Completion:
        """Connect; completes with None once connected."""

    def pause(self) -> None:
        """Stop running the application's side (its event loop) until `resume`."""

    def resume(self) -> None:
        """Run the application's side again after `pause`."""
