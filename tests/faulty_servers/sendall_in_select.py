"""Writes with a blocking sendall inside its select loop: one client that does not read stalls everyone."""

import selectors
import socket
import sys


def main(port: int) -> None:
    selector = selectors.DefaultSelector()
    listener = socket.create_server(("127.0.0.1", port), backlog=512)
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, _events in selector.select():
            if key.fileobj is listener:
                accepted, _address = listener.accept()
                selector.register(accepted, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(65536)
                if data:
                    conn.sendall(data)  # blocks the whole loop while this client is not reading
                    continue
            except ConnectionError:
                pass
            selector.unregister(conn)
            conn.close()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
