"""Faulty completion drivers: the negative controls that prove every completion behaviour can fail.

Rules of this module:
- each faulty driver breaks one rule of the completion model, the way a real
  implementation might get it wrong; its docstring says the defect in one line;
  most are the asyncio reference driver with one operation changed, the rest the
  asyncio-streams or io_uring reference driver with one setting changed;
- `breaks` maps every behaviour id the defect fails, wherever it shows, to a
  substring expected in that failure's mismatch text, so a failure for another
  reason is noticed; every other behaviour of its models must pass (the
  matrix, tests/test_matrix.py, checks both), so a defect is kept narrow;
- real sockets and real event loops only, no mocks; nothing spins: every faulty
  operation ends once the runner shuts its socket down or cancels it, and
  release() joins every thread the driver started;
- `FAULTY` lists the classes, for the falsifiability matrix.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from sockspec.driving.drivers import CompletionDriver
from sockspec.language.model import Model
from sockspec.reference_impls._completion import Handle
from sockspec.reference_impls._uring import IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER
from sockspec.reference_impls.asyncio_ref import AsyncioDriver, AsyncioStreamsDriver, Streams
from sockspec.reference_impls.uring_ref import UringDriver

THREAD_LIMIT = 5.0


class FaultyCompletionDriver(AsyncioDriver):
    """Base of the faulty asyncio drivers: the reference driver plus what each defect must fail."""

    name = "faulty-completion"
    #: Behaviour id -> a substring of the mismatch text its failure must show.
    breaks: ClassVar[dict[str, str]] = {}

    async def readable(self, sock: socket.socket) -> None:
        """Wait until the loop's selector reports `sock` readable."""
        await self._ready(sock, self.loop.add_reader, self.loop.remove_reader)

    async def writable(self, sock: socket.socket) -> None:
        """Wait until the loop's selector reports `sock` writable."""
        await self._ready(sock, self.loop.add_writer, self.loop.remove_writer)

    async def _ready(
        self,
        sock: socket.socket,
        add: Callable[..., object],
        remove: Callable[[socket.socket], object],
    ) -> None:
        ready: asyncio.Future[None] = self.loop.create_future()

        def report() -> None:
            if not ready.done():
                ready.set_result(None)

        add(sock, report)
        try:
            await ready
        finally:
            remove(sock)


def _completed(value: object = None, error: BaseException | None = None) -> Handle:
    handle = Handle(lambda: None)
    handle.finish(value, error)
    return handle


class BlockingSubmit(FaultyCompletionDriver):
    """A recv whose submission performs a blocking recv itself and returns an already completed handle."""

    name = "faulty-completion-blocking-submit"
    breaks = {
        "completion.recv.pending-at-once": "it blocks",
        "completion.recv.completes-after-peer": "it blocks",
        "completion.recv.drained-at-completion": "it blocks",
        "completion.recv.cancel-consumes-nothing": "it blocks",
        "completion.many.independent": "it blocks",
        "completion.recv.eof": "it blocks",
        "completion.recv.reset": "it blocks",
    }

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(True)
        return _completed(sock.recv(size))


class EagerRecv(FaultyCompletionDriver):
    """A recv that completes at submission with whatever is buffered, b'' when nothing is."""

    name = "faulty-completion-eager-recv"
    breaks = {
        "completion.recv.pending-at-once": "h pending True",
        "completion.recv.completes-after-peer": "not before 'send'",
        "completion.recv.drained-at-completion": "not before 'send'",
        "completion.recv.cancel-consumes-nothing": "expected h pending True, observed False",
        "completion.many.independent": "expected one pending True, observed False",
        "completion.recv.eof": "not before 'fin'",
        "completion.recv.reset": "not before 'rst'",
    }

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        try:
            return _completed(sock.recv(size, socket.MSG_DONTWAIT))
        except BlockingIOError:
            return _completed(b"")


class _ReadOnResult(Handle):
    """A handle finished at readiness; its bytes are read only when result() is asked for."""

    def __init__(self, request_cancel: Callable[[], None], sock: socket.socket, size: int) -> None:
        super().__init__(request_cancel)
        self.sock = sock
        self.size = size

    def result(self) -> object:
        super().result()
        return self.sock.recv(self.size)


class ReadinessRecv(FaultyCompletionDriver):
    """A recv that completes when the socket becomes readable and reads only when the result is asked for."""

    name = "faulty-completion-readiness-recv"
    breaks = {"completion.recv.drained-at-completion": "bytes left in the kernel buffer"}

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(False)
        return self.submit(lambda: self.readable(sock), lambda cancel: _ReadOnResult(cancel, sock, size))


class FillingRecv(FaultyCompletionDriver):
    """A recv that completes only once `size` bytes have arrived (or EOF), like readexactly."""

    name = "faulty-completion-filling-recv"
    breaks = {
        "completion.recv.completes-after-peer": "still blocked",
        "completion.recv.pending-at-once": "still blocked",
        "completion.recv.drained-at-completion": "still blocked",
        "completion.recv.at-most-size": "still blocked",
        "completion.recv.cancel-consumes-nothing": "still blocked",
        "completion.many.independent": "still blocked",
        "completion.accept.after-connect": "still blocked",  # its recv(16) of b'hi'
        "completion.connect.completes": "still blocked",  # its recv(16) of b'hi'
    }

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(False)

        async def fill() -> bytes:
            got = b""
            while len(got) < size:
                chunk = await self.loop.sock_recv(sock, size - len(got))
                if not chunk:
                    break
                got += chunk
            return got

        return self.submit(fill)


class OversizeRecv(FaultyCompletionDriver):
    """A recv that ignores the size asked and completes with everything buffered (up to 64 KiB)."""

    name = "faulty-completion-oversize-recv"
    breaks = {"completion.recv.at-most-size": "expected data b'0123'"}

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        return super().submit_recv(sock, 65536)


class _CancelledAtOnce(Handle):
    """A handle whose cancel reports cancelled at once and leaves the operation running."""

    def cancel(self) -> None:
        self.finish(error=concurrent.futures.CancelledError())


class LossyCancel(FaultyCompletionDriver):
    """A cancel that reports the recv cancelled but leaves it running, so it swallows the next bytes."""

    name = "faulty-completion-lossy-cancel"
    breaks = {"completion.recv.cancel-consumes-nothing": "still blocked"}

    def __init__(self) -> None:
        super().__init__()
        self._turns: dict[socket.socket, asyncio.Lock] = {}  # the loop's thread only

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(False)

        async def in_turn() -> bytes:
            # One reader at a time per socket, in submission order.
            async with self._turns.setdefault(sock, asyncio.Lock()):
                return await self.loop.sock_recv(sock, size)

        return self.submit(in_turn, _CancelledAtOnce)


class ShortSend(FaultyCompletionDriver):
    """A send that completes after one partial send() with the count it moved."""

    name = "faulty-completion-short-send"
    breaks = {
        "completion.send.waits-for-room": "expected data 1048576 bytes",
        "completion.send.cancel-sends-a-prefix": "expected s pending True, observed False",
    }

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        sock.setblocking(False)

        async def send_once() -> int:
            await self.writable(sock)
            return sock.send(data)

        return self.submit(send_once)


class UndrainedSend(AsyncioStreamsDriver):
    """A streams send that writes without awaiting drain(), so it completes with the bytes still buffered."""

    name = "faulty-completion-undrained-send"
    breaks: ClassVar[dict[str, str]] = {
        "completion.send.waits-for-room": "not before 'drain'",
        "completion.send.write-flow-control": "expected past pending True, observed False",
        "completion.send.cancel-sends-a-prefix": "expected s pending True, observed False",
    }

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        async def write() -> int:
            _reader, writer = await self._open(sock)
            writer.write(data)
            return len(data)

        return self.submit(write)


class _WriteMarks(AsyncioStreamsDriver):
    """asyncio streams whose transports pause and resume writing at other marks than the defaults."""

    high: ClassVar[int] = 65536
    low: ClassVar[int] = 16384
    breaks: ClassVar[dict[str, str]] = {}

    async def _open(self, sock: socket.socket) -> Streams:
        streams = await super()._open(sock)
        streams[1].transport.set_write_buffer_limits(high=self.high, low=self.low)
        return streams


class UnbufferedSend(_WriteMarks):
    """A streams send that completes only once the kernel has taken every byte (both write marks 0)."""

    name = "faulty-completion-unbuffered-send"
    high, low = 0, 0
    breaks: ClassVar[dict[str, str]] = {"completion.send.write-flow-control": "still blocked"}


class EarlyResumeSend(_WriteMarks):
    """A paused streams send that resumes as soon as the buffer is back within the high-water mark."""

    name = "faulty-completion-early-resume"
    high, low = 65536, 65536
    breaks: ClassVar[dict[str, str]] = {
        "completion.send.write-flow-control": "expected past pending True, observed False"
    }


class LateResumeSend(_WriteMarks):
    """A paused streams send that resumes only once the buffer is empty (low-water mark 0)."""

    name = "faulty-completion-late-resume"
    high, low = 65536, 0
    breaks: ClassVar[dict[str, str]] = {"completion.send.write-flow-control": "still blocked"}


class _Uncancellable(Handle):
    """A handle that ignores a cancel request: the operation goes on to its own end."""

    def cancel(self) -> None:
        pass


class UncancellableSend(FaultyCompletionDriver):
    """A send that ignores cancellation and completes only once every byte has gone out."""

    name = "faulty-completion-uncancellable-send"
    breaks = {"completion.send.cancel-sends-a-prefix": "still blocked"}

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        sock.setblocking(False)

        async def send() -> int:
            await self.loop.sock_sendall(sock, data)
            return len(data)

        return self.submit(send, _Uncancellable)


class ReadableSend(FaultyCompletionDriver):
    """A send that waits for the socket to be readable (the wrong event) before it sends."""

    name = "faulty-completion-readable-send"
    breaks = {
        "completion.send.completes-when-queued": "still blocked",
        "completion.send.waits-for-room": "expected data 1048576 bytes",
    }

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        sock.setblocking(False)

        async def send() -> int:
            await self.readable(sock)
            await self.loop.sock_sendall(sock, data)
            return len(data)

        return self.submit(send)


class EofErrorRecv(FaultyCompletionDriver):
    """A recv that fails with EOFError at end of stream instead of completing with b''."""

    name = "faulty-completion-eof-error"
    breaks = {
        "completion.recv.eof": "expected EOF",
        "completion.recv.data-before-eof": "expected EOF",
    }

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(False)

        async def recv() -> bytes:
            data = await self.loop.sock_recv(sock, size)
            if not data:
                raise EOFError("end of stream")
            return data

        return self.submit(recv)


class HangupFirstRecv(FaultyCompletionDriver):
    """A recv that completes empty as soon as the peer has shut down writing, with bytes still buffered."""

    name = "faulty-completion-hangup-first"
    breaks = {"completion.recv.data-before-eof": "expected data b'last'"}

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(False)

        async def recv() -> bytes:
            poller = select.poll()
            poller.register(sock, select.POLLRDHUP)
            if poller.poll(0):
                return b""
            return await self.loop.sock_recv(sock, size)

        return self.submit(recv)


class ResetAsEofRecv(FaultyCompletionDriver):
    """A recv that completes with b'' when the connection is reset, hiding the error."""

    name = "faulty-completion-reset-as-eof"
    breaks = {"completion.recv.reset": "expected error reset"}

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        sock.setblocking(False)

        async def recv() -> bytes:
            try:
                return await self.loop.sock_recv(sock, size)
            except ConnectionResetError:
                return b""

        return self.submit(recv)


class EagerAccept(FaultyCompletionDriver):
    """An accept that tries once at submission and completes with would_block when no client waits."""

    name = "faulty-completion-eager-accept"
    breaks = {"completion.accept.after-connect": "a pending True"}

    def submit_accept(self, listener: socket.socket) -> Handle:
        listener.setblocking(False)
        try:
            conn, _address = listener.accept()
        except BlockingIOError as exc:
            return _completed(error=exc)
        return _completed(conn)


class ReadableConnect(FaultyCompletionDriver):
    """A connect that waits for the socket to become readable (the wrong event) instead of writable."""

    name = "faulty-completion-readable-connect"
    breaks = {"completion.connect.completes": "still blocked"}

    def submit_connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> Handle:
        sock.setblocking(False)

        async def connect() -> None:
            with contextlib.suppress(BlockingIOError):
                sock.connect(address)
            await self.readable(sock)

        return self.submit(connect)


class ClaimedKernelCompletion(FaultyCompletionDriver):
    """The asyncio driver claiming kernel completion: paused, its loop leaves the work to nobody."""

    name = "faulty-completion-claimed-kernel"
    capabilities = frozenset({"kernel_completion", "kernel_send_all"})
    breaks = {
        "completion.kernel.drains-while-paused": "expected unread 0, observed 5",
        "completion.kernel.send-progresses-while-paused": "expected data 1048576 bytes",
    }


class DeferredRing(UringDriver):
    """io_uring on a ring that defers completion work (DEFER_TASKRUN), claiming kernel_completion."""

    name = "faulty-completion-deferred-ring"
    setup_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
    capabilities = frozenset({"kernel_completion", "kernel_send_all"})
    breaks: ClassVar[dict[str, str]] = {
        "completion.kernel.drains-while-paused": "expected unread 0, observed 5",
        "completion.kernel.send-progresses-while-paused": "expected data 1048576 bytes",
    }


class ResubmittedSend(UringDriver):
    """io_uring SENDs without MSG_WAITALL (its thread resubmits the rest), claiming kernel_send_all."""

    name = "faulty-completion-resubmitted-send"
    send_flags = socket.MSG_NOSIGNAL
    capabilities = frozenset({"kernel_completion", "kernel_send_all"})
    breaks: ClassVar[dict[str, str]] = {
        "completion.kernel.send-progresses-while-paused": "expected data 1048576 bytes",
    }


class SerialDriver(CompletionDriver):
    """Completes operations one at a time, in submission order, with blocking calls on one worker thread."""

    name = "faulty-completion-serial"
    models = frozenset({Model.COMPLETION})
    breaks: ClassVar[dict[str, str]] = {"completion.many.independent": "still blocked"}

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[tuple[Handle, Callable[[Handle], object]] | None] = queue.SimpleQueue()
        # A cancel wakes a recv waiting for bytes or a send waiting for room (its only defect is
        # the order), whether or not the worker has started it yet.
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"sockspec-{self.name}", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"!")

    def _ready_unless_cancelled(self, sock: socket.socket, handle: Handle, write: bool = False) -> None:
        while True:
            reading = [self._wake_reader] if write else [self._wake_reader, sock]
            readable, writable, _ = select.select(reading, [sock] if write else [], [])
            if self._wake_reader in readable:
                self._wake_reader.recv(4096)
            if handle.cancel_requested:
                raise concurrent.futures.CancelledError()
            if sock in readable or sock in writable:
                return

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            handle, call = item
            if handle.cancel_requested:
                handle.finish(error=concurrent.futures.CancelledError())
                continue
            try:
                value = call(handle)
            except BaseException as exc:  # the call's error is its outcome
                handle.finish(error=exc)
            else:
                handle.finish(value)

    def _submit(self, sock: socket.socket, call: Callable[[Handle], object]) -> Handle:
        sock.setblocking(True)
        handle = Handle(self._wake)
        self._work.put((handle, call))
        return handle

    def submit_recv(self, sock: socket.socket, size: int) -> Handle:
        def recv(handle: Handle) -> bytes:
            self._ready_unless_cancelled(sock, handle)
            return sock.recv(size)

        return self._submit(sock, recv)

    def submit_send(self, sock: socket.socket, data: bytes) -> Handle:
        def send(handle: Handle) -> int:
            sent = 0
            while sent < len(data):
                self._ready_unless_cancelled(sock, handle, write=True)
                with contextlib.suppress(BlockingIOError):
                    sent += sock.send(data[sent:], socket.MSG_DONTWAIT)
            return len(data)

        return self._submit(sock, send)

    def submit_accept(self, listener: socket.socket) -> Handle:
        return self._submit(listener, lambda _handle: listener.accept()[0])

    def submit_connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> Handle:
        return self._submit(sock, lambda _handle: sock.connect(address))

    def release(self) -> None:
        self._work.put(None)
        self._thread.join(THREAD_LIMIT)
        if self._thread.is_alive():
            raise RuntimeError(f"{self.name}'s worker thread did not stop")
        self._wake_reader.close()
        self._wake_writer.close()


FAULTY: tuple[type[CompletionDriver], ...] = (
    BlockingSubmit,
    EagerRecv,
    ReadinessRecv,
    FillingRecv,
    OversizeRecv,
    LossyCancel,
    ShortSend,
    UndrainedSend,
    UnbufferedSend,
    EarlyResumeSend,
    LateResumeSend,
    UncancellableSend,
    ReadableSend,
    EofErrorRecv,
    HangupFirstRecv,
    ResetAsEofRecv,
    EagerAccept,
    ReadableConnect,
    ClaimedKernelCompletion,
    DeferredRing,
    ResubmittedSend,
    SerialDriver,
)
