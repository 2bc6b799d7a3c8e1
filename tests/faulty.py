"""Faulty drivers: the negative controls that prove every behaviour can fail.

Rules of this module:
- each faulty driver is a small subclass of the sockets reference driver that
  breaks exactly one rule, the way a real implementation might get it wrong;
  its docstring says the defect in one line;
- `breaks` maps every behaviour id the defect fails, wherever it shows, to a
  substring expected in that failure's mismatch text, so a failure for another
  reason is noticed; every other behaviour of its models must pass (the
  matrix, tests/test_matrix.py, checks both), so a defect is kept narrow;
- real sockets only, no mocks; no loop that can spin: every faulty call returns
  once the runner shuts its socket down;
- a faulty driver closes every socket it makes and keeps no state between calls,
  unless that state is its defect (its docstring says what it remembers); each
  run gets a fresh instance, so nothing carries over from one behaviour to the next.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import time
from typing import Any, ClassVar

from sockspec.reference_impls.sockets_ref import SocketsDriver

# How long a faulty connect waits for the handshake: bounded, and woken early by a shutdown.
CONNECT_WAIT = 5.0


def _would_block(what: str) -> BlockingIOError:
    return BlockingIOError(errno.EAGAIN, what)


def _is_nonblocking(sock: socket.socket) -> bool:
    return sock.gettimeout() == 0.0


def _recv_as_eof(error: type[OSError], sock: socket.socket, size: int, flags: int) -> bytes:
    """`sock.recv`, but with `error` reported as an orderly EOF (b'')."""
    try:
        return sock.recv(size, flags)
    except error:
        return b""


class FaultyDriver(SocketsDriver):
    """Base of the faulty drivers: the reference driver plus what each defect must fail."""

    name = "faulty"
    #: Behaviour id -> a substring of the mismatch text its failure must show (or a tuple of
    #: them, one of which it shows: where the family decides which step the defect trips).
    breaks: ClassVar[dict[str, str | tuple[str, ...]]] = {}


class PollingRecv(FaultyDriver):
    """A blocking recv that polls once (MSG_DONTWAIT) and returns b'' when the buffer is empty."""

    name = "faulty-polling-recv"
    breaks = {
        "blocking.recv.waits-for-peer": "not before 'send'",
        "blocking.recv.eof-wakes": "not before 'fin'",
        "blocking.recv.waitall-waits-for-count": "not before 'second'",
        "blocking.recv.waitall-short-at-eof": "not before 'fin'",
        "nonblocking.recv.dontwait-one-call": "not before 'send'",  # its blocking recv(1024) of b'later'
        "blocking.shutdown.wakes-blocked-recv": "expected it to take at least 90.0 ms",
        "nonblocking.accept.accepted-is-blocking": "not before 'send'",
        "blocking.close.leaves-blocked-recv": "expected r pending True, observed False",
        "nonblocking.mode.setblocking-switches": "not before 'send'",
        "nonblocking.mode.settimeout-zero": "not before 'send'",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if _is_nonblocking(sock) or flags & socket.MSG_DONTWAIT:
            return super().recv(sock, size, flags)
        try:
            return sock.recv(size, flags | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""


class WaitForFullRecv(FaultyDriver):
    """A recv that always waits for the full size (adds MSG_WAITALL) instead of returning what is there."""

    name = "faulty-waitall-recv"
    breaks = {
        "blocking.recv.partial-copy": "still blocked",
        "blocking.recv.waits-for-peer": "still blocked",
        "blocking.recv.peek-leaves-data": "still blocked",
        "blocking.accept.waits-for-client": "still blocked",  # its recv(16) of b'hi'
        "nonblocking.recv.dontwait-one-call": "still blocked",  # its blocking recv(1024) of b'later'
        "nonblocking.accept.accepted-is-blocking": "still blocked",
        "blocking.close.leaves-blocked-recv": "still blocked",
        "nonblocking.mode.setblocking-switches": "still blocked",
        "nonblocking.mode.settimeout-zero": "still blocked",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return sock.recv(size, flags | socket.MSG_WAITALL)


class DrainingRecv(FaultyDriver):
    """A recv that reads the whole buffer in one big chunk and returns only the first `size` bytes."""

    name = "faulty-draining-recv"
    chunk: ClassVar[int] = 65536
    breaks = {
        "blocking.recv.leaves-rest": "expected unread 6, observed 0",
        "nonblocking.recv.leaves-rest": "expected unread 5, observed 0",
        "blocking.recv.zero-size": "expected unread 5, observed 0",
        "nonblocking.recv.zero-size": "expected unread 5, observed 0",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if flags & socket.MSG_WAITALL:  # a chunk that large would never fill
            return super().recv(sock, size, flags)
        return sock.recv(max(size, self.chunk), flags)[:size]


class PollingAccept(FaultyDriver):
    """A blocking accept that polls once and fails with would_block when no client is pending."""

    name = "faulty-polling-accept"
    breaks = {
        "blocking.accept.waits-for-client": "observed error would_block",
    }

    def accept(self, listener: socket.socket) -> socket.socket:
        ready, _, _ = select.select([listener], [], [], 0)
        if not ready:
            raise _would_block("no connection is pending")
        return super().accept(listener)


class PartialBlockingSend(FaultyDriver):
    """A blocking send that queues only what fits at once (adds MSG_DONTWAIT) and returns that count."""

    name = "faulty-partial-blocking-send"
    breaks = {
        "blocking.send.waits-for-drain": "expected data 1048576 bytes",
    }

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        return sock.send(data, flags | socket.MSG_DONTWAIT)


class UnflushedSend(FaultyDriver):
    """A send that reports the whole length while queueing nothing (a user-space buffer never flushed)."""

    name = "faulty-unflushed-send"
    breaks = {
        "blocking.send.returns-when-queued": "expected peer_unread 5, observed 0",
        "nonblocking.send.fits-whole": "expected data b'hello', observed EOF",
        "nonblocking.send.partial-then-would-block": "expected length 1..1048575, observed returned 1048576",
        # Over TCP nothing reaches the closed peer, so no reset comes back for the next send to
        # report; over AF_UNIX the socket hangs up at once and the second send's success shows.
        "blocking.send.after-peer-close": (
            "expected hung_up True, observed False",
            "expected error broken_pipe or reset, observed returned 1",
        ),
        "nonblocking.send.after-peer-close": (
            "expected hung_up True, observed False",
            "expected error broken_pipe or reset, observed returned 1",
        ),
        "blocking.send.waits-for-drain": "expected data 1048576 bytes",
        "nonblocking.connect.in-progress": "expected data b'ping', observed EOF",
        "blocking.settimeout.send-times-out": "expected length 1..1048575, observed returned 1048576",
        "nonblocking.recv.other-work-meanwhile": "expected peer_unread 4, observed 0",
    }

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        return len(data)


class EofAsWouldBlock(FaultyDriver):
    """A recv that takes an empty read for 'no data yet' and raises would_block instead of returning EOF."""

    name = "faulty-eof-as-would-block"
    breaks = {
        "blocking.recv.eof-wakes": "observed error would_block",
        "blocking.recv.data-before-eof": "observed error would_block",
        "nonblocking.recv.eof-not-would-block": "observed error would_block",
        "blocking.shutdown.wakes-blocked-recv": "observed error would_block",
        "blocking.recv.reset-once": "observed error would_block",
        "nonblocking.connect.refused-read": "observed error would_block",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        data = sock.recv(size, flags)
        if not data and size > 0:
            raise _would_block("no data yet")
        return data


class IgnoredTimeout(FaultyDriver):
    """A set_timeout that only switches blocking mode on and ignores the time limit itself."""

    name = "faulty-ignored-timeout"
    breaks = {
        "blocking.settimeout.times-out": "still blocked",
        "blocking.settimeout.send-times-out": "still blocked",
    }

    def set_timeout(self, sock: socket.socket, seconds: float | None) -> None:
        sock.setblocking(seconds != 0)


class HalfTimeout(FaultyDriver):
    """A set_timeout that gives up after half the requested time."""

    name = "faulty-half-timeout"
    breaks = {
        "blocking.settimeout.times-out": "expected it to take at least 200.0 ms",
        "blocking.settimeout.send-times-out": "expected it to take at least 200.0 ms",
    }

    def set_timeout(self, sock: socket.socket, seconds: float | None) -> None:
        sock.settimeout(None if seconds is None else seconds / 2)


class GatheringTimeoutRecv(FaultyDriver):
    """A recv under a timeout that keeps reading until the time is up instead of returning the first bytes."""

    name = "faulty-gathering-timeout-recv"
    breaks = {
        "blocking.settimeout.data-in-time": "still blocked",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        timeout = sock.gettimeout()
        if not timeout:
            return sock.recv(size, flags)
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        got = 0
        try:
            while got < size and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    chunk = sock.recv(size - got, flags)
                except TimeoutError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        finally:
            sock.settimeout(timeout)
        if not chunks:
            raise TimeoutError("timed out")
        return b"".join(chunks)


class NoPeekRecv(FaultyDriver):
    """A recv that drops MSG_PEEK, so a peek consumes the bytes."""

    name = "faulty-no-peek"
    breaks = {
        "blocking.recv.peek-leaves-data": "expected unread 5, observed 0",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return sock.recv(size, flags & ~socket.MSG_PEEK)


class NoWaitallRecv(FaultyDriver):
    """A recv that drops MSG_WAITALL, so it returns the first bytes that arrive."""

    name = "faulty-no-waitall"
    breaks = {
        "blocking.recv.waitall-waits-for-count": "expected data b'helloworld'",
        "blocking.recv.waitall-short-at-eof": "not before 'fin'",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return sock.recv(size, flags & ~socket.MSG_WAITALL)


class WaitallDropsShortRecv(FaultyDriver):
    """MSG_WAITALL done in user space, reading until the count; at EOF it returns b'', losing what it read."""

    name = "faulty-waitall-drops-short"
    breaks = {
        "blocking.recv.waitall-short-at-eof": "expected data b'hello', observed EOF",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if not flags & socket.MSG_WAITALL or _is_nonblocking(sock):
            return super().recv(sock, size, flags)
        got = b""
        while len(got) < size:
            chunk = sock.recv(size - len(got), flags & ~socket.MSG_WAITALL)
            if not chunk:
                return b""  # the defect: the short read's bytes are lost
            got += chunk
        return got


class NoDontwaitRecv(FaultyDriver):
    """A recv that drops MSG_DONTWAIT, so a one-call non-blocking recv on a blocking socket blocks."""

    name = "faulty-no-dontwait"
    breaks = {
        "nonblocking.recv.dontwait-one-call": "still blocked",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return sock.recv(size, flags & ~socket.MSG_DONTWAIT)


class StickyDontwaitRecv(FaultyDriver):
    """A recv that honours MSG_DONTWAIT by making the socket non-blocking and never restores blocking mode."""

    name = "faulty-sticky-dontwait"
    breaks = {
        "nonblocking.recv.dontwait-one-call": "expected data b'later'",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if flags & socket.MSG_DONTWAIT:
            sock.setblocking(False)
        return sock.recv(size, flags & ~socket.MSG_DONTWAIT)


class ZeroReadsOneRecv(FaultyDriver):
    """A recv that rounds a size of 0 up to 1 and so consumes a byte."""

    name = "faulty-zero-reads-one"
    breaks = {
        "blocking.recv.zero-size": "expected length 0",
        "nonblocking.recv.zero-size": "expected length 0",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return sock.recv(max(size, 1), flags)


class ResetAsEofRecv(FaultyDriver):
    """A recv that reports a connection reset as an orderly EOF (b'')."""

    name = "faulty-reset-as-eof"
    breaks = {
        "blocking.recv.reset-after-data": "expected error reset, observed EOF",
        "nonblocking.recv.reset-after-data": "expected error reset, observed EOF",
        "blocking.recv.reset-once": "expected error reset, observed EOF",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return _recv_as_eof(ConnectionResetError, sock, size, flags)


class SwallowedPipeSend(FaultyDriver):
    """A send that swallows broken_pipe and reset and reports the whole length as sent."""

    name = "faulty-swallowed-pipe"
    breaks = {
        "blocking.send.after-peer-close": "expected error broken_pipe or reset, observed returned 1",
        "nonblocking.send.after-peer-close": "expected error broken_pipe or reset, observed returned 1",
    }

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        try:
            return sock.send(data, flags)
        except (BrokenPipeError, ConnectionResetError):
            return len(data)


class AlwaysBlocking(FaultyDriver):
    """A set_blocking that ignores a request for non-blocking mode, so the socket stays blocking."""

    name = "faulty-always-blocking"
    breaks = {
        "nonblocking.recv.empty-would-block": "still blocked",
        "nonblocking.recv.data-after-would-block": "still blocked",
        "nonblocking.send.partial-then-would-block": "still blocked",
        "nonblocking.accept.none-pending": "still blocked",
        "nonblocking.connect.in-progress": "expected error in_progress, observed returned",
        "nonblocking.mode.setblocking-switches": "still blocked",
        "nonblocking.recv.other-work-meanwhile": "still blocked",
        "nonblocking.connect.refused-read": "expected error in_progress, observed error refused",
        "nonblocking.connect.unix-backlog-would-block": "still blocked",
    }

    def set_blocking(self, sock: socket.socket, blocking: bool) -> None:
        if blocking:
            sock.setblocking(True)


class HiddenWouldBlockRecv(FaultyDriver):
    """A recv that reports an empty buffer (would_block) as b'', which reads as EOF."""

    name = "faulty-hidden-would-block"
    breaks = {
        "nonblocking.recv.empty-would-block": "expected error would_block, observed EOF",
        "nonblocking.recv.data-after-would-block": "expected error would_block, observed EOF",
        "nonblocking.recv.dontwait-one-call": "expected error would_block, observed EOF",
        "nonblocking.recv.other-work-meanwhile": "expected error would_block, observed EOF",
        "nonblocking.mode.setblocking-switches": "expected error would_block, observed EOF",
        "nonblocking.mode.settimeout-zero": "expected error would_block, observed EOF",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        try:
            return sock.recv(size, flags)
        except BlockingIOError:
            return b""


class AllOrNothingRecv(FaultyDriver):
    """A non-blocking recv that fails with would_block until the whole requested size is buffered."""

    name = "faulty-all-or-nothing-recv"
    breaks = {
        "nonblocking.recv.partial-copy": "observed error would_block",
        "nonblocking.recv.data-after-would-block": "observed error would_block",
        "nonblocking.recv.reset-after-data": "observed error would_block",
        "nonblocking.recv.other-work-meanwhile": "observed error would_block",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if _is_nonblocking(sock) and size > 0:
            buffered = sock.recv(size, flags | socket.MSG_PEEK)
            if buffered and len(buffered) < size:
                raise _would_block(f"only {len(buffered)} of {size} bytes are buffered")
        return sock.recv(size, flags)


class AllOrNothingSend(FaultyDriver):
    """A non-blocking send that refuses, with would_block, any message larger than the send buffer."""

    name = "faulty-all-or-nothing-send"
    breaks = {
        "nonblocking.send.partial-then-would-block": "observed error would_block",
    }

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        if _is_nonblocking(sock) or flags & socket.MSG_DONTWAIT:
            room = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            if len(data) > room:
                raise _would_block(f"{len(data)} bytes do not fit in a {room}-byte send buffer")
        return sock.send(data, flags)


class DrainingAccept(FaultyDriver):
    """A non-blocking accept that drains the backlog in a loop and lets its final would_block escape."""

    name = "faulty-draining-accept"
    breaks = {
        "nonblocking.accept.pending": "observed error would_block",
        "nonblocking.accept.accepted-is-blocking": "observed error would_block",
    }

    def accept(self, listener: socket.socket) -> socket.socket:
        if not _is_nonblocking(listener):
            return super().accept(listener)
        accepted: list[socket.socket] = []
        try:
            while True:
                accepted.append(super().accept(listener))
        except OSError:
            for conn in accepted:
                conn.close()
            raise


class WaitingConnect(FaultyDriver):
    """A non-blocking connect that waits for the handshake to finish instead of failing with in_progress."""

    name = "faulty-waiting-connect"
    breaks = {
        "nonblocking.connect.in-progress": "expected error in_progress, observed returned",
        "nonblocking.connect.refused-read": "expected error in_progress, observed error refused",
    }

    def connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> None:
        if not _is_nonblocking(sock):
            super().connect(sock, address)
            return
        error = sock.connect_ex(address)
        if error == errno.EINPROGRESS:
            select.select([], [sock], [], CONNECT_WAIT)
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, os.strerror(error))


class DrainingClose(FaultyDriver):
    """A close that first reads and discards the unread bytes, so the peer sees EOF instead of a reset."""

    name = "faulty-draining-close"
    breaks = {
        "blocking.close.unread-resets": "expected error reset, observed EOF",
    }

    def close(self, sock: socket.socket) -> None:
        try:
            while sock.recv(65536, socket.MSG_DONTWAIT):
                pass
        except OSError:
            pass
        super().close(sock)


class WriteOnlyShutdown(FaultyDriver):
    """A shutdown that only ever shuts the writing half, so a recv blocked on the socket is not woken."""

    name = "faulty-write-only-shutdown"
    breaks = {
        "blocking.shutdown.wakes-blocked-recv": "still blocked",
    }

    def shutdown(self, sock: socket.socket, how: int) -> None:
        super().shutdown(sock, socket.SHUT_WR)


class InheritingAccept(FaultyDriver):
    """An accept that gives the new connection its listener's mode (BSD's way) instead of blocking mode."""

    name = "faulty-inheriting-accept"
    breaks = {
        "nonblocking.accept.accepted-is-blocking": "observed error would_block",
    }

    def accept(self, listener: socket.socket) -> socket.socket:
        conn = super().accept(listener)
        conn.setblocking(not _is_nonblocking(listener))
        return conn


class OneWayNonblocking(FaultyDriver):
    """A set_blocking that can make a socket non-blocking but not blocking again."""

    name = "faulty-one-way-nonblocking"
    breaks = {
        "nonblocking.mode.setblocking-switches": "expected data b'later', observed error would_block",
    }

    def set_blocking(self, sock: socket.socket, blocking: bool) -> None:
        if blocking and _is_nonblocking(sock):
            return
        super().set_blocking(sock, blocking)


class ZeroTimeoutAsNone(FaultyDriver):
    """A set_timeout that takes a timeout of 0 for 'no timeout' (a falsy test), so it stays blocking."""

    name = "faulty-zero-timeout-as-none"
    breaks = {
        "nonblocking.mode.settimeout-zero": "still blocked",
    }

    def set_timeout(self, sock: socket.socket, seconds: float | None) -> None:
        sock.settimeout(seconds or None)


class SendallTimeoutSend(FaultyDriver):
    """A send under a timeout that sends until all is queued (sendall's way), so it times out, count lost."""

    name = "faulty-sendall-timeout-send"
    breaks = {
        "blocking.settimeout.send-times-out": "expected length 1..1048575, observed error timeout",
    }

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        if not sock.gettimeout():
            return super().send(sock, data, flags)
        sock.sendall(data, flags)
        return len(data)


class WakingClose(FaultyDriver):
    """A close that shuts reading down first, so a recv blocked in another thread wakes with EOF."""

    name = "faulty-waking-close"
    breaks = {
        "blocking.close.leaves-blocked-recv": "expected r pending True, observed False",
    }

    def close(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)
        super().close(sock)


class IgnoredConnectError(FaultyDriver):
    """A blocking connect through connect_ex that ignores the error it returns: a refusal looks connected."""

    name = "faulty-ignored-connect-error"
    breaks = {
        "blocking.connect.refused": "expected error refused, observed returned",
    }

    def connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> None:
        if _is_nonblocking(sock):
            super().connect(sock, address)
            return
        sock.connect_ex(address)


class RefusedAsEofRecv(FaultyDriver):
    """A recv that reports a refused connection as an orderly EOF (b'')."""

    name = "faulty-refused-as-eof"
    breaks = {
        "nonblocking.connect.refused-read": "expected error refused, observed EOF",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return _recv_as_eof(ConnectionRefusedError, sock, size, flags)


class InProgressUnixConnect(FaultyDriver):
    """A non-blocking connect that reports any would-block (a full AF_UNIX backlog) as in_progress."""

    name = "faulty-in-progress-unix-connect"
    breaks = {
        "nonblocking.connect.unix-backlog-would-block": (
            "expected error would_block, observed error in_progress"
        ),
    }

    def connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> None:
        try:
            super().connect(sock, address)
        except BlockingIOError as exc:
            if exc.errno != errno.EINPROGRESS:
                raise BlockingIOError(errno.EINPROGRESS, os.strerror(errno.EINPROGRESS)) from exc
            raise


class OneSocketAtATime(FaultyDriver):
    """After a recv would block, it remembers that socket and serves no other until that one has data."""

    name = "faulty-one-socket-at-a-time"
    breaks = {
        "nonblocking.recv.other-work-meanwhile": "still blocked",
    }

    def __init__(self) -> None:
        self.unfinished: socket.socket | None = None

    def _finish_first(self, sock: socket.socket) -> None:
        """Wait until the socket whose recv would block is readable, unless it is this one."""
        unfinished, self.unfinished = self.unfinished, None
        if unfinished is None or unfinished is sock or unfinished.fileno() < 0:
            return
        select.select([unfinished], [], [], CONNECT_WAIT)  # woken by data, EOF or the runner's shutdown

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        self._finish_first(sock)
        try:
            return super().recv(sock, size, flags)
        except BlockingIOError:
            self.unfinished = sock
            raise

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        self._finish_first(sock)
        return super().send(sock, data, flags)


class StickyResetRecv(FaultyDriver):
    """A recv that remembers a reset and reports it again on every later recv of its socket, not EOF."""

    name = "faulty-sticky-reset"
    breaks = {
        "blocking.recv.reset-once": "expected EOF (b''), observed error reset",
    }

    def __init__(self) -> None:
        self.reset: set[int] = set()

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if sock.fileno() in self.reset:
            raise ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET))
        try:
            return super().recv(sock, size, flags)
        except ConnectionResetError:
            self.reset.add(sock.fileno())
            raise


FAULTY: tuple[type[FaultyDriver], ...] = (
    PollingRecv,
    WaitForFullRecv,
    DrainingRecv,
    PollingAccept,
    PartialBlockingSend,
    UnflushedSend,
    EofAsWouldBlock,
    IgnoredTimeout,
    HalfTimeout,
    GatheringTimeoutRecv,
    NoPeekRecv,
    NoWaitallRecv,
    WaitallDropsShortRecv,
    NoDontwaitRecv,
    StickyDontwaitRecv,
    ZeroReadsOneRecv,
    ResetAsEofRecv,
    SwallowedPipeSend,
    AlwaysBlocking,
    HiddenWouldBlockRecv,
    AllOrNothingRecv,
    AllOrNothingSend,
    DrainingAccept,
    WaitingConnect,
    DrainingClose,
    WriteOnlyShutdown,
    InheritingAccept,
    OneWayNonblocking,
    ZeroTimeoutAsNone,
    SendallTimeoutSend,
    WakingClose,
    IgnoredConnectError,
    RefusedAsEofRecv,
    InProgressUnixConnect,
    OneSocketAtATime,
    StickyResetRecv,
)
