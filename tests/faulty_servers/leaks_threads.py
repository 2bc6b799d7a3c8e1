"""Leaks a thread per connection: each client's thread closes the socket, then waits forever."""

import socket
import sys
import threading

FOREVER = threading.Event()


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except ConnectionError:
            pass
    FOREVER.wait()  # the thread should end here; it never does


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
