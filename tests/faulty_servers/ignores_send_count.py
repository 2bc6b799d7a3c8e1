"""Ignores the count a non-blocking send returns: whatever the kernel did not take is lost."""

import contextlib
import selectors
import socket
import sys


def main(port: int) -> None:
    selector = selectors.DefaultSelector()
    listener = socket.create_server(("127.0.0.1", port), backlog=512)
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, _events in selector.select():
            if key.fileobj is listener:
                try:
                    accepted, _address = listener.accept()
                except BlockingIOError:
                    continue
                accepted.setblocking(False)
                selector.register(accepted, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(65536)
                if data:
                    with contextlib.suppress(BlockingIOError):  # nothing fitted: dropped as well
                        conn.send(data)  # the count it returns is never looked at
                    continue
            except BlockingIOError:
                continue
            except ConnectionError:
                pass
            selector.unregister(conn)
            conn.close()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
