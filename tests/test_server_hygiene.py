"""A server's processes never outlive the checker, and what it writes is kept within a bound.

Rules of this file:
- every server here is a real process from tests/faulty_servers, listening on
  loopback, with a unique mark in its environment that all it starts inherits;
  the process table is searched for the mark afterwards;
- the exit of a process that is not the test's own child sends no event: /proc
  is polled, always with a bound; everything else is awaited;
- each hostile server gets its verdict within its bound: one that ignores
  SIGTERM and leaves an escaped helper (stopped by the checker; its checker
  killed; its checker exiting), and one that floods its stderr.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sockspec.servers import observe
from sockspec.servers.config import ServerSpec
from sockspec.servers.observe import Stat
from sockspec.servers.process import TAIL_BYTES, ServerProcess, StartError, server_tree, watchdog_pid
from sockspec.servers.watchdog import parse_line

from tests.server_runs import MARK, marked_processes, new_mark, subprocess_env

PY = sys.executable
FAULTY = Path(__file__).resolve().parent / "faulty_servers"
ESCAPES = (PY, str(FAULTY / "escapes_and_ignores_term.py"), "--port", "{port}")
FLOODS = (PY, str(FAULTY / "floods_stderr.py"), "--port", "{port}")
FLOOD_BYTES = 50 * (1 << 20) + len(b"the last line\n")
PR_GET_CHILD_SUBREAPER = 37

pytestmark = pytest.mark.skipif(observe.available() is not None, reason="needs Linux /proc")


def spec(command: tuple[str, ...], mark: str, stop_timeout: float = 0.3) -> ServerSpec:
    return ServerSpec(
        name="srv", origin="test", command=command, env=((MARK, mark),), stop_timeout=stop_timeout
    )


def until(done: Callable[[], bool], within: float, what: str) -> None:
    """Poll `done` (no event exists for it) until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within} s")
        time.sleep(0.02)


def gone(pid: int, start: int) -> bool:
    """True once `pid` is no longer the process that started at `start` (a zombie counts as gone)."""
    stat = observe.read_stat(pid)
    return stat is None or stat.starttime != start or stat.state in {"Z", "X"}


def subreaper() -> int:
    flag = ctypes.c_int(-1)
    ctypes.CDLL(None).prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
    return flag.value


def helper_of(server: ServerProcess) -> Stat:
    """The escaped helper, named by the server on its stdout before it listens."""
    line = server.stdout_tail()[-1]
    assert line.startswith("helper "), line
    stat = observe.read_stat(int(line.split()[1]))
    assert stat is not None
    return stat


def test_stop_ends_an_escaped_helper_that_ignores_sigterm(tmp_path: Path) -> None:
    mark = new_mark()
    server = ServerProcess(spec(ESCAPES, mark), tmp_path)
    server.start()
    try:
        server.wait_listening()
        helper = helper_of(server)
        assert helper.ppid == os.getpid(), "the orphaned helper is re-parented to the checker (its subreaper)"
        assert helper.session not in {server.pid, os.getsid(0)}
        assert subreaper() == 1
        assert watchdog_pid() is not None
        assert set(marked_processes(mark)) == {server.pid, helper.pid}
        ending = server.stop()
    finally:
        server.stop()
        server.remove_output()
    assert ending.how == "did not exit within 300.0 ms of SIGTERM (stop_timeout): killed with SIGKILL"
    assert ending.leftovers == ()
    assert marked_processes(mark) == []
    stat = observe.read_stat(helper.pid)
    assert stat is None or stat.starttime != helper.starttime, "the dead helper is reaped, not left a zombie"
    assert subreaper() == 0, "no server runs: the checker no longer adopts orphans"
    assert watchdog_pid() is None


CHECKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sockspec.servers.config import ServerSpec
    from sockspec.servers.process import ServerProcess, watchdog_pid
    mark_name, mark, *command = sys.argv[1:]
    spec = ServerSpec(name="srv", origin="test", command=tuple(command), env=((mark_name, mark),),
                      stop_timeout=0.3)
    server = ServerProcess(spec, Path.cwd())
    server.start()
    server.wait_listening()
    print(server.pid, watchdog_pid(), server.stdout_tail()[-1].split()[1], flush=True)
    sys.stdin.read()  # until the test closes stdin, or kills this checker
    """
)


@pytest.mark.parametrize("how", ["killed", "exits"])
def test_server_tree_and_watchdog_do_not_outlive_the_checker(how: str, tmp_path: Path) -> None:
    """Killed by SIGKILL: PR_SET_PDEATHSIG ends the first process, the watchdog the escaped helper.
    Exiting: the atexit hook stops the server, then the watchdog sees its pipe close and exits."""
    mark = new_mark()
    checker = subprocess.Popen(
        [PY, "-c", CHECKER, MARK, mark, *ESCAPES],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=subprocess_env(),
    )
    assert checker.stdin is not None and checker.stdout is not None
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(checker.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=30), "the checker did not report its server within 30 s"
        report = checker.stdout.readline().split()
        assert len(report) == 3, (
            checker.stderr.read() if checker.stderr and checker.poll() is not None else report
        )
        first, watchdog, helper = (int(field) for field in report)
        watchdog_stat = observe.read_stat(watchdog)
        assert watchdog_stat is not None
        assert set(marked_processes(mark)) == {first, helper}
        if how == "killed":
            checker.send_signal(signal.SIGKILL)
        else:
            checker.stdin.close()
        assert checker.wait(timeout=30) == (-signal.SIGKILL if how == "killed" else 0)
        if how == "exits":  # the checker stopped all before it exited, and waited for its watchdog
            assert marked_processes(mark) == []
            assert gone(watchdog, watchdog_stat.starttime)
        until(lambda: not marked_processes(mark), within=5.0, what="the end of the server and its helper")
        until(lambda: gone(watchdog, watchdog_stat.starttime), within=5.0, what="the watchdog's exit")
    finally:
        if checker.poll() is None:
            checker.kill()
        checker.wait(timeout=30)
        for stream in (checker.stdin, checker.stdout, checker.stderr):
            if stream is not None:
                stream.close()


def test_a_flood_on_stderr_is_kept_to_its_last_bytes(tmp_path: Path) -> None:
    server = ServerProcess(spec(FLOODS, new_mark()), tmp_path)
    server.start()
    try:
        server.wait_listening()
        assert server.stderr_tail(2) == ["." * 1023, "the last line"]
        assert server.output is not None
        stream = server.output.take("stderr")
        assert stream.written == FLOOD_BYTES
        assert len(stream.kept) <= 2 * TAIL_BYTES
        assert server.stderr_path.stat().st_size <= 2 * TAIL_BYTES
        cut = f"of the {FLOOD_BYTES} bytes it wrote, only the last {TAIL_BYTES} are kept"
        assert server.output_note().startswith(f"its last stderr lines ({cut}):")
        assert server.output_note().endswith("\n    | the last line")
    finally:
        server.stop()
        server.remove_output()


def test_a_flood_then_an_exit_shows_the_last_lines_in_the_error(tmp_path: Path) -> None:
    server = ServerProcess(spec((*FLOODS, "--exit"), new_mark()), tmp_path)
    server.start()
    try:
        with pytest.raises(StartError) as caught:
            server.wait_listening()
    finally:
        server.stop()
        server.remove_output()
    message = str(caught.value)
    assert message.startswith(f"srv exited (exit code 3) before it listened on 127.0.0.1:{server.port}; ")
    assert message.endswith(f"    | {'.' * 1023}\n    | the last line")
    assert len(message) < TAIL_BYTES + 1000


def stat(pid: int, ppid: int, session: int, start: int, state: str = "S") -> Stat:
    return Stat(pid, "p", state, ppid, session, session, 0, 0, 1, start)


def test_server_tree_follows_the_session_the_remembered_and_the_token_holders() -> None:
    stats = [
        stat(1, 0, 1, 1),
        stat(50, 1, 50, 5),  # the checker
        stat(100, 50, 100, 10),  # the server's first process
        stat(101, 100, 100, 11),  # its child
        stat(102, 1, 100, 12),  # an orphan still in its session
        stat(200, 50, 200, 20),  # escaped: its own session, re-parented to the checker, seen before
        stat(201, 200, 200, 21),  # the escapee's child
        stat(300, 50, 300, 30),  # escaped, never seen, but holding the token
        stat(400, 50, 400, 40),  # another child of the checker: not the server's
        stat(500, 1, 500, 50),  # a process whose pid was remembered, but with another start time
    ]
    known = {100: 10, 200: 20, 500: 49}
    found = [member.pid for member in server_tree(stats, 100, known, {300})]
    assert found == [100, 101, 102, 200, 201, 300]


def test_server_tree_does_not_claim_a_reused_first_pid_or_its_session() -> None:
    stats = [stat(100, 1, 100, 99), stat(101, 100, 100, 100)]
    assert server_tree(stats, 100, {100: 10}, ()) == []


def test_watchdog_lines_record_marks_and_processes() -> None:
    marks: set[bytes] = set()
    pids: dict[int, int] = {}
    for line in (b"mark SOCKSPEC_SERVER_TREE=abc", b"pid 123 456", b"pid x 1", b"nonsense", b"mark noequals"):
        parse_line(line, marks, pids)
    assert marks == {b"SOCKSPEC_SERVER_TREE=abc"}
    assert pids == {123: 456}
