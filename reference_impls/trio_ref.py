"""trio as the completion model: start an operation in a task, be told when it is done.

What it is underneath on Linux: trio's run loop waits on epoll (one-shot
registrations), that is readiness. `await stream.receive_some(n)` tries recv()
at once and, on EAGAIN, parks the task until epoll reports the socket readable;
then trio calls recv() itself and the task resumes with the bytes. So when the
operation completes the bytes have already left the kernel buffer; but the copy
is trio's own recv call, made only while trio runs. Paused, trio moves nothing
and the bytes wait in the kernel, which is why this driver does not declare
'kernel_completion' (io_uring does; see uring_ref).

`receive_some(max_bytes)` returns between 1 and max_bytes bytes, and b'' only
at end of stream; `send_all` returns once every byte has been handed to the
kernel. A cancelled receive_some has consumed nothing; a cancelled send_all
may have sent part of its data (trio's stream ABC says so).

Rules of this module:
- trio.run runs on the driver's own thread for its lifetime, with a nursery that
  holds every operation; the caller's thread only hands work over
  (TrioToken.run_sync_soon) and never waits for trio, so every submit returns at once;
- recv and send use trio.SocketStream (receive_some, send_all); accept and
  connect use trio.socket; each socket sockspec made gets one trio socket and
  one stream, made in trio's thread and never closed here (sockspec owns it);
- one submission is one task in its own CancelScope; cancel is that scope's
  cancel(), and the handle finishes when the task has really stopped (with
  trio.Cancelled, or its result if it had already completed);
- trio wraps a socket's OSError in BrokenResourceError; the driver completes
  with the OSError it came from, as the contract asks (errors are Python's own);
- release() resumes a paused trio, cancels the nursery and joins the thread.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from sockspec.driving.drivers import CompletionDriver
from sockspec.language.model import Model
from sockspec.reference_impls._completion import Handle, Parking

#: How long start-up, pause() and release() wait for trio's thread.
THREAD_LIMIT = 5.0

Operation = Callable[[], Awaitable[object]]


def _os_error(exc: BaseException) -> BaseException:
    """The OSError behind trio's BrokenResourceError, else the error itself."""
    if isinstance(exc, trio.BrokenResourceError) and isinstance(exc.__cause__, OSError):
        return exc.__cause__
    return exc


class TrioDriver(CompletionDriver):
    """Completion on trio: SocketStream.receive_some / send_all, trio.socket accept / connect."""

    name = "trio"
    models = frozenset({Model.COMPLETION})
    description = "trio SocketStream.receive_some/send_all and trio.socket accept/connect on its epoll loop"

    def __init__(self) -> None:
        self._started = threading.Event()
        self._parking = Parking("trio", THREAD_LIMIT)
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        # trio's thread only: each stdlib socket's trio socket and stream.
        self._sockets: dict[socket.socket, trio.socket.SocketType] = {}
        self._streams: dict[socket.socket, trio.SocketStream] = {}
        self._thread = threading.Thread(target=trio.run, args=(self._main,), name="sockspec-trio")
        self._thread.daemon = True
        self._thread.start()
        if not self._started.wait(THREAD_LIMIT):
            raise RuntimeError(f"trio did not start within {THREAD_LIMIT} s")

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            self._started.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def _trio_socket(self, sock: socket.socket) -> trio.socket.SocketType:
        if sock not in self._sockets:
            self._sockets[sock] = trio.socket.from_stdlib_socket(sock)
        return self._sockets[sock]

    def _stream(self, sock: socket.socket) -> trio.SocketStream:
        if sock not in self._streams:
            self._streams[sock] = trio.SocketStream(self._trio_socket(sock))
        return self._streams[sock]

    def submit(self, operation: Operation) -> Handle:
        """Run `operation()` as one task in trio; return its pending handle at once."""
        assert self._token is not None and self._nursery is not None
        token, nursery = self._token, self._nursery
        scope = trio.CancelScope()
        handle = Handle(lambda: token.run_sync_soon(scope.cancel))
        token.run_sync_soon(nursery.start_soon, self._run_one, operation, scope, handle)
        return handle

    @staticmethod
    async def _run_one(operation: Operation, scope: trio.CancelScope, handle: Handle) -> None:
        with scope:
            try:
                value = await operation()
            except trio.Cancelled as exc:
                handle.finish(error=exc)
                raise
            except BaseException as exc:  # the operation's error is its outcome
                handle.finish(error=_os_error(exc))
            else:
                handle.finish(value)

    # -- the contract ----------------------------------------------------------

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        return self.submit(lambda: self._stream(sock).receive_some(size))

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        async def send() -> int:
            await self._stream(sock).send_all(data)
            return len(data)

        return self.submit(send)

    def submit_accept(self, listener: socket.socket) -> Handle:
        async def accept() -> socket.socket:
            conn, _address = await self._trio_socket(listener).accept()
            # sockspec takes a stdlib socket: hand the descriptor over.
            return socket.socket(fileno=conn.detach())

        return self.submit(accept)

    def submit_connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> Handle:
        return self.submit(lambda: self._trio_socket(sock).connect(address))

    def pause(self) -> None:
        """Park trio's thread in a callback until resume(): no task runs meanwhile."""
        assert self._token is not None
        self._parking.pause(self._token.run_sync_soon)

    def resume(self) -> None:
        self._parking.resume()

    def release(self) -> None:
        self.resume()
        if self._thread.is_alive() and self._token is not None and self._stop is not None:
            self._token.run_sync_soon(self._stop.set)
            self._thread.join(THREAD_LIMIT)
        if self._thread.is_alive():
            raise RuntimeError("trio's thread did not stop")
