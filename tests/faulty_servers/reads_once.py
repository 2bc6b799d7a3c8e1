"""Reads once, echoes that, and closes: everything after the first recv is lost."""

import contextlib
import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def serve(conn: socket.socket) -> None:
    with conn, contextlib.suppress(ConnectionError):
        conn.sendall(conn.recv(4096))


if __name__ == "__main__":
    _listen.thread_per_client(serve)
