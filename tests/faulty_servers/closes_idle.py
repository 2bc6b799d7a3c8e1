"""Closes a connection that has been idle for 1.5 s (a read timeout), though the client is still there."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while True:
                conn.settimeout(1.5)
                data = conn.recv(65536)
                if not data:
                    return
                conn.settimeout(None)
                conn.sendall(data)
        except (TimeoutError, ConnectionError):
            return


if __name__ == "__main__":
    _listen.thread_per_client(serve)
