"""An echo server in the readiness model: one thread, non-blocking sockets, a selector
(io-models-blog.md §Non-Blocking, §동기형 통지모델).

One thread asks the kernel which sockets are ready (selectors picks epoll on
Linux) and then does only what cannot block: a recv on a readable socket, a
send of what fits on a writable one. Each connection keeps the echo the kernel
has not taken yet in its own output buffer. When that buffer grows past
HIGH_WATER (the client is not reading), the server stops reading from that
client until the buffer drains below LOW_WATER: backpressure, so a client that
does not read costs bounded memory and stalls no one else. sockspec observes
one thread waiting in epoll_wait however many clients there are.

    python -m sockspec.reference_impls.selectors_server --port 9000
"""

from __future__ import annotations

import argparse
import selectors
import socket
from dataclasses import dataclass, field

from sockspec.reference_impls._cli import BACKLOG, run

CHUNK = 65536
HIGH_WATER = 256 * 1024  # stop reading a client whose echo waits beyond this
LOW_WATER = 64 * 1024  # read it again once its echo is down to this


@dataclass
class Connection:
    sock: socket.socket
    out: bytearray = field(default_factory=bytearray)  # echo the kernel has not taken yet
    eof: bool = False  # the client shut down its writing side
    paused: bool = False  # not reading: too much echo is waiting
    events: int = selectors.EVENT_READ

    def wanted(self) -> int:
        if self.paused and len(self.out) <= LOW_WATER:
            self.paused = False
        elif not self.paused and len(self.out) >= HIGH_WATER:
            self.paused = True
        events = 0
        if not self.eof and not self.paused:
            events |= selectors.EVENT_READ
        if self.out:
            events |= selectors.EVENT_WRITE
        return events


def accept(selector: selectors.BaseSelector, listener: socket.socket) -> None:
    try:
        sock, _address = listener.accept()
    except BlockingIOError:  # another readiness report raced us to it
        return
    sock.setblocking(False)
    selector.register(sock, selectors.EVENT_READ, Connection(sock))


def service(selector: selectors.BaseSelector, conn: Connection, events: int) -> None:
    """Do what the readiness report allows, then update what this connection waits for."""
    try:
        if events & selectors.EVENT_READ:
            data = conn.sock.recv(CHUNK)  # readable: returns at once
            if data:
                conn.out += data
            else:
                conn.eof = True
        if conn.out:
            sent = conn.sock.send(conn.out)  # takes what fits now; the rest waits for EVENT_WRITE
            del conn.out[:sent]
    except BlockingIOError:
        pass
    except ConnectionError:  # reset by the client, or it left while we wrote
        close(selector, conn)
        return
    if conn.eof and not conn.out:  # everything echoed after the client's EOF: close our side
        close(selector, conn)
        return
    wanted = conn.wanted()
    if wanted != conn.events:
        selector.modify(conn.sock, wanted, conn)
        conn.events = wanted


def close(selector: selectors.BaseSelector, conn: Connection) -> None:
    selector.unregister(conn.sock)
    conn.sock.close()


def serve(args: argparse.Namespace) -> None:
    with (
        selectors.DefaultSelector() as selector,
        socket.create_server((args.host, args.port), backlog=BACKLOG) as listener,
    ):
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, None)
        while True:
            for key, events in selector.select():  # waits until some socket is ready
                if key.data is None:
                    accept(selector, listener)
                else:
                    service(selector, key.data, events)


if __name__ == "__main__":
    run(serve, "echo server: one thread, non-blocking sockets and a selector")
