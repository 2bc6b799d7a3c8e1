"""Leaks a descriptor per connection: it shuts each connection down but never closes it (limit: 80)."""

import resource
import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    try:
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_RDWR)  # the client sees the end; the descriptor stays open
    except OSError:
        pass


def main(port: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (80, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    leaked = []
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()  # raises EMFILE once the descriptors run out
            leaked.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
