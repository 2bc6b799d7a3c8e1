"""sockspec's pytest plugin: the hooks, and nothing else.

Rules of this package:
- glue only: loading, running and judging live in sockspec.language,
  sockspec.driving, sockspec.judging and sockspec.servers; which behaviour
  applies to which impl in sockspec.judging.applicability; this package turns
  them into pytest options (options.py), items (items.py), run state
  (state.py) and reports (recorder.py); this file only holds the hooks;
- public pytest API only (hooks, `from_parent`, `config.stash`); nothing else
  in sockspec/ imports this package; it is registered once, by the pytest11
  entry point;
- without --impl (or the `sockspec_impls` ini setting) the plugin adds nothing
  and collects nothing: plain `pytest` runs a project's own tests;
- with an impl, the corpus replaces normal collection: items are named
  `<spec file>::<behaviour id>[<impl>-<family>]`;
- an item whose behaviour does not apply to its impl (a model or capability
  the impl lacks) is not run: after -k and -m have selected, it is deselected,
  and the summary and the JSON report say once per impl and reason what was
  left out and why; what only the machine can say is a skip at run time;
- a server impl's process is started by its first server item and stopped when
  the session finishes (also after failures, -x and Ctrl-C; on Ctrl-C at once,
  before pytest reports the interruption);
- with pytest-xdist the controller's tolerance (measured once) goes to every
  worker (`pytest_configure_node`, an optional hook: without xdist it is never
  called);
- scale behaviours (marker `scale`) are opt-in: after -k and -m have selected, and
  after the items that do not apply are deselected as such, the items of scale
  behaviours are deselected unless the -m expression names `scale`; when some are left to
  run, the soft RLIMIT_NOFILE is raised to the hard one before any server starts (so
  the servers inherit it), and under pytest-xdist they share one worker
  (xdist_group, with --dist loadgroup); no two measure at once in any case, since
  each holds the machine's scale lock (sockspec.servers.scale) while it measures;
- the header suggests pytest-xdist for a run of several impls (items mostly wait),
  and says when scale measurements share the machine with other workers.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from sockspec.judging import confirm
from sockspec.language.corpus import CORPUS
from sockspec.plugin import items as spec_items
from sockspec.plugin import options
from sockspec.plugin.recorder import WORKER_LEFT_OUT, WORKER_OPT_IN, Recorder
from sockspec.plugin.session import ServerSession
from sockspec.plugin.state import STATE, State
from sockspec.reports import results
from sockspec.reports.record import Outcome
from sockspec.servers.process import stop_running
from sockspec.servers.scale import raise_descriptor_limit


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in (*options.MODEL_MARKERS.values(), *options.LEVEL_MARKERS.values(), options.SCALE_MARKER):
        config.addinivalue_line("markers", line)
    if not options.wanted(config):
        return
    settings = options.settings(config)
    state = State(settings, ServerSession(config.invocation_params.dir, settings.scale_levels))
    config.stash[STATE] = state
    if not hasattr(config, "workerinput"):
        # With pytest-xdist the controller records and reports; the workers only run items.
        config.pluginmanager.register(Recorder(state, config, options.outputs(config)), "sockspec-recorder")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, in the controller: each worker judges with the tolerance measured here."""
    state = node.config.stash.get(STATE, None)
    if state is not None:
        node.workerinput.update(options.worker_input(state.settings.timing))


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C: stop every server this process started now, before pytest spends time on the
    interrupted traceback; the reports are still written when the session finishes."""
    stop_running()


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
    settings = state.settings
    extra = [shown for path, shown in settings.files if path.parent != CORPUS]
    corpus = "not run (--spec-only)" if settings.spec_only else str(CORPUS)
    baseline = settings.baseline.file if settings.baseline is not None else "none"
    return [
        "sockspec impls: " + "; ".join(impl.description for impl in settings.impls),
        f"sockspec timing: {settings.timing.describe()}",
        f"sockspec tolerance: {settings.timing.derivation}; {confirm.describe()}",
        f"sockspec corpus: {corpus}" + (f"; your spec files: {', '.join(extra)}" if extra else ""),
        f"sockspec gate: MUST failures fail the run; SHOULD failures "
        f"{'fail it too (strict)' if settings.strict else 'are warnings'}; baseline: {baseline}",
        *options.speed_hints(config, settings),
    ]


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With an impl to check, the corpus replaces the project's own tests."""
    return True if STATE in config.stash else None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    """The corpus's items, before anyone else selects (-k, -m, ...); after them, the items that do
    not apply are deselected, and kept for the summary (sent to the controller under xdist)."""
    state = config.stash.get(STATE, None)
    if state is not None:
        items[:] = spec_items.collect(session, state)
    yield
    if state is None:
        return
    left = spec_items.not_applicable_items(items)
    if left:
        gone = {id(item) for item in left}
        items[:] = [item for item in items if id(item) not in gone]
        config.hook.pytest_deselected(items=left)
        state.left_out.extend(item.left_out() for item in left)
    if not options.scale_selected(config):
        opt_in = spec_items.scale_items(items)
        if opt_in:
            kept = {id(item) for item in opt_in}
            items[:] = [item for item in items if id(item) not in kept]
            config.hook.pytest_deselected(items=opt_in)
            state.opt_in.extend((item.impl.name, item.behaviour.id) for item in opt_in)
    elif spec_items.scale_items(items):
        raise_descriptor_limit()
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_LEFT_OUT] = [list(entry) for entry in state.left_out]
        workeroutput[WORKER_OPT_IN] = [list(entry) for entry in state.opt_in]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """The call's report carries what the run saw, to where the reports are written (see results);
    a skip found while running is placed at the behaviour's line in its spec file."""
    report: pytest.TestReport = yield
    if not isinstance(item, spec_items.BehaviourItem):
        return report
    if call.when == "call" and item.detail is not None:
        report.user_properties.append((results.DETAIL, item.detail))
    if report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr, tuple):
        report.longrepr = item.skip_location(report.longrepr[2])
    return report


# Outcomes pytest shows in a word of their own: outcome -> (category, letter, word).
TEST_STATUS: dict[str, tuple[str, str, tuple[str, dict[str, bool]]]] = {
    Outcome.WARNED.value: ("warned", "W", ("WARNED", {"yellow": True})),
    Outcome.NOT_REACHED.value: ("failed", "N", ("NOT REACHED", {"red": True})),
}


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A SHOULD behaviour that failed outside strict mode shows as W (WARNED), not as a pass; one
    whose rule was not reached as N (NOT REACHED), a failure (counted as failed), not a broken rule."""
    if report.when != "call":
        return None
    for name, value in report.user_properties:
        if name == results.OUTCOME and value in TEST_STATUS:
            return TEST_STATUS[value]
    return None
