"""Serves at most 32 clients at once: it accepts any connection beyond that and closes it at once."""

import socket
import threading

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

CAP = 32
active = 0
lock = threading.Lock()


def serve(conn: socket.socket) -> None:
    global active
    _listen.echo(conn)
    with lock:
        active -= 1


def main(listener: socket.socket) -> None:
    global active
    with listener:
        while True:
            conn, _address = listener.accept()
            with lock:
                full = active >= CAP
                if not full:
                    active += 1
            if full:
                conn.close()  # the defect: it should leave the client waiting, not end it
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(_listen.listener())
