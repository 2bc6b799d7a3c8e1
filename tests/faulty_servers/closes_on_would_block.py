"""Closes a connection when a send would block, instead of waiting until the client reads."""

import selectors
import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def on_ready(selector: selectors.BaseSelector, conn: socket.socket, out: bytearray, _events: int) -> None:
    try:
        data = conn.recv(65536)
        if data:
            out += data
            while out:
                del out[: conn.send(out)]  # raises BlockingIOError once the client's side is full
            return
    except BlockingIOError:
        pass  # would block: treated as the end of this client
    except ConnectionError:
        pass
    selector.unregister(conn)
    conn.close()


if __name__ == "__main__":
    _listen.selector_loop(on_ready)
