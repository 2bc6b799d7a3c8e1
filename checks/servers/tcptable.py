"""The kernel's TCP tables and a process's sockets, as /proc shows them.

Rules of this module:
- one parser of /proc/net/tcp and /proc/net/tcp6 rows (`parse`, pure, tested on
  captured text) and one reader of the socket inodes behind /proc/PID/fd
  (`socket_inodes`); the listener diagnosis (listeners.py) and the settle check
  (settle.py) both read them here;
- a row keeps what the table says: address, port, state, queues and inode; the
  meaning of a queue depends on the state (for a LISTEN socket rx_queue is the
  accept queue's length) and is the caller's to read;
- the readers never raise for what vanished or cannot be read: a process that
  exited holds no sockets, an unreadable table has no rows.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TABLES = ("tcp", "tcp6")
LISTEN = 0x0A

# The "st" column -> the state's name (include/net/tcp_states.h).
STATES: dict[int, str] = {
    0x01: "ESTABLISHED",
    0x02: "SYN_SENT",
    0x03: "SYN_RECV",
    0x04: "FIN_WAIT1",
    0x05: "FIN_WAIT2",
    0x06: "TIME_WAIT",
    0x07: "CLOSE",
    0x08: "CLOSE_WAIT",
    0x09: "LAST_ACK",
    LISTEN: "LISTEN",
    0x0B: "CLOSING",
    0x0C: "NEW_SYN_RECV",
}


@dataclass(frozen=True)
class Row:
    """One socket of a TCP table: its local address and port, state, queues and inode (0: none)."""

    host: str
    port: int
    state: int
    tx_queue: int
    rx_queue: int
    inode: int

    @property
    def state_name(self) -> str:
        return STATES.get(self.state, f"state {self.state:#04x}")


def _hex_address(text: str) -> str:
    """The table's address: 32-bit words in the machine's order (little-endian here)."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[index : index + 4][::-1] for index in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def parse(text: str) -> list[Row]:
    """/proc/net/tcp or /proc/net/tcp6 text -> its rows (a malformed row is left out)."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        host, _, port = fields[1].rpartition(":")
        tx_queue, _, rx_queue = fields[4].partition(":")
        try:
            found.append(
                Row(
                    _hex_address(host),
                    int(port, 16),
                    int(fields[3], 16),
                    int(tx_queue, 16),
                    int(rx_queue, 16),
                    int(fields[9]),
                )
            )
        except ValueError:
            continue
    return found


def socket_inode(link: str) -> int | None:
    """A /proc/PID/fd link -> the socket's inode ("socket:[123]" -> 123), None for anything else."""
    if link.startswith("socket:[") and link.endswith("]"):
        with contextlib.suppress(ValueError):
            return int(link[len("socket:[") : -1])
    return None


# -- the thin readers ----------------------------------------------------------------------------


def rows() -> list[Row]:
    """Every row of this network namespace's TCP tables (an unreadable table has none)."""
    found: list[Row] = []
    for name in TABLES:
        with contextlib.suppress(OSError):
            found.extend(parse((PROC / "net" / name).read_text(encoding="ascii", errors="replace")))
    return found


def socket_inodes(pids: Iterable[int]) -> set[int]:
    """The inodes of the sockets the processes `pids` hold (a process that vanished holds none)."""
    inodes: set[int] = set()
    for pid in pids:
        folder = PROC / str(pid) / "fd"
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                inode = socket_inode(os.readlink(folder / entry))
                if inode is not None:
                    inodes.add(inode)
    return inodes
