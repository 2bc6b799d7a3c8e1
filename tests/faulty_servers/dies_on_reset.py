"""Dies on a client's reset: the ConnectionResetError of one client ends the whole server."""

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
        for key, events in selector.select():
            if key.fileobj is listener:
                try:
                    accepted, _address = listener.accept()
                except BlockingIOError:
                    continue
                accepted.setblocking(False)
                selector.register(accepted, selectors.EVENT_READ, bytearray())
                continue
            conn, out = key.fileobj, key.data
            assert isinstance(conn, socket.socket)
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
                        continue
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
    main(int(sys.argv[sys.argv.index("--port") + 1]))
