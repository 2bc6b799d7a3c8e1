"""One server impl during one run: started on first use, shared by its behaviours, stopped at the end.

Rules of this module:
- a server given by command is started lazily, by the first behaviour that
  needs it, and stopped by `stop` (the plugin calls it when the session
  finishes, also after a failure or Ctrl-C; process.py's atexit hook is the
  last resort);
- a start that fails is remembered: later behaviours fail at once with the
  same reason instead of starting the server again and again;
- after a behaviour that failed or did not finish, or once the server exited,
  one fresh client probes it before the next behaviour (sockspec.servers.probe:
  connect, one line, any byte back). When the policy restarts it, the old
  process is probed briefly first (probe.QUICK): one that answers is simply
  replaced; else the new process is probed (within probe.LIMIT, or the step
  limit when longer) and, when it answers, replaced once more, so that the
  process a behaviour runs on has never seen a probe. With restart = "never"
  (or a server given by address) the same process is probed. A server that
  does not answer that probe is dead for this run: the next behaviour and every
  later one fail at once with one line that says what it does and which
  behaviour showed it (the first of them with the server's last output), and
  its process tree is stopped. A behaviour that failed for its own rule (one
  client served at a time, an idle client closed) leaves a server that answers
  one fresh client, so it costs the others nothing;
- with restart = "never", a server that exited during the run makes every
  later behaviour fail with "the server exited (...)" and its last stderr
  lines, not with a cascade of connection errors;
- before each behaviour but the first, `ensure` restarts a server it started
  as its `restart` policy says (`restart_cause`): after-failure restarts it when
  the previous behaviour failed or errored, when it exited, or when it did not
  settle (sockspec.servers.settle: CPU near idle, its connections closed, within
  a bound); each restarts it every time; never keeps one process, and a server
  that exited stays gone. A restart is returned as a `Restarted`, for the
  behaviour's timeline, and kept for the summary; a restart that fails to start
  is remembered like any failed start;
- a server given by address is never started, stopped or restarted, and cannot
  be observed: behaviours that need /proc are not applicable to it; when a
  restart is called for, that is said once (a `Restarted` that was not done).
"""

from __future__ import annotations

import enum
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from sockspec.judging.events import RESTARTED, Kind, What
from sockspec.language.model import Family
from sockspec.language.timing import format_duration
from sockspec.servers import listeners, observe, probe, settle
from sockspec.servers.config import DeclaredModel, Restart, ServerSpec, format_address
from sockspec.servers.process import Ending, ServerProcess, StartError, describe_exit, last_words

PROBE_TIMEOUT = 2.0
IPV6_LOOPBACK = "::1"
EXIT_GRACE = 0.3  # after a probe that got no answer: time for an exit under way to show


class ServerUnavailable(Exception):
    """The server cannot be used for this behaviour (it did not start, it exited, or it answers
    nothing): its fault. `cause` says what happened in one line, for the summary."""

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause or (message.splitlines()[0] if message else "")


class Result(enum.Enum):
    """How a behaviour went on a server, as far as restarting it goes."""

    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"  # the behaviour did not come to a verdict (a checker error, Ctrl-C)


@dataclass(frozen=True)
class Previous:
    """The behaviour that ran last on a server, how it went, and where it is written."""

    behaviour: str
    result: Result
    origin: str = ""

    def said(self, exited: bool) -> str:
        """What happened in it, for a message: "server.echo.small failed (spec/server.yaml:15)"."""
        where = f" ({self.origin})" if self.origin else ""
        if self.result is Result.PASSED:
            return f"the server exited after {self.behaviour}{where}" if exited else self.behaviour
        return f"{self.behaviour} {PREVIOUS_WORDS[self.result]}{where}"


#: How the previous behaviour went, in words.
PREVIOUS_WORDS: dict[Result, str] = {
    Result.PASSED: "passed",
    Result.FAILED: "failed",
    Result.ERRORED: "did not finish",
}


class Cause(enum.Enum):
    """Why a server is restarted before a behaviour."""

    FAILED = "failed"
    ERRORED = "errored"
    EXITED = "exited"
    UNSETTLED = "unsettled"
    EACH = "each"


#: How the previous behaviour went -> the cause of a restart under after-failure.
AFTER: dict[Result, Cause | None] = {
    Result.PASSED: None,
    Result.FAILED: Cause.FAILED,
    Result.ERRORED: Cause.ERRORED,
}
#: What `restart_cause` answers when a restart waits on whether the server settles.
SETTLE = "settle"


def in_doubt(previous: Previous, restarted: Restarted | None) -> bool:
    """Whether the server is probed before the next behaviour: after one that failed or did not
    finish, or once it exited."""
    exited = restarted is not None and restarted.cause is Cause.EXITED
    return previous.result is not Result.PASSED or exited


def restart_cause(policy: Restart, previous: Previous | None, exited: bool) -> Cause | str | None:
    """Why the server is restarted before the next behaviour: a `Cause`, SETTLE when that
    depends on whether it settles (after a behaviour that passed), or None (no restart)."""
    if policy is Restart.NEVER:
        return None
    if exited:
        return Cause.EXITED
    if previous is None:
        return None  # nothing ran on this process yet
    if policy is Restart.EACH:
        return Cause.EACH
    return AFTER[previous.result] or SETTLE


@dataclass(frozen=True)
class Restarted:
    """A restart before a behaviour: why, after which behaviour, and whether it was done (a server
    given by address cannot be). `exit` says how it had ended (EXITED); `unsettled` how it was
    when it did not settle (UNSETTLED)."""

    cause: Cause
    previous: str
    done: bool = True
    exit: str = ""
    unsettled: settle.Unsettled | None = None

    def what(self, name: str) -> What:
        """The restart as a trace event's fields."""
        refused = f"not restarted ({name} is given by address: sockspec did not start it)"
        outcome = RESTARTED if self.done else refused
        return What(
            Kind.RESTART,
            self.cause.value,
            args=self.previous,
            outcome=outcome,
            note=self.exit,
            values=self.unsettled.values() if self.unsettled is not None else (),
        )


class LiveServer:
    """The server of one impl for one pytest session."""

    def __init__(self, spec: ServerSpec, invocation_dir: Path) -> None:
        self.spec = spec
        self.name = spec.name
        self.declared: DeclaredModel | None = spec.model
        self.invocation_dir = invocation_dir
        self.process: ServerProcess | None = None
        self.problem: str | None = None  # why it is not available: the first behaviour's message
        self.cause: str | None = None  # the same in one line
        self.started_in: float | None = None
        self.ending: Ending | None = None
        self.retired: list[Ending] = []  # how each process ended that a restart replaced
        self.restarts: list[Restarted] = []
        self._own_sockets: frozenset[int] = frozenset()  # the sockets it held once it listened
        self._ipv6: bool | None = None
        self._reachable = False

    # -- what it can do ------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[str]:
        """'proc' when sockspec starts the process and can read /proc; 'declared_model' when the
        impl declares a model."""
        found = set()
        if self.spec.started_by_checker and observe.available() is None:
            found.add("proc")
        if self.spec.model is not None:
            found.add("declared_model")
        return frozenset(found)

    def missing_reason(self, capability: str) -> str:
        """Why a behaviour needing `capability` does not apply to this server."""
        if capability == "proc":
            if not self.spec.started_by_checker:
                return (
                    f"needs /proc observation of the server's process, and {self.name} is given by address "
                    "(sockspec did not start it, so it cannot see its threads, CPU time and descriptors)"
                )
            return f"needs /proc observation of the server's process: {observe.available()}"
        if capability == "declared_model":
            where = (
                f"its [tool.sockspec.impls.{self.name}] table"
                if self.spec.origin.endswith(f"[tool.sockspec.impls.{self.name}]")
                else "a [tool.sockspec.impls.NAME] table for it in pyproject.toml"
            )
            return (
                f'{self.name} declares no model (set model = "threads", "processes", "readiness" or '
                f'"completion" in {where} to have it checked)'
            )
        return f"needs {capability}, which {self.name} does not have"

    # -- start and health ------------------------------------------------------

    def ensure(self, previous: Previous | None = None, patience: float = probe.LIMIT) -> Restarted | None:
        """Make sure the server is up for the next behaviour, restarted when its policy says so
        (`previous` is the behaviour that ran on it last), and answering a probe after a failure
        (within `patience` seconds); raise ServerUnavailable when it is not."""
        if self.problem is not None:
            cause = self.cause or self.problem.splitlines()[0]
            shown = " (its output is shown under the first failure)" if self.process is not None else ""
            raise ServerUnavailable(f"not run: {self.name} {cause}{shown}", cause)
        if not self.spec.started_by_checker:
            if not self._reachable:
                self._probe()
            restarted = self._cannot_restart(previous)
            if previous is not None and in_doubt(previous, restarted):
                self._check_answers(previous, restarted, patience)
            return restarted
        if self.process is None:
            self._start()
            return None
        restarted = self._restart_for(previous)
        doubt = previous is not None and in_doubt(previous, restarted)
        if restarted is None:
            if doubt and previous is not None:  # restart = "never": the same process goes on
                self._check_answers(previous, None, patience)
            return None
        # The process a behaviour runs on has seen nothing but sockspec's start-up check: a
        # process probed after a restart is replaced once more. Most servers answer the probe
        # still on the old process (QUICK), and need neither.
        answered = doubt and self.process.returncode() is None and self._answers(probe.QUICK, probe.QUICK)
        self._restart()
        self.restarts.append(restarted)
        if doubt and not answered and previous is not None:
            self._check_answers(previous, restarted, patience)
            self._restart()
        return restarted

    def _answers(self, limit: float, finished: float) -> bool:
        host, port = self.address(Family.TCP4)
        return probe.probe(host, port, limit, finished) is probe.Seen.ANSWERED

    def _check_answers(self, previous: Previous, restarted: Restarted | None, patience: float) -> None:
        """One fresh client's probe of the server as it is now (restarted or not): a server that
        does not answer it is dead for this run (ServerUnavailable, now and later)."""
        exited = restarted is not None and restarted.cause is Cause.EXITED
        host, port = self.address(Family.TCP4)
        seen = probe.probe(host, port, patience)
        if seen is probe.Seen.ANSWERED:
            return
        then = "after a restart" if restarted is not None and restarted.done else "then"
        gone = self.exited(EXIT_GRACE)
        if gone is not None:
            assert self.process is not None
            words = last_words(self.process.stderr_tail())
            cause = (
                f"exits before it answers: {previous.said(exited)}, and {then} it {gone} "
                f"before it answered a fresh client{words}"
            )
        else:
            does, saw = probe.dead(seen, host, port, patience, self._waiting(port))
            cause = f"{does}: {previous.said(exited)}, and {then} {saw}"
        self.cause = cause
        self.problem = f"not run: {self.name} {cause}"
        if self.process is not None:
            self.ending = self.process.stop()
        raise ServerUnavailable("\n".join([self.problem, *self.output_lines()]), cause)

    def _waiting(self, port: int) -> int:
        """How many connections wait in the accept queue of the server's listener (0 if unknown)."""
        snapshot = self.observe(0.0)
        pids = [process.pid for process in snapshot.processes] if snapshot is not None else []
        return max((listener.queued for listener in listeners.listening(port, pids)), default=0)

    def _restart_for(self, previous: Previous | None) -> Restarted | None:
        """Why the process is to be replaced before the next behaviour (None: it is not)."""
        assert self.process is not None
        code = self.process.returncode()
        after = previous.behaviour if previous is not None else ""
        cause = restart_cause(self.spec.restart, previous, code is not None)
        unsettled = None
        if cause == SETTLE:
            unsettled = self.wait_settled()
            code = self.process.returncode()  # it may have exited while it was looked at
            cause = Cause.EXITED if code is not None else Cause.UNSETTLED if unsettled is not None else None
        if isinstance(cause, Cause):
            ended = f"exited ({describe_exit(code)})" if code is not None else ""
            return Restarted(cause, after, exit=ended, unsettled=unsettled)
        if code is not None:  # restart = "never": a server that exited stays gone
            self.problem = f"the server exited ({describe_exit(code)}); {self.process.output_note()}"
            self.cause = f"exited ({describe_exit(code)}){last_words(self.process.stderr_tail())}"
            raise ServerUnavailable(f"{self.name} is not available: {self.problem}", self.cause)
        return None

    def _cannot_restart(self, previous: Previous | None) -> Restarted | None:
        """The first time a server given by address would be restarted: a restart not done."""
        cause = restart_cause(self.spec.restart, previous, exited=False)
        if not isinstance(cause, Cause) or any(not restart.done for restart in self.restarts):
            return None
        assert previous is not None
        restarted = Restarted(cause, previous.behaviour, done=False)
        self.restarts.append(restarted)
        return restarted

    def _start(self) -> None:
        self.process = ServerProcess(self.spec, self.invocation_dir)
        try:
            self.process.start()
            self.started_in = self.process.wait_listening()
        except StartError as exc:
            self.problem = str(exc)
            self.cause = exc.cause
            self.ending = self.process.stop()
            raise ServerUnavailable(self.problem, self.cause) from None
        if "proc" in self.capabilities:
            self._own_sockets = frozenset(settle.held_by(self.process.observe(0.0, waits=False)))

    def _restart(self) -> None:
        """Stop the process (its output goes with it) and start a new one."""
        assert self.process is not None
        self.retired.append(self.process.stop())
        self.process.remove_output()
        self.process = None
        self.started_in = None
        self._ipv6 = None
        self._start()

    def wait_settled(self, limit: float = settle.SETTLE_LIMIT) -> settle.Unsettled | None:
        """Wait until the server settles (None), at most `limit` seconds; else how it was then.
        A server that cannot be observed is taken as settled."""
        if self.process is None or "proc" not in self.capabilities:
            return None
        started = time.monotonic()
        samples: list[settle.Sample] = []
        ticks = observe.clock_ticks()
        while True:
            now = time.monotonic()
            snapshot = self.process.observe(now - started, waits=False)
            samples.append(settle.sample(snapshot, self._own_sockets))
            found = settle.judge(samples, ticks)
            if found is None or now - started >= limit:
                return found
            # The first judgement needs a whole window; after it, the window slides.
            time.sleep(max(settle.POLL_INTERVAL, started + settle.WINDOW - time.monotonic()))

    def _probe(self) -> None:
        host, port = self.address(Family.TCP4)
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
                self._reachable = True
        except OSError as exc:
            where = format_address(host, port)
            self.cause = f"accepts no connections at {where} ({exc.strerror or exc})"
            self.problem = (
                f"nothing accepts connections at {where} ({exc.strerror or exc}); "
                f"start the server first, or check the address in {self.spec.origin}"
            )
            raise ServerUnavailable(self.problem, self.cause) from None

    def listens_on_ipv6(self) -> bool:
        """True when the server also accepts connections on ::1 (probed once)."""
        if self._ipv6 is None:
            try:
                with socket.create_connection((IPV6_LOOPBACK, self.port), timeout=PROBE_TIMEOUT):
                    self._ipv6 = True
            except OSError:
                self._ipv6 = False
        return self._ipv6

    # -- the runner's view (ServerTarget) --------------------------------------

    @property
    def port(self) -> int:
        if self.process is not None:
            return self.process.port
        assert self.spec.address is not None
        return self.spec.address[1]

    @property
    def cwd(self) -> Path | None:
        return self.process.cwd if self.process is not None else None

    def address(self, family: Family) -> tuple[str, int]:
        if family is Family.TCP6:
            return IPV6_LOOPBACK, self.port
        host = self.process.host if self.process is not None else self.spec.host
        return host, self.port

    def observe(self, at: float, costs: bool = False) -> observe.Snapshot | None:
        if self.process is None or "proc" not in self.capabilities:
            return None
        return self.process.observe(at, costs=costs)

    def open_files_limit(self) -> int | None:
        """The server process's soft RLIMIT_NOFILE (None when it cannot be read)."""
        pid = self.process.pid if self.process is not None else None
        if pid is None or "proc" not in self.capabilities:
            return None
        return observe.open_files_limit(pid)

    def exited(self, grace: float = 0.0) -> str | None:
        if self.process is None:
            return None
        code = self.process.returncode(grace)
        return None if code is None else f"exited ({describe_exit(code)})"

    # -- words -------------------------------------------------------------------

    def describe(self) -> str:
        """One line: what runs where, and how it is doing."""
        if self.process is None:
            if self.spec.address is not None:
                return (
                    f"{self.name}: running at {format_address(*self.spec.address)} (not started by sockspec)"
                )
            return f"{self.name}: not started"
        state = self.exited() or "running"
        if self.ending is not None:
            state = self.ending.how
        took = f", listening after {format_duration(self.started_in)}" if self.started_in is not None else ""
        return (
            f"{self.name}: `{self.process.command_line()}` (pid {self.process.pid}) on "
            f"{self.process.address}{took}; {state}"
        )

    def output_lines(self) -> list[str]:
        """The server's last stderr (and stdout) lines, indented for a report."""
        if self.process is None:
            return []
        lines = []
        for stream, found in (("stderr", self.process.stderr_tail()), ("stdout", self.process.stdout_tail())):
            if found:
                lines.append(f"server {stream} (last {len(found)} lines):")
                lines.extend(f"    | {line}" for line in found)
        if not lines:
            lines.append("server output: nothing on stderr or stdout")
        return lines

    # -- stop ----------------------------------------------------------------------

    @property
    def leftovers(self) -> tuple[int, ...]:
        """Processes it started that could not be ended, of every process a restart replaced too."""
        endings = [*self.retired, *([self.ending] if self.ending is not None else [])]
        return tuple(pid for ending in endings for pid in ending.leftovers)

    def stop(self) -> Ending | None:
        """Stop the server and everything it started (no-op for one given by address)."""
        if self.process is None:
            return None
        if self.ending is None or self.process.ending is None:
            self.ending = self.process.stop()
        return self.ending

    def remove_output(self) -> None:
        if self.process is not None:
            self.process.remove_output()
