"""Declares readiness, but its select loop watches only 8 clients: each later one gets a thread."""

import selectors
import socket
import threading

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

#: The clients its loop watches. A select() loop cannot watch a descriptor past FD_SETSIZE (1024);
#: this one stops at 8, so that a scale behaviour at 20 clients sees what it does past its limit.
WATCHED = 8
CHUNK = 65536


def serve_in_thread(conn: socket.socket) -> None:
    """The defect: past the loop's limit, a blocking thread per client, as a threads server has."""
    with conn:
        try:
            while data := conn.recv(CHUNK):
                conn.sendall(data)
        except ConnectionError:
            pass


def close(selector: selectors.BaseSelector, conn: socket.socket) -> None:
    selector.unregister(conn)
    conn.close()


def on_ready(selector: selectors.BaseSelector, conn: socket.socket, pending: bytearray, events: int) -> None:
    """Echo through the loop: what the kernel does not take now waits for EVENT_WRITE."""
    if events & selectors.EVENT_READ:
        try:
            data = conn.recv(CHUNK)
        except BlockingIOError:
            data = None
        except ConnectionError:
            close(selector, conn)
            return
        if data == b"":
            close(selector, conn)
            return
        if data:
            pending += data
    try:
        sent = conn.send(pending) if pending else 0
    except BlockingIOError:
        sent = 0
    except ConnectionError:
        close(selector, conn)
        return
    del pending[:sent]
    wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0)
    selector.modify(conn, wanted, pending)


def main() -> None:
    selector = selectors.SelectSelector()
    server: socket.socket = _listen.listener(blocking=False)
    selector.register(server, selectors.EVENT_READ)
    while True:
        for key, events in selector.select():
            if key.fileobj is server:
                try:
                    conn, _address = server.accept()
                except BlockingIOError:
                    continue
                if len(selector.get_map()) - 1 < WATCHED:
                    conn.setblocking(False)
                    selector.register(conn, selectors.EVENT_READ, bytearray())
                else:
                    conn.setblocking(True)
                    threading.Thread(target=serve_in_thread, args=(conn,), daemon=True).start()
                continue
            assert isinstance(key.fileobj, socket.socket)
            on_ready(selector, key.fileobj, key.data, events)


if __name__ == "__main__":
    main()
