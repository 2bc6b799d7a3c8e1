"""Where a stuck server was: each thread's syscall, kernel wait channel and stack, down to the line.

A server behaviour that fails on a client's wait ("client other: observed nothing within 2 s") says
what the clients saw. The checker started the server, so it may look inside it and say which line
of the server's code it was parked on.

Rules of this module:
- `capture(pids, cwd, budget)` takes one picture of the given processes and returns frozen values
  (`ServerStacks`); `summarise(stacks, cwd)` turns them into text and is a pure function of them;
  the parsers of the tools' output (`parse_py_spy`, `parse_eu_stack`, `parse_gdb`) are pure too,
  so all three are tested on captured strings;
- per thread, from /proc: the syscall it waits in (named by observe's per-architecture tables),
  the kernel wait channel (wchan), and how long it has slept, when the scheduler says (the task's
  `se.exec_start` in /proc/PID/task/TID/sched, read against the clock of the CPU it last ran on;
  all of it read before any tool runs, since a ptrace stop restarts the wait);
- per process, a stack: Python processes by `py-spy dump --nonblocking --json` (the optional extra
  `sockspec[stacks]`), other processes by `eu-stack` (elfutils), else `gdb -batch`;
- it never disturbs the server more than it must: py-spy reads memory without stopping anything;
  eu-stack and gdb stop the process with ptrace for a moment, which makes some waits return EINTR
  (epoll_wait, io_uring_enter, sigtimedwait, and reads of a socket with SO_RCVTIMEO: man 7
  signal), so a native process is stopped only when every thread is running or in a syscall that
  the kernel restarts by itself (`STOP_SAFE`); a tool killed at its timeout leaves no process
  stopped (SIGCONT);
- it never raises for what the server, the tools or the machine do: a process that exits while it
  is read is dropped, and a stack that cannot be taken is one line in `ProcessStacks.note`
  ("py-spy could not read 4242: permission denied (ptrace_scope=1)",
  "no Python stack: py-spy is not installed (pip install 'sockspec[stacks]')");
- it is bounded: a total time budget (DEFAULT_BUDGET), each tool run with the time left and killed
  past it, processes captured in parallel (MAX_PARALLEL at once); at most MAX_PROCESSES processes,
  MAX_THREADS threads a process, MAX_FRAMES frames a thread, MAX_OUTPUT bytes of a tool's output;
- the server runner (sockspec.servers.runner) calls it when a step fails because a client's
  wait ran out, before clean-up, with the live server's pids and working directory:

      stacks = capture([process.pid for process in server.observe(at).processes], server.cwd)

  and puts `summarise(stacks, server.cwd)` on the failure (`Failure.stuck`): its first line is
  one sentence ("the server's only thread was blocked in sendto at server.py:46 in main
  `s.sendall(data)`"), the folded stacks follow.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from sockspec.servers import observe
from sockspec.servers.observe import Wait

#: The whole capture's time budget, in seconds (tool runs included).
DEFAULT_BUDGET = 0.5
#: Tools run at once (one per process).
MAX_PARALLEL = 4
#: A tool is not started with less time left than this (it could not finish).
MIN_TOOL_TIME = 0.02
MAX_PROCESSES = 16
MAX_THREADS = 128
MAX_FRAMES = 32
#: Bytes of a tool's output read; more is not parsed.
MAX_OUTPUT = 4 * 1024 * 1024
#: Source files larger than this are not read for a frame's line.
MAX_SOURCE = 4 * 1024 * 1024
#: How far a time asleep may stray from its bounds (zero, the thread's age) and still be believed.
CLOCK_SLACK = 0.05
#: Characters kept of a source line, and of a note.
MAX_CODE = 120
MAX_NOTE = 200
#: What the summary shows at most: processes, groups of threads a process, frames a group.
SHOWN_PROCESSES = 8
SHOWN_GROUPS = 6
SHOWN_FRAMES = 10
HEADLINE_SPOTS = 3

EXTRA_HINT = "pip install 'sockspec[stacks]'"
YAMA_SCOPE = Path("/proc/sys/kernel/yama/ptrace_scope")
CAP_SYS_PTRACE = 19

#: Syscalls the kernel restarts by itself after a ptrace stop (no signal handler runs), so
#: stopping a thread parked in one of them is invisible to the program. Any other syscall,
#: or one not named, might return EINTR to it (epoll_wait does; see man 7 signal).
STOP_SAFE: frozenset[str] = frozenset(
    {
        "running",
        "blocked outside a syscall",
        "read",
        "readv",
        "write",
        "writev",
        "recvfrom",
        "recvmsg",
        "sendto",
        "sendmsg",
        "accept",
        "accept4",
        "connect",
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "futex",
        "nanosleep",
        "clock_nanosleep",
        "wait4",
        "waitid",
        "pause",
        "rt_sigsuspend",
        "restart_syscall",
    }
)

#: Names of a Python interpreter's executable (python, python3, python3.12, python3.13t).
PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?[dmut]*")
#: Frames of the Python standard library, and of installed packages.
STDLIB_PATH = re.compile(r"/lib(?:64)?/(?:python|pypy)\d+(?:\.\d+)?t?/(?P<rest>.+)")
PACKAGES_PATH = re.compile(r"/(?:site|dist)-packages/(?P<rest>.+)")
#: Native code that is not the server's own: system libraries, and the C start-up.
SYSTEM_LIBRARY = re.compile(r"^/(?:usr/)?(?:lib|lib32|lib64|libx32)/")
START_UP = frozenset({"_start", "__libc_start_main", "__libc_start_call_main", "__libc_start_main_impl"})
PERMISSION = re.compile(r"permission denied|operation not permitted|os error 1\b|os error 13\b", re.I)

Kind = Literal["python", "native"]


# -- the values ----------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One frame of a stack, as the tool named it.

    file is absolute, or relative to the server's working directory ('' when unknown);
    code is the source line, stripped, when the file was readable at capture time;
    module is the binary or library of a native frame ('' for Python frames).
    """

    function: str
    file: str = ""
    line: int | None = None
    code: str = ""
    module: str = ""


@dataclass(frozen=True)
class ThreadStack:
    """One thread: where it waits, since when, and its stack (innermost frame first)."""

    tid: int
    syscall: str  # 'sendto', 'running', 'blocked outside a syscall', 'syscall 999', 'unknown'
    wchan: str = ""  # the kernel function it sleeps in ('' when not told)
    state: str = ""  # R, S, D, T, ... from /proc/PID/task/TID/stat
    blocked_for: float | None = None  # seconds asleep, when the scheduler says
    frames: tuple[Frame, ...] = ()
    frames_cut: int = 0
    name: str = ""  # the Python thread's name, when py-spy tells it

    @property
    def waits_for_child(self) -> bool:
        return observe.WAITS.get(self.syscall) is Wait.CHILD


@dataclass(frozen=True)
class ProcessStacks:
    """One process of the server: its threads, which tool took their stacks, or why none did."""

    pid: int
    command: str
    kind: Kind
    threads: tuple[ThreadStack, ...] = ()
    threads_cut: int = 0
    tool: str = ""  # 'py-spy', 'eu-stack', 'gdb'; '' when no stack was taken
    note: str = ""  # one line: why there is no stack (or only part of one)

    @property
    def is_wrapper(self) -> bool:
        """Every thread waits for a child: a shell or a shim that started the real server."""
        return bool(self.threads) and all(thread.waits_for_child for thread in self.threads)


@dataclass(frozen=True)
class ServerStacks:
    """The server's processes at one moment, and how long taking the picture took (seconds)."""

    processes: tuple[ProcessStacks, ...]
    processes_cut: int = 0
    took: float = 0.0


@dataclass(frozen=True)
class Tools:
    """Paths of the stack tools found on this machine (None: not installed)."""

    py_spy: str | None
    eu_stack: str | None
    gdb: str | None


def find_tools() -> Tools:
    """py-spy beside this interpreter first (a venv used without activating it), then on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    py_spy = str(beside) if os.access(beside, os.X_OK) else shutil.which("py-spy")
    return Tools(py_spy, shutil.which("eu-stack"), shutil.which("gdb"))


# -- pure parsers of the tools' output -----------------------------------------


def _frames(frames: Sequence[Frame]) -> tuple[tuple[Frame, ...], int]:
    return tuple(frames[:MAX_FRAMES]), max(0, len(frames) - MAX_FRAMES)


def parse_py_spy(text: str) -> dict[int, tuple[str, list[Frame]]]:
    """`py-spy dump --json` -> {os thread id: (thread name, frames innermost first)}.

    Raises ValueError when the text is not py-spy's JSON."""
    threads = json.loads(text)
    if not isinstance(threads, list):
        raise ValueError("py-spy's JSON is not a list of threads")
    found: dict[int, tuple[str, list[Frame]]] = {}
    for thread in threads:
        if not isinstance(thread, dict):
            continue
        tid = thread.get("os_thread_id") or thread.get("thread_id")
        if not isinstance(tid, int):
            continue
        frames = [
            Frame(
                function=str(frame.get("name") or "?"),
                file=str(frame.get("filename") or ""),
                line=frame.get("line") if isinstance(frame.get("line"), int) else None,
            )
            for frame in thread.get("frames") or ()
            if isinstance(frame, dict)
        ]
        found[tid] = (str(thread.get("thread_name") or ""), frames)
    return found


EU_THREAD = re.compile(r"^TID (\d+):$")
EU_FRAME = re.compile(r"^#\d+\s+0x[0-9a-fA-F]+\s?(.*)$")
EU_SOURCE = re.compile(r"^\s+(\S.*?):(\d+)(?::\d+)?$")


def parse_eu_stack(text: str) -> dict[int, list[Frame]]:
    """`eu-stack -p PID -s -m` -> {thread id: frames innermost first}.

    Frame lines are '#N 0xADDR function - module', each followed by an indented
    'file:line:column' when the binary has line information."""
    found: dict[int, list[Frame]] = {}
    frames: list[Frame] | None = None
    for line in text.splitlines():
        if match := EU_THREAD.match(line):
            frames = found.setdefault(int(match.group(1)), [])
        elif frames is not None and (match := EU_FRAME.match(line)):
            rest = match.group(1).strip()
            function, _, module = rest.rpartition(" - ") if " - " in rest else (rest, "", "")
            if rest.startswith("- "):
                function, module = "", rest[2:]
            frames.append(Frame(function=function.strip() or "??", module=module.strip()))
        elif frames and (match := EU_SOURCE.match(line)):
            frames[-1] = replace(frames[-1], file=match.group(1), line=int(match.group(2)))
    return found


GDB_THREAD = re.compile(r"^Thread \d+ \(.*?(?:LWP|process) (\d+)\)")
GDB_FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-fA-F]+ in )?(\S+)")
GDB_AT = re.compile(r"\) at (\S+):(\d+)\s*$")
GDB_FROM = re.compile(r"\) from (\S+)\s*$")


def parse_gdb(text: str, pid: int) -> dict[int, list[Frame]]:
    """`gdb -batch -p PID -ex 'thread apply all bt'` -> {thread id: frames innermost first}.

    A process gdb shows without thread headers is taken as its one thread, `pid`."""
    found: dict[int, list[Frame]] = {}
    frames: list[Frame] | None = None
    for line in text.splitlines():
        if match := GDB_THREAD.match(line):
            frames = found.setdefault(int(match.group(1)), [])
        elif match := GDB_FRAME.match(line):
            if frames is None:
                frames = found.setdefault(pid, [])
            at, origin = GDB_AT.search(line), GDB_FROM.search(line)
            frames.append(
                Frame(
                    function=match.group(1),
                    file=at.group(1) if at else "",
                    line=int(at.group(2)) if at else None,
                    module=origin.group(1) if origin else "",
                )
            )
    return found


def tool_failure(tool: str, pid: int, stderr: str, why_denied: str) -> str:
    """A tool's failure as one line: '{tool} could not read PID: ...'."""
    if PERMISSION.search(stderr):
        return f"{tool} could not read {pid}: permission denied ({why_denied})"
    lines = [line.strip() for line in stderr.splitlines()]
    lines = lines[: lines.index("Stack backtrace:")] if "Stack backtrace:" in lines else lines
    useful = [line for line in lines if line and not line.startswith("Caused by")]
    errors = [line.removeprefix("Error: ") for line in useful if line.startswith("Error: ")]
    reason = (errors or useful or ["it failed and said nothing"])[0]
    if reason.startswith(f"{tool}: "):
        reason = reason[len(tool) + 2 :]
    return _cut(f"{tool} could not read {pid}: {reason}", MAX_NOTE)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- reading /proc -------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    tid: int
    syscall: str
    wchan: str
    state: str
    cpu: int | None
    exec_start: float | None  # seconds on the task clock of `cpu`
    read_at: float  # time.monotonic() when it was read
    age: float | None  # seconds since the thread started


@dataclass(frozen=True)
class _Look:
    pid: int
    command: str
    kind: Kind
    state: str
    tasks: tuple[_Task, ...]
    tasks_cut: int
    denied: bool  # /proc would not say where its threads wait (ptrace access)


def _read(path: Path, limit: int = 65536) -> str | None:
    try:
        with path.open("rb") as stream:
            return stream.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def _denied(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            stream.read(1)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def _task_stat(text: str | None) -> tuple[str, int | None, float | None]:
    """/proc/PID/task/TID/stat -> (state, the CPU it last ran on, seconds since it started)."""
    if text is None or ")" not in text:
        return "", None, None
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); field 22 (starttime, ticks since boot) is rest[19],
    # field 39 (processor) is rest[36].
    try:
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(rest[19]) / observe.clock_ticks()
        return rest[0], int(rest[36]), age
    except (IndexError, ValueError, OSError):
        return (rest[0] if rest else ""), None, None


def _exec_start(text: str | None) -> float | None:
    """se.exec_start of /proc/.../sched (milliseconds on the CPU's task clock) -> seconds."""
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "se.exec_start":
            try:
                return float(value) / 1000
            except ValueError:
                return None
    return None


def _kind(pid: int, argv0: str) -> Kind:
    """A Python interpreter's process, by its executable, its argv[0], or a libpython it maps."""
    proc = observe.PROC / str(pid)
    with contextlib.suppress(OSError):
        if PYTHON_NAME.fullmatch(Path(os.readlink(proc / "exe")).name):
            return "python"
    if PYTHON_NAME.fullmatch(Path(argv0).name):
        return "python"
    maps = _read(proc / "maps", MAX_OUTPUT) or ""
    return "python" if "/libpython" in maps else "native"


def _look(pid: int) -> _Look | None:
    proc = observe.PROC / str(pid)
    stat = observe.read_stat(pid)
    if stat is None:
        return None
    raw = _read(proc / "cmdline") or ""
    argv = [part for part in raw.split("\0") if part]
    command = _cut(" ".join(argv) or stat.comm, 100)
    if stat.state in {"Z", "X"}:
        return _Look(pid, command, "native", stat.state, (), 0, False)
    try:
        tids = sorted(int(entry) for entry in os.listdir(proc / "task") if entry.isdigit())
    except OSError:
        return None
    tasks = []
    for tid in tids[:MAX_THREADS]:
        task = proc / "task" / str(tid)
        text = _read(task / "syscall")
        syscall = observe.parse_syscall(text).describe() if text is not None else "unknown"
        wchan = (_read(task / "wchan") or "").strip()
        state, cpu, age = _task_stat(_read(task / "stat"))
        start = _exec_start(_read(task / "sched"))
        wchan = "" if wchan == "0" else wchan
        tasks.append(_Task(tid, syscall, wchan, state, cpu, start, time.monotonic(), age))
    denied = (
        bool(tasks) and tasks[0].syscall == "unknown" and _denied(proc / "task" / str(tids[0]) / "syscall")
    )
    return _Look(
        pid,
        command,
        _kind(pid, argv[0] if argv else ""),
        stat.state,
        tuple(tasks),
        len(tids) - len(tasks),
        denied,
    )


def _own_task_clock() -> float | None:
    return _exec_start(_read(Path("/proc/thread-self/sched")))


def _clock_offsets(cpus: Iterable[int]) -> dict[int, float]:
    """time.monotonic() minus each CPU's scheduler task clock, by running this thread there.

    The task clocks of two CPUs drift apart (they leave out each CPU's interrupt and steal
    time), so a thread's exec_start is read against the CPU it last ran on. This moves the
    thread that runs it from CPU to CPU, then back to the CPUs it had: capture runs it in a
    worker thread, never in its caller's."""
    offsets: dict[int, float] = {}
    try:
        allowed = os.sched_getaffinity(0)
    except (OSError, AttributeError):
        return offsets
    try:
        for cpu in sorted(set(cpus) & allowed):
            os.sched_setaffinity(0, {cpu})
            clock = _own_task_clock()
            if clock is not None:
                offsets[cpu] = time.monotonic() - clock
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, allowed)
    return offsets


def _blocked_for(task: _Task, offsets: dict[int, float]) -> float | None:
    """Seconds since the sleeping thread last ran, or None when the scheduler cannot say:
    exec_start is 0 for a sleeping thread the scheduler moved to another CPU."""
    if task.state not in {"S", "D"} or not task.exec_start or task.cpu not in offsets:
        return None
    asleep = task.read_at - offsets[task.cpu] - task.exec_start
    if asleep < -CLOCK_SLACK or (task.age is not None and asleep > task.age + CLOCK_SLACK):
        return None
    return max(asleep, 0.0)


def why_denied(pid: int) -> str:
    """Why ptrace access to `pid` is refused, as far as this process can tell."""
    scope = (_read(YAMA_SCOPE) or "").strip()
    if scope and scope != "0":
        return f"ptrace_scope={scope}"
    with contextlib.suppress(OSError):
        owner = os.stat(observe.PROC / str(pid)).st_uid
        if owner != os.geteuid():
            return f"it runs as uid {owner}, the checker as uid {os.geteuid()}"
    if not _has_capability(CAP_SYS_PTRACE):
        return "the checker runs without CAP_SYS_PTRACE"
    return "ptrace is not permitted to the checker here"


def _has_capability(bit: int) -> bool:
    """True when this process's effective capabilities (/proc/self/status CapEff) hold `bit`."""
    for line in (_read(observe.PROC / "self" / "status") or "").splitlines():
        key, _, value = line.partition(":")
        if key == "CapEff":
            with contextlib.suppress(ValueError):
                return bool(int(value.strip(), 16) >> bit & 1)
    return True


# -- running the tools ---------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    tool: str
    argv: tuple[str, ...]
    parse: Callable[[str], dict[int, tuple[str, list[Frame]]]]
    stops: bool  # the tool stops the process (ptrace attach)


def _named(found: dict[int, list[Frame]]) -> dict[int, tuple[str, list[Frame]]]:
    return {tid: ("", frames) for tid, frames in found.items()}


def _plan(look: _Look, tools: Tools) -> _Plan | str:
    """The tool to run on a process, or the one-line reason none is run ('' for none needed)."""
    if not look.tasks or all(observe.WAITS.get(task.syscall) is Wait.CHILD for task in look.tasks):
        return ""  # a zombie, or a wrapper waiting for its child: where it is says it all
    pid = str(look.pid)
    if look.kind == "python":
        # py-spy only reads memory: it is run even where /proc was denied, and says why it failed.
        if tools.py_spy is None:
            return f"no Python stack: py-spy is not installed ({EXTRA_HINT})"
        argv: tuple[str, ...] = (tools.py_spy, "dump", "--pid", pid, "--nonblocking", "--json")
        return _Plan("py-spy", argv, parse_py_spy, stops=False)
    if look.denied:
        return f"no native stack: could not read {look.pid}: permission denied ({why_denied(look.pid)})"
    unsafe = sorted({task.syscall for task in look.tasks} - STOP_SAFE)
    if unsafe:
        return (
            f"no native stack: a ptrace stop could end its wait in {', '.join(unsafe)} "
            "early with EINTR, so it is not stopped"
        )
    if tools.eu_stack is not None:
        argv = (tools.eu_stack, "-p", pid, "-s", "-m", "-n", str(MAX_FRAMES))
        return _Plan("eu-stack", argv, lambda text: _named(parse_eu_stack(text)), stops=True)
    if tools.gdb is not None:
        argv = (
            *(tools.gdb, "-q", "-batch", "-nx"),
            *("-iex", "set auto-load off", "-iex", "set debuginfod enabled off"),
            *("-p", pid, "-ex", f"thread apply all bt {MAX_FRAMES}"),
        )
        return _Plan("gdb", argv, lambda text: _named(parse_gdb(text, look.pid)), stops=True)
    return "no native stack: neither eu-stack (elfutils) nor gdb is installed"


TOOL_ENV = {"RUST_BACKTRACE": "0", "LC_ALL": "C", "DEBUGINFOD_URLS": ""}


def _run(
    plan: _Plan, look: _Look, deadline: float, budget: float
) -> dict[int, tuple[str, list[Frame]]] | str:
    """Run one tool within the time left: its parsed stacks, or a one-line note."""
    timeout = deadline - time.monotonic()
    if timeout < MIN_TOOL_TIME:
        return f"no stack: the capture's budget ({budget * 1000:.0f} ms) was spent"
    try:
        child = subprocess.Popen(
            plan.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **TOOL_ENV},
            start_new_session=True,
        )
    except OSError as exc:
        return f"{plan.tool} could not be started: {exc.strerror or exc}"
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        if plan.stops:
            _resume(look)
        return f"{plan.tool} did not finish reading {look.pid} within {timeout * 1000:.0f} ms"
    if len(out) > MAX_OUTPUT:
        return f"{plan.tool}'s output for {look.pid} is over {MAX_OUTPUT} bytes: not read"
    try:
        found = plan.parse(out.decode("utf-8", errors="replace"))
    except (ValueError, TypeError, AttributeError):
        found = {}
    if found:
        return found
    if observe.read_stat(look.pid) is None:
        return f"{plan.tool} could not read {look.pid}: the process exited"
    problem = (err or out).decode("utf-8", errors="replace")
    return tool_failure(plan.tool, look.pid, problem, why_denied(look.pid))


def _resume(look: _Look) -> None:
    """A tool killed while it held the process stopped may leave it in group-stop: continue it."""
    stat = observe.read_stat(look.pid)
    if stat is not None and stat.state == "T" and look.state != "T":
        with contextlib.suppress(OSError):
            os.kill(look.pid, signal.SIGCONT)


class _Sources:
    """Source lines of frames, each file read once, only while it is small."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.files: dict[str, list[str] | None] = {}

    def line(self, file: str, number: int | None) -> str:
        if not file or number is None or number < 1 or file.startswith("<"):
            return ""
        if file not in self.files:
            self.files[file] = self._load(file)
        lines = self.files[file]
        if lines is None or number > len(lines):
            return ""
        return _cut(lines[number - 1].strip(), MAX_CODE)

    def _load(self, file: str) -> list[str] | None:
        path = Path(file) if os.path.isabs(file) else self.cwd / file
        try:
            if path.stat().st_size > MAX_SOURCE:
                return None
            return path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None


def _assemble(
    look: _Look,
    tool: str,
    outcome: dict[int, tuple[str, list[Frame]]] | str,
    offsets: dict[int, float],
    sources: _Sources,
) -> ProcessStacks:
    found = outcome if isinstance(outcome, dict) else {}
    note = outcome if isinstance(outcome, str) else ""
    threads = []
    for task in look.tasks:
        name, frames = found.get(task.tid, ("", []))
        kept, cut = _frames([replace(frame, code=sources.line(frame.file, frame.line)) for frame in frames])
        threads.append(
            ThreadStack(
                tid=task.tid,
                syscall=task.syscall,
                wchan=task.wchan,
                state=task.state,
                blocked_for=_blocked_for(task, offsets),
                frames=kept,
                frames_cut=cut,
                name=name,
            )
        )
    if look.state in {"Z", "X"}:
        note = "it has exited (a zombie its parent has not reaped)"
    return ProcessStacks(
        pid=look.pid,
        command=look.command,
        kind=look.kind,
        threads=tuple(threads),
        threads_cut=look.tasks_cut,
        tool=tool if found else "",
        note=note,
    )


def capture(
    pids: Iterable[int], cwd: Path | str, budget: float = DEFAULT_BUDGET, tools: Tools | None = None
) -> ServerStacks:
    """Where every thread of the processes `pids` is now: syscall, wait channel, time asleep, stack.

    `cwd` is the server's working directory (relative source paths are read from there).
    Takes at most about `budget` seconds; never raises for what the processes or tools do."""
    started = time.monotonic()
    deadline = started + budget
    tools = tools if tools is not None else find_tools()
    unique = list(dict.fromkeys(pids))
    looks = [look for look in map(_look, unique[:MAX_PROCESSES]) if look is not None]
    plans = [_plan(look, tools) for look in looks]
    cpus = {task.cpu for look in looks for task in look.tasks if task.cpu is not None}
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL, thread_name_prefix="sockspec-stacks") as pool:
        offsets_run = pool.submit(_clock_offsets, cpus)
        runs: list[Future[dict[int, tuple[str, list[Frame]]] | str] | str] = [
            pool.submit(_run, plan, look, deadline, budget) if isinstance(plan, _Plan) else plan
            for plan, look in zip(plans, looks, strict=True)
        ]
        outcomes = [run if isinstance(run, str) else run.result() for run in runs]
        offsets = offsets_run.result()
    sources = _Sources(Path(cwd))
    processes = tuple(
        _assemble(look, plan.tool if isinstance(plan, _Plan) else "", outcome, offsets, sources)
        for look, plan, outcome in zip(looks, plans, outcomes, strict=True)
    )
    return ServerStacks(processes, max(0, len(unique) - MAX_PROCESSES), time.monotonic() - started)


# -- the summary (pure) --------------------------------------------------------


def _library(frame: Frame) -> str:
    """'' for the server's own code; else what the frame belongs to: 'stdlib', 'site-packages',
    a system library's name ('libc.so.6'), or 'system' for native code gdb names no library for."""
    if frame.module:
        if SYSTEM_LIBRARY.match(frame.module) or frame.function in START_UP:
            return Path(frame.module).name
        return ""
    if frame.file.startswith("<frozen "):
        return "stdlib"
    if PACKAGES_PATH.search(frame.file):
        return "site-packages"
    if STDLIB_PATH.search(frame.file):
        return "stdlib"
    if frame.function in START_UP or not frame.file:
        return "system"
    if frame.file.startswith(("./", "../")) and not frame.code:
        return "system"  # libc's own sources as gdb names them (../sysdeps/..., ./nptl/...)
    return ""


def _path(file: str, cwd: Path) -> str:
    """A frame's file as the reader knows it: relative to the server's directory, or the
    part of a library path after site-packages/ or pythonX.Y/."""
    for pattern in (PACKAGES_PATH, STDLIB_PATH):
        if match := pattern.search(file):
            return match.group("rest")
    if os.path.isabs(file):
        with contextlib.suppress(ValueError):
            return str(Path(file).relative_to(cwd))
    return file


def _frame_text(frame: Frame, cwd: Path) -> str:
    where = f"{_path(frame.file, cwd)}:{frame.line}" if frame.file and frame.line is not None else ""
    text = f"{where} in {frame.function}" if where else frame.function
    if frame.code:
        text += f" `{frame.code}`"
    library = _library(frame)
    return text + (f" [{library}]" if library else "")


def _user_index(frames: Sequence[Frame]) -> int | None:
    return next((index for index, frame in enumerate(frames) if not _library(frame)), None)


def _spot(frames: Sequence[Frame], cwd: Path) -> str:
    """' at server.py:46 in main `s.sendall(data)`' for the innermost frame of the server's own."""
    index = _user_index(frames)
    if index is None:
        return ""
    frame = frames[index]
    where = f"{_path(frame.file, cwd)}:{frame.line}" if frame.file and frame.line is not None else ""
    text = f" at {where}" if where else ""
    if frame.function != "<module>" or not where:
        text += f" in {frame.function}"
    code = _without_comment(frame.code) if frame.file.endswith(".py") else frame.code
    return text + (f" `{code}`" if code else "")


def _without_comment(code: str) -> str:
    """A Python line without its trailing comment (the headline is one sentence); the line
    as it is when it does not tokenize alone (an open bracket, a string that goes on)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.COMMENT:
                return code[: token.start[1]].rstrip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return code


def _doing(thread: ThreadStack) -> str:
    if thread.syscall in {"running", "unknown"}:
        return "running" if thread.syscall == "running" else "in a state /proc did not show"
    if thread.syscall.startswith("blocked"):
        return thread.syscall  # 'blocked outside a syscall'
    return f"blocked in {thread.syscall}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def _asleep(threads: Sequence[ThreadStack]) -> str:
    times = [thread.blocked_for for thread in threads if thread.blocked_for is not None]
    if not times:
        return ""
    low, high = min(times), max(times)
    if high - low < 0.1 or _seconds(low) == _seconds(high):
        return f" for about {_seconds(high)}"
    return f" for {_seconds(low)} to {_seconds(high)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _headline(stacks: ServerStacks, cwd: Path) -> str:
    served = [process for process in stacks.processes if process.threads and not process.is_wrapper]
    served = served or [process for process in stacks.processes if process.threads]
    threads = [thread for process in served for thread in process.threads]
    if not threads:
        notes = [process.note for process in stacks.processes if process.note]
        return "the server's threads could not be read" + (f": {notes[0]}" if notes else "")
    total = len(threads) + sum(process.threads_cut for process in served)
    spots = Counter(_doing(thread) + _spot(thread.frames, cwd) for thread in threads)
    where = f" in {len(served)} processes" if len(served) > 1 else ""
    if total == 1:
        thread = threads[0]
        return f"the server's only thread was {_doing(thread)}{_asleep(threads)}{_spot(thread.frames, cwd)}"
    if len(spots) == 1 and total == len(threads):
        return f"all {total} of the server's threads{where} were {next(iter(spots))}"
    ordered = sorted(spots.items(), key=lambda item: (-item[1], item[0]))
    parts = [f"{count} {spot}" for spot, count in ordered[:HEADLINE_SPOTS]]
    rest = total - sum(count for _, count in ordered[:HEADLINE_SPOTS])
    if rest:
        parts.append(f"{rest} elsewhere")
    return f"the server's {total} threads{where}: " + "; ".join(parts)


def _ordered(frames: Sequence[Frame]) -> list[tuple[bool, Frame]]:
    """Frames to show: the innermost frame of the server's own code first, then the library
    frames it called into (marked True), then its callers outward."""
    index = _user_index(frames)
    if index is None:
        return [(False, frame) for frame in frames]
    return [
        (False, frames[index]),
        *((True, frame) for frame in reversed(frames[:index])),
        *((False, frame) for frame in frames[index + 1 :]),
    ]


def _tids(threads: Sequence[ThreadStack]) -> str:
    shown = ", ".join(str(thread.tid) for thread in threads[:4])
    return shown + (", ..." if len(threads) > 4 else "")


def _process_lines(process: ProcessStacks, cwd: Path) -> list[str]:
    count = _plural(len(process.threads) + process.threads_cut, "thread")
    head = f"process {process.pid} ({process.command}), {count}"
    if process.is_wrapper:
        return [f"{head}: waits for its child (a wrapper)"]
    lines = [head + (f", stacks by {process.tool}:" if process.tool else ":")]
    if process.note:
        lines.append(f"  {process.note}")
    groups: dict[tuple[object, ...], list[ThreadStack]] = {}
    for thread in process.threads:
        key = (
            thread.syscall,
            thread.wchan,
            tuple((f.function, f.file, f.line, f.module) for f in thread.frames),
        )
        groups.setdefault(key, []).append(thread)
    ordered = sorted(groups.values(), key=lambda group: -len(group))
    for group in ordered[:SHOWN_GROUPS]:
        first = group[0]
        who = (
            f"thread {first.tid}" + (f" ({first.name})" if first.name else "")
            if len(group) == 1
            else f"{len(group)} threads ({_tids(group)})"
        )
        wchan = f" ({first.wchan})" if first.wchan and first.syscall != "running" else ""
        lines.append(f"  {who}, {_doing(first)}{wchan}{_asleep(group)}" + (":" if first.frames else ""))
        shown = _ordered(first.frames)
        for deeper, frame in shown[:SHOWN_FRAMES]:
            lines.append(("      -> " if deeper else "    ") + _frame_text(frame, cwd))
        hidden = len(shown) - SHOWN_FRAMES + first.frames_cut
        if hidden > 0:
            lines.append(f"    ... {_plural(hidden, 'more frame')}")
    if len(ordered) > SHOWN_GROUPS:
        others = sum(len(group) for group in ordered[SHOWN_GROUPS:])
        lines.append(f"  ... {_plural(others, 'more thread')} elsewhere")
    if process.threads_cut:
        lines.append(f"  ... {_plural(process.threads_cut, 'more thread')} not read")
    return lines


def summarise(stacks: ServerStacks, cwd: Path | str) -> str:
    """One sentence saying where the server was, then each process's stacks, folded: threads
    with the same stack are shown once. Paths are relative to the server's directory `cwd`."""
    base = Path(cwd)
    lines = [_headline(stacks, base)]
    for process in stacks.processes[:SHOWN_PROCESSES]:
        lines.extend(_process_lines(process, base))
    more = len(stacks.processes) - SHOWN_PROCESSES + stacks.processes_cut
    if more > 0:
        lines.append(f"... {_plural(more, 'more process')} not shown")
    return "\n".join(lines)
