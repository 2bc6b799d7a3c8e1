"""Closes a connection when a send would block, instead of waiting until the client reads."""

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
                selector.register(accepted, selectors.EVENT_READ, bytearray())
                continue
            conn, out = key.fileobj, key.data
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(65536)
                if data:
                    out += data
                    while out:
                        del out[: conn.send(out)]  # raises BlockingIOError once the client's side is full
                    continue
            except BlockingIOError:
                pass  # would block: treated as the end of this client
            except ConnectionError:
                pass
            selector.unregister(conn)
            conn.close()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
