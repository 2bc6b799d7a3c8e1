"""What /proc shows about a server's process tree: pure parsers, and a thin reader.

Rules of this module:
- the parsers take the text of one /proc file and return frozen values; they
  read nothing themselves, so they are tested on captured strings;
- syscall numbers are named per architecture (x86_64, aarch64) from the
  kernel's own tables, and grouped into what a thread is waiting for;
- the reader walks a process tree from /proc/*/stat (parent ids and session
  ids), so wrappers that fork (shells, version-manager shims, `socat ... fork`)
  and a process-per-client server's children are all seen; a process or
  thread that vanishes while it is read is skipped, never an error;
- reading needs no privileges beyond those over one's own children; a file
  that cannot be read yields 'unknown', never a guess;
- what a process costs (resident and proportional memory, each thread's context
  switches) is read only when asked (`costs=True`): a scale behaviour's
  measures need it, every other observation stays cheap.
"""

from __future__ import annotations

import enum
import os
import platform
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

PROC = Path("/proc")
_Key = TypeVar("_Key", str, "Wait")


class Wait(enum.Enum):
    """What a thread is parked in, as far as /proc/PID/task/TID/syscall tells."""

    RUNNING = "running"
    RECV = "recv"  # recvfrom, recvmsg, read: a blocking read of one connection
    SEND = "send"  # sendto, sendmsg, write: a blocking write
    ACCEPT = "accept"
    READINESS = "readiness"  # poll, ppoll, select, pselect6, epoll_wait, epoll_pwait(2)
    COMPLETION = "completion"  # io_uring_enter
    LOCK = "lock"  # futex: a lock, a condition, a queue
    SLEEP = "sleep"  # nanosleep, clock_nanosleep
    CHILD = "child"  # wait4, waitid: a wrapper waiting for its child
    SIGNAL = "signal"  # pause, rt_sigsuspend, rt_sigtimedwait
    OTHER = "other"  # in another syscall, or blocked outside one
    UNKNOWN = "unknown"  # the file could not be read


# Syscall numbers by architecture (linux/arch/*/syscall tables; asm-generic for aarch64).
SYSCALLS: dict[str, dict[int, str]] = {
    "x86_64": {
        0: "read",
        1: "write",
        7: "poll",
        19: "readv",
        20: "writev",
        23: "select",
        24: "sched_yield",
        34: "pause",
        35: "nanosleep",
        42: "connect",
        43: "accept",
        44: "sendto",
        45: "recvfrom",
        46: "sendmsg",
        47: "recvmsg",
        61: "wait4",
        128: "rt_sigtimedwait",
        130: "rt_sigsuspend",
        202: "futex",
        219: "restart_syscall",
        230: "clock_nanosleep",
        232: "epoll_wait",
        247: "waitid",
        270: "pselect6",
        271: "ppoll",
        281: "epoll_pwait",
        288: "accept4",
        299: "recvmmsg",
        426: "io_uring_enter",
        441: "epoll_pwait2",
        449: "futex_waitv",
    },
    "aarch64": {
        22: "epoll_pwait",
        63: "read",
        64: "write",
        65: "readv",
        66: "writev",
        72: "pselect6",
        73: "ppoll",
        95: "waitid",
        98: "futex",
        101: "nanosleep",
        115: "clock_nanosleep",
        124: "sched_yield",
        128: "restart_syscall",
        133: "rt_sigsuspend",
        137: "rt_sigtimedwait",
        202: "accept",
        203: "connect",
        206: "sendto",
        207: "recvfrom",
        211: "sendmsg",
        212: "recvmsg",
        242: "accept4",
        243: "recvmmsg",
        260: "wait4",
        426: "io_uring_enter",
        441: "epoll_pwait2",
        449: "futex_waitv",
    },
}
ARCH_ALIASES: dict[str, str] = {"amd64": "x86_64", "arm64": "aarch64"}

WAITS: dict[str, Wait] = {
    "read": Wait.RECV,
    "readv": Wait.RECV,
    "recvfrom": Wait.RECV,
    "recvmsg": Wait.RECV,
    "recvmmsg": Wait.RECV,
    "write": Wait.SEND,
    "writev": Wait.SEND,
    "sendto": Wait.SEND,
    "sendmsg": Wait.SEND,
    "accept": Wait.ACCEPT,
    "accept4": Wait.ACCEPT,
    "poll": Wait.READINESS,
    "ppoll": Wait.READINESS,
    "select": Wait.READINESS,
    "pselect6": Wait.READINESS,
    "epoll_wait": Wait.READINESS,
    "epoll_pwait": Wait.READINESS,
    "epoll_pwait2": Wait.READINESS,
    "io_uring_enter": Wait.COMPLETION,
    "futex": Wait.LOCK,
    "futex_waitv": Wait.LOCK,
    "nanosleep": Wait.SLEEP,
    "clock_nanosleep": Wait.SLEEP,
    "wait4": Wait.CHILD,
    "waitid": Wait.CHILD,
    "pause": Wait.SIGNAL,
    "rt_sigsuspend": Wait.SIGNAL,
    "rt_sigtimedwait": Wait.SIGNAL,
}


def machine() -> str:
    name = platform.machine()
    return ARCH_ALIASES.get(name, name)


@dataclass(frozen=True)
class Parked:
    """Where one thread is: running, or blocked in a named syscall (number kept when unnamed)."""

    wait: Wait
    syscall: str = ""

    def describe(self) -> str:
        return self.syscall or self.wait.value


def parse_syscall(text: str, arch: str | None = None) -> Parked:
    """/proc/PID/task/TID/syscall -> where the thread is.

    The file holds 'running', or '-1 SP PC' (blocked outside a syscall), or
    'NR ARG1 ... ARG6 SP PC' (blocked in syscall NR).
    """
    fields = text.split()
    if not fields:
        return Parked(Wait.UNKNOWN)
    if fields[0] == "running":
        return Parked(Wait.RUNNING, "running")
    try:
        number = int(fields[0])
    except ValueError:
        return Parked(Wait.UNKNOWN)
    if number < 0:
        return Parked(Wait.OTHER, "blocked outside a syscall")
    name = SYSCALLS.get(arch or machine(), {}).get(number)
    if name is None:
        return Parked(Wait.OTHER, f"syscall {number}")
    return Parked(WAITS.get(name, Wait.OTHER), name)


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/PID/stat (or of a task's stat) that sockspec uses.

    utime and stime are in clock ticks (os.sysconf('SC_CLK_TCK') a second);
    starttime (ticks since boot) tells a process from a later one with the same pid.
    """

    pid: int
    comm: str
    state: str
    ppid: int
    pgrp: int
    session: int
    utime: int
    stime: int
    threads: int
    starttime: int

    @property
    def cpu_ticks(self) -> int:
        return self.utime + self.stime


def parse_stat(text: str) -> Stat:
    """/proc/PID/stat -> Stat. The command name may hold spaces and parentheses: it is
    everything between the first '(' and the last ')'."""
    open_paren = text.index("(")
    close_paren = text.rindex(")")
    pid = int(text[:open_paren])
    comm = text[open_paren + 1 : close_paren]
    rest = text[close_paren + 2 :].split()
    # rest[0] is field 3 (state); field N is rest[N - 3].
    return Stat(
        pid=pid,
        comm=comm,
        state=rest[0],
        ppid=int(rest[1]),
        pgrp=int(rest[2]),
        session=int(rest[3]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        threads=int(rest[17]),
        starttime=int(rest[19]),
    )


def parse_status_threads(text: str) -> int | None:
    """The 'Threads:' line of /proc/PID/status, or None when absent."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Threads":
            return int(value.strip())
    return None


def tree_members(stats: Iterable[Stat], root: int, session: int | None) -> list[Stat]:
    """The processes of the tree rooted at `root`: its descendants by parent id, plus any
    process of `session` (a child whose parent exited is still found by its session)."""
    by_parent: dict[int, list[Stat]] = {}
    everything = list(stats)
    for stat in everything:
        by_parent.setdefault(stat.ppid, []).append(stat)
    members: dict[int, Stat] = {stat.pid: stat for stat in everything if stat.pid == root}
    if session is not None:
        members.update({stat.pid: stat for stat in everything if stat.session == session})
    frontier = list(members)
    while frontier:
        pid = frontier.pop()
        for child in by_parent.get(pid, []):
            if child.pid not in members:
                members[child.pid] = child
                frontier.append(child.pid)
    return sorted(members.values(), key=lambda stat: stat.pid)


def parse_statm_rss(text: str, page: int) -> int | None:
    """/proc/PID/statm -> resident memory in bytes (its second field, in pages)."""
    fields = text.split()
    try:
        return int(fields[1]) * page
    except (IndexError, ValueError):
        return None


def parse_pss(text: str) -> int | None:
    """/proc/PID/smaps_rollup -> the proportional set size in bytes (its 'Pss:' line, in kB)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Pss":
            try:
                return int(value.split()[0]) * 1024
            except (IndexError, ValueError):
                return None
    return None


def parse_switches(text: str) -> tuple[int, int] | None:
    """/proc/PID/task/TID/status -> (voluntary, nonvoluntary) context switches of the thread."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in {"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"}:
            try:
                found[key] = int(value.strip())
            except ValueError:
                return None
    if len(found) != 2:
        return None
    return found["voluntary_ctxt_switches"], found["nonvoluntary_ctxt_switches"]


def parse_open_files_limit(text: str) -> int | None:
    """/proc/PID/limits -> the soft limit on open files (None when unlimited or absent)."""
    for line in text.splitlines():
        if line.startswith("Max open files"):
            soft = line[len("Max open files") :].split()[0]
            return int(soft) if soft.isdigit() else None
    return None


@dataclass(frozen=True)
class Thread:
    """One thread: where it is parked, and (when costs were read) its context switches,
    (voluntary, nonvoluntary)."""

    tid: int
    parked: Parked
    switches: tuple[int, int] | None = None


@dataclass(frozen=True)
class Process:
    """One live process of the tree (zombies are counted apart: they hold no thread and no fd).

    rss, pss: its resident and proportional memory in bytes, when costs were read."""

    stat: Stat
    threads: tuple[Thread, ...]
    fds: int | None
    rss: int | None = None
    pss: int | None = None

    @property
    def pid(self) -> int:
        return self.stat.pid


@dataclass(frozen=True)
class Snapshot:
    """The server's process tree at one moment (seconds on the run's clock)."""

    at: float
    processes: tuple[Process, ...]
    zombies: int = 0

    @property
    def process_count(self) -> int:
        return len(self.processes)

    @property
    def thread_count(self) -> int:
        return sum(len(process.threads) or process.stat.threads for process in self.processes)

    @property
    def fd_count(self) -> int | None:
        counts = [process.fds for process in self.processes]
        return None if any(count is None for count in counts) else sum(count or 0 for count in counts)

    @property
    def cpu_ticks(self) -> int:
        return sum(process.stat.cpu_ticks for process in self.processes)

    def waits(self) -> Counter[str]:
        """How many threads are parked in each syscall (or 'running')."""
        return Counter(thread.parked.describe() for process in self.processes for thread in process.threads)

    def wait_kinds(self) -> Counter[Wait]:
        return Counter(thread.parked.wait for process in self.processes for thread in process.threads)

    def counts(self) -> tuple[int, int, int | None]:
        return self.process_count, self.thread_count, self.fd_count

    @property
    def rss(self) -> int | None:
        """Resident memory summed over the tree (bytes; None unless every process's was read)."""
        return _total(process.rss for process in self.processes)

    @property
    def pss(self) -> int | None:
        """Proportional memory summed over the tree (bytes; None unless every process's was read)."""
        return _total(process.pss for process in self.processes)

    def cpu_by_process(self) -> dict[tuple[int, int], int]:
        """CPU ticks of each process, by (pid, start time): a later process with the same pid is
        another key."""
        return {(p.stat.pid, p.stat.starttime): p.stat.cpu_ticks for p in self.processes}

    def switches_by_thread(self) -> dict[tuple[int, int], tuple[int, int]] | None:
        """Each thread's (voluntary, nonvoluntary) context switches, by (its process's start time,
        tid); None unless costs were read for every thread."""
        found: dict[tuple[int, int], tuple[int, int]] = {}
        for process in self.processes:
            for thread in process.threads:
                if thread.switches is None:
                    return None
                found[process.stat.starttime, thread.tid] = thread.switches
        return found


def _total(values: Iterable[int | None]) -> int | None:
    found = list(values)
    return None if not found or any(value is None for value in found) else sum(v or 0 for v in found)


def describe_waits(waits: Mapping[str, int]) -> str:
    """{'recvfrom': 50, 'accept4': 1} -> '50 in recvfrom, 1 in accept4' (most first)."""
    ordered = sorted(waits.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{count} {'running' if name == 'running' else 'in ' + name}" for name, count in ordered)


# -- the thin reader ----------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def read_stat(pid: int) -> Stat | None:
    text = _read(PROC / str(pid) / "stat")
    if text is None:
        return None
    try:
        return parse_stat(text)
    except (ValueError, IndexError):
        return None


def all_stats() -> list[Stat]:
    stats = []
    for entry in os.listdir(PROC):
        if entry.isdigit():
            stat = read_stat(int(entry))
            if stat is not None:
                stats.append(stat)
    return stats


def _threads(pid: int, costs: bool = False) -> tuple[Thread, ...]:
    try:
        tids = sorted(int(entry) for entry in os.listdir(PROC / str(pid) / "task") if entry.isdigit())
    except OSError:
        return ()
    threads = []
    for tid in tids:
        task = PROC / str(pid) / "task" / str(tid)
        text = _read(task / "syscall")
        parked = parse_syscall(text) if text is not None else Parked(Wait.UNKNOWN)
        status = _read(task / "status") if costs else None
        threads.append(Thread(tid, parked, parse_switches(status) if status is not None else None))
    return tuple(threads)


def _memory(pid: int) -> tuple[int | None, int | None]:
    """(rss, pss) of a process in bytes, each None when it cannot be read."""
    statm = _read(PROC / str(pid) / "statm")
    rollup = _read(PROC / str(pid) / "smaps_rollup")
    return (
        parse_statm_rss(statm, os.sysconf("SC_PAGE_SIZE")) if statm is not None else None,
        parse_pss(rollup) if rollup is not None else None,
    )


def open_files_limit(pid: int) -> int | None:
    """The soft RLIMIT_NOFILE of process `pid` (None when unknown or unlimited)."""
    text = _read(PROC / str(pid) / "limits")
    return parse_open_files_limit(text) if text is not None else None


def _fds(pid: int) -> int | None:
    try:
        return len(os.listdir(PROC / str(pid) / "fd"))
    except OSError:
        return None


def available() -> str | None:
    """Why the process tree cannot be observed on this machine, or None when it can."""
    if not (PROC / "self" / "stat").exists():
        return "/proc is not available on this machine"
    return None  # on an architecture without a table, waits are named by syscall number


def snapshot(root: int, session: int | None, at: float, waits: bool = True, costs: bool = False) -> Snapshot:
    """Read the tree rooted at `root` (and the processes of `session`) from /proc; with `costs`,
    each process's memory and each thread's context switches too (and the threads, waits or not)."""
    members = tree_members(all_stats(), root, session)
    processes = []
    zombies = 0
    for stat in members:
        if stat.state in {"Z", "X"}:
            zombies += 1
            continue
        threads = _threads(stat.pid, costs) if waits or costs else ()
        rss, pss = _memory(stat.pid) if costs else (None, None)
        processes.append(Process(stat, threads, _fds(stat.pid), rss, pss))
    return Snapshot(at, tuple(processes), zombies)


def alive(pid: int, starttime: int) -> bool:
    """True while the process `pid` that started at `starttime` exists and is not a zombie."""
    stat = read_stat(pid)
    return stat is not None and stat.starttime == starttime and stat.state not in {"Z", "X"}


def clock_ticks() -> int:
    """Clock ticks a second, the unit of utime and stime in /proc/PID/stat."""
    return os.sysconf("SC_CLK_TCK")


def _majority(samples: Sequence[Snapshot], key: Callable[[Thread], _Key]) -> Counter[_Key]:
    """Threads per key, each thread of the first sample counted once, at the key it showed
    most often across `samples` (a thread caught running once is not called busy)."""
    first = (
        {thread.tid for process in samples[0].processes for thread in process.threads} if samples else set()
    )
    seen: dict[int, Counter[_Key]] = {}
    for snap in samples:
        for process in snap.processes:
            for thread in process.threads:
                if thread.tid in first:
                    seen.setdefault(thread.tid, Counter())[key(thread)] += 1
    return Counter(counts.most_common(1)[0][0] for counts in seen.values())


def majority_waits(samples: Sequence[Snapshot]) -> Counter[str]:
    """Threads per syscall they wait in, by majority across `samples`."""
    return _majority(samples, lambda thread: thread.parked.describe())


def majority_kinds(samples: Sequence[Snapshot]) -> Counter[Wait]:
    """Threads per kind of wait, by majority across `samples`."""
    return _majority(samples, lambda thread: thread.parked.wait)
