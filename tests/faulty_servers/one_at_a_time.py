"""Serves one client at a time: accept, echo until that client leaves, then accept the next."""

import socket
import sys


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port)) as listener:
        while True:
            conn, _address = listener.accept()
            with conn:
                try:
                    while data := conn.recv(65536):
                        conn.sendall(data)
                except ConnectionError:
                    pass


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
