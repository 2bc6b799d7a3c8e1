"""What the faulty servers share, none of it faulty: the port from `--port N`, a listening socket on
127.0.0.1, and the two serving loops most of them use (a thread per client; a selectors loop).

Rules of this module:
- the standard library only, no sockspec import: the faulty servers stand in for a
  student's program, run as `python FILE --port N` with this file beside them;
- nothing here hides a fault: the loops catch no error of a client's connection
  (the handler a server passes decides what it catches), so each server's one
  defect is written in its own file, in its handler or in a loop of its own;
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


def thread_per_client(serve: Callable[[socket.socket], object]) -> NoReturn:
    """Accept clients forever, each served by `serve(conn)` in a daemon thread of its own."""
    with listener() as server:
        while True:
            conn, _address = server.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


def selector_loop(on_ready: OnReady, *, blocking: bool = False) -> NoReturn:
    """Accept clients and register each for reading, with a bytearray of its own for the bytes it
    is owed; call `on_ready` for every client the selector reports. `blocking` is the mode of the
    listening socket and of every client's."""
    selector = selectors.DefaultSelector()
    server = listener(blocking=blocking)
    selector.register(server, selectors.EVENT_READ)
    while True:
        for key, events in selector.select():
            if key.fileobj is server:
                try:
                    conn, _address = server.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(blocking)
                selector.register(conn, selectors.EVENT_READ, bytearray())
                continue
            assert isinstance(key.fileobj, socket.socket)
            on_ready(selector, key.fileobj, key.data, events)
