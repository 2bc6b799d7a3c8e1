"""Serves its first 4 connections, then closes its listening socket and goes on running."""

import threading
import time

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

SERVED = 4  # the checker's start-up check is the first of them


if __name__ == "__main__":
    with _listen.listener() as server:
        for _ in range(SERVED):
            conn, _address = server.accept()
            threading.Thread(target=_listen.echo, args=(conn,), daemon=True).start()
    # The listener is closed: new connects are refused, while the process (and its clients) live on.
    while True:
        time.sleep(3600)
