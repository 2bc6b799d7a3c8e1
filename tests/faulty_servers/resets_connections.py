"""Resets every connection as soon as it accepts it (SO_LINGER 0, then close): it never answers."""

import socket
import struct

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

if __name__ == "__main__":
    with _listen.listener() as server:
        while True:
            conn, _address = server.accept()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # with a zero linger, close sends RST instead of FIN
