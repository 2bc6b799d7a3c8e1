"""Listens with a backlog of 1 and accepts slowly (one connection every 50 ms), so a crowd's connects wait."""

import threading
import time

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

ACCEPT_PAUSE = 0.05


if __name__ == "__main__":
    with _listen.listener(backlog=1) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=_listen.echo, args=(conn,), daemon=True).start()
            time.sleep(ACCEPT_PAUSE)  # the defect: the queue of 1 fills while it sleeps
