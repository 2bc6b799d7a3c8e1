"""Listens on another port than the one it is given (a port of its own choosing), and serves there."""

import socket
import threading

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except ConnectionError:
            pass


if __name__ == "__main__":
    given = _listen.port()
    # The defect: a port of its own (any free one but the one given), not `--port`.
    server = socket.create_server(("127.0.0.1", 0))
    while server.getsockname()[1] == given:
        server.close()
        server = socket.create_server(("127.0.0.1", 0))
    while True:
        conn, _address = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
