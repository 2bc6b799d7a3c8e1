"""The command line every reference server shares: --host and --port, and a quiet Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

# Room for many clients connecting at once: when the backlog is full, the kernel drops a
# client's SYN and that client's connect waits for the retransmission (a second or more).
BACKLOG = 512


def options(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    return parser.parse_args(argv)


def run(serve: Callable[[argparse.Namespace], None], description: str) -> None:
    """Parse the options and serve until stopped (SIGTERM ends the process; Ctrl-C ends it quietly)."""
    args = options(description)
    try:
        serve(args)
    except KeyboardInterrupt:
        sys.exit(0)
