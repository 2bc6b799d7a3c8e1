"""Whether a server answers at all: one fresh client connects, sends one line, and waits for a byte.

Rules of this module:
- `probe` is the only I/O here: one blocking client socket on loopback, every wait
  bounded by its `limit`; it returns what it saw (`Seen`), never raises for what the
  server did, and closes its connection the way an echo client does (after the
  echo, or at the limit), so a fragile server is not handed a reset it did not earn;
- any byte back counts as an answer: the probe asks "does it answer at all", not
  "does it echo right" (that is what the behaviours judge); a server that keeps
  input until a block fills or the client is done is given that chance too: with
  no answer to its line, the probe shuts down its sending side (SHUT_WR) and
  waits a little more (FINISHED);
- the words are tables: what a server that fails the probe does, and what the
  probe saw, for a message of one line (`dead`); a probe whose connection was
  never accepted (it waits in the listener's accept queue: the caller reads it)
  says so.
"""

from __future__ import annotations

import enum
import socket
import time

from sockspec.language.timing import format_duration
from sockspec.servers.config import format_address

#: What the probe sends: one short line of plain text, which any echo server returns unchanged.
LINE = b"sockspec probe\n"
#: How long the probe waits for a connect, and then for the first byte back (seconds).
LIMIT = 5.0
#: After the first byte, how long it waits for the rest of its line before it closes.
REST = 0.2
#: With no answer to its line: how long it waits for one after it shuts its sending side down.
FINISHED = 1.0
#: A brief probe (for the answer, then after SHUT_WR), of a process about to be replaced anyway.
QUICK = 0.5


class Seen(enum.Enum):
    """What one probe saw."""

    ANSWERED = "answered"
    NO_ANSWER = "no answer"
    CLOSED = "closed"
    RESET = "reset"
    REFUSED = "refused"
    NO_CONNECT = "no connect"


#: A probe that got no answer -> (what the server does, what the probe saw). `{address}` and
#: `{limit}` are filled in.
WORDS: dict[Seen, tuple[str, str]] = {
    Seen.NO_ANSWER: (
        "accepts connections but answers nothing",
        "a fresh client's line got no answer within {limit}, nor once it shut down its sending side",
    ),
    Seen.CLOSED: (
        "closes connections without answering",
        "a fresh client's connection was closed before any answer",
    ),
    Seen.RESET: (
        "resets connections without answering",
        "a fresh client's connection was reset before any answer",
    ),
    Seen.REFUSED: (
        "refuses connections",
        "a fresh client's connect was refused: nothing listens on {address}",
    ),
    Seen.NO_CONNECT: (
        "accepts no connections",
        "a fresh client's connect to {address} got no answer within {limit}",
    ),
}


#: What a server does whose connections stay in its accept queue (the kernel completed them).
NEVER_ACCEPTS = "listens but never accepts a connection"


def probe(host: str, port: int, limit: float = LIMIT, finished: float = FINISHED) -> Seen:
    """Connect to host:port, send LINE, wait for any byte back: the connect and the answer
    within `limit` each, then `finished` more after SHUT_WR."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(limit)
        try:
            sock.connect((host, port))
        except ConnectionRefusedError:
            return Seen.REFUSED
        except ConnectionError:  # reset (or aborted) as soon as it was accepted
            return Seen.RESET
        except OSError:
            return Seen.NO_CONNECT
        try:
            sock.sendall(LINE)
            try:
                first = sock.recv(len(LINE))
            except TimeoutError:
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(finished)
                first = sock.recv(len(LINE))
        except TimeoutError:
            return Seen.NO_ANSWER
        except OSError:
            return Seen.RESET
        if not first:
            return Seen.CLOSED
        _take_the_rest(sock, len(LINE) - len(first))
    return Seen.ANSWERED


def _take_the_rest(sock: socket.socket, missing: int) -> None:
    """Read the rest of the echo (briefly), so closing sends FIN, not a reset for unread bytes."""
    deadline = time.monotonic() + REST
    while missing > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        sock.settimeout(remaining)
        try:
            more = sock.recv(missing)
        except OSError:
            return
        if not more:
            return
        missing -= len(more)


def dead(seen: Seen, host: str, port: int, limit: float = LIMIT, waiting: int = 0) -> tuple[str, str]:
    """For a probe that got no answer: (what the server does, what the probe saw), in words.
    `waiting`: the connections in its listener's accept queue after a probe got no answer
    (then it never accepted them: the kernel completed the connects for it)."""
    does, saw = WORDS[seen]
    said = saw.format(address=format_address(host, port), limit=format_duration(limit))
    if seen is Seen.NO_ANSWER and waiting:
        does = NEVER_ACCEPTS
        said += f", and {waiting} connection{'s' if waiting > 1 else ''} wait in its accept queue"
    return does, said
