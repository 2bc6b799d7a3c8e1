"""The checker's clients of a server under test: many connections, one I/O thread.

Rules of this module:
- a client connects on the timeline's thread (bounded by the step's limit), a
  group's clients one after another, paced by the server's answers; a SYN dropped
  at a briefly full accept queue (answered only by the kernel's retransmission, a
  second later) delays that client, not the rest of the group, unless
  CONNECTS_IN_FLIGHT of them wait at once (a queue that stays full);
  from then on its socket is non-blocking and touched only by the pool's own
  I/O thread, a selector loop; the timeline posts commands and waits for
  conditions under one lock, every wait bounded by the caller's limit;
- a client takes whatever the server sends as it arrives, unless it is told to
  stop reading: then its receive buffer fills and the server's writes back up;
- memory stays bounded whatever the server sends: an echo sends back what it is
  sent, so a client that has received more than FLOOD_FACTOR times what it sent,
  plus FLOOD_MARGIN, is being flooded with bytes it never asked for: it stops
  there, resets the connection and fails with the error "flood" (what it kept
  is shown); closing a connection, or salvaging a broken one, reads and
  discards at most DRAIN_LIMIT bytes, then closes (a reset, if more wait);
- sends are queued and leave as the server takes them, in pieces with pauses
  when a spec asks for fragments; shutdown and close wait for the queue to
  drain first; reset (SO_LINGER 0, then close) discards it and sends RST;
- the address is the server impl's, which only ever is a loopback address;
- `close` ends every connection and joins the thread, whatever state they are in;
- the I/O thread's work per round is proportional to what changed (the clients with
  events, commands, or pieces due), never to the number of clients, and one wake-up
  byte stands for any number of posted commands: 10,000 clients cost no more per
  event than 10.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import selectors
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sockspec.language.errorkinds import classify
from sockspec.language.timing import Clock

CHUNK = 1 << 18
READS_PER_EVENT = 8
JOIN_LIMIT = 2.0
DESCRIPTOR_MARGIN = 16
CONNECTS_IN_FLIGHT = 8
CONNECT_PACE = 0.01
#: A client received more than FLOOD_FACTOR x what it sent + FLOOD_MARGIN: a flood. 4x leaves room
#: for a server that re-encodes bytes (a text-mode one turns a byte into up to 3).
FLOOD_FACTOR = 4
FLOOD_MARGIN = 1 << 16
FLOOD = "flood"
#: The most a close (or a salvage) reads before it gives up on the rest.
DRAIN_LIMIT = 1 << 25

Notify = Callable[[str, str], None]


class ClientError(Exception):
    """The checker cannot make the connections a behaviour asks for (the checker's environment)."""


def ensure_descriptors(clients: int) -> None:
    """Raise this process's RLIMIT_NOFILE soft limit so `clients` more sockets fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = clients + DESCRIPTOR_MARGIN + _open_descriptors()
    if soft >= needed or soft == resource.RLIM_INFINITY:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < needed:
        raise ClientError(
            f"{clients} clients need about {needed} open descriptors, but this process may open only "
            f"{hard} (RLIMIT_NOFILE hard limit): raise it (ulimit -n) and run again"
        )


def _open_descriptors() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


@dataclass(eq=False, slots=True)
class _Client:
    label: str
    family: socket.AddressFamily
    sock: socket.socket | None = None
    state: str = "new"  # new, connecting, open, closed, failed
    error: str | None = None
    detail: str = ""
    error_at: float | None = None
    connected_at: float | None = None
    outbox: deque[tuple[float, memoryview]] = field(default_factory=deque)
    queued: int = 0
    sent: int = 0
    progress_at: float = 0.0
    inbox: bytearray = field(default_factory=bytearray)
    received: int = 0
    received_at: float = 0.0
    reading: bool = True
    eof_at: float | None = None
    after_flush: str | None = None  # 'shutdown' or 'close' once the outbox is empty
    wants_write: bool = False
    mask: int = 0


@dataclass(frozen=True)
class View:
    """One client's state at one moment, copied for the timeline thread.

    available: bytes received and not taken by a read yet;
    queued, sent: bytes handed to the client, and bytes the kernel took so far;
    received_at: when the latest bytes came (0.0 before any).
    """

    label: str
    state: str
    available: int
    received: int
    queued: int
    sent: int
    eof: bool
    error: str | None
    detail: str
    progress_at: float
    received_at: float = 0.0

    @property
    def settled(self) -> bool:
        """Connected, or failed: a connect has an answer."""
        return self.state in {"open", "failed", "closed"}


class ClientPool:
    """Client connections to one server address, served by one I/O thread."""

    def __init__(
        self, family: socket.AddressFamily, address: tuple[str, int], clock: Clock, notify: Notify
    ) -> None:
        self.family = family
        self.address = address
        self.clock = clock
        self.notify = notify
        self.clients: dict[str, _Client] = {}
        self.condition = threading.Condition()
        self.commands: deque[Callable[[], None]] = deque()
        self.selector = selectors.DefaultSelector()
        self.wake_read, self.wake_write = socket.socketpair()
        self.wake_read.setblocking(False)
        self.wake_write.setblocking(False)
        self.selector.register(self.wake_read, selectors.EVENT_READ, None)
        self.woken = False  # a wake-up byte is on its way to the I/O thread
        # Ordered sets (dicts), so clients are served in the order they changed, as before:
        self.dirty: dict[_Client, None] = {}  # to flush and re-register in the I/O thread's next round
        self.timed: dict[_Client, None] = {}  # with pieces queued and no EVENT_WRITE wait: due later
        self.stopping = False
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="sockspec-clients", daemon=True)
        self.thread.start()

    # -- the timeline's side -------------------------------------------------

    def _post(self, command: Callable[[], None]) -> None:
        with self.condition:
            self.commands.append(command)
            self._wake()

    def _wake(self) -> None:
        """Wake the I/O thread unless a wake-up is already on its way (under the lock)."""
        if self.woken:
            return
        self.woken = True
        with contextlib.suppress(BlockingIOError, OSError):
            self.wake_write.send(b"\0")

    def connect(self, label: str, rcvbuf: int | None, sndbuf: int | None, timeout: float) -> None:
        """Connect a new client, at most `timeout`; the I/O thread takes the socket over once connected."""
        self.connect_group([label], rcvbuf, sndbuf, timeout)

    def connect_group(
        self, labels: list[str], rcvbuf: int | None, sndbuf: int | None, timeout: float
    ) -> None:
        """Connect new clients, in order, all within `timeout`; the I/O thread takes each over
        once connected.

        The connects run on the caller's thread, non-blocking, one after another: each
        waits up to CONNECT_PACE for its answer (on loopback a connect is answered within
        microseconds while the server's backlog has room), which gives a server that fell
        behind time to accept. One still unanswered then had its SYN dropped at a full
        accept queue, and the kernel retries it a second later: the next clients go on
        meanwhile, until CONNECTS_IN_FLIGHT wait that way; then the group waits with them,
        as for a server whose queue stays full. A client still unanswered at `timeout`
        stays 'connecting', with no socket."""
        deadline = self.clock.now() + max(timeout, 0.001)
        waiting: dict[int, tuple[_Client, socket.socket]] = {}
        with selectors.DefaultSelector() as answers:
            for label in labels:
                while len(waiting) >= CONNECTS_IN_FLIGHT and self._answered(answers, waiting, deadline):
                    pass
                started = self._start_connect(label, rcvbuf, sndbuf, answers, waiting)
                pace = min(deadline, self.clock.now() + CONNECT_PACE)
                while started in waiting and self._answered(answers, waiting, pace):
                    pass
            while waiting and self._answered(answers, waiting, deadline):
                pass
        for _client, sock in waiting.values():
            sock.close()

    def _start_connect(
        self,
        label: str,
        rcvbuf: int | None,
        sndbuf: int | None,
        answers: selectors.BaseSelector,
        waiting: dict[int, tuple[_Client, socket.socket]],
    ) -> int:
        """Start one connect; its descriptor while it waits for an answer, else -1."""
        client = _Client(label, self.family, state="connecting")
        with self.condition:
            self.clients[label] = client
        try:
            sock = socket.socket(self.family, socket.SOCK_STREAM)
        except OSError as exc:
            with self.condition:
                self._fail(client, exc, "socket")
            return -1
        try:
            if rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if sndbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            code = sock.connect_ex(self.address)
        except OSError as exc:
            code = exc.errno or errno.EIO
        if code in {errno.EINPROGRESS, errno.EALREADY}:
            waiting[sock.fileno()] = (client, sock)
            answers.register(sock, selectors.EVENT_WRITE)
            return sock.fileno()
        self._connected(client, sock, code)
        return -1

    def _answered(
        self,
        answers: selectors.BaseSelector,
        waiting: dict[int, tuple[_Client, socket.socket]],
        deadline: float,
    ) -> bool:
        """Take the connects answered by now, waiting for one at most until `deadline`;
        False once the deadline passed."""
        remaining = deadline - self.clock.now()
        if remaining <= 0:
            return False
        for key, _mask in answers.select(remaining):
            client, sock = waiting.pop(key.fd)
            answers.unregister(sock)
            self._connected(client, sock, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
        return True

    def _connected(self, client: _Client, sock: socket.socket, code: int) -> None:
        """A connect's answer: open (code 0), else failed with the error."""
        with self.condition:
            client.sock = sock
            if code:
                self._fail(client, OSError(code, os.strerror(code)), "connect")
                return
            client.state = "open"
            client.connected_at = client.progress_at = self.clock.now()
            self.dirty[client] = None  # the I/O thread registers the new socket
            self._wake()

    def send(self, label: str, data: bytes, fragment: int | None, pause: float) -> None:
        start = self.clock.now()
        size = fragment or len(data) or 1
        pieces = [
            (start + number * pause, memoryview(data)[offset : offset + size])
            for number, offset in enumerate(range(0, len(data), size))
        ]
        self._post(lambda: self._queue(label, pieces))

    def stop_reading(self, label: str) -> None:
        self._post(lambda: self._set_reading(label, False))

    def resume_reading(self, label: str) -> None:
        self._post(lambda: self._set_reading(label, True))

    def shutdown(self, label: str, how: str) -> None:
        self._post(lambda: self._shutdown(label, how))

    def close_client(self, label: str) -> None:
        self._post(lambda: self._close_after_flush(label))

    def reset(self, label: str) -> None:
        self._post(lambda: self._reset(label))

    def take(self, label: str, size: int) -> bytes:
        """Up to `size` received bytes, removed from the client's inbox."""
        with self.condition:
            client = self.clients[label]
            data = bytes(client.inbox[:size])
            del client.inbox[:size]
            return data

    def view(self, label: str) -> View:
        with self.condition:
            return self._view(self.clients[label])

    def views(self, labels: list[str]) -> dict[str, View]:
        """Each client's view, all taken at one moment."""
        with self.condition:
            return {label: self._view(self.clients[label]) for label in labels}

    def wait(self, labels: list[str], done: Callable[[View], bool], timeout: float) -> bool:
        """Wait until `done` holds for every client in `labels` (and the loop has run once
        after the latest command); False when `timeout` passed first."""
        deadline = self.clock.now() + timeout
        with self.condition:
            while True:
                if self.failure is not None:
                    raise ClientError(f"the checker's client loop failed: {self.failure!r}") from self.failure
                if not self.commands and all(done(self._view(self.clients[label])) for label in labels):
                    return True
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    return False
                self.condition.wait(remaining)

    def wait_read(self, sizes: Mapping[str, int], limit: float, quiet: float) -> set[str]:
        """Wait until each client has sizes[label] bytes, EOF or a broken connection, at most
        `limit`; a client whose bytes stop coming (none for `quiet` seconds after some came
        during this wait) is given up on early. Returns the clients given up on that way."""
        start = self.clock.now()
        deadline = start + limit
        with self.condition:
            # A client once served (its bytes, EOF, or a broken connection) stays so while
            # this thread waits (only `take` shrinks an inbox), so each round looks only at
            # the clients not served yet.
            pending = [(self.clients[label], size) for label, size in sizes.items()]
            while True:
                if self.failure is not None:
                    raise ClientError(f"the checker's client loop failed: {self.failure!r}") from self.failure
                now = self.clock.now()
                stopped: set[str] = set()
                wakes: list[float] = []
                waiting = bool(self.commands)
                still: list[tuple[_Client, int]] = []
                for client, size in pending:
                    if len(client.inbox) >= size or client.eof_at is not None or client.state != "open":
                        continue
                    still.append((client, size))
                    if client.received_at > start and now - client.received_at >= quiet:
                        stopped.add(client.label)
                        continue
                    waiting = True
                    if client.received_at > start:
                        wakes.append(client.received_at + quiet)
                pending = still
                if not waiting:
                    return stopped
                remaining = deadline - now
                if remaining <= 0:
                    return stopped
                self.condition.wait(max(0.001, min(remaining, min(wakes, default=deadline) - now)))

    def wait_stalled(self, label: str, quiet: float, timeout: float) -> str:
        """Wait until the client's queued bytes stop leaving for `quiet` seconds; say what happened."""
        deadline = self.clock.now() + timeout
        with self.condition:
            while True:
                client = self.clients[label]
                now = self.clock.now()
                if not self.commands:
                    if client.state != "open" or client.error is not None:
                        return f"the connection is {client.error or client.state}"
                    if client.sent >= client.queued:
                        return f"all {client.sent} queued bytes left: the server took them all"
                    if now - client.progress_at >= quiet:
                        return (
                            f"stalled: {client.sent} of {client.queued} bytes left, none for "
                            f"{(now - client.progress_at) * 1000:.0f} ms"
                        )
                remaining = deadline - now
                if remaining <= 0:
                    return f"still moving after the limit: {client.sent} of {client.queued} bytes left"
                self.condition.wait(min(remaining, quiet / 4))

    def connected_labels(self) -> list[str]:
        """The clients still connected both ways, as far as they know (no EOF, no error)."""
        with self.condition:
            return [
                client.label
                for client in self.clients.values()
                if client.state == "open" and client.eof_at is None and client.error is None
            ]

    def kept_labels(self) -> list[str]:
        """The clients the checker has not closed itself: connected, or ended by the server."""
        with self.condition:
            return [
                client.label
                for client in self.clients.values()
                if client.state == "open" or (client.state == "closed" and client.error is not None)
            ]

    def close(self) -> list[str]:
        """End every connection (unread data makes it a reset), stop the thread; return problems."""
        self._post(self._close_everything)
        with self.condition:
            self.condition.wait_for(lambda: not self.commands or self.failure is not None, JOIN_LIMIT)
            self.stopping = True
        with contextlib.suppress(OSError):
            self.wake_write.send(b"\0")
        self.thread.join(JOIN_LIMIT)
        notes = []
        if self.thread.is_alive():
            notes.append(f"the checker's client thread did not stop within {JOIN_LIMIT} s")
        else:
            for client in self.clients.values():
                if client.sock is not None:
                    client.sock.close()
            self.selector.close()
        self.wake_read.close()
        self.wake_write.close()
        if self.failure is not None:
            notes.append(f"the checker's client loop failed: {self.failure!r}")
        return notes

    # -- the I/O thread --------------------------------------------------------

    def _view(self, client: _Client) -> View:
        return View(
            label=client.label,
            state=client.state,
            available=len(client.inbox),
            received=client.received,
            queued=client.queued,
            sent=client.sent,
            eof=client.eof_at is not None,
            error=client.error,
            detail=client.detail,
            progress_at=client.progress_at,
            received_at=client.received_at,
        )

    def _loop(self) -> None:
        try:
            while True:
                with self.condition:
                    if self.stopping:
                        return
                    timeout = self._next_due()
                events = self.selector.select(timeout)
                with self.condition:
                    for key, mask in events:
                        if key.data is None:
                            with contextlib.suppress(BlockingIOError):
                                self.wake_read.recv(4096)
                            self.woken = False
                            continue
                        self._ready(key.data, mask)
                    while self.commands:
                        self.commands.popleft()()
                    self._round()
                    self.condition.notify_all()
        except BaseException as exc:  # a checker bug: reported by every wait, never a hang
            with self.condition:
                self.failure = exc
                self.commands.clear()
                self.condition.notify_all()

    def _round(self) -> None:
        """Flush and re-register the clients that changed, and those with pieces due."""
        now = self.clock.now()
        work = self.dirty
        self.dirty = {}
        work.update((client, None) for client in self.timed if client.outbox and client.outbox[0][0] <= now)
        for client in work:
            self._flush(client)
            self._register(client)
            self._time(client)

    def _time(self, client: _Client) -> None:
        """Keep `timed` to the clients whose next piece waits for its time, not for the socket."""
        if client.outbox and client.state == "open" and not client.wants_write:
            self.timed[client] = None
        else:
            self.timed.pop(client, None)

    def _next_due(self) -> float | None:
        now = self.clock.now()
        due = [
            client.outbox[0][0]
            for client in self.timed
            if client.outbox and client.state == "open" and not client.wants_write
        ]
        if not due:
            return None
        return max(0.0, min(due) - now)

    def _register(self, client: _Client) -> None:
        mask = 0
        if client.sock is not None and client.state == "open":
            if client.wants_write:
                mask |= selectors.EVENT_WRITE
            if client.reading and client.eof_at is None:
                mask |= selectors.EVENT_READ
        if mask == client.mask:
            return
        assert client.sock is not None or mask == 0
        if client.mask == 0:
            assert client.sock is not None
            self.selector.register(client.sock, mask, client)
        elif mask == 0:
            if client.sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(client.sock)
        else:
            assert client.sock is not None
            self.selector.modify(client.sock, mask, client)
        client.mask = mask

    def _forget(self, client: _Client) -> None:
        if client.mask and client.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(client.sock)
        client.mask = 0

    def _fail(self, client: _Client, exc: OSError, doing: str) -> None:
        if doing == "send" and client.sock is not None:
            self._salvage(client)
        client.error = classify(exc)
        client.detail = f"{doing}: {type(exc).__name__}: {exc}"
        client.error_at = self.clock.now()
        client.outbox.clear()
        self.timed.pop(client, None)
        self._forget(client)
        if client.sock is not None:
            client.sock.close()
        client.state = "failed" if client.state == "connecting" else "closed"
        self.notify(client.label, f"{doing} failed: {client.error} ({exc}) after {client.received} bytes")

    def _salvage(self, client: _Client) -> None:
        """Take the bytes that arrived before the connection broke, so a report can show them
        (at most DRAIN_LIMIT, and never past the flood bound)."""
        assert client.sock is not None
        taken = 0
        with contextlib.suppress(OSError):
            while taken < DRAIN_LIMIT and not _flooded(client) and (data := client.sock.recv(_room(client))):
                taken += len(data)
                client.inbox += data
                client.received += len(data)
                client.received_at = self.clock.now()

    def _ready(self, client: _Client, mask: int) -> None:
        if client.sock is None or client.state != "open":
            return
        self.dirty[client] = None
        if mask & selectors.EVENT_WRITE:
            client.wants_write = False
        if mask & selectors.EVENT_READ:
            self._receive(client)

    def _receive(self, client: _Client) -> None:
        assert client.sock is not None
        for _ in range(READS_PER_EVENT):
            try:
                data = client.sock.recv(_room(client))
            except BlockingIOError:
                return
            except OSError as exc:
                self._fail(client, exc, "recv")
                return
            if not data:
                client.eof_at = self.clock.now()
                self.notify(client.label, f"EOF from the server after {client.received} bytes")
                return
            client.inbox += data
            client.received += len(data)
            client.received_at = self.clock.now()
            if _flooded(client):
                self._stop_flood(client)
                return

    def _stop_flood(self, client: _Client) -> None:
        """The server sent far more than this client sent it: keep what came, reset, fail."""
        assert client.sock is not None
        client.error = FLOOD
        client.detail = (
            f"recv: the server sent {client.received} bytes to a client that had sent it {client.sent} "
            "(an echo sends back what it gets): the client stopped reading there and reset the connection"
        )
        client.error_at = self.clock.now()
        client.outbox.clear()
        self.timed.pop(client, None)
        self._forget(client)
        with contextlib.suppress(OSError):
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sock.close()
        client.state = "closed"
        self.notify(
            client.label,
            f"flooded: {client.received} bytes for the {client.sent} it sent; reset by the checker",
        )

    def _queue(self, label: str, pieces: list[tuple[float, memoryview]]) -> None:
        client = self.clients[label]
        if client.state != "open":
            return
        client.outbox.extend(pieces)
        client.queued += sum(len(piece) for _due, piece in pieces)
        self.dirty[client] = None

    def _flush(self, client: _Client) -> None:
        if client.state != "open" or client.sock is None or client.wants_write:
            return
        now = self.clock.now()
        while client.outbox and client.outbox[0][0] <= now:
            due, piece = client.outbox[0]
            try:
                count = client.sock.send(piece[:CHUNK])
            except BlockingIOError:
                client.wants_write = True
                return
            except OSError as exc:
                self._fail(client, exc, "send")
                return
            client.sent += count
            client.progress_at = now
            if count == len(piece):
                client.outbox.popleft()
            else:
                client.outbox[0] = (due, piece[count:])
        if not client.outbox and client.after_flush is not None:
            then, client.after_flush = client.after_flush, None
            if then == "shutdown":
                self._shutdown_now(client, socket.SHUT_WR)
            else:
                self._close_now(client)

    def _set_reading(self, label: str, reading: bool) -> None:
        client = self.clients[label]
        if client.reading != reading:
            client.reading = reading
            self.dirty[client] = None

    def _shutdown(self, label: str, how: str) -> None:
        client = self.clients[label]
        self.dirty[client] = None
        if how == "write" and client.outbox:
            client.after_flush = "shutdown"
            return
        self._shutdown_now(
            client, {"read": socket.SHUT_RD, "write": socket.SHUT_WR, "both": socket.SHUT_RDWR}[how]
        )

    def _shutdown_now(self, client: _Client, how: int) -> None:
        if client.sock is None or client.state != "open":
            return
        try:
            client.sock.shutdown(how)
        except OSError as exc:
            self._fail(client, exc, "shutdown")

    def _close_after_flush(self, label: str) -> None:
        client = self.clients[label]
        self.dirty[client] = None
        if client.outbox and client.state == "open":
            client.after_flush = "close"
            return
        self._close_now(client)

    def _close_now(self, client: _Client) -> None:
        """Close after taking what is already buffered, so unread bytes do not turn it into a reset."""
        if client.sock is None or client.state not in {"open", "connecting"}:
            return
        drained = 0
        with contextlib.suppress(OSError):
            while drained < DRAIN_LIMIT and (data := client.sock.recv(CHUNK)):
                drained += len(data)
        self._forget(client)
        client.sock.close()
        client.state = "closed"
        self.timed.pop(client, None)

    def _reset(self, label: str) -> None:
        client = self.clients[label]
        if client.sock is None or client.state not in {"open", "connecting"}:
            return
        client.outbox.clear()
        self._forget(client)
        with contextlib.suppress(OSError):
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sock.close()
        client.state = "closed"
        self.timed.pop(client, None)

    def _close_everything(self) -> None:
        for client in self.clients.values():
            if client.state in {"open", "connecting"} and client.sock is not None:
                client.outbox.clear()
                self._close_now(client)


def _flooded(client: _Client) -> bool:
    """The client has received far more than it sent: more than an echo (or a re-encoding of it)."""
    return client.received > FLOOD_FACTOR * client.sent + FLOOD_MARGIN


def _room(client: _Client) -> int:
    """How much the next read may take: up to one byte past the flood bound (so a flood is seen
    with no more than that kept), and never more than CHUNK."""
    return max(1, min(CHUNK, FLOOD_FACTOR * client.sent + FLOOD_MARGIN + 1 - client.received))
