"""Never closes after the client half-closes: on EOF it stops reading and keeps the connection forever."""

import socket
import threading

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

FOREVER = threading.Event()


def serve(conn: socket.socket) -> None:
    try:
        while data := conn.recv(65536):
            conn.sendall(data)
    except ConnectionError:
        return
    FOREVER.wait()  # EOF: the close that should come here never does


if __name__ == "__main__":
    _listen.thread_per_client(serve)
