"""asyncio as the completion model: submit an awaitable operation, be told when it is done.

What it is underneath on Linux: asyncio's default event loop is a selector loop
on epoll, that is readiness. `loop.sock_recv` first tries recv(); on EAGAIN it
asks epoll to report the socket readable, and when it is, the loop calls recv()
itself and resolves the future with the bytes. So when the application hears of
the completion the bytes have already left the kernel buffer, as the completion
model says; but the copy is the loop's own recv call, made only while the loop
runs. Paused, the loop moves nothing and the bytes wait in the kernel, which is
why these drivers do not declare 'kernel_completion' (io_uring does; see
uring_ref). IOCP completion (the proactor loop) exists only on Windows.

Two drivers:
- `AsyncioDriver` (`--impl=asyncio`): loop.sock_recv / sock_sendall /
  sock_accept / sock_connect on the socket sockspec made;
- `AsyncioStreamsDriver` (`--impl=asyncio-streams`): StreamReader.read(n) and
  StreamWriter.write + drain() over asyncio.open_connection(sock=...); accept and
  connect are the loop's sock_accept / sock_connect, since streams wrap
  connected sockets. The transport gets a duplicate descriptor of the socket
  (it closes what it owns). A stream's transport reads eagerly (into the StreamReader,
  up to twice its 64 KiB limit) whether or not a read is pending, and drain()
  waits while the transport holds more than its high-water mark (64 KiB),
  resuming at the low-water mark (16 KiB): that is its backpressure, declared as
  'write_flow_control' (the transport's default marks, which it keeps).

Rules of this module:
- the event loop runs on its own thread for the driver's lifetime; the caller's
  thread only hands work over (call_soon_threadsafe) and never waits for the loop,
  so every submit returns at once;
- one submission is one task on the loop; its handle is finished by the task's
  done callback, in the loop's thread, with the task's result or error;
- cancel is task.cancel(): the handle finishes when the task has really stopped
  (CancelledError, or the result if the operation had already completed);
- sockets are put in non-blocking mode, as asyncio's sock_* methods require;
- release() resumes a paused loop, cancels what is still running, closes the
  streams, stops the loop, closes it and joins its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from sockspec.driving.drivers import CompletionDriver
from sockspec.language.model import Model
from sockspec.reference_impls._completion import Handle, Parking

#: How long pause() and release() wait for the loop's thread.
THREAD_LIMIT = 5.0

Operation = Callable[[], Coroutine[Any, Any, object]]
#: Makes the handle of a submission from its cancel request.
HandleFactory = Callable[[Callable[[], None]], Handle]


class _Submission:
    """One operation on the loop: the handle the caller holds, and the task once started."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, operation: Operation, make_handle: HandleFactory
    ) -> None:
        self.loop = loop
        self.operation = operation
        self.task: asyncio.Task[object] | None = None
        self.handle = make_handle(self._request_cancel)

    def start(self) -> None:
        """In the loop's thread: run the operation as a task."""
        self.task = self.loop.create_task(self.operation())
        self.task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        try:
            value = task.result()
        except BaseException as exc:  # the operation's error, cancellation included, is its outcome
            self.handle.finish(error=exc)
        else:
            self.handle.finish(value)

    def _request_cancel(self) -> None:
        # Queued after start(): call_soon_threadsafe keeps the order.
        self.loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


class AsyncioDriver(CompletionDriver):
    """Completion on asyncio's loop.sock_* methods (epoll readiness underneath)."""

    name = "asyncio"
    models = frozenset({Model.COMPLETION})
    description = "asyncio loop.sock_recv/sock_sendall/sock_accept/sock_connect on its epoll loop"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._parking = Parking(f"the {self.name} event loop", THREAD_LIMIT)
        self._thread = threading.Thread(target=self._run, name=f"sockspec-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def submit(self, operation: Operation, make_handle: HandleFactory = Handle) -> Handle:
        """Run `operation()` as one task on the loop; return its pending handle at once."""
        submission = _Submission(self.loop, operation, make_handle)
        self.loop.call_soon_threadsafe(submission.start)
        return submission.handle

    # -- the contract ----------------------------------------------------------

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(False)
        return self.submit(lambda: self.loop.sock_recv(sock, size))

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        sock.setblocking(False)

        async def send() -> int:
            await self.loop.sock_sendall(sock, data)
            return len(data)

        return self.submit(send)

    def submit_accept(self, listener: socket.socket) -> Handle:
        listener.setblocking(False)

        async def accept() -> socket.socket:
            conn, _address = await self.loop.sock_accept(listener)
            return conn

        return self.submit(accept)

    def submit_connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> Handle:
        sock.setblocking(False)
        return self.submit(lambda: self.loop.sock_connect(sock, address))

    def pause(self) -> None:
        """Park the loop's thread in a callback until resume(): the loop runs nothing meanwhile."""
        self._parking.pause(self.loop.call_soon_threadsafe)

    def resume(self) -> None:
        self._parking.resume()

    def release(self) -> None:
        self.resume()
        if not self._thread.is_alive():
            return
        stopping = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        try:
            stopping.result(THREAD_LIMIT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(THREAD_LIMIT)
        if self._thread.is_alive():
            raise RuntimeError(f"the {self.name} event loop thread did not stop")

    async def _shutdown(self) -> None:
        """In the loop: cancel every other task and let it finish."""
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AsyncioStreamsDriver(AsyncioDriver):
    """Completion on asyncio streams: StreamReader.read and StreamWriter.write + drain."""

    name = "asyncio-streams"
    description = "asyncio streams (StreamReader.read, StreamWriter.write + drain) on its epoll loop"
    #: A send completes once the transport holds its unsent bytes, up to the high-water mark.
    capabilities = frozenset({"write_flow_control"})

    def __init__(self) -> None:
        super().__init__()
        # The loop's thread only: each socket's streams, opened once.
        self._streams: dict[socket.socket, asyncio.Future[Streams]] = {}

    async def _open(self, sock: socket.socket) -> Streams:
        opening = self._streams.get(sock)
        if opening is None:
            # The transport owns (and at the end closes) what it is given: give it a duplicate
            # descriptor of the same socket, so the socket sockspec made stays sockspec's.
            opening = asyncio.ensure_future(asyncio.open_connection(sock=sock.dup()))
            self._streams[sock] = opening
        # Shielded: cancelling one operation does not cancel the streams other operations share.
        return await asyncio.shield(opening)

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        async def read() -> bytes:
            reader, _writer = await self._open(sock)
            return await reader.read(size)

        return self.submit(read)

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        async def write() -> int:
            _reader, writer = await self._open(sock)
            writer.write(data)
            await writer.drain()
            return len(data)

        return self.submit(write)

    async def _shutdown(self) -> None:
        await super()._shutdown()
        for opening in self._streams.values():
            if opening.done() and not opening.cancelled() and opening.exception() is None:
                _reader, writer = opening.result()
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        self._streams.clear()
