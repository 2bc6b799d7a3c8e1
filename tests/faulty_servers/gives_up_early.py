"""Gives up on a client that sends nothing within 300 ms of connecting, and closes it."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def serve(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(0.3)
        try:
            data = conn.recv(65536)  # the first bytes must come at once
        except TimeoutError:
            return
        except ConnectionError:
            return
        conn.settimeout(None)
        try:
            while data:
                conn.sendall(data)
                data = conn.recv(65536)
        except ConnectionError:
            pass


if __name__ == "__main__":
    _listen.thread_per_client(serve)
