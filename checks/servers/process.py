"""A server process: start it, wait until it listens, keep its output, stop it and all it started.

Rules of this module:
- the command runs in its own session (start_new_session), so its process
  group and session id mark everything it starts; the tree is also followed by
  parent ids, and every process ever seen in it is remembered (with its start
  time, so a reused pid is never signalled);
- stdout and stderr go to files in a private temporary folder, never to pipes,
  so a chatty server never blocks; their last lines are shown on failure;
- every wait has a bound: listening within the start-up timeout (connect
  attempts, ended early when the process exits), exiting within the stop
  timeout after SIGTERM, then SIGKILL;
- nothing outlives the run: `stop` ends the whole tree and reports anything it
  could not end; servers still running at interpreter exit are stopped by an
  atexit hook; and the first process is killed by the kernel if the checker
  itself dies (PR_SET_PDEATHSIG);
- errors say whose fault they are: `StartError` (the server did not come up)
  carries the server's last stderr lines.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sockspec.language.timing import format_duration
from sockspec.servers import observe
from sockspec.servers.config import ServerSpec, format_address

POLL_INTERVAL = 0.02
CONNECT_ATTEMPT = 0.5
KILL_WAIT = 3.0
TAIL_LINES = 15
TAIL_BYTES = 16384
PR_SET_PDEATHSIG = 1


class StartError(Exception):
    """The server did not come up (it could not be started, exited, or never listened)."""


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
    text = data.decode("utf-8", errors="replace")
    return [line.rstrip() for line in text.splitlines()][-lines:]


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking the kernel to kill the child when the checker dies."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return hook


@dataclass(frozen=True)
class Ending:
    """How a stop went: what happened, and any process that could not be ended."""

    how: str
    leftovers: tuple[int, ...] = ()


_RUNNING: set[ServerProcess] = set()
_RUNNING_LOCK = threading.Lock()


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
        self.popen: subprocess.Popen[bytes] | None = None
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

    def stderr_tail(self, lines: int = TAIL_LINES) -> list[str]:
        return tail(self.stderr_path, lines)

    def stdout_tail(self, lines: int = TAIL_LINES) -> list[str]:
        return tail(self.stdout_path, lines)

    def output_note(self) -> str:
        """The server's last stderr lines, as one block for a message."""
        lines = self.stderr_tail()
        if not lines:
            return "it wrote nothing to stderr"
        return "its last stderr lines:\n" + "\n".join(f"    | {line}" for line in lines)

    # -- start ---------------------------------------------------------------

    def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.spec.env)
        env["SOCKSPEC_PORT"] = str(self.port)
        try:
            with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
                self.popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=self.cwd,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),  # noqa: PLW1509 - a single prctl call, no locks taken
                )
        except FileNotFoundError as exc:
            missing = exc.filename if exc.filename is not None else self.argv[0]
            raise StartError(
                f"cannot start {self.spec.name}: {missing!r} was not found "
                f"(command {self.command_line()}, in {self.cwd}); check the command in {self.spec.origin}"
            ) from None
        except OSError as exc:
            raise StartError(
                f"cannot start {self.spec.name}: {exc.strerror or exc} (command {self.command_line()}, "
                f"in {self.cwd}); check the command in {self.spec.origin}"
            ) from None
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        self.learn_tree()

    def wait_listening(self) -> float:
        """Wait until the server accepts a connection; return how long that took."""
        assert self.popen is not None
        started = time.monotonic()
        deadline = started + self.spec.startup_timeout
        while True:
            code = self.popen.poll()
            if code is not None:
                raise StartError(
                    f"{self.spec.name} exited ({describe_exit(code)}) before it listened on {self.address}; "
                    f"command: {self.command_line()}; {self.output_note()}"
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
                raise StartError(
                    f"{self.spec.name} did not listen on {self.address} within "
                    f"{format_duration(self.spec.startup_timeout)} (startup_timeout); it is still running: "
                    "does it take its port from the {port} in its command? "
                    f"command: {self.command_line()}; "
                    f"{self.output_note()}"
                )
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=min(POLL_INTERVAL, remaining))

    # -- the tree ------------------------------------------------------------

    def observe(self, at: float, waits: bool = True) -> observe.Snapshot:
        """The server's process tree now; every process in it is remembered for `stop`."""
        assert self.popen is not None
        snap = observe.snapshot(self.popen.pid, self.popen.pid, at, waits)
        for process in snap.processes:
            self.known.setdefault(process.pid, process.stat.starttime)
        return snap

    def learn_tree(self) -> None:
        if self.popen is not None:
            self.observe(0.0, waits=False)

    def _alive(self) -> list[int]:
        self.learn_tree()
        return [pid for pid, start in self.known.items() if observe.alive(pid, start)]

    def _signal(self, signum: signal.Signals) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)
        for pid in self._alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

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
        if code is not None and not self._alive():
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
        with _RUNNING_LOCK:
            _RUNNING.discard(self)

    def remove_output(self) -> None:
        """Delete the captured output (after the run has shown what it needed)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def running() -> list[ServerProcess]:
    """Servers started and not stopped yet."""
    with _RUNNING_LOCK:
        return list(_RUNNING)


@atexit.register
def _stop_everything() -> None:
    for server in running():
        server.stop()
        server.remove_output()
