"""Leaks a thread per connection: each client's thread closes the socket, then waits forever."""

import socket
import threading

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

FOREVER = threading.Event()


def serve(conn: socket.socket) -> None:
    _listen.echo(conn)  # echoes, then closes the client's socket
    FOREVER.wait()  # the thread should end here; it never does


if __name__ == "__main__":
    _listen.thread_per_client(serve)
