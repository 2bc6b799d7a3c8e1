"""Ignores the count a non-blocking send returns: whatever the kernel did not take is lost."""

import contextlib
import selectors
import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def on_ready(selector: selectors.BaseSelector, conn: socket.socket, _out: bytearray, _events: int) -> None:
    try:
        data = conn.recv(65536)
        if data:
            with contextlib.suppress(BlockingIOError):  # nothing fitted: dropped as well
                conn.send(data)  # the count it returns is never looked at
            return
    except BlockingIOError:
        return
    except ConnectionError:
        pass
    selector.unregister(conn)
    conn.close()


if __name__ == "__main__":
    _listen.selector_loop(on_ready)
