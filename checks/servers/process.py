"""A server process: start it, wait until it listens, keep its output, stop it and all it started.

Rules of this module:
- the command runs in its own session (start_new_session) with
  SOCKSPEC_SERVER_TREE=<a token of its own> in its environment, which all it
  starts inherits; its tree is its first process and that session, every
  process holding its token, every process seen in it before (pid and start
  time, so a reused pid is never signalled), and all their descendants by
  parent id (`server_tree`, pure);
- while any server runs, the checker process is a child subreaper
  (PR_SET_CHILD_SUBREAPER, Linux; skipped where it is missing): what a
  server's processes orphan (a double fork, `setsid`, a daemonising script) is
  re-parented to the checker instead of init, so it stays in view; the checker
  reaps those orphans when they die (only them, never a pid a subprocess.Popen
  owns), and a snapshot never counts one as a child the server left unreaped;
- stdout and stderr go to pipes that one thread per server drains as data
  comes, keeping the last TAIL_BYTES of each (up to twice that between trims)
  in memory, mirrored to a file in a private temporary folder (to look at
  while it runs): whatever a server writes, each stream costs at most
  2 * TAIL_BYTES of memory and of disk; the server does not wait on a full
  pipe while the checker runs (the pipes are widened to PIPE_SIZE, so a burst
  fits while the checker's own threads hold the interpreter); its last lines
  are shown on failure;
- every wait has a bound: listening within the start-up timeout (connect
  attempts, ended early when the process exits), exiting within the stop
  timeout after SIGTERM, then SIGKILL;
- nothing outlives the run: `stop` ends the whole tree and reports anything it
  could not end; servers still running at interpreter exit are stopped by an
  atexit hook; if the checker itself dies, even by SIGKILL, the kernel kills
  the first process (PR_SET_PDEATHSIG) and the watchdog (watchdog.py: one
  small process per checker process while any server runs, told every token
  and every pid, see its rules) kills the rest;
- errors say whose fault they are: `StartError` (the server did not come up)
  carries the server's last stderr lines, and its `cause` in one line (with the
  last of them); a server that did not listen on its port within the start-up
  timeout is looked for in the kernel's TCP tables, and the ports its tree
  listens on instead are named.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sockspec.language.timing import format_duration
from sockspec.servers import listeners, observe
from sockspec.servers.config import ServerSpec, format_address
from sockspec.servers.observe import Stat

POLL_INTERVAL = 0.02
CONNECT_ATTEMPT = 0.5
KILL_WAIT = 3.0
TAIL_LINES = 15
TAIL_BYTES = 16384
LAST_WORDS = 200  # characters of a server's last stderr line in a message of one line
PIPE_SIZE = 1 << 20  # the default /proc/sys/fs/pipe-max-size; asked for, not required
CHUNK = 65536
DRAIN_JOIN = 2.0
WATCHDOG_WAIT = 2.0
REAP_ROUNDS = 3
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
TREE_MARK = "SOCKSPEC_SERVER_TREE"
WATCHDOG = Path(__file__).with_name("watchdog.py")
GONE = frozenset({"Z", "X"})
WILDCARDS = frozenset({"0.0.0.0", "::"})  # a listener on these takes connections to any local address


class StartError(Exception):
    """The server did not come up (it could not be started, exited, or never listened).
    `cause` says what happened in one line."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def describe_exit(code: int) -> str:
    """A returncode as words: 'exit code 1', 'killed by SIGSEGV'."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def free_port(host: str) -> int:
    """A port nothing listens on right now, on `host`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def last_lines(data: bytes, lines: int = TAIL_LINES) -> list[str]:
    """The last `lines` lines of the last TAIL_BYTES of `data`, as text."""
    text = data[-TAIL_BYTES:].decode("utf-8", errors="replace")
    return [line.rstrip() for line in text.splitlines()][-lines:]


def last_words(lines: list[str]) -> str:
    """The text ": LINE" for the last line of `lines` with text in it (cut to LAST_WORDS characters),
    "" when there is none: what a message of one line adds of a server's stderr."""
    said = next((line.strip() for line in reversed(lines) if line.strip()), "")
    if len(said) > LAST_WORDS:
        said = said[: LAST_WORDS - 3] + "..."
    return f": {said}" if said else ""


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last `lines` lines of a text file (empty when there is none)."""
    try:
        with path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            size = stream.tell()
            stream.seek(max(0, size - TAIL_BYTES))
            data = stream.read()
    except OSError:
        return []
    return last_lines(data, lines)


def server_tree(
    stats: Iterable[Stat], root: int, known: Mapping[int, int], holders: Collection[int]
) -> list[Stat]:
    """The processes of one server's tree (zombies included), from every process of /proc.

    Its seeds: the first process `root` and the processes of its session (unless
    the pid `root` now names another process), every process in `known` (pid ->
    start time) that is still the same process, and the `holders` of its token;
    then all descendants of the seeds by parent id."""
    everything = {stat.pid: stat for stat in stats}
    first = everything.get(root)
    ours = first is None or known.get(root, first.starttime) == first.starttime
    members = {
        pid: stat
        for pid, stat in everything.items()
        if (ours and root in {pid, stat.session}) or known.get(pid) == stat.starttime or pid in holders
    }
    children: dict[int, list[Stat]] = {}
    for stat in everything.values():
        children.setdefault(stat.ppid, []).append(stat)
    frontier = list(members)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child.pid not in members:
                members[child.pid] = child
                frontier.append(child.pid)
    return sorted(members.values(), key=lambda stat: stat.pid)


def _holds(pid: int, entry: bytes) -> bool:
    """True when the environment of `pid` holds `entry` (NAME=VALUE); False when it cannot be read."""
    try:
        return entry in (observe.PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _prctl() -> Callable[..., int] | None:
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking the kernel to kill the child when the checker dies."""
    prctl = _prctl()
    if prctl is None:
        return None

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return hook


@dataclass(frozen=True)
class Ending:
    """How a stop went: what happened, and any process that could not be ended."""

    how: str
    leftovers: tuple[int, ...] = ()


# -- output ----------------------------------------------------------------------


class _Stream:
    """One output stream of a server: its pipe, and the last bytes that came through it."""

    def __init__(self, mirror: Path) -> None:
        self.read_fd, self.write_fd = os.pipe()
        set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
        if set_size is not None:
            with contextlib.suppress(OSError):  # over the user's pipe quota: the default size
                fcntl.fcntl(self.write_fd, set_size, PIPE_SIZE)
        os.set_blocking(self.read_fd, False)
        self.kept = bytearray()
        self.written = 0
        self.ended = False
        self.mirror = mirror.open("wb", buffering=0)

    def pump(self) -> None:
        """Take in what waits in the pipe (at most one full pipe, so a writer that never pauses
        cannot hold the caller); the caller holds the output's lock."""
        for _ in range(PIPE_SIZE // CHUNK + 1):
            if self.ended:
                return
            try:
                chunk = os.read(self.read_fd, CHUNK)
            except BlockingIOError:
                return
            if not chunk:
                self.ended = True
                return
            self.written += len(chunk)
            self.kept += chunk
            with contextlib.suppress(OSError, ValueError):  # the mirror is a courtesy; memory holds the truth
                if len(self.kept) > 2 * TAIL_BYTES:
                    del self.kept[:-TAIL_BYTES]
                    self.mirror.seek(0)
                    self.mirror.truncate()
                    self.mirror.write(self.kept)
                else:
                    self.mirror.write(chunk)

    def close(self) -> None:
        self.ended = True
        for fd in (self.read_fd, self.write_fd):
            if fd >= 0:
                os.close(fd)
        self.read_fd = self.write_fd = -1
        self.mirror.close()


class _Output:
    """A server's stdout and stderr: pipes that one thread drains as data comes. When both reach
    end of file (everything that held them has exited) the thread releases the pipes itself."""

    def __init__(self, stdout_mirror: Path, stderr_mirror: Path) -> None:
        self.streams = {"stdout": _Stream(stdout_mirror), "stderr": _Stream(stderr_mirror)}
        self.lock = threading.Lock()
        self.wake_read, self.wake_write = os.pipe()
        self.thread: threading.Thread | None = None
        self.closed = False

    def write_fd(self, name: str) -> int:
        return self.streams[name].write_fd

    def started(self) -> None:
        """The server holds its ends of the pipes: close the checker's and start draining."""
        for stream in self.streams.values():
            os.close(stream.write_fd)
            stream.write_fd = -1
        self.thread = threading.Thread(target=self._drain, name="sockspec-server-output", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.wake_read, selectors.EVENT_READ, None)
                for stream in self.streams.values():
                    selector.register(stream.read_fd, selectors.EVENT_READ, stream)
                open_streams = len(self.streams)
                while open_streams:
                    for key, _events in selector.select():
                        if key.data is None:
                            return
                        with self.lock:
                            key.data.pump()
                        if key.data.ended:
                            selector.unregister(key.fd)
                            open_streams -= 1
        finally:
            with self.lock:
                self._release()

    def take(self, name: str) -> _Stream:
        """The stream, with everything written to it until now taken in."""
        stream = self.streams[name]
        with self.lock:
            stream.pump()
        return stream

    def close(self) -> None:
        """Stop draining and release the pipes (a process still writing then gets EPIPE)."""
        with self.lock:
            if not self.closed and self.thread is not None:
                os.write(self.wake_write, b".")
        if self.thread is not None:
            self.thread.join(DRAIN_JOIN)
        with self.lock:
            self._release()

    def _release(self) -> None:
        if self.closed:
            return
        self.closed = True
        for stream in self.streams.values():
            stream.close()
        os.close(self.wake_read)
        os.close(self.wake_write)


# -- what keeps servers from outliving the checker --------------------------------------


class _Guard:
    """Held while any server of this checker process runs: the checker as child subreaper, and
    the watchdog with the write end of its pipe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[ServerProcess] = set()
        self.watchdog: subprocess.Popen[bytes] | None = None
        self.late: list[subprocess.Popen[bytes]] = []  # watchdogs still sweeping after WATCHDOG_WAIT
        self.pipe = -1
        self.subreaper = False

    def enter(self, server: ServerProcess) -> None:
        """Before `server` starts: arm for the first server, and tell the watchdog its token."""
        with self.lock:
            if not self.running:
                self._arm()
            self.running.add(server)
            self._write(f"mark {TREE_MARK}={server.token}")

    def leave(self, server: ServerProcess) -> None:
        """After `server` is stopped (or failed to start): disarm after the last one."""
        with self.lock:
            if server not in self.running:
                return
            self.running.discard(server)
            if not self.running:
                self._disarm()

    def tell(self, pid: int, starttime: int) -> None:
        with self.lock:
            self._write(f"pid {pid} {starttime}")

    def watchdog_pid(self) -> int | None:
        with self.lock:
            return self.watchdog.pid if self.watchdog is not None and self.pipe >= 0 else None

    def _arm(self) -> None:
        prctl = _prctl()
        self.subreaper = prctl is not None and prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        if not sys.executable or observe.available() is not None or not WATCHDOG.exists():
            return
        read_end, write_end = os.pipe()
        try:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", str(WATCHDOG), str(os.getpid())],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                start_new_session=True,
            )
        except OSError:
            os.close(write_end)
            return
        finally:
            os.close(read_end)
        os.set_blocking(write_end, False)
        self.pipe = write_end

    def _disarm(self) -> None:
        """Close the pipe (the watchdog sweeps what is left and exits), wait for it, stop re-parenting."""
        self._close_pipe()
        if self.watchdog is not None:
            try:
                self.watchdog.wait(timeout=WATCHDOG_WAIT)
            except subprocess.TimeoutExpired:
                self.late.append(self.watchdog)  # reaped by a later disarm
            self.watchdog = None
        self.late = [watchdog for watchdog in self.late if watchdog.poll() is None]
        if self.subreaper:
            prctl = _prctl()
            if prctl is not None:
                prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
            self.subreaper = False

    def _write(self, line: str) -> None:
        if self.pipe < 0:
            return
        try:
            os.write(self.pipe, f"{line}\n".encode())
        except BlockingIOError:
            pass  # the watchdog is not reading (stopped?): this fact is lost, its marks still hold
        except OSError:
            self._close_pipe()  # the watchdog is gone

    def _close_pipe(self) -> None:
        if self.pipe >= 0:
            with contextlib.suppress(OSError):
                os.close(self.pipe)
            self.pipe = -1

    def forget(self) -> None:
        """In a child forked from the checker: none of this is the child's (the kernel does not pass
        on the subreaper flag; the pipe must close when the checker ends, not when the child does;
        the child must not stop the checker's servers at its exit)."""
        self.lock = threading.Lock()
        if self.pipe >= 0:
            with contextlib.suppress(OSError):
                os.close(self.pipe)
        self.pipe = -1
        self.watchdog = None
        self.late = []
        self.running = set()
        self.subreaper = False


_GUARD = _Guard()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_GUARD.forget)


# -- the server ------------------------------------------------------------------------


class ServerProcess:
    """One started server command. Call `start`, then `wait_listening`, and `stop` at the end."""

    def __init__(self, spec: ServerSpec, invocation_dir: Path) -> None:
        self.spec = spec
        self.host = spec.host
        self.port = spec.port if spec.port is not None else free_port(self.host)
        self.argv = spec.argv(self.port)
        self.cwd = Path(spec.cwd) if spec.cwd is not None else invocation_dir
        self.folder = Path(tempfile.mkdtemp(prefix="sockspec-server-"))
        self.stdout_path = self.folder / "stdout.log"
        self.stderr_path = self.folder / "stderr.log"
        self.token = uuid.uuid4().hex
        self.popen: subprocess.Popen[bytes] | None = None
        self.output: _Output | None = None
        self.known: dict[int, int] = {}  # pid -> starttime of every process seen in the tree
        self.ending: Ending | None = None

    # -- facts ---------------------------------------------------------------

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def command_line(self) -> str:
        return shlex.join(self.argv)

    def returncode(self, grace: float = 0.0) -> int | None:
        """The exit status once the first process has exited (it is reaped here), else None.

        `grace` waits that long for an exit that may be under way (after a failure).
        A process whose main thread has exited while other threads are still ending
        shows as a zombie that cannot be reaped yet: it is given a bounded wait too."""
        if self.popen is None:
            return None
        code = self.popen.poll()
        if code is None:
            stat = observe.read_stat(self.popen.pid)
            wait = KILL_WAIT if stat is not None and stat.state == "Z" else grace
            if wait > 0:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = self.popen.wait(timeout=wait)
        return code

    def _taken(self, name: str) -> _Stream | None:
        return self.output.take(name) if self.output is not None else None

    def stderr_tail(self, lines: int = TAIL_LINES) -> list[str]:
        stream = self._taken("stderr")
        return last_lines(bytes(stream.kept), lines) if stream is not None else []

    def stdout_tail(self, lines: int = TAIL_LINES) -> list[str]:
        stream = self._taken("stdout")
        return last_lines(bytes(stream.kept), lines) if stream is not None else []

    def output_note(self) -> str:
        """The server's last stderr lines, as one block for a message."""
        lines = self.stderr_tail()
        if not lines:
            return "it wrote nothing to stderr"
        stream = self._taken("stderr")
        cut = (
            f" (of the {stream.written} bytes it wrote, only the last {TAIL_BYTES} are kept)"
            if stream is not None and stream.written > len(stream.kept)
            else ""
        )
        return f"its last stderr lines{cut}:\n" + "\n".join(f"    | {line}" for line in lines)

    # -- start ---------------------------------------------------------------

    def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.spec.env)
        env["SOCKSPEC_PORT"] = str(self.port)
        env[TREE_MARK] = self.token
        self.output = _Output(self.stdout_path, self.stderr_path)
        _GUARD.enter(self)
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self.output.write_fd("stdout"),
                stderr=self.output.write_fd("stderr"),
                cwd=self.cwd,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent(),  # noqa: PLW1509 - a single prctl call, no locks taken
            )
        except FileNotFoundError as exc:
            self._abandon()
            missing = exc.filename if exc.filename is not None else self.argv[0]
            raise StartError(
                f"cannot start {self.spec.name}: {missing!r} was not found "
                f"(command {self.command_line()}, in {self.cwd}); check the command in {self.spec.origin}",
                f"cannot be started: {missing!r} was not found",
            ) from None
        except OSError as exc:
            self._abandon()
            raise StartError(
                f"cannot start {self.spec.name}: {exc.strerror or exc} (command {self.command_line()}, "
                f"in {self.cwd}); check the command in {self.spec.origin}",
                f"cannot be started: {exc.strerror or exc}",
            ) from None
        self.output.started()
        first = observe.read_stat(self.popen.pid)
        if first is not None:
            self._remember(first)
        self.learn_tree()

    def _abandon(self) -> None:
        """A start that failed: release the pipes and the guard."""
        if self.output is not None:
            self.output.close()
        _GUARD.leave(self)

    def wait_listening(self) -> float:
        """Wait until the server accepts a connection; return how long that took."""
        assert self.popen is not None
        started = time.monotonic()
        deadline = started + self.spec.startup_timeout
        while True:
            code = self.popen.poll()
            if code is not None:
                exited = f"exited ({describe_exit(code)}) before it listened on {self.address}"
                raise StartError(
                    f"{self.spec.name} {exited}; command: {self.command_line()}; {self.output_note()}",
                    exited + last_words(self.stderr_tail()),
                )
            remaining = deadline - time.monotonic()
            try:
                with socket.create_connection(
                    (self.host, self.port), timeout=max(0.05, min(CONNECT_ATTEMPT, remaining))
                ):
                    self.learn_tree()
                    return time.monotonic() - started
            except OSError:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                silent = (
                    f"did not listen on {self.address} within "
                    f"{format_duration(self.spec.startup_timeout)} (startup_timeout)"
                )
                elsewhere = self._listening_elsewhere()
                instead = f"; it listens on {elsewhere} instead" if elsewhere else ""
                raise StartError(
                    f"{self.spec.name} {silent}; it is still running{instead}: "
                    "does it take its port from the {port} in its command? "
                    f"command: {self.command_line()}; "
                    f"{self.output_note()}",
                    silent + instead,
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=min(POLL_INTERVAL, remaining))

    def _listening_elsewhere(self) -> str:
        """Where the server's tree listens other than where it was told to ("" if nowhere else)."""
        ours = {self.host, *WILDCARDS}
        found = sorted(
            {
                (listener.port, format_address(listener.host, listener.port))
                for listener in listeners.held_by(stat.pid for stat in self._learn())
                if not (listener.port == self.port and listener.host in ours)
            }
        )
        return ", ".join(address for _port, address in found)

    # -- the tree ------------------------------------------------------------

    def observe(self, at: float, waits: bool = True, costs: bool = False) -> observe.Snapshot:
        """The server's process tree now; every process in it is remembered for `stop`.

        A zombie re-parented to the checker is the checker's to reap, not a child the
        server left unreaped: it is reaped and the snapshot taken again."""
        assert self.popen is not None
        root = self.popen.pid
        snap = observe.snapshot(root, root, at, waits, costs)
        for _ in range(REAP_ROUNDS):
            if snap.zombies == 0 or not self._reap(observe.all_stats()):
                break
            snap = observe.snapshot(root, root, at, waits, costs)
        for process in snap.processes:
            self._remember(process.stat)
        return snap

    def learn_tree(self) -> None:
        if self.popen is not None:
            self._learn()

    def _remember(self, stat: Stat) -> None:
        if self.known.get(stat.pid) != stat.starttime:
            self.known[stat.pid] = stat.starttime
            _GUARD.tell(stat.pid, stat.starttime)

    def _learn(self, everywhere: bool = False) -> list[Stat]:
        """The live processes of the tree now (all remembered); orphans of it that died are reaped.

        The token is looked for among the checker's children (where the subreaper brings
        orphans), or in every process when `everywhere`."""
        assert self.popen is not None
        me = os.getpid()
        entry = f"{TREE_MARK}={self.token}".encode()
        stats = observe.all_stats()
        self._reap(stats)
        holders = {
            stat.pid
            for stat in stats
            if stat.state not in GONE
            and stat.pid != me
            and (everywhere or stat.ppid == me)
            and _holds(stat.pid, entry)
        }
        members = server_tree(stats, self.popen.pid, self.known, holders)
        alive = [stat for stat in members if stat.state not in GONE]
        for stat in alive:
            self._remember(stat)
        return alive

    def _reap(self, stats: Iterable[Stat]) -> bool:
        """Reap the zombies re-parented to the checker from this tree: those of the server's
        session or remembered (never the first process: subprocess reaps it). True if any was."""
        assert self.popen is not None
        me, root = os.getpid(), self.popen.pid
        reaped = False
        for stat in stats:
            if (
                stat.ppid == me
                and stat.state == "Z"
                and stat.pid != root
                and (stat.session == root or self.known.get(stat.pid) == stat.starttime)
            ):
                with contextlib.suppress(ChildProcessError):
                    reaped = os.waitpid(stat.pid, os.WNOHANG)[0] == stat.pid or reaped
        return reaped

    def _alive(self) -> list[int]:
        return [stat.pid for stat in self._learn()]

    def _signal(self, signum: signal.Signals) -> None:
        assert self.popen is not None
        alive = self._learn()
        if any(stat.pgrp == self.popen.pid for stat in alive):  # only then is the group surely still ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)
        for stat in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(stat.pid, signum)

    def _wait_gone(self, timeout: float) -> bool:
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=POLL_INTERVAL)
            if self.popen.returncode is not None and not self._alive():
                return True
            if time.monotonic() >= deadline:
                return False

    # -- stop ----------------------------------------------------------------

    def stop(self) -> Ending:
        """End the server and everything it started: SIGTERM, then SIGKILL after the stop timeout."""
        if self.ending is not None:
            return self.ending
        if self.popen is None:
            self.ending = Ending("never started")
            self._forget()
            return self.ending
        code = self.popen.poll()
        alive = self._learn(everywhere=True)  # once, the token is looked for in every process
        if code is not None and not alive:
            how = f"had already exited ({describe_exit(code)})"
        else:
            self._signal(signal.SIGTERM)
            if self._wait_gone(self.spec.stop_timeout):
                assert self.popen.returncode is not None
                how = (
                    f"had already exited ({describe_exit(code)})"
                    if code is not None
                    else "stopped by SIGTERM"
                    if self.popen.returncode == -signal.SIGTERM
                    else f"exited after SIGTERM ({describe_exit(self.popen.returncode)})"
                )
            else:
                self._signal(signal.SIGKILL)
                self._wait_gone(KILL_WAIT)
                how = (
                    f"did not exit within {format_duration(self.spec.stop_timeout)} of SIGTERM "
                    "(stop_timeout): killed with SIGKILL"
                )
        self.ending = Ending(how, tuple(sorted(self._alive())))
        self._forget()
        return self.ending

    def _forget(self) -> None:
        _GUARD.leave(self)

    def remove_output(self) -> None:
        """Release the output pipes and delete the mirrors (after the run has shown what it needed)."""
        if self.output is not None:
            self.output.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def running() -> list[ServerProcess]:
    """Servers started and not stopped yet."""
    with _GUARD.lock:
        return list(_GUARD.running)


def watchdog_pid() -> int | None:
    """The pid of this checker process's watchdog while any server runs, else None."""
    return _GUARD.watchdog_pid()


def stop_running() -> None:
    """Stop every server this process started and has not stopped yet (their output is kept)."""
    for server in running():
        server.stop()


@atexit.register
def _stop_everything() -> None:
    for server in running():
        server.stop()
        server.remove_output()
