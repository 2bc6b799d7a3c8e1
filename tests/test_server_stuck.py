"""Where a stuck server was, through the real runner: a failure on a client's wait names the line
of the server's code it was parked on; a passing behaviour captures nothing.

Rules of this file:
- the behaviours are the bundled corpus's, played by `run_server_behaviour` against a
  LiveServer that the test starts the way the plugin does (the faulty servers' own scripts,
  in their own folder, so their paths read as the user's would);
- `stacks.capture` is wrapped, never replaced, to count its calls and time them: the
  runner's cost of looking is measured on the real tools;
- a test that needs py-spy is skipped, saying so, when it is not installed;
- the faulty servers are only read (their commands and lines), never changed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sockspec.judging.verdict import Failure
from sockspec.language.model import Family
from sockspec.language.timing import Timing
from sockspec.reports.html import render
from sockspec.reports.server_text import render_server_failure, stuck_lines
from sockspec.servers import runner, stacks
from sockspec.servers.config import DeclaredModel
from sockspec.servers.live import LiveServer
from sockspec.servers.observe import Snapshot
from sockspec.servers.runner import ServerVerdict, run_server_behaviour

from tests.bundled import by_id
from tests.faulty_servers import FOLDER
from tests.live_servers import faulty, live, reference
from tests.test_html_report import _record, parse

TIMING = Timing(step_limit=1.0, item_limit=15.0)
#: The most a capture may add to a failing behaviour (the issue's bound).
CAPTURE_LIMIT = 1.0
needs_py_spy = pytest.mark.skipif(
    stacks.find_tools().py_spy is None, reason="py-spy is not installed (pip install -e '.[dev]')"
)
pytestmark = pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux's /proc")


class Captures:
    """The runner's calls of `stacks.capture`, each with how long it took (seconds)."""

    def __init__(self) -> None:
        self.took: list[float] = []


@pytest.fixture
def captures(monkeypatch: pytest.MonkeyPatch) -> Captures:
    found = Captures()
    real = stacks.capture

    def timed(*args: object, **kwargs: object) -> stacks.ServerStacks:
        started = time.monotonic()
        try:
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            found.took.append(time.monotonic() - started)

    monkeypatch.setattr(stacks, "capture", timed)
    return found


@pytest.fixture
def one_at_a_time() -> Iterator[LiveServer]:
    yield from live(faulty("one_at_a_time"))


@pytest.fixture
def sendall_in_select() -> Iterator[LiveServer]:
    yield from live(faulty("sendall_in_select"))


@pytest.fixture
def threads() -> Iterator[LiveServer]:
    yield from live(reference("threads_server"))


def line_of(script: str, pattern: str) -> int:
    lines = (FOLDER / script).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if re.search(pattern, line))


def play(behaviour_id: str, server: runner.ServerTarget) -> ServerVerdict:
    return run_server_behaviour(by_id(behaviour_id), server, Family.TCP4, TIMING)


def stuck_of(verdict: ServerVerdict) -> str:
    assert verdict.failure is not None, "the behaviour passed"
    assert verdict.failure.stuck is not None, f"nothing captured for {verdict.failure}"
    return verdict.failure.stuck


@needs_py_spy
def test_second_client_failure_names_the_recv_line(one_at_a_time: LiveServer, captures: Captures) -> None:
    verdict = play("server.concurrency.second-client", one_at_a_time)
    stuck = stuck_of(verdict)
    line = line_of("one_at_a_time.py", r"conn\.recv\(")
    headline = stuck.splitlines()[0]
    assert headline.startswith("the server's only thread was blocked in recvfrom"), stuck
    assert headline.endswith(f" at one_at_a_time.py:{line} in main `while data := conn.recv(65536):`"), stuck
    assert "stacks by py-spy:" in stuck
    assert len(captures.took) == 1 and captures.took[0] < CAPTURE_LIMIT, captures.took
    # what the clients saw is unchanged: the capture only adds to the failure
    assert verdict.failure is not None
    assert verdict.failure.mismatches[0].startswith(
        "client second: expected data b'second\\n', observed nothing"
    )


@needs_py_spy
def test_slow_reader_failure_names_the_sendall_line(
    sendall_in_select: LiveServer, captures: Captures
) -> None:
    verdict = play("server.concurrency.slow-reader", sendall_in_select)
    stuck = stuck_of(verdict)
    line = line_of("sendall_in_select.py", r"conn\.sendall\(")
    headline = stuck.splitlines()[0]
    assert headline.startswith("the server's only thread was blocked in sendto"), stuck
    assert headline.endswith(f" at sendall_in_select.py:{line} in on_ready `conn.sendall(data)`"), stuck
    assert len(captures.took) == 1 and captures.took[0] < CAPTURE_LIMIT, captures.took


def test_passing_behaviours_capture_nothing(threads: LiveServer, captures: Captures) -> None:
    for behaviour_id in ("server.concurrency.second-client", "server.concurrency.slow-reader"):
        verdict = play(behaviour_id, threads)
        assert verdict.passed, verdict.failure
    assert captures.took == []


def test_without_py_spy_the_syscall_is_named_and_one_line_says_how_to_install_it(
    one_at_a_time: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stacks, "find_tools", lambda: stacks.Tools(None, None, None))
    stuck = stuck_of(play("server.concurrency.second-client", one_at_a_time))
    assert stuck.splitlines()[0].startswith("the server's only thread was blocked in recvfrom"), stuck
    assert [line for line in stuck.splitlines() if stacks.EXTRA_HINT in line] == [
        f"  no Python stack: py-spy is not installed ({stacks.EXTRA_HINT})"
    ], stuck


class NotStarted:
    """A server as the runner sees one given by address: reachable, but not to be looked into."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.name = server.name
        self.declared: DeclaredModel | None = None

    @property
    def cwd(self) -> Path | None:
        return None

    def address(self, family: Family) -> tuple[str, int]:
        return self.server.address(family)

    def observe(self, at: float, costs: bool = False) -> Snapshot | None:
        return None

    def exited(self, grace: float = 0.0) -> str | None:
        return None


def test_a_server_not_started_by_the_checker_gets_one_line(
    one_at_a_time: LiveServer, captures: Captures
) -> None:
    verdict = play("server.concurrency.second-client", NotStarted(one_at_a_time))
    assert stuck_of(verdict) == (
        "not captured: the server's threads cannot be read (sockspec did not start it, or /proc is missing)"
    )
    assert captures.took == []


def test_the_failure_text_shows_the_sentence_then_the_stacks_indented() -> None:
    assert stuck_lines(
        "the server's only thread was blocked in sendto\nprocess 1 (x), 1 thread:\n  thread 1"
    ) == [
        "  stuck:   the server's only thread was blocked in sendto",
        "           process 1 (x), 1 thread:",
        "             thread 1",
    ]
    behaviour = by_id("server.concurrency.second-client")
    failure = Failure(5, behaviour.steps[5].origin, "step 6 (second: read)", ("nothing",), stuck="stuck here")
    text = render_server_failure(
        ServerVerdict(behaviour, "srv", Family.TCP4, (), failure),
        "srv",
        "srv: running",
        ["server output: none"],
    )
    assert text.splitlines()[-3:] == [
        "  server:  srv: running",
        "  stuck:   stuck here",
        "  server output: none",
    ]


def test_the_html_report_shows_where_the_server_was_beside_the_timeline() -> None:
    record = _record()
    stuck = "the server's only thread was blocked in <sendto>\nprocess 7 (x), 1 thread:\n  thread 7"
    items = tuple(
        replace(item, failure=replace(item.failure, stuck=stuck)) if item.failure is not None else item
        for item in record.items
    )
    document = parse(render(replace(record, items=items)))
    section = document.one("section", "item", data_impl="broken<1>")
    block = section.one("div", "stuck")
    assert block.one("p", "mono").text() == "the server's only thread was blocked in <sendto>"
    assert block.one("pre").text() == "process 7 (x), 1 thread:\n  thread 7"
    children = [child.tag + "." + " ".join(sorted(child.classes)) for child in section.children]
    assert children.index("div.stuck") == children.index("div.timeline") + 1
