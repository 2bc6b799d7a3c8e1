"""sockspec's pytest plugin: thin glue between pytest and the checker.

Rules of this module:
- glue only: loading, running and judging live in sockspec.language.loader / runner /
  judge, and for servers in sockspec.servers (session.py answers everything the
  plugin asks about them); this file turns them into pytest items, options and
  reports;
- public pytest API only (hooks, `from_parent`, `config.stash`); nothing else
  in sockspec/ imports this module; it is registered once, by the pytest11
  entry point;
- without --impl (or the `sockspec_impls` ini setting) the plugin adds nothing
  and collects nothing: plain `pytest` runs a project's own tests;
- with an impl, the corpus replaces normal collection: items are named
  `<spec file>::<behaviour id>[<impl>-<family>]`;
- a server impl's process is started by its first server item and stopped when
  the session finishes (also after failures, -x and Ctrl-C).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sockspec.driving.connections import unavailable
from sockspec.driving.drivers import CompletionDriver, Driver, ReadinessDriver, SocketDriver
from sockspec.driving.runner import run_behaviour
from sockspec.judging.verdict import Verdict
from sockspec.language import corpus
from sockspec.language.corpus import CORPUS
from sockspec.language.loader import SpecError, check_unique_ids, load_file
from sockspec.language.model import Behaviour, Family, Level, Model, Origin
from sockspec.language.timing import Timing, parse_duration
from sockspec.plugin.registry import Impl, known_names, resolve
from sockspec.plugin.session import NotApplicable, ServerSession
from sockspec.plugin.session import not_applicable as server_not_applicable
from sockspec.reports import baseline as baselines
from sockspec.reports import gate, jsonreport, record, results
from sockspec.reports import html as htmlreport
from sockspec.reports import terminal as reports
from sockspec.reports.record import ItemRecord, Outcome
from sockspec.servers.config import ConfigError, ImplTables, find_pyproject, load_pyproject
from sockspec.servers.live import ServerUnavailable
from sockspec.servers.runner import ServerVerdict

GROUP = "sockspec"

MODEL_MARKERS: dict[Model, str] = {
    Model.BLOCKING: "blocking: behaviours of the blocking model",
    Model.NONBLOCKING: "nonblocking: behaviours of the non-blocking model",
    Model.READINESS: "readiness: behaviours of readiness notification (select, poll, epoll)",
    Model.COMPLETION: "completion: behaviours of completion notification",
    Model.SERVER: "server: behaviours of a server over the wire",
}
LEVEL_MARKERS: dict[Level, str] = {
    Level.MUST: "must: behaviours every conforming implementation has",
    Level.SHOULD: "should: behaviours recommended, not required",
}
# Timing settings: command-line option, ini name, Timing field.
TIMING_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("--sockspec-tolerance", "sockspec_tolerance", "tolerance"),
    ("--sockspec-step-limit", "sockspec_step_limit", "step_limit"),
    ("--sockspec-item-limit", "sockspec_item_limit", "item_limit"),
)


@dataclass
class State:
    """What the plugin knows for one pytest run (kept in config.stash)."""

    impls: list[Impl]
    timing: Timing
    traceback: bool
    strict: bool = False
    baseline: baselines.Baseline | None = None
    ids: dict[str, Origin] = field(default_factory=dict)
    files: list[tuple[Path, str]] = field(default_factory=list)
    records: list[ItemRecord] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    servers: ServerSession = field(default_factory=lambda: ServerSession(Path.cwd()))


STATE = pytest.StashKey[State]()


class ConformanceFailure(Exception):
    """The implementation under test broke a behaviour's rule."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.behaviour.id} failed")
        self.verdict = verdict


class UnexpectedPass(Exception):
    """A behaviour the baseline lists as a known failure held its rule."""

    def __init__(self, entry: baselines.Entry) -> None:
        super().__init__(f"{entry.id} passed")
        self.entry = entry


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "sockspec: socket I/O model conformance")
    group.addoption(
        "--impl",
        action="append",
        default=[],
        metavar="NAME",
        help=(
            f"implementation to check (repeatable): {', '.join(known_names())}, module:Class (a driver), "
            "a server named in pyproject.toml [tool.sockspec.impls.NAME], cmd:COMMAND {port}, "
            "or tcp://127.0.0.1:PORT"
        ),
    )
    defaults = Timing()
    for option, ini, attr in TIMING_SETTINGS:
        group.addoption(
            option,
            default=None,
            metavar="DURATION",
            help=f"e.g. 250ms (default {getattr(defaults, attr)} s; ini: {ini})",
        )
        parser.addini(ini, f"sockspec {attr.replace('_', ' ')} (e.g. 250ms)", default=None)
    group.addoption(
        "--sockspec-traceback",
        action="store_true",
        help="show the checker's traceback under a failed behaviour (also with -vv)",
    )
    group.addoption(
        "--spec",
        action="append",
        default=[],
        metavar="PATH",
        help="also run the spec files in PATH (a .yaml file or a folder of them; repeatable)",
    )
    group.addoption(
        "--spec-only",
        action="store_true",
        help="run only the --spec files, not the corpus bundled with sockspec",
    )
    group.addoption(
        "--sockspec-strict",
        action="store_true",
        default=None,
        help="failed SHOULD behaviours fail the run too (default: they are warnings; ini: sockspec_strict)",
    )
    parser.addini("sockspec_strict", "failed SHOULD behaviours fail the run (true/false)", type="bool")
    group.addoption(
        "--sockspec-baseline",
        metavar="PATH",
        help="YAML file of known failures: they are expected failures, and fail the run when they pass "
        "(ini: sockspec_baseline)",
    )
    parser.addini("sockspec_baseline", "file of known failures (relative to the rootdir)", type="paths")
    group.addoption(
        "--sockspec-write-baseline",
        metavar="PATH",
        help="write a baseline listing every behaviour that failed in this run",
    )
    for kind in ("json", "html"):
        group.addoption(
            f"--sockspec-{kind}",
            metavar="PATH",
            help=f"write the run's {kind.upper()} report to PATH",
        )
    parser.addini("sockspec_impls", "impls to check when --impl is not given", type="args", default=[])
    parser.addini(
        "sockspec_specs", "extra spec files or folders, relative to the rootdir", type="paths", default=[]
    )


def _timing(config: pytest.Config) -> Timing:
    values: dict[str, float] = {}
    for option, ini, attr in TIMING_SETTINGS:
        text = config.getoption(option) or config.getini(ini)
        if text:
            try:
                values[attr] = parse_duration(str(text))
            except ValueError as exc:
                raise pytest.UsageError(f"{option} / {ini}: {exc}") from None
    return Timing(**values)


def pytest_configure(config: pytest.Config) -> None:
    for line in (*MODEL_MARKERS.values(), *LEVEL_MARKERS.values()):
        config.addinivalue_line("markers", line)
    names = config.getoption("--impl") or config.getini("sockspec_impls")
    if not names:
        return
    try:
        impls = resolve(list(names), _configured_servers(config), config.invocation_params.dir)
    except (LookupError, ConfigError) as exc:
        raise pytest.UsageError(str(exc)) from None
    traceback = bool(config.getoption("--sockspec-traceback")) or config.get_verbosity() >= 2
    strict = config.getoption("--sockspec-strict")
    if strict is None:
        try:
            strict = config.getini("sockspec_strict")
        except (ValueError, pytest.UsageError) as exc:  # pytest 9 raises UsageError, 8 ValueError
            raise pytest.UsageError(f"sockspec_strict: {exc} (write true or false)") from None
    state = State(
        impls,
        _timing(config),
        traceback,
        strict=bool(strict),
        baseline=_baseline(config),
        servers=ServerSession(config.invocation_params.dir),
    )
    config.stash[STATE] = state
    state.files = _corpus_files(config)  # a --spec path that is not there: a usage error, now
    if not hasattr(config, "workerinput"):
        # With pytest-xdist the controller records and reports; the workers only run items.
        config.pluginmanager.register(Recorder(state, config, _outputs(config)), "sockspec-recorder")


# Files a run writes: option -> what it is.
OUTPUTS: dict[str, str] = {
    "--sockspec-json": "JSON report",
    "--sockspec-html": "HTML report",
    "--sockspec-write-baseline": "baseline",
}


def _outputs(config: pytest.Config) -> dict[str, Path]:
    """Each output the user asked for, checked before anything runs: its folder is made, and a
    path that is a folder is a usage error (not a crash after the whole run)."""
    found = {}
    for option, what in OUTPUTS.items():
        given = config.getoption(option)
        if not given:
            continue
        path = config.invocation_params.dir / given
        if path.is_dir():
            raise pytest.UsageError(f"{option}={given}: {path} is a folder; name the {what} file to write")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(
                f"{option}={given}: cannot make the folder {path.parent} for the {what}: {exc.strerror}"
            ) from None
        found[option] = path
    return found


def _baseline(config: pytest.Config) -> baselines.Baseline | None:
    """The baseline named by --sockspec-baseline (relative to the current directory) or the ini."""
    given = config.getoption("--sockspec-baseline")
    configured = config.getini("sockspec_baseline")
    if given:
        path = config.invocation_params.dir / given
    elif configured:
        path = Path(configured[0])
    else:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise pytest.UsageError(f"sockspec cannot read the baseline {path}: {exc.strerror}") from None
    try:
        return baselines.parse(text, str(path))
    except baselines.BaselineError as exc:
        raise pytest.UsageError(f"sockspec cannot use the baseline {path}:\n{exc}") from None


def _configured_servers(config: pytest.Config) -> ImplTables:
    """The servers named in the user's pyproject.toml ([tool.sockspec.impls.NAME])."""
    path = find_pyproject(config.invocation_params.dir, config.rootpath)
    return load_pyproject(path) if path is not None else ImplTables()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop every server this run started, whatever happened (failures, -x, Ctrl-C)."""
    state = session.config.stash.get(STATE, None)
    if state is not None:
        state.servers.stop_all()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.servers.stop_all()
        state.servers.remove_output()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    extra = [shown for path, shown in state.files if path.parent != CORPUS]
    corpus = "not run (--spec-only)" if config.getoption("--spec-only") else str(CORPUS)
    baseline = state.baseline.file if state.baseline is not None else "none"
    return [
        "sockspec impls: " + "; ".join(impl.description for impl in state.impls),
        f"sockspec timing: {state.timing.describe()}",
        f"sockspec corpus: {corpus}" + (f"; your spec files: {', '.join(extra)}" if extra else ""),
        f"sockspec gate: MUST failures fail the run; SHOULD failures "
        f"{'fail it too (strict)' if state.strict else 'are warnings'}; baseline: {baseline}",
    ]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With an impl to check, the corpus replaces the project's own tests."""
    return True if STATE in config.stash else None


class SpecFileNode(pytest.File):
    """One spec file: a behaviour per impl and family."""

    def collect(self) -> list[pytest.Item]:
        state = self.config.stash[STATE]
        spec = load_file(self.path, self.nodeid)
        check_unique_ids([spec], state.ids)
        return [
            BehaviourItem.from_parent(
                self,
                name=f"{behaviour.id}[{impl.name}-{family.value}]",
                # Given whole, so pytest (9.1+) reads "[impl-family]" as this id's parameters, as it
                # reads the ids it saved: --lf and --sw find the items again.
                nodeid=f"{self.nodeid}::{behaviour.id}[{impl.name}-{family.value}]",
                behaviour=behaviour,
                impl=impl,
                family=family,
            )
            for behaviour in spec.behaviours
            for impl in state.impls
            for family in behaviour.families
        ]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, SpecError):
            return f"sockspec cannot load this spec file:\n{excinfo.value}"
        return super().repr_failure(excinfo)


# The contract a driver must implement for each model's behaviours.
CONTRACTS: dict[Model, type[Driver]] = {
    Model.BLOCKING: SocketDriver,
    Model.NONBLOCKING: SocketDriver,
    Model.READINESS: ReadinessDriver,
    Model.COMPLETION: CompletionDriver,
}


def _not_applicable(behaviour: Behaviour, impl: Impl, family: Family) -> str | None:
    if behaviour.model is Model.SERVER:
        return server_not_applicable(behaviour, impl.name, impl.server)
    driver = impl.driver
    if driver is None:
        return (
            f"{impl.name} is a server, checked over the wire by the server behaviours; "
            f"{behaviour.model.value} behaviours need a driver (module:Class)"
        )
    if behaviour.model not in driver.models:
        declared = ", ".join(sorted(model.value for model in driver.models)) or "none"
        return f"{impl.name} does not declare the {behaviour.model.value} model (it declares: {declared})"
    contract = CONTRACTS.get(behaviour.model)
    if contract is None or not issubclass(driver, contract):
        needed = contract.__name__ if contract is not None else "a server"
        return f"{impl.name} declares {behaviour.model.value} but is not a {needed}"
    missing = sorted(behaviour.requires - driver.capabilities)
    if missing:
        return f"needs {', '.join(missing)}, which {impl.name} does not have"
    refused = driver.unavailable_reason()
    if refused is not None:
        return f"{impl.name} cannot run on this machine: {refused}"
    return unavailable(family)


class BehaviourItem(pytest.Item):
    """One behaviour, run against one impl over one family."""

    def __init__(self, *, behaviour: Behaviour, impl: Impl, family: Family, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.behaviour = behaviour
        self.impl = impl
        self.family = family
        self.add_marker(behaviour.model.value)
        self.add_marker(behaviour.level.value)
        # Written by --junitxml as <properties> of the test case, so CI systems can show them.
        self.user_properties.extend(results.properties(behaviour, impl.name, family.value))
        self.known: baselines.Entry | None = None
        self.detail: results.Detail | None = None
        reason = _not_applicable(behaviour, impl, family)
        if reason is not None:
            self.user_properties.append((results.OUTCOME, Outcome.NOT_APPLICABLE.value))
            self.add_marker(pytest.mark.skip(reason=reason))

    def _verdict(self, state: State) -> Verdict:
        if self.impl.server is not None and self.behaviour.model is Model.SERVER:
            try:
                return state.servers.run(
                    self.behaviour, self.impl.name, self.impl.server, self.family, state.timing
                )
            except NotApplicable as exc:
                self.user_properties.append((results.OUTCOME, Outcome.NOT_APPLICABLE.value))
                pytest.skip(str(exc))
            except ServerUnavailable:
                self.user_properties.append((results.OUTCOME, Outcome.FAILED.value))
                raise
        assert self.impl.driver is not None
        driver = self.impl.driver()
        try:
            return run_behaviour(self.behaviour, driver, self.family, state.timing)
        finally:
            driver.release()

    def runtest(self) -> None:
        state = self.config.stash[STATE]
        verdict = self._verdict(state)
        text = None if verdict.passed else self._failure_text(state, verdict)
        inferences = verdict.inferences if isinstance(verdict, ServerVerdict) else ()
        self.detail = results.detail(
            verdict,
            text,
            inferences[-1] if inferences else None,
            self.known.reason if self.known is not None else None,
        )
        outcome = gate.decide(verdict.passed, self.behaviour.level, state.strict, self.known is not None)
        self.user_properties.append((results.OUTCOME, outcome.value))
        if outcome is Outcome.WARNED and verdict.failure is not None:
            # A pass for pytest and for JUnit: this property is what a CI system can show of it.
            first = verdict.failure.mismatches[0] if verdict.failure.mismatches else verdict.failure.title
            self.user_properties.append((results.WARNING, f"{verdict.failure.origin}: {first}"))
        if outcome is Outcome.FAILED:
            raise ConformanceFailure(verdict)
        if outcome is Outcome.UNEXPECTED_PASS:
            assert self.known is not None
            raise UnexpectedPass(self.known)
        if outcome is Outcome.EXPECTED_FAIL:
            assert self.known is not None
            pytest.xfail(f"known failure ({self.known.where}): {self.known.reason}")

    def _failure_text(self, state: State, verdict: Verdict) -> str:
        if isinstance(verdict, ServerVerdict):
            return state.servers.failure_text(verdict, self.impl.name)
        return reports.render_failure(verdict, self.impl.name)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        state = self.config.stash[STATE]
        if isinstance(excinfo.value, ConformanceFailure):
            if self.detail is not None and self.detail.get("text"):
                return self.detail["text"]  # rendered once, when the item ran
            return self._failure_text(state, excinfo.value.verdict)
        if isinstance(excinfo.value, UnexpectedPass):
            entry = excinfo.value.entry
            return (
                f"{self.behaviour.id} passed on {self.impl.name} over {self.family.value}, "
                f"but the baseline lists it as a known failure ({entry.where}: {entry.reason}).\n"
                "If the implementation is fixed, remove that entry from the baseline "
                "(or rewrite it with --sockspec-write-baseline=PATH)."
            )
        if isinstance(excinfo.value, ServerUnavailable):
            return state.servers.unavailable_text(self.behaviour, self.impl.name, self.family, excinfo.value)
        text = super().repr_failure(excinfo, style)
        if state.traceback:
            return text
        return (
            f"sockspec itself failed while running {self.behaviour.id} "
            f"({type(excinfo.value).__name__}: {excinfo.value}); "
            "this is a checker bug: rerun with --sockspec-traceback and report it"
        )

    def reportinfo(self) -> tuple[Path, int, str]:
        # A head line that is not the node id's tail, so pytest shows the id with its dots.
        where = f"{self.behaviour.id} on {self.impl.name} over {self.family.value}"
        return self.path, self.behaviour.origin.line - 1, where


def _corpus_files(config: pytest.Config) -> list[tuple[Path, str]]:
    """(path, name shown in node ids) of every spec file to run, bundled corpus first."""
    files: list[tuple[Path, str]] = []
    if not config.getoption("--spec-only"):
        files.extend((path, f"spec/{path.name}") for path in sorted(CORPUS.glob("*.yaml")))
    extra = [Path(text) for text in config.getoption("--spec")] + list(config.getini("sockspec_specs"))
    for given in extra:
        path = given if given.is_absolute() else config.invocation_params.dir / given
        if not path.exists():
            raise pytest.UsageError(f"--spec {given}: no such file or folder")
        found_here = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
        if not found_here:
            raise pytest.UsageError(f"--spec {given}: no .yaml spec files in {path}")
        for found in found_here:
            try:
                shown = found.resolve().relative_to(config.rootpath).as_posix()
            except ValueError:
                shown = found.resolve().as_posix()
            files.append((found, shown))
    return files


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    collected: list[pytest.Item] = []
    for path, shown in state.files:
        node = SpecFileNode.from_parent(session, path=path, nodeid=shown)
        node.ihook.pytest_collectstart(collector=node)
        collect_report = node.ihook.pytest_make_collect_report(collector=node)
        node.ihook.pytest_collectreport(report=collect_report)
        if collect_report.passed:
            collected.extend(item for item in collect_report.result if isinstance(item, pytest.Item))
    if state.baseline is not None:
        problems = baselines.unknown(state.baseline, state.ids)
        if problems:
            raise pytest.UsageError(
                f"sockspec cannot use the baseline {state.baseline.file}:\n" + "\n".join(map(str, problems))
            )
        for item in collected:
            if isinstance(item, BehaviourItem):
                item.known = state.baseline.match(item.behaviour.id, item.impl.name, item.family)
    items[:] = collected


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """The call's report carries what the run saw, to where the reports are written (see results)."""
    outcome = yield
    if isinstance(item, BehaviourItem) and call.when == "call" and item.detail is not None:
        outcome.get_result().user_properties.append((results.DETAIL, item.detail))


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A SHOULD behaviour that failed outside strict mode shows as W (WARNED), not as a pass."""
    if report.when == "call" and (results.OUTCOME, Outcome.WARNED.value) in report.user_properties:
        return "warned", "W", ("WARNED", {"yellow": True})
    return None


# A pytest report -> the gate's outcome, when the item itself did not say (skips, xfails, errors).
SKIPPED_OUTCOMES: dict[bool, Outcome] = {True: Outcome.EXPECTED_FAIL, False: Outcome.NOT_APPLICABLE}


def _outcome(report: pytest.TestReport, said: str | None) -> tuple[Outcome, str | None]:
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


class Recorder:
    """Records every item's outcome, prints the conformance summary, writes the reports.

    It runs in the process that reports (with pytest-xdist, the controller): the
    items' outcomes and what they saw arrive in the test reports.
    """

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
            outcome, reason = _outcome(report, props.get(results.OUTCOME))
            self.state.records.append(
                results.item_record(report.nodeid, props, outcome, report.duration, reason, seen)
            )

    def run_record(self) -> record.RunRecord:
        items = tuple(self.state.records)
        timing = self.state.timing
        files = self.state.files
        return record.RunRecord(
            format=record.FORMAT,
            started=datetime.datetime.fromtimestamp(self.state.started, datetime.UTC).isoformat(),
            duration=round(time.time() - self.state.started, 3),
            corpus=record.CorpusRecord(
                corpus.version(),
                corpus.digest([path for path, _shown in files]),
                tuple(shown for _path, shown in files),
            ),
            impls=tuple(record.ImplRecord(impl.name, impl.description) for impl in self.state.impls),
            timing=record.TimingRecord(timing.tolerance, timing.step_limit, timing.item_limit),
            strict=self.state.strict,
            baseline=self.state.baseline.file if self.state.baseline is not None else None,
            servers=self._servers(items),
            items=items,
            counts=record.counts(items),
            stopped=self.stopped,
            gate=record.gate(items, self.stopped),
        )

    def _texts(self, run: record.RunRecord) -> dict[str, tuple[str, str]]:
        """option -> (the text to write, what the summary adds after the path)."""
        entries = gate.fresh_entries(run.items)
        kept = gate.unrun_entries(self.state.baseline, run.items) if self.state.baseline else []
        untested = f", {len(kept)} kept as they were: not tested in this run" if kept else ""
        return {
            "--sockspec-json": (jsonreport.render(run), ""),
            "--sockspec-html": (htmlreport.render(run), ""),
            "--sockspec-write-baseline": (
                baselines.render([*entries, *kept]),
                f" ({len(entries)} known failures{untested})",
            ),
        }

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.stopped = "interrupted (Ctrl-C): the items that had not run are missing"
        elif session.shouldfail or session.shouldstop:
            why = session.shouldfail or session.shouldstop
            self.stopped = f"stopped early ({why}): the items that had not run are missing"
        run = self.run_record()
        if self.state.records and record.checked_nothing(run.items) and exitstatus == pytest.ExitCode.OK:
            self.problems.append(
                "nothing was checked: every behaviour selected was not applicable to the impls run "
                "(see the reasons with -rs); the run fails as pytest's 'no tests ran'"
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
        if self.state.baseline is not None:
            self.problems.extend(
                f"{entry.where}: this baseline entry matched no item of {entry.id} that ran "
                f"(impl {entry.impl or 'any'}, family {entry.family.value if entry.family else 'any'}): "
                "a misspelt impl or family, or one this run left out?"
                for entry in gate.unused_entries(self.state.baseline, run.items)
            )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.state.records and not self.problems:
            return
        warned = [item for item in self.state.records if item.outcome is Outcome.WARNED]
        if warned:
            terminalreporter.section("sockspec warnings: SHOULD behaviours that failed")
            for item in warned:
                terminalreporter.write_line(item.text or f"{item.id} failed on {item.impl}")
            terminalreporter.write_line("(--sockspec-strict makes them fail the run)")
        terminalreporter.section("sockspec conformance")
        for line in reports.render_summary(self.state.records):
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"timing: {self.state.timing.describe()}")
        for line in self._server_lines():
            terminalreporter.write_line(f"server {line}")
        if self.stopped:
            terminalreporter.write_line(f"run {self.stopped}; the gate fails", red=True)
        for line in self.written:
            terminalreporter.write_line(f"wrote {line}")
        for line in self.problems:
            terminalreporter.write_line(f"sockspec: {line}", yellow=True)

    def _server_lines(self) -> list[str]:
        """What the servers' session says; with pytest-xdist the workers ran the servers, so the
        models observed come from the items' records instead."""
        if self.state.servers.servers:
            return self.state.servers.summary_lines()
        servers = self._servers(self.state.records)
        return [line for server in servers for line in reports.render_server(server)]

    def _servers(self, items: Sequence[ItemRecord]) -> tuple[record.ServerRecord, ...]:
        declared = {impl.name: impl.server.model for impl in self.state.impls if impl.server is not None}
        return results.servers(items, declared)
