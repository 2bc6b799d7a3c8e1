"""Echoes every byte, but slowly: at most 512 KiB a second per client, so a 16 MiB echo takes 32 s."""

import socket
import time

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

RATE = 512 * 1024  # bytes a second
PIECE = 64 * 1024


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                for offset in range(0, len(data), PIECE):
                    piece = data[offset : offset + PIECE]
                    conn.sendall(piece)
                    time.sleep(len(piece) / RATE)  # the defect: a pause for every byte sent
        except ConnectionError:
            pass


if __name__ == "__main__":
    _listen.thread_per_client(serve)
