"""The peer: the checker's own end of every connection, and its kernel probes.

Rules of this module:
- the peer is plain blocking Python sockets with a time limit on every call, so
  a peer action can never hang a run;
- probes read kernel state of the implementation's socket without changing it
  (FIONREAD, MSG_PEEK on a duplicate descriptor); they never consume a byte;
  the one exception is SO_ERROR, which the kernel clears when it is read
  (`pending_error`, read once per check);
- each action returns what it observed; the runner records and judges it.
"""

from __future__ import annotations

import array
import fcntl
import os
import select
import socket
import struct
import termios
from collections.abc import Callable

from sockspec.driving.connections import Endpoints, nodelay, reserve
from sockspec.driving.drivers import SHUTDOWN_HOW
from sockspec.language.errorkinds import classify
from sockspec.language.model import Family, Peer

#: The most connections `fill_backlog` makes (the peer listens with a backlog of 16).
FILL_LIMIT = 1024


class PeerError(Exception):
    """The peer cannot do what the spec asked (e.g. reset on AF_UNIX): the spec author's to fix."""


def _connected(ends: Endpoints) -> socket.socket:
    if ends.peer is None:
        raise PeerError("the peer has no connected socket yet (accept or connect first)")
    return ends.peer


def _send(ends: Endpoints, step: Peer, limit: float) -> object:
    sock = _connected(ends)
    sock.settimeout(limit)
    assert step.payload is not None
    sock.sendall(step.payload)
    return len(step.payload)


def _read(ends: Endpoints, step: Peer, limit: float) -> object:
    """Read until `size` bytes or EOF; on the time limit, return what came."""
    sock = _connected(ends)
    assert step.size is not None
    sock.settimeout(limit)
    chunks: list[bytes] = []
    got = 0
    try:
        while got < step.size:
            chunk = sock.recv(min(step.size - got, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except TimeoutError:
        pass
    return b"".join(chunks)


def _shutdown(ends: Endpoints, step: Peer, limit: float) -> object:
    assert step.how is not None
    _connected(ends).shutdown(SHUTDOWN_HOW[step.how])
    return None


def _close(ends: Endpoints, step: Peer, limit: float) -> object:
    """Close the peer's connection; before the peer has one (connection: client), close its
    listener, so that nothing listens at the address and a connect there is refused.

    A TCP port freed that way could be taken by anyone before the implementation connects;
    so the address becomes a port reserved for the run instead: bound (without SO_REUSEADDR,
    so no other socket can bind it), never listening, closed with the run's sockets. An
    AF_UNIX listener's path is in the run's private directory and stays refused once closed.
    """
    if ends.peer is None and ends.peer_listener is not None:
        ends.peer_listener.close()
        if ends.family is not Family.UNIX:
            ends.address = reserve(ends)
        return None
    _connected(ends).close()
    return None


def _reset(ends: Endpoints, step: Peer, limit: float) -> object:
    """Abortive close: SO_LINGER {on, 0 s} then close sends RST instead of FIN."""
    if ends.family is Family.UNIX:
        raise PeerError("reset needs TCP: AF_UNIX has no RST (list families: [tcp4, tcp6])")
    sock = _connected(ends)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return None


def _accept(ends: Endpoints, step: Peer, limit: float) -> object:
    if ends.peer_listener is None:
        raise PeerError("the peer accepts only when the implementation is the client (connection: client)")
    ends.peer_listener.settimeout(limit)
    ends.peer = ends.adopt(ends.peer_listener.accept()[0])
    nodelay(ends, ends.peer)
    return None


def _connect(ends: Endpoints, step: Peer, limit: float) -> object:
    if ends.peer is None or ends.impl_listener is None:
        raise PeerError("the peer connects only when the implementation listens (connection: listener)")
    ends.peer.settimeout(limit)
    ends.peer.connect(ends.address)
    return None


def _fill_backlog(ends: Endpoints, step: Peer, limit: float) -> object:
    """Connect to the peer's own AF_UNIX listener, never accepting, until its backlog is full:
    a non-blocking connect there then fails with EAGAIN. Returns how many connections it made.

    AF_UNIX only: a TCP listener with a full backlog drops the SYN and the client retries,
    so a connect there never fails at once.
    """
    if ends.peer_listener is None:
        raise PeerError("fill_backlog fills the peer's listener: use connection: client")
    if ends.family is not Family.UNIX:
        raise PeerError("fill_backlog needs AF_UNIX: a full TCP backlog fails no connect (families: [unix])")
    for made in range(FILL_LIMIT):
        filler = ends.adopt(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        filler.setblocking(False)
        try:
            filler.connect(ends.address)
        except BlockingIOError:
            return made
    raise PeerError(f"the listener's backlog was not full after {FILL_LIMIT} connections")


def _steal(ends: Endpoints, step: Peer, limit: float) -> object:
    """Another reader takes up to `size` bytes from the implementation's socket (never waits)."""
    if ends.impl is None:
        raise PeerError("the implementation has no connected socket to steal from")
    assert step.size is not None
    with socket.socket(fileno=os.dup(ends.impl.fileno())) as dup:
        try:
            return dup.recv(step.size, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""


PeerAction = Callable[[Endpoints, Peer, float], object]

ACTIONS: dict[str, PeerAction] = {
    "send": _send,
    "read": _read,
    "shutdown": _shutdown,
    "close": _close,
    "reset": _reset,
    "accept": _accept,
    "connect": _connect,
    "steal": _steal,
    "fill_backlog": _fill_backlog,
}


def describe(step: Peer) -> str:
    """The action as the trace shows it: "send b'hello'", "read 1024", "shutdown write"."""
    shown = arguments(step)
    return f"{step.action} {shown}" if shown else step.action


def arguments(step: Peer) -> str:
    """The action's arguments as shown: "b'hello'", "1024", "write", or nothing."""
    if step.payload is not None:
        return repr(step.payload) if len(step.payload) <= 32 else f"{len(step.payload)} bytes"
    if step.size is not None:
        return str(step.size)
    if step.how is not None:
        return step.how
    return ""


def unread(sock: socket.socket) -> int:
    """Bytes in a socket's receive queue (FIONREAD); does not change it."""
    count = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, count)
    return count[0]


def hung_up(sock: socket.socket) -> bool:
    """Whether poll(2) reports POLLHUP or POLLERR on the socket now; consumes nothing."""
    poller = select.poll()
    poller.register(sock.fileno(), 0)  # POLLHUP and POLLERR are reported whatever is asked
    return any(revents & (select.POLLHUP | select.POLLERR) for _fd, revents in poller.poll(0))


def pending_error(sock: socket.socket) -> str:
    """The socket's pending error (SO_ERROR) as a portable kind, or 'none'; reading clears it."""
    number = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return "none" if number == 0 else classify(OSError(number, os.strerror(number)))


def peek(sock: socket.socket, size: int) -> bytes:
    """Up to `size` queued bytes, left in place (MSG_PEEK on a duplicate, never waits)."""
    with socket.socket(fileno=os.dup(sock.fileno())) as dup:
        try:
            return dup.recv(max(size, 1), socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""
