"""The servers of one pytest session, for the plugin: which behaviours apply, running them, the summary.

Rules of this module:
- what the plugin asks about servers is answered here, so the plugin stays glue:
  whether a server behaviour applies to an impl (and why not), running one
  against the impl's live server, the failure text, and the summary lines;
- one LiveServer per impl name, started by the first behaviour that runs
  against it and stopped by `stop_all`, which the plugin calls when the session
  finishes (after failures and Ctrl-C too);
- the model observed last for each server is kept for the summary;
- no pytest here: a behaviour that turns out not to apply raises `NotApplicable`.
"""

from __future__ import annotations

from pathlib import Path

from sockspec.language.model import Behaviour, Family
from sockspec.language.timing import Timing
from sockspec.reports import server_text as server_reports
from sockspec.servers.clients import ClientError, ensure_descriptors
from sockspec.servers.config import ServerSpec
from sockspec.servers.infer import Inference
from sockspec.servers.live import LiveServer, ServerUnavailable
from sockspec.servers.runner import ServerVerdict, run_server_behaviour, total_clients


class NotApplicable(Exception):
    """A server behaviour does not apply after all (found out at run time, e.g. no ::1 listener)."""


def not_applicable(behaviour: Behaviour, name: str, spec: ServerSpec | None) -> str | None:
    """Why a server behaviour does not apply to this impl, known before anything runs."""
    if spec is None:
        return (
            f"{name} is a driver, not a server: server behaviours connect to a server process "
            "(name one with a command or an address in [tool.sockspec.impls.NAME], or cmd:/tcp://)"
        )
    server = LiveServer(spec, Path.cwd())
    missing = sorted(behaviour.requires - server.capabilities, key=lambda need: (need != "proc", need))
    if missing:
        return server.missing_reason(missing[0])
    return None


class ServerSession:
    """Every server impl of one run, by impl name."""

    def __init__(self, invocation_dir: Path) -> None:
        self.invocation_dir = invocation_dir
        self.servers: dict[str, LiveServer] = {}
        self.specs: dict[str, ServerSpec] = {}
        self.observed: dict[str, Inference] = {}

    def live(self, name: str, spec: ServerSpec) -> LiveServer:
        if name not in self.servers:
            self.servers[name] = LiveServer(spec, self.invocation_dir)
            self.specs[name] = spec
        return self.servers[name]

    def run(
        self, behaviour: Behaviour, name: str, spec: ServerSpec, family: Family, timing: Timing
    ) -> ServerVerdict:
        """Run one server behaviour; ServerUnavailable when the server is not there, NotApplicable
        for a tcp6 behaviour when the server does not listen on ::1, or when this process may not
        open as many connections as the behaviour makes (RLIMIT_NOFILE)."""
        try:
            ensure_descriptors(total_clients(behaviour))
        except ClientError as exc:
            raise NotApplicable(f"this machine cannot run it: {exc}") from None
        server = self.live(name, spec)
        server.ensure()
        if family is Family.TCP6 and not server.listens_on_ipv6():
            raise NotApplicable(f"{name} does not listen on ::1 port {server.port} (it is checked over tcp4)")
        verdict = run_server_behaviour(behaviour, server, family, timing)
        if verdict.inferences:
            self.observed[name] = verdict.inferences[-1]
        return verdict

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
            ending = server.ending
            if ending is not None and ending.leftovers:
                lines.append(
                    f"{name}: WARNING: could not end processes it started: "
                    + ", ".join(str(pid) for pid in ending.leftovers)
                )
        return lines
