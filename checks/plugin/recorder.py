"""The recorder: every item's outcome, the conformance summary, the reports a run writes.

Rules of this module:
- it runs in the process that reports (with pytest-xdist, the controller): the
  items' outcomes and what they saw arrive in the test reports; what was left
  out as not applicable arrives from the collection in the same process, or
  from a worker's `workeroutput` under pytest-xdist;
- an item's outcome is the gate's word for it (sockspec.reports.gate), taken
  from the item's user properties, or from pytest's report for skips, xfails
  and errors;
- what was left out as not applicable is said once per impl and reason, in the
  summary and in the JSON report (`RunRecord.not_applicable`);
- the timing lines say the tolerance, where it came from, and which items were
  run again because their verdict failed only on time (with their notes);
- failures that share a cause are said once per impl, in the summary and in the
  JSON report (`RunRecord.causes`, grouped by sockspec.reports.causes);
- a run where nothing was checked fails as pytest's "no tests ran" (exit 5);
- the scale behaviours' figures get a section of their own, after the summary
  (sockspec.reports.scale_text).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sockspec.judging import confirm
from sockspec.language import corpus
from sockspec.language.model import Model
from sockspec.plugin.options import HTML, JSON, OUTPUTS, WRITE_BASELINE
from sockspec.plugin.state import LeftOut, State
from sockspec.reports import baseline as baselines
from sockspec.reports import causes, gate, jsonreport, record, results, scale_text, server_text
from sockspec.reports import html as htmlreport
from sockspec.reports import terminal as reports
from sockspec.reports.record import ItemRecord, NotApplicableRecord, Outcome

#: The key under which a pytest-xdist worker sends the items it left out to the controller.
WORKER_LEFT_OUT = "sockspec_left_out"
#: The key under which it sends the scale items it left out because -m did not ask for them.
WORKER_OPT_IN = "sockspec_opt_in"

# A pytest report -> the gate's outcome, when the item itself did not say (skips, xfails, errors).
SKIPPED_OUTCOMES: dict[bool, Outcome] = {True: Outcome.EXPECTED_FAIL, False: Outcome.NOT_APPLICABLE}

# Why a run that checked nothing checked nothing: whether some item found out only as it ran.
NOTHING_CHECKED: dict[bool, str] = {
    True: "(see the reasons with -rs)",
    False: "(see the reasons above)",
}


def outcome(report: pytest.TestReport, said: str | None) -> tuple[Outcome, str | None]:
    """The item's outcome and its reason (why n/a, the baseline's reason, what went wrong)."""
    if report.skipped:
        wasxfail = getattr(report, "wasxfail", None)
        skip = report.longrepr
        reason = wasxfail if wasxfail is not None else (skip[2] if isinstance(skip, tuple) else str(skip))
        return SKIPPED_OUTCOMES[wasxfail is not None], reason.removeprefix("Skipped: ")
    if said is not None:
        return Outcome(said), None
    if report.passed:
        return Outcome.PASSED, None
    return Outcome.ERROR, report.longreprtext.splitlines()[0] if report.longreprtext else None


def not_applicable(left_out: Iterable[LeftOut]) -> tuple[NotApplicableRecord, ...]:
    """What was left out, once per (impl, reason) in the order first met, models in corpus order."""
    groups: dict[tuple[str, str], tuple[dict[str, int], list[str]]] = {}
    for impl, model, behaviour, reason in left_out:
        models, behaviours = groups.setdefault((impl, reason), ({}, []))
        models[model] = models.get(model, 0) + 1
        if behaviour not in behaviours:
            behaviours.append(behaviour)
    order = {model.value: index for index, model in enumerate(Model)}
    return tuple(
        NotApplicableRecord(
            impl,
            reason,
            dict(sorted(models.items(), key=lambda pair: order.get(pair[0], len(order)))),
            tuple(behaviours),
        )
        for (impl, reason), (models, behaviours) in groups.items()
    )


class Recorder:
    """Records every item's outcome, prints the conformance summary, writes the reports."""

    def __init__(self, state: State, config: pytest.Config, outputs: dict[str, Path]) -> None:
        self.state = state
        self.config = config
        self.outputs = outputs
        self.stopped: str | None = None
        self.written: list[str] = []
        self.problems: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The detail is for the reports, not a property for --junitxml: take it out first.
        details = [value for name, value in report.user_properties if name == results.DETAIL]
        seen = details[0] if details and isinstance(details[0], dict) else None
        report.user_properties[:] = [pair for pair in report.user_properties if pair[0] != results.DETAIL]
        props = {name: value for name, value in report.user_properties if isinstance(value, str)}
        if "spec_id" not in props:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            found, reason = outcome(report, props.get(results.OUTCOME))
            self.state.records.append(
                results.item_record(report.nodeid, props, found, report.duration, reason, seen)
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist: a worker finished; every worker collected the same items, so the first
        one's list of what it left out is the run's."""
        sent = getattr(node, "workeroutput", {}).get(WORKER_LEFT_OUT)
        if sent and not self.state.left_out:
            self.state.left_out.extend(
                (impl, model, behaviour, reason) for impl, model, behaviour, reason in sent
            )
        opted = getattr(node, "workeroutput", {}).get(WORKER_OPT_IN)
        if opted and not self.state.opt_in:
            self.state.opt_in.extend((impl, behaviour) for impl, behaviour in opted)

    def run_record(self) -> record.RunRecord:
        items = tuple(self.state.records)
        settings = self.state.settings
        timing = settings.timing
        files = settings.files
        servers = self._servers(items)
        return record.RunRecord(
            format=record.FORMAT,
            started=datetime.datetime.fromtimestamp(self.state.started, datetime.UTC).isoformat(),
            duration=round(time.time() - self.state.started, 3),
            corpus=record.CorpusRecord(
                corpus.version(),
                corpus.digest([path for path, _shown in files]),
                tuple(shown for _path, shown in files),
            ),
            impls=tuple(record.ImplRecord(impl.name, impl.description) for impl in settings.impls),
            timing=record.TimingRecord(
                timing.tolerance, timing.step_limit, timing.item_limit, timing.derivation, confirm.RUNS
            ),
            strict=settings.strict,
            baseline=settings.baseline.file if settings.baseline is not None else None,
            servers=servers,
            items=items,
            counts=record.counts(items),
            stopped=self.stopped,
            gate=record.gate(items, self.stopped),
            not_applicable=not_applicable(self.state.left_out),
            reruns=record.reruns(items),
            causes=causes.group(items, servers),
        )

    def _texts(self, run: record.RunRecord) -> dict[str, tuple[str, str]]:
        """option -> (the text to write, what the summary adds after the path)."""
        entries = gate.fresh_entries(run.items)
        previous = self.state.settings.baseline
        kept = gate.unrun_entries(previous, run.items) if previous else []
        untested = f", {len(kept)} kept as they were: not tested in this run" if kept else ""
        return {
            JSON: (jsonreport.render(run), ""),
            HTML: (htmlreport.render(run), ""),
            WRITE_BASELINE: (
                baselines.render([*entries, *kept]),
                f" ({len(entries)} known failures{untested})",
            ),
        }

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.INTERRUPTED and session.testsfailed and not self.state.records:
            # pytest stops before running anything when a spec file could not be collected.
            self.stopped = (
                f"stopped: {session.testsfailed} spec file(s) could not be loaded (see the errors above); "
                "nothing ran"
            )
        elif exitstatus == pytest.ExitCode.INTERRUPTED:
            self.stopped = "interrupted (Ctrl-C): the items that had not run are missing"
        elif session.shouldfail or session.shouldstop:
            why = session.shouldfail or session.shouldstop
            self.stopped = f"stopped early ({why}): the items that had not run are missing"
        run = self.run_record()
        ended = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
        left_only = session.testscollected == 0 and bool(run.not_applicable)
        if ended and (left_only or (run.items and record.checked_nothing(run.items))):
            self.problems.append(
                "nothing was checked: every behaviour selected was not applicable to the impls run "
                f"{NOTHING_CHECKED[bool(self.state.records)]}; the run fails as pytest's 'no tests ran'"
            )
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        texts = self._texts(run)
        for option, path in self.outputs.items():
            text, what = texts[option]
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                self.problems.append(f"could not write the {OUTPUTS[option]} {path}: {exc.strerror}")
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
                continue
            self.written.append(f"{OUTPUTS[option]}: {path}{what}")
        previous = self.state.settings.baseline
        if previous is not None:
            self.problems.extend(
                f"{entry.where}: this baseline entry matched no item of {entry.id} that ran "
                f"(impl {entry.impl or 'any'}, family {entry.family.value if entry.family else 'any'}): "
                "a misspelt impl or family, or one this run left out?"
                for entry in gate.unused_entries(previous, run.items)
            )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        left_out = not_applicable(self.state.left_out)
        opt_in = reports.render_opt_in(self.state.opt_in)
        if self.config.getoption("collectonly"):
            # Nothing ran: only why pytest's count of deselected items is what it is.
            lines = reports.render_not_applicable(left_out) + opt_in
            if lines:
                terminalreporter.section("sockspec")
            for line in lines:
                terminalreporter.write_line(line)
            return
        if not self.state.records and not left_out and not opt_in and not self.problems:
            return
        warned = [item for item in self.state.records if item.outcome is Outcome.WARNED]
        if warned:
            terminalreporter.section("sockspec warnings: SHOULD behaviours that failed")
            for item in warned:
                terminalreporter.write_line(item.text or f"{item.id} failed on {item.impl}")
            terminalreporter.write_line("(--sockspec-strict makes them fail the run)")
        reran = reports.render_reruns(self.state.records)
        if reran:
            terminalreporter.section("sockspec reruns: verdicts that failed only on time, run again")
            for line in reran:
                terminalreporter.write_line(line)
        terminalreporter.section("sockspec conformance")
        found = causes.group(self.state.records, self._servers(self.state.records))
        for line in reports.render_summary(self.state.records, left_out, found):
            terminalreporter.write_line(line)
        for line in opt_in:
            terminalreporter.write_line(line)
        timing = reports.render_timing(self.state.settings.timing, record.reruns(tuple(self.state.records)))
        for line in timing:
            terminalreporter.write_line(line)
        for line in self._server_lines():
            terminalreporter.write_line(f"server {line}")

        if self.stopped:
            terminalreporter.write_line(f"run {self.stopped}; the gate fails", red=True)
        for line in self.written:
            terminalreporter.write_line(f"wrote {line}")
        for line in self.problems:
            terminalreporter.write_line(f"sockspec: {line}", yellow=True)
        scaled = scale_text.render(self.state.records)
        if scaled:
            terminalreporter.section("sockspec scale: the servers' costs by clients connected at once")
            for line in scaled:
                terminalreporter.write_line(line)

    def _server_lines(self) -> list[str]:
        """What the servers' session says; with pytest-xdist the workers ran the servers, so the
        models observed come from the items' records instead."""
        if self.state.servers.servers:
            return self.state.servers.summary_lines()
        servers = self._servers(self.state.records)
        return [
            line
            for server in servers
            for line in (
                *reports.render_server(server),
                *server_text.restart_lines(server.impl, server.restart_causes),
            )
        ]

    def _servers(self, items: Sequence[ItemRecord]) -> tuple[record.ServerRecord, ...]:
        declared = {
            impl.name: impl.server.model for impl in self.state.settings.impls if impl.server is not None
        }
        return results.servers(items, declared)
