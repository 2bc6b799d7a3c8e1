"""What the faulty servers share, none of it faulty: the port from `--port N`, a listening socket on
127.0.0.1, a correct blocking echo of one client, and the two serving loops most of them use (a thread
per client; a selectors loop).

Rules of this module:
- the standard library only, no sockspec import: the faulty servers stand in for a
  student's program, run as `python FILE --port N` with this file beside them;
- nothing here hides a fault: the loops catch no error of a client's connection
  (the handler a server passes decides what it catches), so each server's one
  defect is written in its own file, in its handler or in a loop of its own;
  `echo` is the correct handler (a client that resets ends it quietly, as it
  ends a correct server's), for the servers whose defect lies elsewhere;
- a listening socket has a backlog of 512, so a burst of clients waits to be
  accepted instead of being refused.
"""

from __future__ import annotations

import selectors
import socket
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

BACKLOG = 512

#: A selectors loop's hook for a client just accepted: True leaves it to the loop (which makes it
#: non-blocking or not, as the loop's sockets are, and registers it); False takes it away from the loop.
OnAccept = Callable[[selectors.BaseSelector, socket.socket], bool]

#: A selectors loop's handler: (selector, the client's socket, its pending output, the events reported).
OnReady = Callable[[selectors.BaseSelector, socket.socket, bytearray, int], None]


def port() -> int:
    """The port given as `--port N`."""
    return int(sys.argv[sys.argv.index("--port") + 1])


def listener(*, blocking: bool = True, backlog: int = BACKLOG) -> socket.socket:
    """A socket listening on 127.0.0.1 at `port()`."""
    sock = socket.create_server(("127.0.0.1", port()), backlog=backlog)
    sock.setblocking(blocking)
    return sock


def echo(conn: socket.socket) -> None:
    """Send back every byte `conn` sends, until it closes (or resets); then close it."""
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except ConnectionError:
            pass


def keep(_selector: selectors.BaseSelector, _conn: socket.socket) -> bool:
    """The `OnAccept` that leaves every client to the loop."""
    return True


def thread_per_client(
    serve: Callable[[socket.socket], object], server: socket.socket | None = None
) -> NoReturn:
    """Accept clients forever on `server` (by default `listener()`), each served by `serve(conn)` in a
    daemon thread of its own."""
    with listener() if server is None else server as listening:
        while True:
            conn, _address = listening.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


def selector_loop(
    on_ready: OnReady,
    *,
    blocking: bool = False,
    selector: selectors.BaseSelector | None = None,
    on_accept: OnAccept = keep,
) -> NoReturn:
    """Accept clients and register each for reading (each one `on_accept` leaves to the loop), with a
    bytearray of its own for the bytes it is owed; call `on_ready` for every client the selector
    reports. `blocking` is the mode of the listening socket and of every client's; `selector` is by
    default the platform's best."""
    selector = selectors.DefaultSelector() if selector is None else selector
    server = listener(blocking=blocking)
    selector.register(server, selectors.EVENT_READ)
    while True:
        for key, events in selector.select():
            if key.fileobj is server:
                try:
                    conn, _address = server.accept()
                except BlockingIOError:
                    continue
                if on_accept(selector, conn):
                    conn.setblocking(blocking)
                    selector.register(conn, selectors.EVENT_READ, bytearray())
                continue
            assert isinstance(key.fileobj, socket.socket)
            on_ready(selector, key.fileobj, key.data, events)
