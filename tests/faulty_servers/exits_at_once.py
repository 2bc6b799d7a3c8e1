"""Exits at once with exit code 1 and one line on stderr, as a server whose port is taken does."""

import sys

import _listen  # type: ignore[import-not-found]  # beside this file: a faulty server runs as a script

if __name__ == "__main__":
    print(f"bind 127.0.0.1:{_listen.port()}: address already in use", file=sys.stderr, flush=True)
    sys.exit(1)
