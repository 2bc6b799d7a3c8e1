"""The server corpus run as a user runs it: `pytest --impl=NAME` in a folder whose pyproject.toml
names the server by its command.

Rules of this file:
- every reference server passes every server behaviour and is recognised as its
  own model, also behind a wrapper that forks (sh -c);
- every faulty server (tests/faulty_servers) fails exactly the behaviours its
  defect breaks, each with the phrase of its symptom, and passes the others;
- verdicts come from each run's JSON report (tests/server_runs.py); a failure's
  phrase, the summary lines and the observed model from what the terminal shows;
- the conformance summary states the counts and the observed model;
- no run leaves a process behind (the process table is searched for each
  run's mark);
- the runs are independent processes, started together two at a time when the
  session begins, so the whole file costs about half its sequential time.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest
from sockspec.language.model import Model
from sockspec.reports.record import Outcome

from tests.bundled import of_models
from tests.faulty_servers import FAULTY_SERVERS, FaultyServer
from tests.live_servers import reference
from tests.server_runs import Case, Run, Runs, new_mark, pyproject, selected

# The server behaviours of a run with -m server (scale behaviours are opt-in: tests/test_scale.py).
BEHAVIOURS = [behaviour.id for behaviour in of_models(Model.SERVER) if behaviour.scale is None]
DECLARED = "server.model.declared"
WORKERS = 4
# The runs start together in one session fixture; under pytest-xdist (--dist loadgroup, set in
# pyproject.toml) this module's tests share one worker, so no run is started twice.
pytestmark = pytest.mark.xdist_group("server-runs")


LOOP = "single-thread readiness loop"
# name -> (command, declared model, the observed model the summary names)
REFERENCES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "threads": (reference("threads_server"), "threads", "thread-per-client"),
    "selectors": (reference("selectors_server"), "readiness", LOOP),
    "asyncio": (reference("asyncio_server"), "readiness", LOOP),
    "trio": (reference("trio_server"), "readiness", LOOP),
    "forking": (reference("forking_server"), "processes", "process-per-client"),
    # A wrapper that forks: sh stays the parent, waiting; the server is its child.
    "wrapped": (
        (
            "sh",
            "-c",
            f'"{sys.executable}" -m sockspec.reference_impls.selectors_server --port "$0"; exit $?',
            "{port}",
        ),
        "readiness",
        LOOP,
    ),
}
# The threads reference declaring a model it does not have.
WRONG_MODEL = FaultyServer(
    "wrong_model",
    reference("threads_server"),
    breaks={DECLARED: ("expected the declared model readiness", "observed thread-per-client")},
    model="thread-per-client",
    declares="readiness",
)
FAULTY = {faulty.name: faulty for faulty in (*FAULTY_SERVERS, WRONG_MODEL)}


def _case(kind: str, name: str, command: tuple[str, ...], **settings: str) -> Case:
    """The strict run of every server behaviour over the server `name` runs by `command`."""
    mark = new_mark()
    return Case(
        f"{kind}-{name}",
        pyproject(name, command, mark, **settings),
        (f"--impl={name}", "-m", "server", "--sockspec-strict"),
        mark,
    )


def reference_case(name: str) -> Case:
    command, model, _observed = REFERENCES[name]
    return _case("ref", name, command, model=model)


def faulty_case(name: str) -> Case:
    faulty = FAULTY[name]
    command = faulty.command if faulty.command[0] == sys.executable else (sys.executable, *faulty.command)
    settings = {"model": faulty.declares} if faulty.declares else {}
    return _case("faulty", name, command, **settings)


CASES: dict[str, Case] = {
    **{f"ref-{name}": reference_case(name) for name in REFERENCES},
    **{f"faulty-{name}": faulty_case(name) for name in FAULTY},
}


@pytest.fixture(scope="session")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Every selected run, started at once (WORKERS at a time)."""
    pool = Runs(tmp_path_factory.mktemp("server-runs"), WORKERS)
    for case in selected(request.session.items, "case", CASES):
        pool.submit(case)
    yield pool
    pool.close()


def summary_line(run: Run, name: str) -> str:
    pattern = re.compile(
        rf"^(pass|FAIL|n/a )  {re.escape(name)} +server +\d+ passed +\d+ failed +\d+ not applicable"
        r"(, \d+ not reached)?$"
    )
    found = [line for line in run.lines if pattern.match(line)]
    assert len(found) == 1, f"no conformance line for {name}:\n{run.output[-3000:]}"
    return found[0]


def assert_summary(
    run: Run, name: str, passed: int, failed: int, not_applicable: int, not_reached: int = 0
) -> None:
    line = summary_line(run, name)
    verdict = "FAIL" if failed or not_reached else "pass"
    numbers = re.findall(r"\d+", line.split("server", 1)[1])
    wanted = [passed, failed, not_applicable, *([not_reached] if not_reached else [])]
    assert line.startswith(verdict) and [int(n) for n in numbers] == wanted, line


@pytest.mark.parametrize("case", [f"ref-{name}" for name in REFERENCES])
def test_reference_server_passes_every_behaviour(runs: Runs, case: str) -> None:
    name = case.removeprefix("ref-")
    run = runs.result(CASES[case])
    assert run.ret == pytest.ExitCode.OK, run.output[-6000:]
    assert run.outcomes(name) == dict.fromkeys(BEHAVIOURS, Outcome.PASSED)
    assert_summary(run, name, len(BEHAVIOURS), 0, 0)
    _command, model, observed = REFERENCES[name]
    assert f"server {name}: observed model: {observed} (declared {model}: matches)" in run.lines
    assert any(
        line.startswith(f"server {name}: `") and line.endswith("stopped by SIGTERM") for line in run.lines
    )
    assert not run.leftovers, f"processes left behind: {run.leftovers}"


@pytest.mark.parametrize("case", [f"faulty-{name}" for name in FAULTY])
def test_faulty_server_fails_what_it_breaks(runs: Runs, case: str) -> None:
    faulty = FAULTY[case.removeprefix("faulty-")]
    run = runs.result(CASES[case])
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.output[-6000:]
    outcomes = run.outcomes(faulty.name)
    failed = {
        behaviour
        for behaviour, outcome in outcomes.items()
        if outcome in {Outcome.FAILED, Outcome.NOT_REACHED}
    }
    unreached = {behaviour for behaviour, outcome in outcomes.items() if outcome is Outcome.NOT_REACHED}
    missed = sorted(set(faulty.breaks) - failed)
    assert not missed, f"{faulty.name} ({faulty.doc}) passed {missed}: its defect went unnoticed"
    unrelated = sorted(failed - set(faulty.breaks) - set(faulty.may_break))
    assert not unrelated, f"{faulty.name} also failed unrelated behaviours {unrelated}:\n" + "\n".join(
        run.failure(behaviour) for behaviour in unrelated
    )
    for behaviour in failed:
        text = run.failure(behaviour)
        for phrase in {**faulty.may_break, **faulty.breaks}[behaviour]:
            assert phrase in text, (
                f"{faulty.name} failed {behaviour} for another reason than {phrase!r}:\n{text}"
            )
    left_out = set() if faulty.declares else {DECLARED}
    assert outcomes.keys() == set(BEHAVIOURS) - left_out, "a behaviour not applicable is deselected"
    assert set(outcomes.values()) <= {Outcome.PASSED, Outcome.FAILED, Outcome.NOT_REACHED}, outcomes
    assert_summary(
        run,
        faulty.name,
        len(BEHAVIOURS) - len(failed) - len(left_out),
        len(failed) - len(unreached),
        len(left_out),
        len(unreached),
    )
    if faulty.model is not None:
        assert any(
            line.startswith(f"server {faulty.name}: observed model: {faulty.model} (") for line in run.lines
        ), run.output[-3000:]
    assert not run.leftovers, f"processes left behind: {run.leftovers}"


def test_every_server_behaviour_is_broken_by_a_faulty_server() -> None:
    caught = {behaviour for faulty in FAULTY.values() for behaviour in faulty.breaks}
    assert sorted(set(BEHAVIOURS) - caught) == []
    unknown = sorted(
        f"{faulty.name}: {behaviour}"
        for faulty in FAULTY.values()
        for behaviour in (*faulty.breaks, *faulty.may_break)
        if behaviour not in BEHAVIOURS
    )
    assert unknown == []


@pytest.mark.parametrize("faulty", FAULTY_SERVERS, ids=lambda faulty: faulty.name)
def test_faulty_server_says_its_defect(faulty: FaultyServer) -> None:
    assert faulty.doc and "\n" not in faulty.doc, (
        f"{faulty.name} needs a one-line docstring saying its defect"
    )
    assert faulty.breaks, f"{faulty.name} breaks nothing"


def test_one_client_at_a_time_fails_only_what_needs_concurrency_with_one_cause(runs: Runs) -> None:
    """Its idle-CPU and leak verdicts are real (it passes them); its failures are said once."""
    run = runs.result(CASES["faulty-one_at_a_time"])
    outcomes = run.outcomes("one_at_a_time")
    assert outcomes["server.observe.idle-cpu"] == outcomes["server.observe.no-leak"] == Outcome.PASSED, (
        outcomes
    )
    assert (
        "one_at_a_time: 3 failed, 1 cause: serves one client at a time (observed); "
        "3 of them need clients served at the same time (server.concurrency.second-client[tcp4], "
        "server.concurrency.slow-reader[tcp4], server.concurrency.many-clients[tcp4])"
    ) in run.lines, run.output[-3000:]


def test_a_set_up_that_fails_is_not_reached_and_names_its_cause(runs: Runs) -> None:
    run = runs.result(CASES["faulty-tiny_backlog"])
    outcomes = run.outcomes("tiny_backlog")
    assert outcomes["server.observe.idle-cpu"] == outcomes["server.observe.no-leak"] == Outcome.NOT_REACHED
    assert outcomes["server.concurrency.many-clients"] == Outcome.FAILED
    assert "server.observe.idle-cpu not reached on tiny_backlog over tcp4 (server, MUST)" in run.lines
    assert (
        "tiny_backlog: 1 failed, 2 not reached, 1 cause: server.concurrency.many-clients breaks its rule; "
        "2 of them not reached (server.concurrency.many-clients[tcp4], server.observe.idle-cpu[tcp4], "
        "server.observe.no-leak[tcp4])"
    ) in run.lines, run.output[-3000:]
    assert "missing" not in run.failure("server.observe.idle-cpu")


def test_slow_output_is_reported_as_slow_not_missing(runs: Runs) -> None:
    run = runs.result(CASES["faulty-slow_writer"])
    for behaviour in ("server.echo.large", "server.concurrency.slow-reader"):
        text = run.failure(behaviour)
        assert "still arriving when the limit ran out" in text and "bytes/s" in text, text
        assert "missing" not in text, text
