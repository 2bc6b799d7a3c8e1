"""Diagnoses of connection-level symptoms: what the kernel and the clients saw, in words that name
the likely cause, beyond "nothing within 5 s".

Rules of this module:
- pure: functions of values (listeners read by sockspec.servers.listeners,
  counts and times the runner measured), no I/O, no clock;
- a diagnosis states what was measured first, then what it means, then what to
  do; it never claims more than the numbers show ("seems to" where it guesses);
- bytes still arriving when a limit ran out are never called missing: they were
  on their way, and the diagnosis says how fast they came.
"""

from __future__ import annotations

from collections.abc import Sequence

from sockspec.language.timing import format_duration
from sockspec.servers.listeners import Listener


def accept_queue(
    port: int,
    now: Sequence[Listener],
    later: Sequence[Listener],
    waited: float,
    connecting: int,
    unanswered: int = 0,
) -> list[str]:
    """Why connects did not complete, from the listening socket sampled twice, `waited` apart:
    a full accept queue (the kernel drops SYNs), a queue smaller than the connects left
    unanswered (it fills between looks), or nothing listening any more.
    `connecting`: how many clients the step connects at once; `unanswered`: how many of them
    got no answer."""
    if not now:
        return [f"nothing listens on port {port} any more (no listening socket in the kernel's tables)"]
    first = max(now, key=lambda listener: listener.queued)
    if first.backlog is None:
        if not first.queued:
            return []
        return [f"{first.queued} connections wait to be accepted on port {port} (its backlog is unknown)"]
    larger = f"listen with a larger backlog: this step connects {connecting} clients at once"
    if first.queued < first.backlog:
        if first.backlog >= unanswered:
            return []
        # Not seen full, yet more connects wait than the queue holds: on loopback a handshake
        # completes at once unless the accept queue is full, so the queue fills between looks.
        return [
            f"backlog {first.backlog}, {first.queued} waiting on port {port} when looked at, and "
            f"{unanswered} connects unanswered: a queue of {first.backlog} is full whenever more "
            "clients connect than the server has accepted, and then the kernel drops new SYNs "
            "(a connect waits for its SYN to be sent again, after 1 s, then 3 s, ...)",
            larger,
        ]
    state = "full" if first.full else "nearly full"
    lines = [
        f"backlog {first.backlog}, {first.queued} waiting on port {port}: the accept queue is {state}; "
        "while it is full the kernel drops new SYNs, and a connect waits for its SYN to be sent again "
        "(after 1 s, then 3 s, ...)"
    ]
    if first.backlog < connecting:
        lines.append(larger)
    after = next((listener for listener in later if listener.inode == first.inode), None)
    if after is not None:
        taken = first.queued - after.queued
        lines.append(
            f"the server accepted {taken} of them in {format_duration(waited)}: it accepts slowly"
            if taken > 0
            else f"the server accepted none of them in {format_duration(waited)}: it is not accepting"
        )
    return lines


def refused(port: int, now: Sequence[Listener], exited: bool) -> list[str]:
    """Connects were refused: what the listening socket shows. Nothing listening while the
    server still runs: it closed its listening socket (an exit is said by the runner)."""
    if now or exited:
        return []
    return [
        f"nothing listens on port {port} any more (no listening socket in the kernel's tables), "
        "yet the server still runs: it closed its listening socket"
    ]


def connection_cap(served: Sequence[str], ended: Sequence[str], order: Sequence[str]) -> list[str]:
    """Clients of one group that got their bytes (`served`) and clients the server closed or reset
    before sending them a byte (`ended`), `order` being the order they connected in."""
    if not served or not ended:
        return []
    total = len(order)
    position = {label: index for index, label in enumerate(order)}
    later = max(position[label] for label in served) < min(position[label] for label in ended)
    when = f", every one connected after the first {len(served)}" if later else ""
    return [
        f"{len(served)} of {total} clients were served; the server ended the other {len(ended)} "
        f"(EOF or reset) before sending them a byte{when}: it seems to cap its connections at "
        f"{len(served)}, closing the ones beyond instead of leaving them to wait"
    ]


def format_rate(per_second: float) -> str:
    """Bytes per second in words: '524288 bytes/s (512 KiB/s)'."""
    for unit, size in (("MiB/s", 1 << 20), ("KiB/s", 1 << 10)):
        if per_second >= size:
            return f"{per_second:,.0f} bytes/s ({per_second / size:.3g} {unit})"
    return f"{per_second:,.0f} bytes/s"


def still_arriving(
    expected: int, got: int, came: int, elapsed: float, quiet: float, limit: float
) -> list[str]:
    """A read that ran out of time while bytes kept coming: `got` of `expected` bytes in hand,
    `came` of them during the read's `elapsed` seconds, the last one `quiet` seconds before
    the end. The bytes that came are right; the rest was on its way, not lost."""
    rate = came / elapsed if elapsed > 0 else 0.0
    need = f"; at that rate {expected} bytes take about {format_duration(expected / rate)}" if rate else ""
    return [
        f"expected {expected} bytes within {format_duration(limit)}, observed {got} bytes, still arriving "
        f"when the limit ran out (the latest {format_duration(quiet)} before): the bytes that came are "
        f"right, the other {expected - got} were on their way",
        f"the server sends slowly: {format_rate(rate)} over {format_duration(elapsed)}{need}",
    ]
