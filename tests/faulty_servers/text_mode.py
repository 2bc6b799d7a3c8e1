"""Treats the bytes as UTF-8 text: it decodes and re-encodes them, so binary data comes back changed."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data.decode("utf-8", errors="replace").encode("utf-8"))
        except ConnectionError:
            pass


if __name__ == "__main__":
    _listen.thread_per_client(serve)
