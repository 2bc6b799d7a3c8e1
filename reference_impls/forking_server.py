"""An echo server in the blocking model: one process per client (io-models-blog.md §Blocking).

The oldest way to serve many clients with blocking calls: after accept, fork.
The child owns the connection and blocks in recv and sendall for it alone; the
parent goes straight back to accept. Children that exit are reaped by the
kernel (SIGCHLD is ignored), so none is left a zombie. sockspec observes the
process tree grow by one process per client (process-per-client).

    python -m sockspec.reference_impls.forking_server --port 9000
"""

from __future__ import annotations

import argparse
import os
import signal
import socket

from sockspec.reference_impls._cli import BACKLOG, run

CHUNK = 65536


def serve_client(conn: socket.socket) -> None:
    """Echo until the client shuts down its side (runs in the child)."""
    with conn:
        try:
            while data := conn.recv(CHUNK):
                conn.sendall(data)
        except ConnectionError:
            return


def serve(args: argparse.Namespace) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps exited children
    with socket.create_server((args.host, args.port), backlog=BACKLOG) as listener:
        while True:
            conn, _address = listener.accept()
            if os.fork() == 0:  # the child: serve this client, then leave
                listener.close()
                serve_client(conn)
                os._exit(0)
            conn.close()  # the parent: the child has its own copy of the connection


if __name__ == "__main__":
    run(serve, "echo server: blocking I/O, one process per client")
