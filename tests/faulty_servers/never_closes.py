"""Never closes after the client half-closes: on EOF it stops reading and keeps the connection forever."""

import socket
import sys
import threading

FOREVER = threading.Event()


def serve(conn: socket.socket) -> None:
    try:
        while data := conn.recv(65536):
            conn.sendall(data)
    except ConnectionError:
        return
    FOREVER.wait()  # EOF: the close that should come here never does


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
