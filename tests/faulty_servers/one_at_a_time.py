"""Serves one client at a time: accept, echo until that client leaves, then accept the next."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def main(listener: socket.socket) -> None:
    while True:
        conn, _address = listener.accept()
        # The defect: the echo runs here, in the accepting thread (written out, not `_listen.echo`, so
        # that a stuck report names this file's recv line, as it would a student's).
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except ConnectionError:
                pass


if __name__ == "__main__":
    main(_listen.listener(backlog=128))  # what listen() takes by default
