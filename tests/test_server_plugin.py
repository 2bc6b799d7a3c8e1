"""Server impls through the plugin, as a user meets them: names, errors, servers that misbehave.

Rules of this file:
- every run is a separate pytest process in a fresh folder (pytester), with
  the server named in that folder's pyproject.toml, ad hoc (cmd:, tcp://), or
  by a reference name;
- a server that never listens, exits at once, or hangs gets a verdict within
  its bounds, and the process table holds nothing it started afterwards;
- Ctrl-C (SIGINT to pytest) while a server runs stops the server too, and the
  reports asked for are still written;
- a message for a person is never a Python traceback.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sockspec.judging.applicability import DECLARED_MODEL, PROC
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Model
from sockspec.servers.config import ServerSpec
from sockspec.servers.process import ServerProcess

from tests.server_runs import MARK, marked_processes, new_mark, pyproject, subprocess_env

FAULTY = Path(__file__).resolve().parent / "faulty_servers"
PY = sys.executable
SPEC = Path(__file__).resolve().parent.parent / "spec"
CORPUS: list[Behaviour] = [
    behaviour
    for path in sorted(SPEC.glob("*.yaml"))
    for behaviour in load_file(path, f"spec/{path.name}").behaviours
]
ITEMS = sum(len(behaviour.families) for behaviour in CORPUS)  # of one impl
# The server behaviours a run has unless -m names `scale` (scale behaviours are opt-in: deselected).
SERVER = [behaviour for behaviour in CORPUS if behaviour.model is Model.SERVER and behaviour.scale is None]
SERVER_ITEMS = sum(len(behaviour.families) for behaviour in SERVER)
SCALE_ITEMS = sum(len(behaviour.families) for behaviour in CORPUS if behaviour.scale is not None)
DRIVER_ITEMS = (
    ITEMS - SERVER_ITEMS
)  # deselected from a server's run: the drivers', and scale behaviours' items
# Server items that need a model declared, and /proc observation of a process sockspec started.
NEEDS_MODEL = sum(len(b.families) for b in SERVER if DECLARED_MODEL in b.requires)
NEEDS_PROC = sum(len(b.families) for b in SERVER if PROC in b.requires)

NEVER_ANSWERS = """\
import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # and it ignores SIGTERM too
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
held = []
while True:
    conn, _ = listener.accept()
    held.append(conn)  # accepted, never read, never closed
"""


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def configure(pytester: pytest.Pytester, name: str, command: list[str], **settings: str) -> str:
    mark = new_mark()
    pytester.makepyprojecttoml(pyproject(name, command, mark, **settings))
    return mark


def assert_nothing_left(mark: str) -> None:
    deadline = time.monotonic() + 2.0
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {left}"


def test_server_never_listening_gets_a_verdict_within_its_start_up_timeout(pytester: pytest.Pytester) -> None:
    mark = configure(
        pytester, "silent", [PY, str(FAULTY / "never_listens.py"), "--port", "{port}"], startup_timeout="1s"
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--impl=silent", "-m", "server", "-p", "no:cacheprovider")
    assert time.monotonic() - started < 20
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # No model declared: the behaviour checking it is not run, and said once why. The others are
    # not reached (pytest counts them as failed): with no server there, no rule was judged.
    failed = SERVER_ITEMS - NEEDS_MODEL
    result.assert_outcomes(failed=failed, deselected=ITEMS - failed)
    result.stdout.fnmatch_lines(
        [
            "server.echo.small not reached on silent over tcp4 (server, MUST): the server is not available",
            "  problem: silent did not listen on 127.0.0.1:* within 1.000 s (startup_timeout); "
            "it is still running: does it take its port from the {port} in its command? "
            "command: *; its last stderr lines:",
            "      | bound 127.0.0.1:*, but listen() is never called",
            "*  problem: not run: silent did not listen on 127.0.0.1:* within 1.000 s (startup_timeout) "
            "(its output is shown under the first failure)",
            f"FAIL  silent  server * 0 passed * 0 failed * {NEEDS_MODEL} not applicable, "
            f"{failed} not reached",
            f"silent: {failed} not reached, 1 cause: the server is not available: did not listen on "
            "127.0.0.1:* within 1.000 s (startup_timeout) "
            f"(server.echo.small?tcp4?, * and {failed - 5} more)",
            "not applicable, so deselected (not run):",
            f"  silent: server ({NEEDS_MODEL} item): silent declares no model (set model = *",
        ]
    )
    assert "Traceback" not in output(result)
    assert_nothing_left(mark)


def test_server_exiting_at_once_shows_its_exit_code_and_stderr(pytester: pytest.Pytester) -> None:
    script = "import sys; print('cannot open config.ini', file=sys.stderr); sys.exit(3)"
    mark = configure(pytester, "quitter", [PY, "-c", script, "{port}"])
    result = pytester.runpytest_subprocess("--impl=quitter", "-k", "echo.small", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "  problem: quitter exited (exit code 3) before it listened on 127.0.0.1:*; command: *",
            "      | cannot open config.ini",
            "server quitter: `*` (pid *) on 127.0.0.1:*; had already exited (exit code 3)",
        ]
    )
    assert_nothing_left(mark)


def test_server_that_hangs_and_ignores_sigterm_is_killed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hangs=NEVER_ANSWERS)
    mark = configure(pytester, "hangs", [PY, "hangs.py", "{port}"], stop_timeout="1s")
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "--impl=hangs", "-k", "echo.small or second-client", "-p", "no:cacheprovider"
    )
    assert time.monotonic() - started < 30
    result.assert_outcomes(failed=2, deselected=ITEMS - 2)
    result.stdout.fnmatch_lines(
        [
            "  problem: client a: expected data 512 bytes *, observed nothing within 2.000 s",
            "server hangs: * did not exit within 1.000 s of SIGTERM (stop_timeout): killed with SIGKILL",
        ]
    )
    assert_nothing_left(mark)


def test_ctrl_c_stops_the_server_and_still_writes_the_reports(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hangs=NEVER_ANSWERS)
    mark = configure(pytester, "hangs", [PY, "hangs.py", "{port}"], stop_timeout="1s")
    process = subprocess.Popen(
        [
            PY,
            "-m",
            "pytest",
            "--impl=hangs",
            "-m",
            "server",
            "-p",
            "no:cacheprovider",
            "--sockspec-json=report.json",
            "--sockspec-html=report.html",
        ],
        cwd=pytester.path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not marked_processes(mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marked_processes(mark), "the server never started"
        time.sleep(0.3)  # let a behaviour get under way, so the interrupt lands mid-run
        process.send_signal(signal.SIGINT)
        text, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text
    assert_nothing_left(mark)
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    assert report["stopped"] == "interrupted (Ctrl-C): the items that had not run are missing"
    assert report["gate"] == "fail"
    assert "interrupted (Ctrl-C)" in (pytester.path / "report.html").read_text(encoding="utf-8")
    assert "wrote JSON report: " in text and "wrote HTML report: " in text, text


def test_server_given_by_address_runs_what_needs_no_proc(pytester: pytest.Pytester) -> None:
    mark = new_mark()
    spec = ServerSpec(
        name="mine",
        origin="test",
        command=(PY, "-m", "sockspec.reference_impls.selectors_server", "--port", "{port}"),
        env=((MARK, mark),),
    )
    server = ServerProcess(spec, pytester.path)
    server.start()
    try:
        server.wait_listening()
        result = pytester.runpytest_subprocess(
            f"--impl=tcp://127.0.0.1:{server.port}", "-m", "server", "-rs", "-p", "no:cacheprovider"
        )
    finally:
        server.stop()
        server.remove_output()
    assert result.ret == pytest.ExitCode.OK, output(result)
    passed = SERVER_ITEMS - NEEDS_PROC
    left = NEEDS_PROC + SCALE_ITEMS  # a scale behaviour observes the server too: not applicable either
    result.assert_outcomes(passed=passed, deselected=ITEMS - passed)
    result.stdout.fnmatch_lines(
        [
            f"pass  tcp://127.0.0.1:*  server * {passed} passed * 0 failed * {left} not applicable",
            "not applicable, so deselected (not run):",
            f"  tcp://127.0.0.1:*: server ({left} items): needs /proc observation of the server's "
            "process, and tcp://127.0.0.1:* is given by address (sockspec did not start it, *",
            "server tcp://127.0.0.1:*: observed model: not observable (sockspec did not start this server); "
            "no model declared",
        ]
    )
    assert "SKIPPED" not in output(result)
    assert_nothing_left(mark)


def test_ad_hoc_command_is_started_and_checked(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        f"--impl=cmd:{PY} -m sockspec.reference_impls.threads_server --port {{port}}",
        "-k",
        "echo.small or idle-cpu",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.OK, output(result)
    result.assert_outcomes(passed=2, deselected=ITEMS - 2)
    result.stdout.fnmatch_lines(["server cmd:* observed model: thread-per-client (no model declared)"])


def test_reference_name_is_a_driver_and_a_server(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--impl=sockets", "-k", "echo.small or recv.zero-size and tcp4", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.OK, output(result)
    result.stdout.fnmatch_lines(["pass  sockets  server * 1 passed * 0 failed * 0 not applicable"])


def test_a_conforming_server_runs_only_server_behaviours(pytester: pytest.Pytester) -> None:
    mark = configure(
        pytester,
        "mine",
        [PY, "-m", "sockspec.reference_impls.selectors_server", "--port", "{port}"],
        model="readiness",
    )
    result = pytester.runpytest_subprocess("--impl=mine", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, output(result)
    result.assert_outcomes(passed=SERVER_ITEMS, deselected=DRIVER_ITEMS)
    result.stdout.re_match_lines([r"^spec/server\.yaml \.+ +\[100%\]$"])  # no s, no other file
    assert not any(
        line.startswith(("spec/blocking", "spec/nonblocking", "spec/readiness", "spec/completion"))
        for line in result.outlines
    )
    result.stdout.fnmatch_lines(
        [
            f"pass  mine  server * {SERVER_ITEMS} passed * 0 failed * 0 not applicable",
            "not applicable, so deselected (not run):",
            f"  mine: blocking, nonblocking, readiness, completion ({DRIVER_ITEMS - SCALE_ITEMS} items): "
            "mine is a server, checked over the wire by the server behaviours; the behaviours of the other "
            "models need a driver (module:Class)",
        ]
    )
    assert output(result).count("is a server, checked over the wire") == 1
    assert_nothing_left(mark)


def test_server_behaviour_does_not_apply_to_a_driver(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--impl=sockspec.reference_impls.sockets_ref:SocketsDriver",
        "-k",
        "echo.small",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes(deselected=ITEMS)
    result.stdout.fnmatch_lines(
        [
            "  sockspec.reference_impls.sockets_ref:SocketsDriver: server (1 item): "
            "sockspec.reference_impls.sockets_ref:SocketsDriver is a driver, not a server: "
            "server behaviours connect to a server process *",
            "sockspec: nothing was checked: every behaviour selected was not applicable to the impls run *",
        ]
    )


def test_driver_behaviour_does_not_apply_to_a_server(pytester: pytest.Pytester) -> None:
    configure(pytester, "mine", [PY, "-m", "sockspec.reference_impls.threads_server", "--port", "{port}"])
    result = pytester.runpytest_subprocess(
        "--impl=mine", "-k", "blocking.recv.waits-for-peer and tcp4", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes(deselected=ITEMS)
    result.stdout.fnmatch_lines(
        [
            "  mine: blocking (1 item): mine is a server, checked over the wire by the server behaviours; "
            "the behaviours of the other models need a driver (module:Class)",
        ]
    )


def test_unknown_impl_lists_the_configured_servers(pytester: pytest.Pytester) -> None:
    configure(pytester, "myserver", [PY, "server.py", "{port}"])
    result = pytester.runpytest_subprocess("--impl=myserve", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: unknown impl 'myserve'. Did you mean 'myserver'? Known impls: sockets, *, myserver, all; *"]
    )
    assert "Traceback" not in output(result)


def test_configuration_error_is_a_usage_error_naming_the_line(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.sockspec.impls.myserver]
        command = ["python", "server.py", "{port}"]
        model = "thread"
        """
    )
    result = pytester.runpytest_subprocess("--impl=myserver", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: */pyproject.toml:3: [[]tool.sockspec.impls.myserver[]] model: 'thread' is not one of: "
            "threads, processes, readiness, completion (did you mean 'threads'?)"
        ]
    )
    assert "Traceback" not in output(result)


def test_too_few_descriptors_for_200_clients_is_not_applicable(pytester: pytest.Pytester) -> None:
    command = f"ulimit -n 200 && exec {PY} -m pytest --impl=sockets -k many-clients -rs -p no:cacheprovider"
    done = subprocess.run(
        ["sh", "-c", command],
        check=False,
        cwd=pytester.path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The one behaviour selected did not apply: nothing was checked, which passes no gate.
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, done.stdout
    assert "1 skipped" in done.stdout
    many = next(behaviour for behaviour in SERVER if behaviour.id.endswith(".many-clients"))
    assert f"SKIPPED [1] {many.origin}: this machine cannot run it: " in done.stdout, done.stdout
    assert "sockspec: nothing was checked: every behaviour selected was not applicable" in done.stdout
    assert (
        "this machine cannot run it: 200 clients need about 2" in done.stdout
        and "(RLIMIT_NOFILE hard limit): raise it (ulimit -n) and run again" in done.stdout
    ), done.stdout


def test_non_loopback_address_is_refused(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=tcp://192.0.2.1:80", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --impl=tcp://192.0.2.1:80: 192.0.2.1 is not a loopback address; sockspec connects only to *"]
    )
