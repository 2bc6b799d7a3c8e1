"""Echoes every byte, but slowly: at most 512 KiB a second per client, so a 16 MiB echo takes 32 s."""

import socket
import sys
import threading
import time

RATE = 512 * 1024  # bytes a second
PIECE = 64 * 1024


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                for offset in range(0, len(data), PIECE):
                    piece = data[offset : offset + PIECE]
                    conn.sendall(piece)
                    time.sleep(len(piece) / RATE)  # the defect: a pause for every byte sent
        except ConnectionError:
            pass


def main(port: int) -> None:
    with socket.create_server(("127.0.0.1", port), backlog=512) as listener:
        while True:
            conn, _address = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
