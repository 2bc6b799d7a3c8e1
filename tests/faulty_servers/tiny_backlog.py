"""Listens with a backlog of 1 and accepts slowly (one connection every 50 ms), so a crowd's connects wait."""

import socket
import sys
import threading
import time

ACCEPT_PAUSE = 0.05


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except ConnectionError:
            pass


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=1) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
            time.sleep(ACCEPT_PAUSE)  # the defect: the queue of 1 fills while it sleeps


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
