"""Never starts listening: it binds its port and then waits forever."""

import socket
import sys
import time

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

if __name__ == "__main__":
    port = _listen.port()
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    print(f"bound 127.0.0.1:{port}, but listen() is never called", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)
