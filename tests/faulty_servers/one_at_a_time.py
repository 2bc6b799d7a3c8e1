"""Serves one client at a time: accept, echo until that client leaves, then accept the next."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def main(listener: socket.socket) -> None:
    while True:
        conn, _address = listener.accept()
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except ConnectionError:
                pass


if __name__ == "__main__":
    main(_listen.listener(backlog=128))  # what listen() takes by default
