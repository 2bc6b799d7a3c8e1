"""Hostile servers: each gets one clear verdict, within a bound, and leaves nothing behind.

Rules of this file:
- each hostile server (tests/faulty_servers: never_answers, exits_at_once,
  resets_connections, stops_listening, listens_elsewhere, floods_clients) runs
  as a user runs it, `pytest --impl=NAME` in a fresh folder (tests/server_runs.py),
  over the server corpus or the part of it that shows its fault;
- what is checked: the verdicts (from the JSON report), the one line that says
  what happened (the cause every behaviour after the first carries), the wall
  time of the whole run against a generous bound (the measured figure is in the
  assertion's message), and that no process the server started is left;
- the runs start together, three at a time, when the first test needs one; under
  pytest-xdist the file's tests share one worker (xdist_group), so none runs twice;
- the pieces are tested on their own too: the probe's words and its SHUT_WR, the
  diagnosis of a refused connect, a client flooded with bytes it never asked for
  (a real server), a server whose only failure is its own rule (it answers the
  probe: nothing else fails), one that exits before it answers, and that no
  behaviour runs on a process a probe has touched.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sockspec.language.model import Family, Model
from sockspec.language.timing import Clock
from sockspec.reports.record import Outcome
from sockspec.servers import clients, diagnose, probe
from sockspec.servers.config import Restart, ServerSpec
from sockspec.servers.listeners import Listener
from sockspec.servers.live import LiveServer, Previous, Result, ServerUnavailable
from sockspec.servers.process import last_words

from tests.bundled import by_id, of_models
from tests.server_runs import MARK, Case, Run, Runs, marked_processes, new_mark, pyproject, selected

FAULTY = Path(__file__).resolve().parent / "faulty_servers"
# The server corpus a run selects: the scale behaviours are opt-in (-m scale), so not among them.
SERVER_BEHAVIOURS = [behaviour.id for behaviour in of_models(Model.SERVER) if behaviour.scale is None]
DECLARED = "server.model.declared"  # not applicable: these servers declare no model
#: The target for an accept-and-never-answer server over the whole server corpus is 20 s; the
#: bound asserted is generous, for a loaded machine (the measured time is in the message).
NEVER_ANSWERS_BOUND = 40.0
#: Every other run here fails fast too; this bound only says none of them waits its limits out.
FAST_BOUND = 30.0
WORKERS = 3
pytestmark = pytest.mark.xdist_group("hostile-runs")


def command(name: str) -> tuple[str, ...]:
    return (sys.executable, str(FAULTY / f"{name}.py"), "--port", "{port}")


def case(name: str, server: str, *args: str, **settings: str) -> Case:
    mark = new_mark()
    return Case(
        f"hostile-{name}",
        pyproject(server, command(server), mark, **settings),
        (f"--impl={server}", "-m", "server", *args),
        mark,
    )


CASES: dict[str, Case] = {
    found.name.removeprefix("hostile-"): found
    for found in (
        case("never-answers", "never_answers"),
        case("exits-at-once", "exits_at_once"),
        case("resets", "resets_connections"),
        case("stops-listening", "stops_listening", restart="never"),
        case(
            "stops-listening-restarted",
            "stops_listening",
            "-k",
            "echo.small or echo.large or second-client or fragments",
        ),
        case(
            "listens-elsewhere", "listens_elsewhere", "-k", "echo.small or echo.large", startup_timeout="2s"
        ),
        case("floods", "floods_clients", "-k", "echo.small or echo.large"),
    )
}


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Every selected run, started at once (WORKERS at a time)."""
    pool = Runs(tmp_path_factory.mktemp("hostile-runs"), WORKERS)
    ours = [item for item in request.session.items if item.path == request.path]
    for case in selected(ours, "name", CASES):
        pool.submit(case)
    yield pool
    pool.close()


def failures(run: Run) -> dict[str, dict[str, Any]]:
    """Behaviour id -> the failure record of each item that failed or was not reached."""
    assert run.report is not None, f"{run.name} wrote no JSON report:\n{run.output[-3000:]}"
    return {item["id"]: item["failure"] for item in run.report["items"] if item["failure"] is not None}


def assert_clean(run: Run, bound: float) -> None:
    assert run.duration < bound, f"{run.name} took {run.duration:.1f} s (bound {bound} s)"
    assert not run.leftovers, f"{run.name} left processes behind: {run.leftovers}"


def one_cause(run: Run, impl: str, behaviours: list[str]) -> str:
    """The cause the `behaviours` share (each not reached: the server was not available), checked
    to be one line, and to be said once in the summary."""
    outcomes = run.outcomes(impl)
    assert all(outcomes[behaviour] is Outcome.NOT_REACHED for behaviour in behaviours), outcomes
    found = failures(run)
    causes = {found[behaviour]["cause"] for behaviour in behaviours}
    assert len(causes) == 1, causes
    (cause,) = causes
    assert "\n" not in cause
    assert any(line.startswith(f"  {cause} (") or f"cause: {cause} (" in line for line in run.lines), (
        run.output[-3000:]
    )
    return str(cause)


def cause_of_all(run: Run, impl: str, pattern: str) -> re.Match[str]:
    """The one cause of every behaviour (each not reached), matched in full by `pattern`."""
    cause = one_cause(run, impl, list(run.outcomes(impl)))
    found = re.fullmatch(pattern, cause)
    assert found is not None, cause
    return found


def cause_past_echo_small(run: Run, impl: str, *phrases: str) -> str:
    """The run's first behaviour, server.echo.small, failed showing each of `phrases`: the one cause
    every other behaviour shares."""
    outcomes = run.outcomes(impl)
    assert outcomes["server.echo.small"] is Outcome.FAILED
    for phrase in phrases:
        assert phrase in run.failure("server.echo.small")
    return one_cause(run, impl, [behaviour for behaviour in outcomes if behaviour != "server.echo.small"])


def where(behaviour: str) -> str:
    return f"spec/server.yaml:{by_id(behaviour).origin.line}"


# -- the runs ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["never-answers"])
def test_a_server_that_never_answers_fails_the_whole_corpus_at_once(runs: Runs, name: str) -> None:
    run = runs.result(CASES[name])
    assert run.outcomes("never_answers").keys() == set(SERVER_BEHAVIOURS) - {DECLARED}
    phrases = ("client a: expected data 512 bytes", "observed nothing within 2.000 s")
    assert cause_past_echo_small(run, "never_answers", *phrases) == (
        "the server is not available: accepts connections but answers nothing: server.echo.small failed "
        f"({where('server.echo.small')}), and after a restart a fresh client's line got no answer "
        "within 5.000 s, nor once it shut down its sending side"
    )
    assert any(line.startswith("never_answers: 1 failed, 12 not reached, 2 causes:") for line in run.lines)
    assert_clean(run, NEVER_ANSWERS_BOUND)


@pytest.mark.parametrize("name", ["exits-at-once"])
def test_a_server_that_exits_at_once_says_its_exit_and_its_last_line(runs: Runs, name: str) -> None:
    run = runs.result(CASES[name])
    port = cause_of_all(
        run,
        "exits_at_once",
        r"the server is not available: exited \(exit code 1\) before it listened on 127\.0\.0\.1:(\d+): "
        r"bind 127\.0\.0\.1:(\d+): address already in use",
    )
    assert port[1] == port[2], port[0]
    assert_clean(run, FAST_BOUND)


@pytest.mark.parametrize("name", ["resets"])
def test_a_server_that_resets_every_connection_is_not_run_past_its_first_failure(
    runs: Runs, name: str
) -> None:
    run = runs.result(CASES[name])
    assert cause_past_echo_small(run, "resets_connections", "observed error reset") == (
        "the server is not available: resets connections without answering: server.echo.small failed "
        f"({where('server.echo.small')}), and after a restart a fresh client's connection was reset "
        "before any answer"
    )
    assert_clean(run, FAST_BOUND)


@pytest.mark.parametrize("name", ["stops-listening"])
def test_a_server_that_stops_listening_is_not_run_further_when_it_is_not_restarted(
    runs: Runs, name: str
) -> None:
    """restart = "never": the same process goes on, and it no longer takes connections."""
    run = runs.result(CASES[name])
    outcomes = run.outcomes("stops_listening")
    # Its first 4 connections: the start-up check, echo.small's, echo.large's, and second-client's first.
    assert outcomes["server.echo.small"] is outcomes["server.echo.large"] is Outcome.PASSED
    assert outcomes["server.concurrency.second-client"] is Outcome.FAILED
    text = run.failure("server.concurrency.second-client")
    assert "client second: expected success, observed error refused" in text
    assert "yet the server still runs: it closed its listening socket" in text
    rest = [behaviour for behaviour, outcome in outcomes.items() if outcome is not Outcome.PASSED]
    rest.remove("server.concurrency.second-client")
    assert len(rest) == len(outcomes) - 3
    cause = one_cause(run, "stops_listening", rest)
    assert re.fullmatch(
        "the server is not available: refuses connections: server.concurrency.second-client failed "
        rf"\({re.escape(where('server.concurrency.second-client'))}\), and then a fresh client's connect "
        r"was refused: nothing listens on 127\.0\.0\.1:\d+",
        cause,
    ), cause
    assert_clean(run, FAST_BOUND)


@pytest.mark.parametrize("name", ["stops-listening-restarted"])
def test_a_server_that_stops_listening_serves_again_once_restarted(runs: Runs, name: str) -> None:
    """restart = "after-failure" (the default): the fresh process answers the probe and serves the
    next behaviour, so one behaviour's failure fails no other."""
    run = runs.result(CASES[name])
    assert run.outcomes("stops_listening") == {
        "server.echo.small": Outcome.PASSED,
        "server.echo.large": Outcome.PASSED,
        "server.concurrency.second-client": Outcome.FAILED,
        "server.input.fragments": Outcome.PASSED,
    }
    assert "it closed its listening socket" in run.failure("server.concurrency.second-client")
    assert_clean(run, FAST_BOUND)


@pytest.mark.parametrize("name", ["listens-elsewhere"])
def test_a_server_listening_on_another_port_is_told_where_it_listens(runs: Runs, name: str) -> None:
    run = runs.result(CASES[name])
    found = cause_of_all(
        run,
        "listens_elsewhere",
        r"the server is not available: did not listen on 127\.0\.0\.1:(\d+) within 2\.000 s "
        r"\(startup_timeout\); it listens on 127\.0\.0\.1:(\d+) instead",
    )
    assert found[1] != found[2], found[0]
    assert_clean(run, FAST_BOUND)


@pytest.mark.parametrize("name", ["floods"])
def test_a_server_that_floods_its_clients_is_read_up_to_a_bound(runs: Runs, name: str) -> None:
    run = runs.result(CASES[name])
    assert run.outcomes("floods_clients") == dict.fromkeys(
        ["server.echo.small", "server.echo.large"], Outcome.FAILED
    )
    for behaviour in ("server.echo.small", "server.echo.large"):
        text = run.failure(behaviour)
        said = re.search(r"the server sent (\d+) bytes to a client that had sent it (\d+)", text)
        assert said is not None, text
        received, sent = int(said[1]), int(said[2])
        assert received <= clients.FLOOD_FACTOR * sent + clients.FLOOD_MARGIN + 1, text
        assert "the client stopped reading there and reset the connection" in text
    assert_clean(run, FAST_BOUND)


# -- the pieces ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seen", "waiting", "does", "saw"),
    [
        (
            probe.Seen.NO_ANSWER,
            0,
            "accepts connections but answers nothing",
            "a fresh client's line got no answer within 5.000 s, nor once it shut down its sending side",
        ),
        (
            probe.Seen.NO_ANSWER,
            2,
            "listens but never accepts a connection",
            "a fresh client's line got no answer within 5.000 s, nor once it shut down its sending side, "
            "and 2 connections wait in its accept queue",
        ),
        (
            probe.Seen.REFUSED,
            0,
            "refuses connections",
            "a fresh client's connect was refused: nothing listens on 127.0.0.1:4242",
        ),
        (
            probe.Seen.NO_CONNECT,
            0,
            "accepts no connections",
            "a fresh client's connect to 127.0.0.1:4242 got no answer within 5.000 s",
        ),
        (
            probe.Seen.CLOSED,
            0,
            "closes connections without answering",
            "a fresh client's connection was closed before any answer",
        ),
    ],
)
def test_a_probe_without_an_answer_in_words(seen: probe.Seen, waiting: int, does: str, saw: str) -> None:
    assert probe.dead(seen, "127.0.0.1", 4242, waiting=waiting) == (does, saw)


def echo_at_eof(conn: socket.socket) -> None:
    """Keeps every byte until the client is done, then sends them all back."""
    kept = b""
    while data := conn.recv(4096):
        kept += data
    conn.sendall(kept)


def holds(conn: socket.socket) -> None:
    """Reads nothing and sends nothing until the client goes."""
    conn.recv(1, socket.MSG_PEEK)  # returns at the client's line; the line is left unread
    time.sleep(3.0)


@pytest.mark.parametrize(
    ("serve", "seen"), [(echo_at_eof, probe.Seen.ANSWERED), (holds, probe.Seen.NO_ANSWER)]
)
def test_the_probe_shuts_its_side_down_before_it_gives_up(serve: Any, seen: probe.Seen) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def accept() -> None:
            conn, _address = listener.accept()
            with conn:
                serve(conn)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        started = time.monotonic()
        assert probe.probe("127.0.0.1", listener.getsockname()[1], limit=0.2) is seen
        took = time.monotonic() - started
        thread.join(10.0)
    if seen is probe.Seen.NO_ANSWER:
        assert took >= 0.2 + probe.FINISHED  # it waited for its line, then once more after SHUT_WR
    else:
        assert took < 0.2 + probe.FINISHED  # the answer came at the SHUT_WR


def test_a_refused_connect_is_explained_only_when_nothing_listens_and_the_server_runs() -> None:
    listener = Listener("127.0.0.1", 4242, 0, 128, 7)
    assert diagnose.refused(4242, [listener], exited=False) == []
    assert diagnose.refused(4242, [], exited=True) == []  # the exit is said instead
    assert diagnose.refused(4242, [], exited=False) == [
        "nothing listens on port 4242 any more (no listening socket in the kernel's tables), "
        "yet the server still runs: it closed its listening socket"
    ]


def test_last_words_are_the_last_line_with_text_cut_to_a_bound() -> None:
    assert last_words([]) == ""
    assert last_words(["first", "bind: address already in use", "  "]) == ": bind: address already in use"
    assert len(last_words(["x" * 1000])) == len(": ") + 200


def spec(name: str, mark: str, restart: Restart = Restart.AFTER_FAILURE) -> ServerSpec:
    return ServerSpec(name="s", origin="test", command=command(name), env=((MARK, mark),), restart=restart)


def test_a_flooded_client_stops_at_its_bound_and_resets(tmp_path: Path) -> None:
    mark = new_mark()
    server = LiveServer(spec("floods_clients", mark), tmp_path)
    try:
        server.ensure()
        pool = clients.ClientPool(socket.AF_INET, server.address(Family.TCP4), Clock(), lambda *_: None)
        try:
            pool.connect("a", None, None, 5.0)
            pool.send("a", b"hello\n", None, 0.0)
            assert pool.wait(["a"], lambda view: view.error is not None, 10.0), pool.view("a")
            view = pool.view("a")
            assert view.error == clients.FLOOD and view.state == "closed"
            assert view.received == clients.FLOOD_FACTOR * view.sent + clients.FLOOD_MARGIN + 1
            assert view.available == view.received  # kept for the report, and no more
        finally:
            assert pool.close() == []
    finally:
        server.stop()
        server.remove_output()
    assert not marked_processes(mark)


@pytest.mark.parametrize("name", ["one_at_a_time", "closes_idle"])
def test_a_server_that_failed_its_own_rule_answers_the_probe_and_goes_on(name: str, tmp_path: Path) -> None:
    """restart = "never": after a failure the same process is probed, and it answers."""
    mark = new_mark()
    server = LiveServer(spec(name, mark, Restart.NEVER), tmp_path)
    try:
        server.ensure()
        first = server.process.pid if server.process is not None else None
        with socket.create_connection(server.address(Family.TCP4), timeout=5.0) as client:
            client.sendall(b"x")
            assert client.recv(1) == b"x"
        started = time.monotonic()
        assert server.ensure(Previous("server.a", Result.FAILED, "t.yaml:1")) is None
        assert time.monotonic() - started < probe.LIMIT
        assert server.problem is None and server.process is not None and server.process.pid == first
    finally:
        server.stop()
        server.remove_output()
    assert not marked_processes(mark)


EXITS_ON_A_CLIENT = """\
import socket, sys
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
listener.accept()
print("one client is all I take", file=sys.stderr, flush=True)
sys.exit(1)
"""


def test_a_server_that_exits_before_it_answers_is_not_run_further(tmp_path: Path) -> None:
    mark = new_mark()
    script = tmp_path / "exits.py"
    script.write_text(EXITS_ON_A_CLIENT, encoding="utf-8")
    spec = ServerSpec(
        name="s", origin="test", command=(sys.executable, str(script), "{port}"), env=((MARK, mark),)
    )
    server = LiveServer(spec, tmp_path)
    try:
        server.ensure()  # its start-up check is the one client it takes
        with pytest.raises(ServerUnavailable) as caught:
            server.ensure(Previous("server.a", Result.FAILED, "t.yaml:1"))
        with pytest.raises(ServerUnavailable) as again:
            server.ensure(Previous("server.b", Result.FAILED, "t.yaml:2"))
    finally:
        server.stop()
        server.remove_output()
    cause = (
        "exits before it answers: server.a failed (t.yaml:1), and after a restart it exited (exit code 1) "
        "before it answered a fresh client: one client is all I take"
    )
    assert caught.value.cause == again.value.cause == cause
    first = str(caught.value).splitlines()
    assert first[0] == f"not run: s {cause}"
    assert "    | one client is all I take" in first[1:]  # the server's output, under the first only
    assert str(again.value) == f"not run: s {cause} (its output is shown under the first failure)"
    assert len(server.restarts) == 1
    assert not marked_processes(mark)


ANSWERS_ITS_FIRST_CLIENT_ONLY = """\
import socket, sys
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
answered = False
held = []
while True:
    conn, _ = listener.accept()
    held.append(conn)
    data = conn.recv(100)
    if data and not answered:
        answered = True
        conn.sendall(data)
"""


def test_a_behaviour_never_runs_on_a_process_that_was_probed(tmp_path: Path) -> None:
    """The old process does not answer the probe, the new one does (its first client): it is
    replaced once more, so the next behaviour's client is that process's first."""
    mark = new_mark()
    script = tmp_path / "first.py"
    script.write_text(ANSWERS_ITS_FIRST_CLIENT_ONLY, encoding="utf-8")
    spec = ServerSpec(
        name="s", origin="test", command=(sys.executable, str(script), "{port}"), env=((MARK, mark),)
    )
    server = LiveServer(spec, tmp_path)
    try:
        server.ensure()
        with socket.create_connection(server.address(Family.TCP4), timeout=5.0) as client:
            client.sendall(b"one\n")
            assert client.recv(100) == b"one\n"
        assert server.ensure(Previous("server.a", Result.FAILED, "t.yaml:1")) is not None
        assert len(server.restarts) == 1 and len(server.retired) == 2
        with socket.create_connection(server.address(Family.TCP4), timeout=5.0) as client:
            client.sendall(b"two\n")
            assert client.recv(100) == b"two\n"
    finally:
        server.stop()
        server.remove_output()
    assert not marked_processes(mark)
