"""One server impl during one run: started on first use, shared by its behaviours, stopped at the end.

Rules of this module:
- a server given by command is started once, lazily, by the first behaviour
  that needs it, and stopped by `stop` (the plugin calls it when the session
  finishes, also after a failure or Ctrl-C; process.py's atexit hook is the
  last resort);
- a start that fails is remembered: later behaviours fail at once with the
  same reason instead of starting the server again and again;
- a server that exited during the run makes every later behaviour fail with
  "the server exited (...)" and its last stderr lines, not with a cascade of
  connection errors;
- a server given by address is never started or stopped, and cannot be
  observed: behaviours that need /proc are not applicable to it.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from sockspec.language.model import Family
from sockspec.language.timing import format_duration
from sockspec.servers import observe
from sockspec.servers.config import DeclaredModel, ServerSpec, format_address
from sockspec.servers.process import Ending, ServerProcess, StartError, describe_exit

PROBE_TIMEOUT = 2.0
IPV6_LOOPBACK = "::1"


class ServerUnavailable(Exception):
    """The server cannot be used for this behaviour (it did not start, or it exited): its fault."""


class LiveServer:
    """The server of one impl for one pytest session."""

    def __init__(self, spec: ServerSpec, invocation_dir: Path) -> None:
        self.spec = spec
        self.name = spec.name
        self.declared: DeclaredModel | None = spec.model
        self.invocation_dir = invocation_dir
        self.process: ServerProcess | None = None
        self.problem: str | None = None
        self.started_in: float | None = None
        self.ending: Ending | None = None
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

    def ensure(self) -> None:
        """Make sure the server is up for the next behaviour; raise ServerUnavailable when it is not."""
        if self.problem is not None:
            first = re.split(r"; (?:its last stderr lines|it wrote nothing)", self.problem)[0]
            shown = " (its output is shown under the first failure)" if self.process is not None else ""
            raise ServerUnavailable(f"{self.name} is not available in this run: {first}{shown}")
        if self.spec.started_by_checker:
            if self.process is None:
                self._start()
            assert self.process is not None
            code = self.process.returncode()
            if code is not None:
                self.problem = f"the server exited ({describe_exit(code)}); {self.process.output_note()}"
                raise ServerUnavailable(f"{self.name} is not available: {self.problem}")
        elif not self._reachable:
            self._probe()

    def _start(self) -> None:
        self.process = ServerProcess(self.spec, self.invocation_dir)
        try:
            self.process.start()
            self.started_in = self.process.wait_listening()
        except StartError as exc:
            self.problem = str(exc)
            self.ending = self.process.stop()
            raise ServerUnavailable(self.problem) from None

    def _probe(self) -> None:
        host, port = self.address(Family.TCP4)
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
                self._reachable = True
        except OSError as exc:
            self.problem = (
                f"nothing accepts connections at {format_address(host, port)} ({exc.strerror or exc}); "
                f"start the server first, or check the address in {self.spec.origin}"
            )
            raise ServerUnavailable(self.problem) from None

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

    def observe(self, at: float) -> observe.Snapshot | None:
        if self.process is None or "proc" not in self.capabilities:
            return None
        return self.process.observe(at)

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
