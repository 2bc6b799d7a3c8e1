"""Serves at most 32 clients at once: it accepts any connection beyond that and closes it at once."""

import socket
import sys
import threading

CAP = 32
active = 0
lock = threading.Lock()


def serve(conn: socket.socket) -> None:
    global active
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except ConnectionError:
            pass
    with lock:
        active -= 1


def main(port: int) -> None:
    global active
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
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
    main(int(sys.argv[sys.argv.index("--port") + 1]))
