"""A server's listening sockets as the kernel sees them: how many connections wait to be accepted,
and how many may (the backlog).

Rules of this module:
- the parsers take what the kernel hands out (a sock_diag netlink reply, the
  text of /proc/net/tcp or /proc/net/tcp6, a /proc/PID/fd link) and return
  frozen values; they read nothing themselves, so they are tested on captured
  bytes and text;
- for a listening socket, sock_diag reports the accept queue's length
  (idiag_rqueue) and its limit, listen()'s backlog capped by somaxconn
  (idiag_wqueue); /proc/net/tcp shows the queue's length as rx_queue but not
  the backlog (its tx_queue is a send queue, 0 for a listener), so it is the
  fallback when netlink is refused, and the backlog is then unknown;
- Linux lets one connection more than the backlog wait (the queue is full when
  its length exceeds the backlog); while it is full the kernel drops new SYNs,
  and a client's connect waits for its SYN to be sent again (1 s, then 3 s, ...);
- the thin readers find the sockets listening on one port (`listening`),
  narrowed to the server's own when its processes are known (their sockets'
  inodes, from /proc/PID/fd), and every socket some processes listen on
  (`held_by`); they never raise: what cannot be read is left out.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sockspec.servers import tcptable

PROC = Path("/proc")
TCP_LISTEN = tcptable.LISTEN
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
# struct inet_diag_msg: family, state, timer, retrans; then struct inet_diag_sockid (sport, dport
# big-endian, src[16], dst[16], interface, cookie[2]); then expires, rqueue, wqueue, uid, inode.
DIAG_MESSAGE = struct.Struct("=BBBB")
DIAG_PORTS = struct.Struct("!HH")
DIAG_COUNTS = struct.Struct("=IIIII")
DIAG_ID_SIZE = 48
NETLINK_TIMEOUT = 1.0


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket.

    queued: connections the kernel has completed that wait in the accept queue;
    backlog: how many may wait (listen()'s backlog, capped by somaxconn), or None when unknown;
    inode: the socket's inode, which /proc/PID/fd links name ("socket:[INODE]").
    """

    host: str
    port: int
    queued: int
    backlog: int | None
    inode: int

    @property
    def full(self) -> bool:
        """The accept queue is full: Linux drops new SYNs once more than `backlog` wait."""
        return self.backlog is not None and self.queued > self.backlog


def _address(raw: bytes, family: int) -> str:
    return socket.inet_ntop(family, raw[:4] if family == socket.AF_INET else raw[:16])


def parse_inet_diag(data: bytes) -> tuple[list[Listener], bool]:
    """One netlink reply of a sock_diag dump -> the listening sockets in it, and whether the dump
    ended (NLMSG_DONE, or an error)."""
    found: list[Listener] = []
    offset = 0
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind, _flags, _sequence, _port = NLMSG_HEADER.unpack_from(data, offset)
        if kind in (NLMSG_DONE, NLMSG_ERROR):
            return found, True
        if length < NLMSG_HEADER.size:
            return found, True
        body = data[offset + NLMSG_HEADER.size : offset + length]
        if len(body) >= DIAG_MESSAGE.size + DIAG_ID_SIZE + DIAG_COUNTS.size:
            family, state, _timer, _retrans = DIAG_MESSAGE.unpack_from(body, 0)
            port, _dport = DIAG_PORTS.unpack_from(body, DIAG_MESSAGE.size)
            source = body[DIAG_MESSAGE.size + 4 : DIAG_MESSAGE.size + 20]
            _expires, rqueue, wqueue, _uid, inode = DIAG_COUNTS.unpack_from(
                body, DIAG_MESSAGE.size + DIAG_ID_SIZE
            )
            if state == TCP_LISTEN and family in (socket.AF_INET, socket.AF_INET6):
                found.append(Listener(_address(source, family), port, rqueue, wqueue, inode))
        offset += (length + 3) & ~3
    return found, False


def parse_net_tcp(text: str) -> list[Listener]:
    """/proc/net/tcp or /proc/net/tcp6 -> its listening sockets (the backlog is unknown there)."""
    return [_listener(row) for row in tcptable.parse(text) if row.state == TCP_LISTEN]


def _listener(row: tcptable.Row) -> Listener:
    return Listener(row.host, row.port, row.rx_queue, None, row.inode)


# -- the thin reader -------------------------------------------------------------


def _diag_request(family: int) -> bytes:
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN)
    request += b"\0" * DIAG_ID_SIZE
    flags = NLM_F_REQUEST | NLM_F_DUMP
    return NLMSG_HEADER.pack(NLMSG_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, flags, 1, 0) + request


def _by_sock_diag() -> list[Listener] | None:
    """Every listening TCP socket of this network namespace, by sock_diag; None when refused."""
    found: list[Listener] = []
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as link:
            link.settimeout(NETLINK_TIMEOUT)
            for family in (socket.AF_INET, socket.AF_INET6):
                link.send(_diag_request(family))
                done = False
                while not done:
                    some, done = parse_inet_diag(link.recv(1 << 16))
                    found.extend(some)
    except (OSError, AttributeError):
        return None
    return found


def _by_proc() -> list[Listener]:
    return [_listener(row) for row in tcptable.rows() if row.state == TCP_LISTEN]


def held_by(pids: Iterable[int]) -> list[Listener]:
    """Every listening socket the processes `pids` hold, on any port."""
    everything = _by_sock_diag()
    if everything is None:
        everything = _by_proc()
    held = tcptable.socket_inodes(pids)
    return [listener for listener in everything if listener.inode in held]


def listening(port: int, pids: Iterable[int] = ()) -> list[Listener]:
    """The sockets listening on `port`; the server's own (held by `pids`) when any of them is."""
    everything = _by_sock_diag()
    if everything is None:
        everything = _by_proc()
    on_port = [listener for listener in everything if listener.port == port]
    held = tcptable.socket_inodes(pids)
    own = [listener for listener in on_port if listener.inode in held]
    return own or on_port
