"""Closes a connection that has been idle for 1.5 s (a read timeout), though the client is still there."""

import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while True:
                conn.settimeout(1.5)
                data = conn.recv(65536)
                if not data:
                    return
                conn.settimeout(None)
                conn.sendall(data)
        except (TimeoutError, ConnectionError):
            return


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
