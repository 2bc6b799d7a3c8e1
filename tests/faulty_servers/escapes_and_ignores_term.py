"""Ignores SIGTERM and leaves a helper behind: a double-forked grandchild, own session, deaf to SIGTERM."""

import os
import signal
import socket
import sys


def main(port: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the helper inherits this across fork
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # the middle process: a new session, a child, and gone, so the child is orphaned
        os.setsid()
        if os.fork() == 0:
            os.write(write_end, f"{os.getpid()}\n".encode())
            while True:
                signal.pause()
        os._exit(0)
    os.close(write_end)
    os.waitpid(middle, 0)
    with os.fdopen(read_end) as report:
        print(f"helper {report.readline().strip()}", flush=True)
    with socket.create_server(("127.0.0.1", port)):
        while True:
            signal.pause()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]))
