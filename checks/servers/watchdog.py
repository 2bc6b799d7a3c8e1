"""The watchdog: ends what a checker's servers started once the checker is gone, even by SIGKILL.

Rules of this file:
- it runs as its own small process, `python -I -S watchdog.py CHECKER_PID`,
  started by process.py with the first server of a checker process; it
  imports nothing beyond the standard library (not even sockspec: -S keeps
  site-packages out, so it starts in milliseconds and no user setting reaches
  it), in a session of its own (a Ctrl-C meant for pytest does not end it);
- its stdin is the read end of a pipe whose write end only the checker holds;
  the checker writes one line per fact: `mark NAME=VALUE` (the variable in the
  environment of every process of one server) and `pid PID STARTTIME` (a
  process it started or saw in a server's tree);
- end of file means the checker closed the pipe after stopping its servers, or
  died; either way every recorded process that is still the same process (pid
  and start time, field 22 of /proc/PID/stat), every process whose environment
  holds a recorded mark, and all their descendants are stopped (SIGSTOP, in
  rounds until a round finds no new one, so none forks or exits under it) and
  then killed (SIGKILL): the checker is gone, nobody is left to wait for a
  graceful end;
- then it exits. It never signals itself, its checker, or a process it cannot
  tie to a record or a mark.
"""

from __future__ import annotations

import os
import signal
import sys

PROC = "/proc"
CHUNK = 65536
ROUNDS = 50  # sweeps before giving up on a tree that keeps forking faster than it is stopped


def parse_line(line: bytes, marks: set[bytes], pids: dict[int, int]) -> None:
    """Record one line of the checker's (unknown lines are ignored)."""
    kind, _, rest = line.partition(b" ")
    if kind == b"mark" and b"=" in rest:
        marks.add(rest)
    elif kind == b"pid":
        fields = rest.split()
        if len(fields) == 2 and all(field.isdigit() for field in fields):
            pids[int(fields[0])] = int(fields[1])


def read_stat(pid: int) -> tuple[int, int, bytes] | None:
    """(parent pid, start time, state) of `pid`, or None when it is gone."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as stream:
            text = stream.read()
        fields = text[text.rindex(b")") + 2 :].split()
        return int(fields[1]), int(fields[19]), fields[0]
    except (OSError, ValueError, IndexError):
        return None


def marked(pid: int, marks: set[bytes]) -> bool:
    """True when the environment of `pid` holds one of `marks` (False when it cannot be read)."""
    if not marks:
        return False
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as stream:
            entries = stream.read().split(b"\0")
    except OSError:
        return False
    return any(entry in marks for entry in entries)


def targets(marks: set[bytes], pids: dict[int, int], spare: set[int]) -> dict[int, int]:
    """pid -> start time of every live process to end now."""
    table: dict[int, tuple[int, int, bytes]] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit():
            stat = read_stat(int(entry))
            if stat is not None and stat[2] not in {b"Z", b"X"}:
                table[int(entry)] = stat
    found = {
        pid for pid, (_ppid, start, _state) in table.items() if pids.get(pid) == start or marked(pid, marks)
    }
    children: dict[int, list[int]] = {}
    for pid, (ppid, _start, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    frontier = list(found)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return {pid: table[pid][1] for pid in found - spare}


def same(pid: int, start: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat[1] == start


def sweep(marks: set[bytes], pids: dict[int, int], spare: set[int]) -> int:
    """Stop every target (in rounds, catching what they fork meanwhile), then kill them all.
    Returns how many processes were killed."""
    held: dict[int, int] = {}
    for _ in range(ROUNDS):
        new = {pid: start for pid, start in targets(marks, pids, spare).items() if pid not in held}
        if not new:
            break
        for pid, start in new.items():
            if same(pid, start):
                try:
                    os.kill(pid, signal.SIGSTOP)
                except OSError:
                    continue
                held[pid] = start
    killed = 0
    for pid, start in held.items():
        if same(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def main(argv: list[str]) -> int:
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    checker = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else os.getppid()
    marks: set[bytes] = set()
    pids: dict[int, int] = {}
    pending = b""
    while chunk := os.read(0, CHUNK):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            parse_line(line, marks, pids)
    sweep(marks, pids, {os.getpid(), checker, 1})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
