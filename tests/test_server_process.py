"""Starting and stopping server processes: bounded waits, clear errors, and nothing left behind.

Rules of this file:
- every server here is a real process; every one carries a unique mark in its
  environment, and the process table is searched for it after the test;
- each misbehaviour gets its verdict within its bound: one that never listens,
  one that exits at once, one that ignores SIGTERM, one whose children escape
  its process group, and a checker that dies without stopping its server.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sockspec.servers.config import ServerSpec
from sockspec.servers.process import ServerProcess, StartError, tail

from tests.server_runs import MARK, marked_processes, new_mark, wait_gone
from tests.waiting import until

PY = sys.executable
LISTENS = (
    "import socket, sys, time; s = socket.create_server(('127.0.0.1', int(sys.argv[1]))); time.sleep(300)"
)
IGNORES_TERM = (
    "import signal, socket, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "s = socket.create_server(('127.0.0.1', int(sys.argv[1]))); time.sleep(300)"
)


def spec(
    command: list[str], mark: str, startup_timeout: float = 10.0, stop_timeout: float = 3.0
) -> ServerSpec:
    return ServerSpec(
        name="srv",
        origin="test",
        command=tuple(command),
        env=((MARK, mark),),
        startup_timeout=startup_timeout,
        stop_timeout=stop_timeout,
    )


def test_server_starts_listens_and_stops_on_sigterm(tmp_path: Path) -> None:
    mark = new_mark()
    server = ServerProcess(spec([PY, "-c", LISTENS, "{port}"], mark), tmp_path)
    server.start()
    took = server.wait_listening()
    assert 0 < took < 5
    assert marked_processes(mark) == [server.pid]
    ending = server.stop()
    assert ending.how == "stopped by SIGTERM"
    assert ending.leftovers == ()
    wait_gone(mark)
    server.remove_output()
    assert not server.folder.exists()


def test_server_never_listening_is_an_error_within_its_timeout(tmp_path: Path) -> None:
    mark = new_mark()
    script = "import sys, time; print('warming up', file=sys.stderr, flush=True); time.sleep(300)"
    server = ServerProcess(spec([PY, "-c", script, "{port}"], mark, startup_timeout=0.5), tmp_path)
    server.start()
    started = time.monotonic()
    with pytest.raises(StartError) as caught:
        server.wait_listening()
    assert 0.5 <= time.monotonic() - started < 2.0
    message = str(caught.value)
    assert message.startswith(
        f"srv did not listen on 127.0.0.1:{server.port} within 500.0 ms (startup_timeout)"
    )
    assert message.endswith("its last stderr lines:\n    | warming up")
    server.stop()
    wait_gone(mark)


def test_server_exiting_at_once_reports_its_code_and_stderr(tmp_path: Path) -> None:
    mark = new_mark()
    script = "import sys; print('no config file', file=sys.stderr); sys.exit(3)"
    server = ServerProcess(spec([PY, "-c", script, "{port}"], mark), tmp_path)
    server.start()
    with pytest.raises(
        StartError, match=r"^srv exited \(exit code 3\) before it listened on 127\.0\.0\.1:\d+; "
    ):
        server.wait_listening()
    assert server.stderr_tail() == ["no config file"]
    assert server.stop().how == "had already exited (exit code 3)"
    wait_gone(mark)


def test_server_ignoring_sigterm_is_killed_after_the_stop_timeout(tmp_path: Path) -> None:
    mark = new_mark()
    server = ServerProcess(spec([PY, "-c", IGNORES_TERM, "{port}"], mark, stop_timeout=0.5), tmp_path)
    server.start()
    server.wait_listening()
    started = time.monotonic()
    ending = server.stop()
    assert 0.5 <= time.monotonic() - started < 4.0
    assert ending.how == "did not exit within 500.0 ms of SIGTERM (stop_timeout): killed with SIGKILL"
    assert server.returncode() == -9
    wait_gone(mark)


def test_stop_ends_children_that_left_the_process_group(tmp_path: Path) -> None:
    mark = new_mark()
    wrapper = f'setsid {PY} -c \'import time; time.sleep(300)\' & exec {PY} -c "{LISTENS}" "$0"'
    server = ServerProcess(spec(["sh", "-c", wrapper, "{port}"], mark), tmp_path)
    server.start()
    server.wait_listening()
    until(lambda: len(marked_processes(mark)) >= 2, within=3.0, what="the child that left the group to start")
    assert len(marked_processes(mark)) == 2
    server.observe(0.0)
    assert server.stop().leftovers == ()
    wait_gone(mark)


def test_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    server = ServerProcess(spec(["no-such-server-program", "{port}"], new_mark()), tmp_path)
    with pytest.raises(StartError, match=r"^cannot start srv: 'no-such-server-program' was not found"):
        server.start()
    assert server.stop().how == "never started"


CHECKER = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from sockspec.servers.config import ServerSpec
    from sockspec.servers.process import ServerProcess
    spec = ServerSpec(name="srv", origin="test", command=(sys.executable, "-c", {listens!r}, "{{port}}"),
                      env=(({mark_name!r}, {mark!r}),))
    server = ServerProcess(spec, Path.cwd())
    server.start()
    server.wait_listening()
    print(server.pid, flush=True)
    if sys.argv[1] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("how", ["exit", "die"])
def test_server_does_not_outlive_its_checker(how: str, tmp_path: Path) -> None:
    """A normal exit stops the server through atexit; a killed checker's server gets PR_SET_PDEATHSIG."""
    mark = new_mark()
    code = CHECKER.format(listens=LISTENS, mark_name=MARK, mark=mark)
    done = subprocess.run(
        [PY, "-c", code, how], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.stdout.strip().isdigit(), done.stderr
    wait_gone(mark, what=f"the server to exit with its checker ({how})")


def test_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("".join(f"line {n}\n" for n in range(100)), encoding="utf-8")
    assert tail(log, 3) == ["line 97", "line 98", "line 99"]
    assert tail(tmp_path / "missing") == []
