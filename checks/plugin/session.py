"""The servers of one pytest session, for the plugin: running server behaviours, the summary.

Rules of this module:
- what the plugin asks about servers while they run is answered here, so the
  plugin stays glue: running one behaviour against the impl's live server, the
  failure text, and the summary lines;
- which server behaviours apply to an impl is sockspec.judging.applicability's
  to say, before anything runs; what only the machine or the live server can
  say (no /proc, too few descriptors, no listener on ::1) is found here, when
  the behaviour runs, and raised as `NotApplicable`;
- a scale behaviour runs at each of its levels (or at the levels the run sets), by
  sockspec.servers.scale; when this machine cannot run its first level, it is not applicable;
- one LiveServer per impl name, started by the first behaviour that runs
  against it and stopped by `stop_all`, which the plugin calls when the session
  finishes (after failures and Ctrl-C too);
- how the last behaviour on each server went (passed, failed, or errored: no
  verdict) is kept, with where it is written, so the server can be restarted
  before the next one as its policy says, and probed (a server that does not
  answer a fresh client after a failure is not available for the rest of the
  run); a restart is the first event of the next verdict's timeline
  (at 0, by the checker, in set-up), and the summary counts them;
- the model observed last for each server is kept for the summary;
- no pytest here.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from sockspec.judging.events import Event
from sockspec.language.model import Behaviour, Family
from sockspec.language.timing import Timing
from sockspec.reports import server_text as server_reports
from sockspec.servers import probe
from sockspec.servers.clients import ClientError, ensure_descriptors
from sockspec.servers.config import ServerSpec
from sockspec.servers.infer import Inference
from sockspec.servers.live import LiveServer, Previous, Restarted, Result, ServerUnavailable
from sockspec.servers.runner import ServerVerdict, run_server_behaviour, total_clients
from sockspec.servers.scale import Unreachable, run_scale_behaviour


class NotApplicable(Exception):
    """A server behaviour does not apply after all (found out at run time, e.g. no ::1 listener)."""


class ServerSession:
    """Every server impl of one run, by impl name."""

    def __init__(self, invocation_dir: Path, scale_levels: tuple[int, ...] | None = None) -> None:
        self.invocation_dir = invocation_dir
        self.scale_levels = scale_levels
        self.servers: dict[str, LiveServer] = {}
        self.specs: dict[str, ServerSpec] = {}
        self.observed: dict[str, Inference] = {}
        self.previous: dict[str, Previous] = {}
        self.pending: dict[str, Restarted] = {}  # a restart not yet shown in a verdict's timeline

    def live(self, name: str, spec: ServerSpec) -> LiveServer:
        if name not in self.servers:
            self.servers[name] = LiveServer(spec, self.invocation_dir)
            self.specs[name] = spec
        return self.servers[name]

    def run(
        self, behaviour: Behaviour, name: str, spec: ServerSpec, family: Family, timing: Timing
    ) -> ServerVerdict:
        """Run one server behaviour; ServerUnavailable when the server is not there, NotApplicable
        when the behaviour needs what this machine lacks (/proc to observe the server), for a tcp6
        behaviour when the server does not listen on ::1, or when this process may not open as
        many connections as the behaviour makes (RLIMIT_NOFILE)."""
        known = self.servers.get(name) or LiveServer(spec, self.invocation_dir)  # not started by this
        lacking = sorted(behaviour.requires - known.capabilities)
        if lacking:
            raise NotApplicable(known.missing_reason(lacking[0]))
        if behaviour.scale is None:
            try:
                ensure_descriptors(total_clients(behaviour))
            except ClientError as exc:
                raise NotApplicable(f"this machine cannot run it: {exc}") from None
        server = self.live(name, spec)
        restarted = server.ensure(self.previous.get(name), max(probe.LIMIT, timing.step_limit))
        if restarted is not None:
            self.pending[name] = restarted
        if family is Family.TCP6 and not server.listens_on_ipv6():
            raise NotApplicable(f"{name} does not listen on ::1 port {server.port} (it is checked over tcp4)")
        try:
            verdict = self._play(behaviour, server, family, timing)
        except Unreachable as exc:
            self.previous[name] = Previous(behaviour.id, Result.PASSED)
            raise NotApplicable(f"this machine cannot run it: {exc}") from None
        except BaseException:
            self.previous[name] = Previous(behaviour.id, Result.ERRORED, str(behaviour.origin))
            raise
        result = Result.PASSED if verdict.passed else Result.FAILED
        self.previous[name] = Previous(behaviour.id, result, str(behaviour.origin))
        if verdict.inferences:
            self.observed[name] = verdict.inferences[-1]
        shown = self.pending.pop(name, None)
        if shown is not None:
            first = Event(0.0, "checker", None, shown.what(name))
            verdict = dataclasses.replace(verdict, events=(first, *verdict.events))
        return verdict

    def _play(
        self, behaviour: Behaviour, server: LiveServer, family: Family, timing: Timing
    ) -> ServerVerdict:
        """One behaviour; a scale behaviour at each of its levels (or the run's levels)."""
        if behaviour.scale is not None:
            return run_scale_behaviour(behaviour, server, family, timing, self.scale_levels)
        return run_server_behaviour(behaviour, server, family, timing)

    def failure_text(self, verdict: ServerVerdict, name: str) -> str:
        server = self.servers[name]
        return server_reports.render_server_failure(verdict, name, server.describe(), server.output_lines())

    @staticmethod
    def unavailable_text(behaviour: Behaviour, name: str, family: Family, problem: ServerUnavailable) -> str:
        return server_reports.render_unavailable(behaviour, name, family, str(problem))

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()

    def remove_output(self) -> None:
        for server in self.servers.values():
            server.remove_output()

    def summary_lines(self) -> list[str]:
        """Per server that ran: the model observed (with its evidence) and how it ended."""
        lines = []
        for name, server in self.servers.items():
            spec = self.specs[name]
            lines.extend(
                server_reports.model_lines(
                    name, self.observed.get(name), spec.model, "proc" in server.capabilities
                )
            )
            lines.append(f"{name}: {server.describe().removeprefix(name + ': ')}")
            done = Counter(restart.cause.value for restart in server.restarts if restart.done)
            refused = next((r.what(name) for r in server.restarts if not r.done), None)
            lines.extend(server_reports.restart_lines(name, done, refused))
            if server.leftovers:
                lines.append(
                    f"{name}: WARNING: could not end processes it started: "
                    + ", ".join(str(pid) for pid in server.leftovers)
                )
        return lines
