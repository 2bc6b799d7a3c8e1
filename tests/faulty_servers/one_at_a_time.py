"""Serves one client at a time: accept, echo until that client leaves, then accept the next."""

import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script


def main(listener: socket.socket) -> None:
    while True:
        conn, _address = listener.accept()
        _listen.echo(conn)  # the defect: in the accepting thread, so the next client waits for this one


if __name__ == "__main__":
    main(_listen.listener(backlog=128))  # what listen() takes by default
