"""Never starts listening: it binds its port and then waits forever."""

import socket
import sys
import time

if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1])
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    print(f"bound 127.0.0.1:{port}, but listen() is never called", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)
