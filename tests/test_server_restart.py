"""Restarting a server between behaviours: when (the policy, settling), how it shows, what it costs.

Rules of this file:
- the policy table and the settling judgement are pure and tested on made-up values;
  /proc/net/tcp is parsed from captured text;
- LiveServer is tested on real reference and faulty servers, each marked, and the
  process table holds nothing of them afterwards;
- the plugin's output (the timeline, the summary, the JSON report) is tested through
  pytester runs of a faulty server on two behaviours.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sockspec.judging.events import Kind, What, describe
from sockspec.language.model import Family
from sockspec.reports.server_text import restart_lines
from sockspec.servers import settle, tcptable
from sockspec.servers.config import Restart, ServerSpec
from sockspec.servers.live import Cause, LiveServer, Previous, Restarted, Result, restart_cause
from sockspec.servers.settle import Sample, Sockets, Unsettled

from tests import bundled
from tests.server_runs import MARK, marked_processes, new_mark, pyproject

PY = sys.executable
FAULTY = Path(__file__).resolve().parent / "faulty_servers"
SELECTORS = (PY, "-m", "sockspec.reference_impls.selectors_server", "--port", "{port}")
TICKS = 100

NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9F4B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12502357 1 0
   1: 0100007F:9F4B 0100007F:D2FE 06 00000000:00000000 03:000016E1 00000000     0        0 0 3 0
   2: 0100007F:9F4B 0100007F:D30A 08 00000000:00000000 00:00000000 00000000     0        0 12502507 1 0
   3: 0100007F:9F4B 0100007F:D30C 01 00000000:00000000 00:00000000 00000000     0        0 12502600 1 0
"""


# -- the policy -----------------------------------------------------------------


PASSED = Previous("server.a", Result.PASSED)
FAILED = Previous("server.a", Result.FAILED)
ERRORED = Previous("server.a", Result.ERRORED)


@pytest.mark.parametrize(
    ("policy", "previous", "exited", "cause"),
    [
        (Restart.AFTER_FAILURE, None, False, None),
        (Restart.AFTER_FAILURE, PASSED, False, "settle"),
        (Restart.AFTER_FAILURE, FAILED, False, Cause.FAILED),
        (Restart.AFTER_FAILURE, ERRORED, False, Cause.ERRORED),
        (Restart.AFTER_FAILURE, PASSED, True, Cause.EXITED),
        (Restart.AFTER_FAILURE, None, True, Cause.EXITED),
        (Restart.EACH, None, False, None),
        (Restart.EACH, PASSED, False, Cause.EACH),
        (Restart.EACH, FAILED, True, Cause.EXITED),
        (Restart.NEVER, FAILED, False, None),
        (Restart.NEVER, PASSED, True, None),
    ],
)
def test_restart_cause(policy: Restart, previous: Previous | None, exited: bool, cause: object) -> None:
    assert restart_cause(policy, previous, exited) == cause


# -- settling ---------------------------------------------------------------------


def test_parse_net_tcp_maps_inodes_to_states() -> None:
    # The TIME_WAIT entry has no inode: no descriptor holds it.
    assert settle.parse_net_tcp(NET_TCP) == {
        12502357: "LISTEN",
        12502507: "CLOSE_WAIT",
        12502600: "ESTABLISHED",
    }


@pytest.mark.parametrize(
    ("link", "inode"), [("socket:[12502357]", 12502357), ("pipe:[5]", None), ("/dev/null", None)]
)
def test_socket_inode(link: str, inode: int | None) -> None:
    assert tcptable.socket_inode(link) == inode


def test_classify_counts_connections_and_closed_sockets_still_held() -> None:
    tcp = settle.parse_net_tcp(NET_TCP)
    found = settle.classify([12502357, 12502507, 12502600, 12502600, 999], tcp)
    assert found == Sockets({"CLOSE_WAIT": 1, "ESTABLISHED": 1}, held=1)
    assert found.open == 2


def sample(at: float, ticks: int, sockets: Sockets | None = None) -> Sample:
    return Sample(at, ticks, sockets or Sockets())


def test_judge_needs_a_window_before_it_calls_a_server_idle() -> None:
    assert settle.judge([sample(0.0, 10)], TICKS) == Unsettled({}, 0, None)
    assert settle.judge([sample(0.0, 10), sample(0.05, 10)], TICKS) == Unsettled({}, 0, None)
    assert settle.judge([sample(0.0, 10), sample(0.0625, 10), sample(0.125, 11)], TICKS) is None


def test_judge_a_busy_server_over_the_last_window() -> None:
    busy = [sample(0.0, 0), sample(0.125, 12), sample(0.25, 24)]
    assert settle.judge(busy, TICKS) == Unsettled({}, 0, 0.96)
    # Busy before, idle over the last window: settled.
    assert settle.judge([*busy, sample(0.375, 24)], TICKS) is None


def test_judge_open_and_held_sockets_keep_a_server_unsettled() -> None:
    open_ = Sockets({"CLOSE_WAIT": 3})
    assert settle.judge([sample(0.0, 0), sample(0.2, 0, open_)], TICKS) == Unsettled(
        {"CLOSE_WAIT": 3}, 0, None
    )
    assert settle.judge([sample(0.0, 0), sample(0.2, 0, Sockets(held=2))], TICKS) == Unsettled({}, 2, None)


def test_unsettled_in_words() -> None:
    found = Unsettled({"CLOSE_WAIT": 1, "ESTABLISHED": 2}, 1, 0.854)
    what = Restarted(Cause.UNSETTLED, "server.echo.large", unsettled=found).what("s")
    assert describe(what) == (
        "server restarted: did not settle after server.echo.large: 3 connections still open "
        "(1 CLOSE_WAIT, 2 ESTABLISHED), 1 closed connection still held open, CPU 85% of one core"
    )


@pytest.mark.parametrize(
    ("restarted", "words"),
    [
        (Restarted(Cause.FAILED, "server.a"), "server restarted: previous behaviour server.a failed"),
        (Restarted(Cause.ERRORED, "server.a"), "server restarted: previous behaviour server.a errored"),
        (
            Restarted(Cause.EXITED, "server.a", exit="exited (exit code 1)"),
            "server restarted: it exited (exit code 1) after server.a",
        ),
        (Restarted(Cause.EACH, "server.a"), 'server restarted: restart = "each"'),
        (
            Restarted(Cause.FAILED, "server.a", done=False),
            "server not restarted (s is given by address: sockspec did not start it): "
            "previous behaviour server.a failed",
        ),
    ],
)
def test_a_restart_in_words(restarted: Restarted, words: str) -> None:
    what = restarted.what("s")
    assert what.kind is Kind.RESTART and describe(what) == words


def test_restart_lines_count_by_cause() -> None:
    assert restart_lines("s", {}) == []
    assert restart_lines("s", {"unsettled": 1, "failed": 3}) == [
        "s: restarted 4 times: 3 after a behaviour failed, 1 when it did not settle after a behaviour "
        "(the next behaviour's timeline starts with the reason)"
    ]
    refused = What(Kind.RESTART, "failed", args="server.a", outcome="not restarted (given by address)")
    assert restart_lines("s", {}, refused) == [
        "s: server not restarted (given by address): previous behaviour server.a failed"
    ]


# -- a live server ------------------------------------------------------------------


def server_spec(command: tuple[str, ...], mark: str, restart: Restart = Restart.AFTER_FAILURE) -> ServerSpec:
    return ServerSpec(name="s", origin="test", command=command, env=((MARK, mark),), restart=restart)


def faulty(name: str) -> tuple[str, ...]:
    return (PY, str(FAULTY / f"{name}.py"), "--port", "{port}")


@pytest.fixture
def mark() -> Iterator[str]:
    found = new_mark()
    yield found
    assert_gone(found)


def pid(server: LiveServer) -> int | None:
    return server.process.pid if server.process is not None else None


def test_after_failure_restarts_after_a_failure_only(tmp_path: Path, mark: str) -> None:
    server = LiveServer(server_spec(SELECTORS, mark), tmp_path)
    try:
        assert server.ensure() is None
        first = pid(server)
        assert server.ensure(PASSED) is None  # idle, nothing open: settled
        assert pid(server) == first
        assert server.ensure(FAILED) == Restarted(Cause.FAILED, "server.a")
        assert pid(server) != first and len(server.retired) == 1
        with socket.create_connection(server.address(Family.TCP4)):
            pass
    finally:
        server.stop()
        server.remove_output()
    assert server.leftovers == ()


def test_a_server_with_a_connection_open_did_not_settle(tmp_path: Path, mark: str) -> None:
    server = LiveServer(server_spec(SELECTORS, mark), tmp_path)
    try:
        server.ensure()
        with socket.create_connection(server.address(Family.TCP4)) as client:
            client.sendall(b"x")
            assert client.recv(1) == b"x"
            started = time.monotonic()
            restarted = server.ensure(PASSED)
            took = time.monotonic() - started
        assert restarted is not None and restarted.cause is Cause.UNSETTLED
        assert restarted.unsettled == Unsettled({"ESTABLISHED": 1}, 0, None)
        # It waited out the settle limit (a lower bound, exact); the upper bound only says it
        # did not hang (a restart on a loaded machine takes seconds).
        assert settle.SETTLE_LIMIT <= took < settle.SETTLE_LIMIT + 15.0
    finally:
        server.stop()
        server.remove_output()


def test_a_leaked_descriptor_did_not_settle(tmp_path: Path, mark: str) -> None:
    server = LiveServer(server_spec(faulty("leaks_descriptors"), mark), tmp_path)
    try:
        server.ensure()
        with socket.create_connection(server.address(Family.TCP4)) as client:
            client.sendall(b"x")
            assert client.recv(1) == b"x"
        restarted = server.ensure(PASSED)
        assert restarted is not None and restarted.cause is Cause.UNSETTLED
        assert restarted.unsettled is not None and restarted.unsettled.held >= 1
    finally:
        server.stop()
        server.remove_output()


def test_each_restarts_before_every_behaviour_but_the_first(tmp_path: Path, mark: str) -> None:
    server = LiveServer(server_spec(SELECTORS, mark, Restart.EACH), tmp_path)
    try:
        assert server.ensure() is None
        assert server.ensure(PASSED) == Restarted(Cause.EACH, "server.a")
        assert server.ensure(PASSED) == Restarted(Cause.EACH, "server.a")
        assert len(server.retired) == 2 and len(server.restarts) == 2
    finally:
        server.stop()
        server.remove_output()


def test_a_server_that_exited_is_restarted_unless_never(tmp_path: Path, mark: str) -> None:
    for policy, restarted in ((Restart.AFTER_FAILURE, True), (Restart.NEVER, False)):
        server = LiveServer(server_spec(faulty("dies_on_reset"), mark, policy), tmp_path)
        try:
            server.ensure()
            with socket.create_connection(server.address(Family.TCP4)) as client:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                client.sendall(b"x" * 100)
            assert server.exited(grace=3.0) is not None
            if restarted:
                found = server.ensure(PASSED)
                assert found is not None and found.cause is Cause.EXITED and found.exit.startswith("exited (")
            else:
                with pytest.raises(Exception, match="is not available: the server exited"):
                    server.ensure(PASSED)
        finally:
            server.stop()
            server.remove_output()


def test_a_server_given_by_address_says_once_it_cannot_be_restarted(tmp_path: Path, mark: str) -> None:
    running = LiveServer(server_spec(SELECTORS, mark), tmp_path)
    try:
        running.ensure()
        address = ServerSpec(name="tcp", origin="test", address=running.address(Family.TCP4))
        server = LiveServer(address, tmp_path)
        assert server.ensure() is None
        assert server.ensure(FAILED) == Restarted(Cause.FAILED, "server.a", done=False)
        assert server.ensure(Previous("server.b", Result.FAILED)) is None  # said once
        assert server.ensure(PASSED) is None
    finally:
        running.stop()
        running.remove_output()


# -- through the plugin ----------------------------------------------------------------


def test_a_restart_shows_in_the_timeline_the_summary_and_the_json_report(pytester: pytest.Pytester) -> None:
    mark = new_mark()
    pytester.makepyprojecttoml(pyproject("text", faulty("text_mode"), mark))
    result = pytester.runpytest_subprocess(
        "--impl=text",
        "-k",
        "echo.small or echo.large or input.fragments",
        "-p",
        "no:cacheprovider",
        "--sockspec-json=report.json",
    )
    result.assert_outcomes(failed=2, passed=1, deselected=bundled.item_count(bundled.BEHAVIOURS) - 3)
    result.stdout.fnmatch_lines(
        [
            "server.echo.large failed on text over tcp4 (server, MUST)",
            "  timeline (ms since the behaviour started; '>' marks the failing step):",
            "*0.0 ms  checker setup    server restarted: previous behaviour server.echo.small failed",
            "server text: restarted 2 times: 2 after a behaviour failed "
            "(the next behaviour's timeline starts with the reason)",
        ]
    )
    document = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    assert document["servers"][0]["restarts"] == 2
    assert document["servers"][0]["restart_causes"] == {"failed": 2}
    items = {item["id"]: item for item in document["items"]}
    first = items["server.input.fragments"]["trace"][0]
    assert (first["at"], first["actor"], first["step"]) == (0.0, "checker", None)
    assert first["what"]["kind"] == "restart"
    assert (first["what"]["op"], first["what"]["args"]) == ("failed", "server.echo.large")
    assert all(event["what"]["kind"] != "restart" for event in items["server.echo.small"]["trace"])
    assert_gone(mark)


def assert_gone(mark: str) -> None:
    deadline = time.monotonic() + 3.0
    while marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not marked_processes(mark), "processes left behind"
