"""Writes with a blocking sendall inside its select loop: one client that does not read stalls everyone."""

import selectors
import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def on_ready(selector: selectors.BaseSelector, conn: socket.socket, _out: bytearray, _events: int) -> None:
    try:
        data = conn.recv(65536)
        if data:
            conn.sendall(data)  # blocks the whole loop while this client is not reading
            return
    except ConnectionError:
        pass
    selector.unregister(conn)
    conn.close()


if __name__ == "__main__":
    _listen.selector_loop(on_ready, blocking=True)
