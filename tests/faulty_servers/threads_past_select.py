"""Declares readiness, but its select loop watches only 8 clients: each later one gets a thread."""

import selectors
import socket
import threading

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

#: The clients its loop watches. A select() loop cannot watch a descriptor past FD_SETSIZE (1024);
#: this one stops at 8, so that a scale behaviour at 20 clients sees what it does past its limit.
WATCHED = 8
CHUNK = 65536


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


def on_accept(selector: selectors.BaseSelector, conn: socket.socket) -> bool:
    """The loop keeps its first WATCHED clients."""
    if len(selector.get_map()) - 1 < WATCHED:
        return True
    # The defect: past the loop's limit, a blocking thread per client, as a threads server has.
    conn.setblocking(True)
    threading.Thread(target=_listen.echo, args=(conn,), daemon=True).start()
    return False


if __name__ == "__main__":
    _listen.selector_loop(on_ready, selector=selectors.SelectSelector(), on_accept=on_accept)
