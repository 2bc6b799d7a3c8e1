"""Floods its stderr: 50 MiB of log lines and a last line, then listens (or, with --exit, exits with 3)."""

import signal
import socket
import sys

LAST = b"the last line\n"


def main(port: int, then_exit: bool) -> None:
    block = (b"." * 1023 + b"\n") * 1024
    for _ in range(50):
        sys.stderr.buffer.write(block)
    sys.stderr.buffer.write(LAST)
    sys.stderr.flush()
    if then_exit:
        sys.exit(3)
    with socket.create_server(("127.0.0.1", port)):
        while True:
            signal.pause()


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--port") + 1]), "--exit" in sys.argv)
