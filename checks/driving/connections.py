"""The connection factory: every socket a behaviour uses is made here.

Rules of this module:
- loopback only: 127.0.0.1, ::1, and AF_UNIX paths in a private temporary
  directory; no other address is ever bound or connected to;
- buffer sizes are set before connect/listen (Linux stops autotuning then);
- TCP_NODELAY is set on TCP sockets, so Nagle's delayed ACK stall (about 40 ms
  on loopback) never shapes a timeline;
- an address meant to refuse connections (`reserve`) is a port this run holds
  bound and never listens on, so no one else can take it meanwhile;
- `Endpoints.close_all` closes everything it made and removes the directory,
  whatever state the sockets are in.
"""

from __future__ import annotations

import contextlib
import fcntl
import resource
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sockspec.language.model import Family, SocketOptions, Topology

_AF: dict[Family, socket.AddressFamily] = {
    Family.TCP4: socket.AF_INET,
    Family.TCP6: socket.AF_INET6,
    Family.UNIX: socket.AF_UNIX,
}
_LOOPBACK: dict[Family, str] = {Family.TCP4: "127.0.0.1", Family.TCP6: "::1"}
SETUP_TIMEOUT = 5.0

#: A socket address as Python's socket module takes it: (host, port) or a path.
Address = tuple[Any, ...] | str


@cache
def unavailable(family: Family) -> str | None:
    """Why a family cannot be used on this machine, or None when it can."""
    if family is Family.UNIX:
        return None if hasattr(socket, "AF_UNIX") else "AF_UNIX is not available"
    if family is Family.TCP6 and not socket.has_ipv6:
        return "this Python was built without IPv6"
    try:
        with socket.socket(_AF[family], socket.SOCK_STREAM) as probe:
            probe.bind((_LOOPBACK[family], 0))
    except OSError as exc:
        return f"cannot bind {_LOOPBACK[family]} on this machine ({exc.strerror})"
    return None


@dataclass
class Endpoints:
    """The sockets of one behaviour run.

    impl: the implementation's connected (or, for CLIENT, still unconnected) socket;
    impl_listener: the implementation's listening socket (LISTENER);
    peer: the checker's connected (or, for LISTENER, still unconnected) socket;
    peer_listener: the checker's listening socket (CLIENT);
    address: where the listener of this run listens.
    """

    family: Family
    address: Address = ""
    impl: socket.socket | None = None
    impl_listener: socket.socket | None = None
    peer: socket.socket | None = None
    peer_listener: socket.socket | None = None
    made: list[socket.socket] = field(default_factory=list)
    directory: str | None = None

    def adopt(self, sock: socket.socket) -> socket.socket:
        """Track a socket made during the run (an accepted one) for clean-up."""
        self.made.append(sock)
        return sock

    def shutdown_all(self) -> None:
        """Wake any call blocked on these sockets: shutdown wakes recv, send and accept; closing
        the peer's listener wakes a connect waiting for room in its full AF_UNIX backlog."""
        for sock in self.made:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self.peer_listener is not None:
            self.peer_listener.close()

    def close_all(self) -> None:
        for sock in self.made:
            sock.close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def _new_socket(ends: Endpoints, sndbuf: int | None, rcvbuf: int | None) -> socket.socket:
    sock = ends.adopt(socket.socket(_AF[ends.family], socket.SOCK_STREAM))
    if sndbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if ends.family is not Family.UNIX:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _listen(ends: Endpoints, sndbuf: int | None, rcvbuf: int | None) -> socket.socket:
    sock = _new_socket(ends, sndbuf, rcvbuf)
    if ends.family is Family.UNIX:
        ends.directory = tempfile.mkdtemp(prefix="sockspec-")
        sock.bind(f"{ends.directory}/listener")
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((_LOOPBACK[ends.family], 0))
    sock.listen(16)
    ends.address = sock.getsockname()
    return sock


def reserve(ends: Endpoints) -> Address:
    """A loopback TCP address where nothing listens, held for the run, so a connect there is
    refused: a free port bound without SO_REUSEADDR (no other socket can bind it) and never
    listened on; `close_all` releases it."""
    holder = _new_socket(ends, None, None)
    holder.bind((_LOOPBACK[ends.family], 0))
    address: Address = holder.getsockname()
    return address


def nodelay(ends: Endpoints, sock: socket.socket) -> None:
    """Set TCP_NODELAY on an accepted TCP socket (no effect on AF_UNIX)."""
    if ends.family is not Family.UNIX:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _high_descriptor(ends: Endpoints, sock: socket.socket, at_least: int) -> socket.socket:
    """The same socket moved to a descriptor >= at_least (to test FD_SETSIZE limits)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= at_least and hard > at_least:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, at_least + 64), hard))
    moved = socket.socket(fileno=fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, at_least))
    ends.made.remove(sock)
    sock.close()
    return ends.adopt(moved)


def _tune(ends: Endpoints, options: SocketOptions) -> None:
    """Options set on the implementation's socket once it exists."""
    if options.rcvlowat is not None and ends.impl is not None:
        ends.impl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, options.rcvlowat)
    if options.fd_at_least is not None:
        if ends.impl is not None:
            ends.impl = _high_descriptor(ends, ends.impl, options.fd_at_least)
        elif ends.impl_listener is not None:
            ends.impl_listener = _high_descriptor(ends, ends.impl_listener, options.fd_at_least)


def open_endpoints(family: Family, topology: Topology, options: SocketOptions) -> Endpoints:
    """Make the sockets a behaviour starts from (see model.Topology)."""
    ends = Endpoints(family)
    try:
        _open(ends, topology, options)
        _tune(ends, options)
        return ends
    except BaseException:
        ends.close_all()
        raise


def _open(ends: Endpoints, topology: Topology, options: SocketOptions) -> None:
    if topology is Topology.LISTENER:
        ends.impl_listener = _listen(ends, options.sndbuf, options.rcvbuf)
        ends.peer = _new_socket(ends, options.peer_sndbuf, options.peer_rcvbuf)
        return
    listener = _listen(ends, options.peer_sndbuf, options.peer_rcvbuf)
    ends.impl = _new_socket(ends, options.sndbuf, options.rcvbuf)
    if topology is Topology.CLIENT:
        ends.peer_listener = listener
        return
    ends.impl.settimeout(SETUP_TIMEOUT)
    ends.impl.connect(ends.address)
    ends.impl.settimeout(None)
    listener.settimeout(SETUP_TIMEOUT)
    ends.peer = ends.adopt(listener.accept()[0])
    nodelay(ends, ends.peer)
    listener.close()
