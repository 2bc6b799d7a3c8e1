"""Gives up on a client that sends nothing within 300 ms of connecting, and closes it."""

import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(0.3)
        try:
            data = conn.recv(65536)  # the first bytes must come at once
        except TimeoutError:
            return
        except ConnectionError:
            return
        conn.settimeout(None)
        try:
            while data:
                conn.sendall(data)
                data = conn.recv(65536)
        except ConnectionError:
            pass


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
