"""Spins on would_block: non-blocking sockets polled in a loop, never waiting in select or epoll."""

import contextlib
import socket

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

HIGH_WATER = 256 * 1024


def main(listener: socket.socket) -> None:
    pending: dict[socket.socket, bytearray] = {}
    finished: set[socket.socket] = set()
    while True:  # no select, no epoll, no sleep: every pass asks every socket again
        with contextlib.suppress(BlockingIOError):
            conn, _address = listener.accept()
            conn.setblocking(False)
            pending[conn] = bytearray()
        for conn, out in list(pending.items()):
            try:
                if len(out) < HIGH_WATER and conn not in finished:
                    with contextlib.suppress(BlockingIOError):
                        data = conn.recv(65536)
                        if data:
                            out.extend(data)
                        else:
                            finished.add(conn)
                if out:
                    with contextlib.suppress(BlockingIOError):
                        del out[: conn.send(out)]
            except ConnectionError:
                out.clear()
                finished.add(conn)
            if conn in finished and not out:
                del pending[conn]
                finished.discard(conn)
                conn.close()


if __name__ == "__main__":
    main(_listen.listener(blocking=False))
