"""io_uring as the completion model: the kernel performs the operation and posts its completion.

What it is: true kernel completion on Linux. A RECV handed to the ring is
performed by the kernel itself when bytes arrive: they leave the socket buffer
and the completion (CQE) is posted to the ring even while the application's
thread is doing something else, or nothing (declared as 'kernel_completion'), and
a SEND asks the kernel for every byte, so it goes on alone until the last one
(declared as 'kernel_send_all'). The driver declares both from how it sets up its
ring and its sends (`capabilities_of`), so a subclass that changes either gets
what it really has.
No event loop, no epoll: raw io_uring system calls through sockspec.reference_impls._uring
(ctypes). At start-up the driver probes the kernel; where io_uring is refused
(ENOSYS, EPERM, kernel.io_uring_disabled, a seccomp filter) its behaviours are
not applicable, with that reason.

Rules of this module:
- one ring, one thread: the ring thread makes the ring, prepares every SQE and
  reaps every CQE, because a request belongs to the thread that submitted it
  (io_uring_enter(2)) and a SINGLE_ISSUER ring to the thread that made it;
  other threads hand commands over through a queue and an eventfd that the
  ring polls, and never wait for the kernel, so every submit returns at once;
- the ring is set up without DEFER_TASKRUN (`SETUP_FLAGS`): the kernel then runs
  its completion work by interrupting the ring thread wherever it is, even parked
  in pause(), so the bytes move while the application does not run; with
  DEFER_TASKRUN it would hold that work until the ring thread next waits in
  io_uring_enter with GETEVENTS, and nothing moves while paused (measured;
  linux-socket-facts B2), so such a ring has no 'kernel_completion';
- SEND carries MSG_WAITALL (`SEND_FLAGS`; a plain SEND may complete short,
  linux-socket-facts D); should a kernel still complete it short, the rest is
  submitted again, by the ring thread: without MSG_WAITALL a send would go on
  only while the application runs, so such a driver has no 'kernel_send_all';
- cancel is IORING_OP_ASYNC_CANCEL; the operation's own CQE finishes the handle
  (-ECANCELED: CancelledError, with nothing consumed; or its result, if it won);
- buffers and addresses stay referenced by their operation until its CQE is reaped;
- release() resumes, cancels and reaps what is in flight, closes the ring in its
  thread, joins the thread and closes the eventfd.
"""

from __future__ import annotations

import abc
import concurrent.futures
import contextlib
import ctypes
import errno
import os
import queue
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from sockspec.driving.drivers import CompletionDriver
from sockspec.language.model import Model
from sockspec.reference_impls._completion import Handle
from sockspec.reference_impls._uring import IORING_SETUP_DEFER_TASKRUN, Op, Ring, sockaddr, unavailable

#: How long start-up, pause() and release() wait for the ring thread.
THREAD_LIMIT = 5.0
ENTRIES = 64
#: user_data of the eventfd poll that wakes the ring thread for commands.
WAKE = 0
#: Marks the user_data of a cancel request (its CQE only says whether the target was found).
CANCEL_TAG = 1 << 63
#: io_uring_setup(2) flags of the ring: none (no DEFER_TASKRUN, see the module's rules).
SETUP_FLAGS = 0
#: Flags of every SEND: the kernel carries it to the last byte (MSG_WAITALL), and a peer that has
#: gone makes it fail with EPIPE rather than raise SIGPIPE.
SEND_FLAGS = socket.MSG_WAITALL | socket.MSG_NOSIGNAL


def capabilities_of(setup_flags: int, send_flags: int) -> frozenset[str]:
    """What the kernel does alone for a driver whose ring is set up with `setup_flags` and whose
    SENDs carry `send_flags`: 'kernel_completion' unless the ring defers its completion work to
    io_uring_enter (IORING_SETUP_DEFER_TASKRUN); 'kernel_send_all' when a SEND asks the kernel
    for every byte (MSG_WAITALL)."""
    found = set()
    if not setup_flags & IORING_SETUP_DEFER_TASKRUN:
        found.add("kernel_completion")
    if send_flags & socket.MSG_WAITALL:
        found.add("kernel_send_all")
    return frozenset(found)


def _error(res: int) -> BaseException:
    """The exception a negative CQE result stands for (OSError picks the subclass by errno)."""
    if res == -errno.ECANCELED:
        return concurrent.futures.CancelledError("cancelled by IORING_OP_ASYNC_CANCEL")
    return OSError(-res, os.strerror(-res))


#: How an operation asks the driver to cancel it.
Cancel = Callable[["_Operation"], None]


class _Operation(abc.ABC):
    """One submitted operation: what it asks of the ring and what a CQE result means."""

    def __init__(self, request_cancel: Cancel, sock: socket.socket) -> None:
        self.handle = Handle(lambda: request_cancel(self))
        self.sock = sock
        self.user_data = WAKE

    @abc.abstractmethod
    def prepare(self, ring: Ring, user_data: int) -> None:
        """Write this operation's SQE."""

    @abc.abstractmethod
    def value(self, res: int) -> object:
        """The result a non-negative CQE result stands for."""

    def complete(self, res: int) -> bool:
        """Finish the handle from a CQE result; False when the operation goes on (submitted again)."""
        if res < 0:
            self.handle.finish(error=_error(res))
        else:
            self.handle.finish(self.value(res))
        return True


class _Recv(_Operation):
    def __init__(self, request_cancel: Cancel, sock: socket.socket, size: int) -> None:
        super().__init__(request_cancel, sock)
        self.size = size
        self.buffer = ctypes.create_string_buffer(max(size, 1))

    def prepare(self, ring: Ring, user_data: int) -> None:
        ring.prepare(
            Op.RECV,
            self.sock.fileno(),
            addr=ctypes.addressof(self.buffer),
            length=self.size,
            user_data=user_data,
        )

    def value(self, res: int) -> object:
        return ctypes.string_at(self.buffer, res)


class _Send(_Operation):
    def __init__(self, request_cancel: Cancel, sock: socket.socket, data: bytes, flags: int) -> None:
        super().__init__(request_cancel, sock)
        self.buffer = ctypes.create_string_buffer(data, len(data))
        self.total = len(data)
        self.sent = 0
        self.flags = flags

    def prepare(self, ring: Ring, user_data: int) -> None:
        ring.prepare(
            Op.SEND,
            self.sock.fileno(),
            addr=ctypes.addressof(self.buffer) + self.sent,
            length=self.total - self.sent,
            op_flags=self.flags,
            user_data=user_data,
        )

    def value(self, res: int) -> object:
        return self.sent + res

    def complete(self, res: int) -> bool:
        if res > 0 and self.sent + res < self.total:
            self.sent += res
            if self.handle.cancel_requested:
                self.handle.finish(error=_error(-errno.ECANCELED))
                return True
            return False
        return super().complete(res)


class _Accept(_Operation):
    def prepare(self, ring: Ring, user_data: int) -> None:
        ring.prepare(Op.ACCEPT, self.sock.fileno(), op_flags=socket.SOCK_CLOEXEC, user_data=user_data)

    def value(self, res: int) -> object:
        return socket.socket(fileno=res)


class _Connect(_Operation):
    def __init__(self, request_cancel: Cancel, sock: socket.socket, address: tuple[Any, ...] | str) -> None:
        super().__init__(request_cancel, sock)
        self.address = sockaddr(sock.family, address)

    def prepare(self, ring: Ring, user_data: int) -> None:
        ring.prepare(
            Op.CONNECT,
            self.sock.fileno(),
            addr=ctypes.addressof(self.address),
            off=ctypes.sizeof(self.address),
            user_data=user_data,
        )

    def value(self, res: int) -> object:
        return None


class UringDriver(CompletionDriver):
    """Completion on raw io_uring: RECV, SEND, ACCEPT, CONNECT and ASYNC_CANCEL on one ring."""

    name = "io_uring"
    models = frozenset({Model.COMPLETION})
    description = "io_uring (raw system calls via ctypes): the kernel performs each operation, posts a CQE"
    #: io_uring_setup(2) flags of its ring, and the flags of its SENDs; they decide its capabilities.
    setup_flags: ClassVar[int] = SETUP_FLAGS
    send_flags: ClassVar[int] = SEND_FLAGS
    capabilities = capabilities_of(SETUP_FLAGS, SEND_FLAGS)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass declares what its own flags give, unless it states its capabilities itself."""
        super().__init_subclass__(**kwargs)
        if "capabilities" not in cls.__dict__:
            cls.capabilities = capabilities_of(cls.setup_flags, cls.send_flags)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return unavailable(flags=cls.setup_flags)

    def __init__(self) -> None:
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        # The ring thread only: operations in flight by user_data, and the next user_data.
        self._in_flight: dict[int, _Operation] = {}
        self._next = 1
        self._stopping = False
        self._parked = threading.Event()
        self._resumed = threading.Event()
        self._resumed.set()
        self._ring: Ring
        self._made = threading.Event()
        self._setup_error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="sockspec-io_uring", daemon=True)
        self._thread.start()
        if not self._made.wait(THREAD_LIMIT):
            raise RuntimeError(f"the io_uring ring thread did not start within {THREAD_LIMIT} s")
        if self._setup_error is not None:
            self._thread.join(THREAD_LIMIT)
            os.close(self._wake)
            raise self._setup_error

    # -- the ring thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            ring = self._ring = Ring(ENTRIES, self.setup_flags)
        except OSError as exc:
            self._setup_error = exc
            return
        finally:
            self._made.set()
        try:
            self._arm_wake()
            while not (self._stopping and not self._in_flight):
                ring.submit(wait=1)
                for cqe in ring.completions():
                    self._dispatch(cqe.user_data, cqe.res)
        finally:
            ring.close()
            for operation in self._in_flight.values():
                operation.handle.finish(error=RuntimeError("the io_uring driver stopped"))
            self._in_flight.clear()

    def _arm_wake(self) -> None:
        self._ring.prepare(Op.POLL_ADD, self._wake, op_flags=select.POLLIN, user_data=WAKE)

    def _dispatch(self, user_data: int, res: int) -> None:
        if user_data == WAKE:
            self._on_wake()
            return
        operation = self._in_flight.pop(user_data, None)
        if operation is not None and not operation.complete(res):
            self._start(operation)

    def _on_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._wake)
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            command()
        if not self._stopping:
            self._arm_wake()

    def _start(self, operation: _Operation) -> None:
        user_data, self._next = self._next, self._next + 1
        operation.user_data = user_data
        self._in_flight[user_data] = operation
        operation.prepare(self._ring, user_data)

    def _cancel(self, operation: _Operation) -> None:
        if operation.user_data in self._in_flight:
            target = operation.user_data
            self._ring.prepare(Op.ASYNC_CANCEL, addr=target, user_data=CANCEL_TAG | target)

    def _park(self) -> None:
        # Hand the kernel what is prepared, then stop: from here on only the kernel works.
        self._ring.submit()
        self._parked.set()
        self._resumed.wait()

    def _stop(self) -> None:
        self._stopping = True
        for operation in list(self._in_flight.values()):
            self._cancel(operation)

    # -- other threads ---------------------------------------------------------

    def _post(self, command: Callable[[], None]) -> None:
        self._commands.put(command)
        os.eventfd_write(self._wake, 1)

    def _submit(self, operation: _Operation) -> Handle:
        self._post(lambda: self._start(operation))
        return operation.handle

    def _request_cancel(self, operation: _Operation) -> None:
        self._post(lambda: self._cancel(operation))

    # -- the contract ----------------------------------------------------------

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        return self._submit(_Recv(self._request_cancel, sock, size))

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        return self._submit(_Send(self._request_cancel, sock, data, self.send_flags))

    def submit_accept(self, listener: socket.socket) -> Handle:
        return self._submit(_Accept(self._request_cancel, listener))

    def submit_connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> Handle:
        return self._submit(_Connect(self._request_cancel, sock, address))

    def pause(self) -> None:
        """Park the ring thread until resume(): it reaps nothing and submits nothing meanwhile."""
        self._resumed.clear()
        self._parked.clear()
        self._post(self._park)
        if not self._parked.wait(THREAD_LIMIT):
            raise TimeoutError(f"the io_uring ring thread did not pause within {THREAD_LIMIT} s")

    def resume(self) -> None:
        self._resumed.set()

    def release(self) -> None:
        self.resume()
        if self._thread.is_alive():
            self._post(self._stop)
            self._thread.join(THREAD_LIMIT)
        if self._thread.is_alive():
            raise RuntimeError("the io_uring ring thread did not stop")
        os.close(self._wake)
