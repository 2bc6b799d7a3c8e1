"""The server runner in-process: behaviours written here, played against real server processes.

Rules of this file:
- the servers are real processes (a reference server, or a few lines of Python
  written here); the runner is called as the plugin calls it;
- what is checked is the verdict and the words of its failure: per-client
  problems of a group, the bytes of a long payload, a server that exits;
- every server is stopped, whatever happens.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sockspec.judging.events import Kind, What
from sockspec.language.loader import load_text
from sockspec.language.model import Behaviour, Family
from sockspec.language.timing import Timing
from sockspec.reports.terminal import render_failure, timeline
from sockspec.servers.clients import View
from sockspec.servers.config import ServerSpec
from sockspec.servers.live import LiveServer
from sockspec.servers.runner import connect_summary, run_server_behaviour

FAULTY = Path(__file__).resolve().parent / "faulty_servers"
TIMING = Timing(step_limit=1.0, item_limit=10.0)


def quits(code: int = 0, pause: float = 0.0) -> str:
    """A server that echoes each client once and closes it; after a client's "quit" it exits
    with `code`, `pause` seconds later (having let go of every connection by then, as a Python
    server that dies of an error closes its leaked sockets while it finalises)."""
    return f"""\
import socket, sys, time
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    conn, _ = listener.accept()
    data = conn.recv(100)
    conn.sendall(data)
    conn.close()
    if data == b"quit":
        time.sleep({pause})
        sys.exit({code})
"""


def behaviour(steps: str) -> Behaviour:
    text = (
        "model: server\nsource: RFC 862\nbehaviours:\n  - id: server.x.y\n    level: must\n"
        "    rule: The server echoes what it gets.\n    source: RFC 862\n    steps:\n"
        + textwrap.indent(textwrap.dedent(steps), "      ")
    )
    return load_text(text, "t.yaml").behaviours[0]


def server(command: list[str], tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(ServerSpec(name="srv", origin="test", command=tuple(command)), tmp_path)
    try:
        live.ensure()
        yield live
    finally:
        live.stop()
        live.remove_output()


@pytest.fixture
def threads(tmp_path: Path) -> Iterator[LiveServer]:
    yield from server(
        [sys.executable, "-m", "sockspec.reference_impls.threads_server", "--port", "{port}"], tmp_path
    )


@pytest.fixture
def one_at_a_time(tmp_path: Path) -> Iterator[LiveServer]:
    yield from server([sys.executable, str(FAULTY / "one_at_a_time.py"), "--port", "{port}"], tmp_path)


def test_group_of_clients_passes_with_their_own_data(threads: LiveServer) -> None:
    verdict = run_server_behaviour(
        behaviour(
            """\
            - {client: g, action: connect, count: 5}
            - {client: g, action: send, data: "I am {client}"}
            - {client: g, action: read, expect: {data: "I am {client}"}}
            """
        ),
        threads,
        Family.TCP4,
        TIMING,
    )
    assert verdict.passed, render_failure(verdict)
    judged = [event.what for event in verdict.events if event.what.kind is Kind.JUDGED]
    assert judged == [
        What(Kind.JUDGED, "connect", client="g", count=5, total=5),
        What(Kind.JUDGED, "read", client="g", count=5, total=5),
    ]
    assert "g: 5 of 5 as expected" in "\n".join(timeline(verdict.events))


def test_group_failure_shows_the_first_clients_and_counts_the_rest(one_at_a_time: LiveServer) -> None:
    verdict = run_server_behaviour(
        behaviour(
            """\
            - {client: g, action: connect, count: 5}
            - {client: g, action: send, data: "I am {client}"}
            - {client: g, action: read, limit: 300ms, expect: {data: "I am {client}"}}
            """
        ),
        one_at_a_time,
        Family.TCP4,
        TIMING,
    )
    assert verdict.failure is not None
    assert verdict.failure.title == "step 3 (g: read)"
    assert verdict.failure.mismatches == (
        "client g#2: expected data b'I am g#2', observed nothing within 300.0 ms",
        "client g#3: expected data b'I am g#3', observed nothing within 300.0 ms",
        "client g#4: expected data b'I am g#4', observed nothing within 300.0 ms",
        "and 1 more of the 5 clients failed too (g#5)",
    )


def test_long_payload_mismatch_names_the_offset(threads: LiveServer) -> None:
    verdict = run_server_behaviour(
        behaviour(
            """\
            - {client: a, action: connect}
            - {client: a, action: send, data: {size: 1000}}
            - {client: a, action: read, size: 1000, expect: {data: {size: 1001}}}
            """
        ),
        threads,
        Family.TCP4,
        TIMING,
    )
    assert verdict.failure is not None
    assert verdict.failure.mismatches[0].endswith(
        "; the first 1000 bytes match; the last 1 bytes (from offset 1000) are missing"
    )


def test_server_exiting_during_a_behaviour_fails_it(tmp_path: Path) -> None:
    (tmp_path / "quits.py").write_text(quits(), encoding="utf-8")
    for live in server([sys.executable, str(tmp_path / "quits.py"), "{port}"], tmp_path):
        verdict = run_server_behaviour(
            behaviour(
                """\
                - {client: a, action: connect}
                - {client: a, action: send, data: quit}
                - {client: a, action: read, expect: {data: quit}}
                - {client: a, action: read, size: 1, expect: {eof: true}}
                - {client: b, action: connect, after: 100ms}
                """
            ),
            live,
            Family.TCP4,
            TIMING,
        )
        assert verdict.failure is not None
        assert verdict.failure.title == "step 5 (b: connect)"
        assert verdict.failure.mismatches == (
            "client b: expected success, observed error refused (connect: ConnectionRefusedError: "
            "[Errno 111] Connection refused)",
            "the server exited (exit code 0) during this behaviour",
        )


#: A client has its "quit" echoed and then sees EOF; the leak check comes last, after `between`.
QUIT_STEPS = (
    "- {observe: base}",
    "- {client: a, action: connect}",
    "- {client: a, action: send, data: quit}",
    "- {client: a, action: read, expect: {data: quit}}",
    "- {client: a, action: read, size: 1, expect: {eof: true}}",
)
BACK_TO_BASE = "- {observe: after, limit: 1s, expect: {back_to: base}}"


def exit_failure(tmp_path: Path, script: str, *between: str) -> tuple[str, str]:
    """The failing step's title and first problem when QUIT_STEPS, `between` and the leak check
    are played against a server that runs the Python `script` (its port as argv[1])."""
    (tmp_path / "srv.py").write_text(script, encoding="utf-8")
    steps = "\n".join((*QUIT_STEPS, *between, BACK_TO_BASE)) + "\n"
    for live in server([sys.executable, str(tmp_path / "srv.py"), "{port}"], tmp_path):
        verdict = run_server_behaviour(behaviour(steps), live, Family.TCP4, TIMING)
        assert verdict.failure is not None
        return verdict.failure.title, verdict.failure.mismatches[0]
    raise AssertionError("the server fixture yielded nothing")


def gone(code: int) -> str:
    return (
        f"expected the server to return to its counts at 'base', but it exited (exit code {code}), "
        "so what it holds after its clients close cannot be seen"
    )


def test_a_server_that_exits_does_not_return_to_its_base(tmp_path: Path) -> None:
    """A server that is gone holds no thread and no descriptor: were it judged by its counts alone,
    a server that crashes once its clients close would pass the no-leak rule."""
    refused = "- {client: b, action: connect, after: 300ms, expect: {error: refused}}"
    assert exit_failure(tmp_path, quits(), refused) == ("step 7 (observe after)", gone(0))


def test_a_server_back_at_its_base_on_its_way_out_has_not_returned(tmp_path: Path) -> None:
    """Its counts are back at base for a moment before it exits: that is no return to base (a
    server that crashed of its leak passed no-leak this way, seen once on a loaded machine)."""
    assert exit_failure(tmp_path, quits(code=3, pause=0.05)) == ("step 6 (observe after)", gone(3))


def test_cycle_reports_the_connection_that_failed(one_at_a_time: LiveServer) -> None:
    verdict = run_server_behaviour(
        behaviour(
            """\
            - {client: hog, action: connect}
            - {client: hog, action: send, data: "x"}
            - {client: hog, action: read, expect: {data: "x"}}
            - {client: c, action: cycle, count: 3, data: ping, limit: 500ms}
            """
        ),
        one_at_a_time,
        Family.TCP4,
        TIMING,
    )
    assert verdict.failure is not None
    assert verdict.failure.mismatches == (
        "connection 1 of 3 (c#1): expected data b'ping', observed nothing within 500.0 ms",
    )


def _view(state: str, error: str | None = None) -> View:
    return View("c", state, 0, 0, 0, 0, False, error, "", 0.0)


@pytest.mark.parametrize(
    ("states", "said", "connected"),
    [
        ([("open", None)], "connected", 1),
        ([("closed", "reset")], "connected, closed since: reset", 1),
        ([("failed", "refused")], "not connected: refused", 0),
        ([("connecting", None)], "no answer yet", 0),
        ([("open", None), ("closed", "reset"), ("connecting", None)], "2 of 3 connected, 1 closed since", 2),
    ],
)
def test_a_connect_says_how_it_ended(states: list[tuple[str, str | None]], said: str, connected: int) -> None:
    # A handshake the server completed and then reset still connected: the timeline must not say
    # "0 of 1 connected" for it.
    assert connect_summary([_view(state, error) for state, error in states]) == (said, connected)
