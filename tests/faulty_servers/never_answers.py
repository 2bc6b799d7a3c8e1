"""Accepts every connection and never answers: it never reads, never writes, never closes."""

import socket
import time

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

if __name__ == "__main__":
    held: list[socket.socket] = []
    with _listen.listener() as server:
        while True:
            conn, _address = server.accept()
            held.append(conn)  # kept open, never read: the client's bytes pile up in the kernel
            time.sleep(0)
