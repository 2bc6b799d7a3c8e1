"""Leaks a descriptor per connection: it shuts each connection down but never closes it (limit: 80)."""

import resource
import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

LEAKED: list[socket.socket] = []  # every connection stays referenced, so none is ever closed


def serve(conn: socket.socket) -> None:
    LEAKED.append(conn)
    try:
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_RDWR)  # the client sees the end; the descriptor stays open
    except OSError:
        pass


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (80, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    _listen.thread_per_client(serve)  # its accept raises EMFILE once the descriptors run out
