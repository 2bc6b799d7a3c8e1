"""Listens on another port than the one it is given (a port of its own choosing), and serves there."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

if __name__ == "__main__":
    given = _listen.port()
    # The defect: a port of its own (any free one but the one given), not `--port`.
    server = socket.create_server(("127.0.0.1", 0))
    while server.getsockname()[1] == given:
        server.close()
        server = socket.create_server(("127.0.0.1", 0))
    _listen.thread_per_client(_listen.echo, server)
