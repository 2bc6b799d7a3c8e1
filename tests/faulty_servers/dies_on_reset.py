"""Dies on a client's reset: the ConnectionResetError of one client ends the whole server."""

import contextlib
import selectors
import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def on_ready(selector: selectors.BaseSelector, conn: socket.socket, out: bytearray, events: int) -> None:
    # No handling of ConnectionResetError or BrokenPipeError anywhere below.
    if events & selectors.EVENT_READ:
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            data = None
        if data == b"":
            if not out:
                selector.unregister(conn)
                conn.close()
                return
        elif data:
            out += data
    if out:
        with contextlib.suppress(BlockingIOError):
            del out[: conn.send(out)]
    wanted = selectors.EVENT_WRITE if len(out) > 262144 else selectors.EVENT_READ
    if out:
        wanted |= selectors.EVENT_WRITE
    selector.modify(conn, wanted, out)


if __name__ == "__main__":
    _listen.selector_loop(on_ready)
