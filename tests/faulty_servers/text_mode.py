"""Treats the bytes as UTF-8 text: it decodes and re-encodes them, so binary data comes back changed."""

import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data.decode("utf-8", errors="replace").encode("utf-8"))
        except ConnectionError:
            pass


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
