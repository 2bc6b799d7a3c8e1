"""An echo server in the blocking model: one thread per client (io-models-blog.md §Blocking).

Every call here blocks: accept waits for a client, recv waits for bytes,
sendall waits until the kernel has taken the whole echo. A blocking call stops
only the thread that made it, so the server gives each client a thread of its
own: a client that idles, sends slowly or stops reading holds up its own thread
and no other. The cost is the one the tutorial names: the number of threads
grows with the number of clients, which is exactly what sockspec observes
(thread-per-client: one thread waiting in accept, one in recvfrom per client).

    python -m sockspec.reference_impls.threads_server --port 9000
"""

from __future__ import annotations

import argparse
import socket
import threading

from sockspec.reference_impls._cli import BACKLOG, run

CHUNK = 65536


def serve_client(conn: socket.socket) -> None:
    """Echo until the client shuts down its side, then close ours."""
    with conn:
        try:
            while data := conn.recv(CHUNK):  # blocks until bytes arrive; b'' is the client's EOF
                conn.sendall(data)  # blocks while the client is not reading: only this thread waits
        except ConnectionError:  # the client reset the connection, or left while we wrote
            return


def serve(args: argparse.Namespace) -> None:
    with socket.create_server((args.host, args.port), backlog=BACKLOG) as listener:
        while True:
            conn, _address = listener.accept()  # blocks until a client connects
            threading.Thread(target=serve_client, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    run(serve, "echo server: blocking I/O, one thread per client")
