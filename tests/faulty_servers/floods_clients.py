"""Sends every client an endless stream of bytes it never asked for, and never reads what it sends."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

BLOCK = b"flood " * 10923  # about 64 KiB


def flood(conn: socket.socket) -> None:
    with conn:
        try:
            while True:
                conn.sendall(BLOCK)
        except OSError:
            pass


if __name__ == "__main__":
    _listen.thread_per_client(flood)
