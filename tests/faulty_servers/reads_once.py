"""Reads once, echoes that, and closes: everything after the first recv is lost."""

import contextlib
import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn, contextlib.suppress(ConnectionError):
        conn.sendall(conn.recv(4096))


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
