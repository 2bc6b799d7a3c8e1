"""Where a stuck server was: the tools' output parsed from captured text, the summary from
values written out by hand, and the capture on real servers parked where the test put them.

Rules of this file:
- the parsers are fed text captured from py-spy 0.4, eu-stack 0.188 and gdb 13 on x86_64;
- the summary is tested as a pure function: frozen values in, exact text out;
- every capture is of a real process, started the way the checker starts servers
  (ServerProcess, the faulty servers' own command lines), on loopback, with every wait
  bounded; a test whose tool (py-spy, gcc, eu-stack, gdb) is missing is skipped and says so;
- the faulty servers are only read (their commands and lines), never changed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sockspec.servers import stacks
from sockspec.servers.config import ServerSpec
from sockspec.servers.process import ServerProcess
from sockspec.servers.stacks import Frame, ProcessStacks, ServerStacks, ThreadStack, Tools

from tests.faulty_servers import FAULTY_SERVERS, FOLDER
from tests.server_runs import MARK, marked_processes, new_mark

TOOLS = stacks.find_tools()
WAIT_LIMIT = 10.0
# More than the default budget (py-spy takes 12-70 ms, eu-stack 70-180 ms here), so that a
# test run on a loaded machine still gets its stacks; the budget itself is tested apart.
BUDGET = 2.0
needs_py_spy = pytest.mark.skipif(
    TOOLS.py_spy is None, reason="py-spy is not installed (pip install -e '.[dev]')"
)
needs_gcc = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="gcc is not installed: the native server cannot be built"
)
needs_proc = pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux's /proc")
pytestmark = needs_proc

# -- the tools' output, captured ---------------------------------------------

PY_SPY_JSON = """[
  {"pid": 27138, "thread_id": 140030832748224, "thread_name": "client-5", "os_thread_id": 27241,
   "active": false, "owns_gil": false, "process_info": null,
   "frames": [
     {"name": "handle", "filename": "/tmp/cs/mt.py", "module": null, "short_filename": "mt.py",
      "line": 3, "locals": null, "is_entry": true, "is_shim_entry": false},
     {"name": "Thread.run", "filename": "/root/.pyenv/versions/3.11.7/lib/python3.11/threading.py",
      "module": null, "short_filename": "threading.py", "line": 982, "locals": null,
      "is_entry": false, "is_shim_entry": false}]},
  {"pid": 27138, "thread_id": 140030846970752, "thread_name": "MainThread", "os_thread_id": 27138,
   "active": false, "owns_gil": false, "process_info": null,
   "frames": [
     {"name": "EpollSelector.select", "filename": "/root/.pyenv/versions/3.11.7/lib/python3.11/selectors.py",
      "module": null, "short_filename": "selectors.py", "line": 468, "locals": null,
      "is_entry": false, "is_shim_entry": false},
     {"name": "main", "filename": "/tmp/cs/mt.py", "module": null, "short_filename": "mt.py",
      "line": 9, "locals": null, "is_entry": false, "is_shim_entry": false}]}
]"""

EU_STACK = """\
PID 27260 - process
TID 27260:
#0  0x00007f2afe0a4d8a sleep - /usr/lib/x86_64-linux-gnu/libc.so.6
    ../sysdeps/posix/sleep.c:55:11
#1  0x000055860af2a19b main - /tmp/cs/mt
    /tmp/cs/mt.c:4:74
#2  0x000055860af2a091 _start - /tmp/cs/mt
TID 27261:
#0  0x00007f2afe0a4df2 pause - /usr/lib/x86_64-linux-gnu/libc.so.6
    ../sysdeps/unix/sysv/linux/pause.c:29:10
#1  0x000055860af2a16a worker - /tmp/cs/mt
    /tmp/cs/mt.c:3:54
"""

GDB = """\
[New LWP 27261]
0x00007f2afe0a0545 in __GI___clock_nanosleep (clock_id=0) at ../sysdeps/clock_nanosleep.c:48

Thread 2 (Thread 0x7f2afdfcd6c0 (LWP 27261) "mt"):
#0  0x00007f2afe0a4df2 in __libc_pause () at ../sysdeps/unix/sysv/linux/pause.c:29
#1  0x000055860af2a16a in worker (arg=0x0) at mt.c:3
#2  0x00007f2afe05a1f5 in start_thread (arg=<optimized out>) at ./nptl/pthread_create.c:442

Thread 1 (Thread 0x7f2afdfce740 (LWP 27260) "mt"):
#0  0x00007f2afe0a4d8a in sleep () from /lib/x86_64-linux-gnu/libc.so.6
#1  0x000055860af2a19b in main () at mt.c:4
[Inferior 1 (process 27260) detached]
"""

PY_SPY_DENIED = """\
Error: Failed to get process executable name. Check that the process is running.

Caused by:
    0: Permission denied (os error 13)
    1: Permission denied (os error 13)
"""

PY_SPY_FAILED = """\
Error: Failed to find python version from target process

Stack backtrace:
   0: anyhow::error::<impl anyhow::Error>::msg
"""


def test_parse_py_spy_gives_each_threads_frames_innermost_first() -> None:
    threads = stacks.parse_py_spy(PY_SPY_JSON)
    assert threads == {
        27241: (
            "client-5",
            [
                Frame("handle", "/tmp/cs/mt.py", 3),
                Frame("Thread.run", "/root/.pyenv/versions/3.11.7/lib/python3.11/threading.py", 982),
            ],
        ),
        27138: (
            "MainThread",
            [
                Frame(
                    "EpollSelector.select", "/root/.pyenv/versions/3.11.7/lib/python3.11/selectors.py", 468
                ),
                Frame("main", "/tmp/cs/mt.py", 9),
            ],
        ),
    }


def test_parse_py_spy_refuses_what_is_not_its_json() -> None:
    with pytest.raises(ValueError):
        stacks.parse_py_spy("Process 4242: python server.py\n")


def test_parse_eu_stack_gives_functions_modules_and_lines() -> None:
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert stacks.parse_eu_stack(EU_STACK) == {
        27260: [
            Frame("sleep", "../sysdeps/posix/sleep.c", 55, module=libc),
            Frame("main", "/tmp/cs/mt.c", 4, module="/tmp/cs/mt"),
            Frame("_start", module="/tmp/cs/mt"),
        ],
        27261: [
            Frame("pause", "../sysdeps/unix/sysv/linux/pause.c", 29, module=libc),
            Frame("worker", "/tmp/cs/mt.c", 3, module="/tmp/cs/mt"),
        ],
    }


def test_parse_gdb_gives_each_threads_frames() -> None:
    assert stacks.parse_gdb(GDB, 27260) == {
        27261: [
            Frame("__libc_pause", "../sysdeps/unix/sysv/linux/pause.c", 29),
            Frame("worker", "mt.c", 3),
            Frame("start_thread", "./nptl/pthread_create.c", 442),
        ],
        27260: [
            Frame("sleep", module="/lib/x86_64-linux-gnu/libc.so.6"),
            Frame("main", "mt.c", 4),
        ],
    }


def test_tool_failure_is_one_line_that_says_why() -> None:
    assert (
        stacks.tool_failure("py-spy", 4242, PY_SPY_DENIED, "ptrace_scope=1")
        == "py-spy could not read 4242: permission denied (ptrace_scope=1)"
    )
    assert (
        stacks.tool_failure("py-spy", 4242, PY_SPY_FAILED, "ptrace_scope=1")
        == "py-spy could not read 4242: Failed to find python version from target process"
    )
    assert (
        stacks.tool_failure("eu-stack", 7, "eu-stack: dwfl_linux_proc_report pid 7: No such process\n", "-")
        == "eu-stack could not read 7: dwfl_linux_proc_report pid 7: No such process"
    )


# -- the summary, from values written out by hand ------------------------------

APP = Path("/srv/app")
STDLIB = "/usr/lib/python3.12"


def thread(tid: int, syscall: str, *frames: Frame, blocked_for: float | None = 2.0) -> ThreadStack:
    return ThreadStack(tid, syscall, wchan="wait_woken", state="S", blocked_for=blocked_for, frames=frames)


def python(pid: int, *threads: ThreadStack, note: str = "") -> ProcessStacks:
    tool = "py-spy" if any(t.frames for t in threads) else ""
    return ProcessStacks(pid, "python server.py --port 4000", "python", threads, tool=tool, note=note)


def test_summary_of_one_thread_names_its_line_first() -> None:
    stuck = thread(
        4242,
        "sendto",
        Frame("main", f"{APP}/server.py", 46, "s.sendall(data)  # all of it"),
        Frame("<module>", f"{APP}/server.py", 60, "main()"),
    )
    assert stacks.summarise(ServerStacks((python(4242, stuck),)), APP).splitlines() == [
        "the server's only thread was blocked in sendto for about 2.0 s at server.py:46 in main "
        "`s.sendall(data)`",
        "process 4242 (python server.py --port 4000), 1 thread, stacks by py-spy:",
        "  thread 4242, blocked in sendto (wait_woken) for about 2.0 s:",
        "    server.py:46 in main `s.sendall(data)  # all of it`",
        "    server.py:60 in <module> `main()`",
    ]


def test_summary_shows_library_frames_after_the_servers_own_frame() -> None:
    loop = thread(
        10,
        "epoll_wait",
        Frame("EpollSelector.select", f"{STDLIB}/selectors.py", 468, "fd_event_list = self._selector.poll()"),
        Frame("BaseSelector.wait", f"{APP}/.venv/lib/python3.12/site-packages/lib/loop.py", 7),
        Frame("main", "server.py", 12, "for key, _ in selector.select():"),
        Frame("<module>", "<frozen runpy>", 88),
        blocked_for=None,
    )
    lines = stacks.summarise(ServerStacks((python(10, loop),)), APP).splitlines()
    assert lines[0] == (
        "the server's only thread was blocked in epoll_wait at server.py:12 in main "
        "`for key, _ in selector.select():`"
    )
    assert lines[2:] == [
        "  thread 10, blocked in epoll_wait (wait_woken):",
        "    server.py:12 in main `for key, _ in selector.select():`",
        "      -> lib/loop.py:7 in BaseSelector.wait [site-packages]",
        "      -> selectors.py:468 in EpollSelector.select `fd_event_list = self._selector.poll()` [stdlib]",
        "    <frozen runpy>:88 in <module> [stdlib]",
    ]


def test_summary_folds_threads_with_the_same_stack() -> None:
    def handler(tid: int, asleep: float) -> ThreadStack:
        return thread(
            tid,
            "recvfrom",
            Frame("handle", f"{APP}/server.py", 5, "data = conn.recv(4096)"),
            Frame("Thread.run", f"{STDLIB}/threading.py", 982, "self._target()"),
            blocked_for=asleep,
        )

    acceptor = thread(1, "accept4", Frame("main", f"{APP}/server.py", 20, "conn, _ = listener.accept()"))
    server = python(1, acceptor, *(handler(tid, 1.0 + tid / 10) for tid in range(2, 8)))
    lines = stacks.summarise(ServerStacks((server,)), APP).splitlines()
    assert lines == [
        "the server's 7 threads: 6 blocked in recvfrom at server.py:5 in handle `data = conn.recv(4096)`; "
        "1 blocked in accept4 at server.py:20 in main `conn, _ = listener.accept()`",
        "process 1 (python server.py --port 4000), 7 threads, stacks by py-spy:",
        "  6 threads (2, 3, 4, 5, ...), blocked in recvfrom (wait_woken) for 1.2 s to 1.7 s:",
        "    server.py:5 in handle `data = conn.recv(4096)`",
        "    threading.py:982 in Thread.run `self._target()` [stdlib]",
        "  thread 1, blocked in accept4 (wait_woken) for about 2.0 s:",
        "    server.py:20 in main `conn, _ = listener.accept()`",
    ]


def test_summary_of_a_native_stack_names_the_function_and_marks_system_libraries() -> None:
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    frames = (
        Frame("__recv", "../sysdeps/unix/sysv/linux/recv.c", 28, module=libc),
        Frame(
            "serve", f"{APP}/srv.c", 12, "while ((n = recv(conn, buf, 4096, 0)) > 0) {", module=f"{APP}/srv"
        ),
        Frame("main", f"{APP}/srv.c", 33, "serve(conn);", module=f"{APP}/srv"),
        Frame("_start", module=f"{APP}/srv"),
    )
    server = ProcessStacks(7, "./srv 4000", "native", (thread(7, "recvfrom", *frames),), tool="eu-stack")
    assert stacks.summarise(ServerStacks((server,)), APP).splitlines() == [
        "the server's only thread was blocked in recvfrom for about 2.0 s at srv.c:12 in serve "
        "`while ((n = recv(conn, buf, 4096, 0)) > 0) {`",
        "process 7 (./srv 4000), 1 thread, stacks by eu-stack:",
        "  thread 7, blocked in recvfrom (wait_woken) for about 2.0 s:",
        "    srv.c:12 in serve `while ((n = recv(conn, buf, 4096, 0)) > 0) {`",
        "      -> ../sysdeps/unix/sysv/linux/recv.c:28 in __recv [libc.so.6]",
        "    srv.c:33 in main `serve(conn);`",
        "    _start [srv]",
    ]


def test_summary_leaves_out_a_wrapper_and_shows_a_note() -> None:
    wrapper = ProcessStacks(1, "sh -c python server.py", "native", (thread(1, "wait4"),))
    note = "no Python stack: py-spy is not installed (pip install 'sockspec[stacks]')"
    server = python(2, thread(2, "recvfrom"), thread(3, "running", blocked_for=None), note=note)
    assert stacks.summarise(ServerStacks((wrapper, server)), APP).splitlines() == [
        "the server's 2 threads: 1 blocked in recvfrom; 1 running",
        "process 1 (sh -c python server.py), 1 thread: waits for its child (a wrapper)",
        "process 2 (python server.py --port 4000), 2 threads:",
        f"  {note}",
        "  thread 2, blocked in recvfrom (wait_woken) for about 2.0 s",
        "  thread 3, running",
    ]


def test_summary_of_nothing_read_says_why() -> None:
    gone = ProcessStacks(9, "srv", "native", note="it has exited (a zombie its parent has not reaped)")
    assert stacks.summarise(ServerStacks((gone,)), APP).splitlines()[0] == (
        "the server's threads could not be read: it has exited (a zombie its parent has not reaped)"
    )


# -- capture, on real servers ----------------------------------------------------


@contextmanager
def serving(command: tuple[str, ...], cwd: Path) -> Iterator[ServerProcess]:
    """A server started as the checker starts one; stopped after, with nothing left behind."""
    mark = new_mark()
    spec = ServerSpec(name="srv", origin="test", command=command, env=((MARK, mark),), stop_timeout=3.0)
    server = ServerProcess(spec, cwd)
    try:
        server.start()
        server.wait_listening()
        yield server
    finally:
        server.stop()
        server.remove_output()
    assert marked_processes(mark) == []


def faulty_command(name: str) -> tuple[str, ...]:
    faulty = next(faulty for faulty in FAULTY_SERVERS if faulty.name == name)
    return (sys.executable, *faulty.command)


def line_of(path: Path, pattern: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if re.search(pattern, line))


def waits(server: ServerProcess) -> set[str]:
    return {
        thread.parked.describe() for process in server.observe(0.0).processes for thread in process.threads
    }


def wait_until_in(
    server: ServerProcess, syscalls: set[str], nudge: Callable[[], None] = lambda: None
) -> None:
    """Poll /proc (it has no event to wait on) until a thread of the server waits in one of `syscalls`."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not waits(server) & syscalls:
        if time.monotonic() > deadline:
            pytest.fail(
                f"the server did not wait in {sorted(syscalls)} within {WAIT_LIMIT} s: {waits(server)}"
            )
        nudge()
        time.sleep(0.01)


def capture(server: ServerProcess, tools: Tools | None = None, budget: float = BUDGET) -> ServerStacks:
    """The intended call: the live server's pids and working directory."""
    pids = [process.pid for process in server.observe(0.0).processes]
    return stacks.capture(pids, server.cwd, budget, tools)


@needs_py_spy
def test_capture_of_sendall_in_select_names_its_sendall_line() -> None:
    script = FOLDER / "sendall_in_select.py"
    with serving(faulty_command("sendall_in_select"), FOLDER) as server:
        connected = time.monotonic()
        client = socket.create_connection((server.host, server.port))
        client.setblocking(False)  # it sends a lot and never reads

        def send_more() -> None:
            with contextlib.suppress(BlockingIOError):
                client.send(b"x" * 65536)

        try:
            wait_until_in(server, {"sendto"}, send_more)
            time.sleep(0.2)
            taken = capture(server)
            summary = stacks.summarise(taken, server.cwd)
            since = time.monotonic() - connected
        finally:
            client.close()
    line = line_of(script, r"\.sendall\(")
    headline = summary.splitlines()[0]
    assert headline.startswith("the server's only thread was blocked in sendto"), summary
    assert re.search(rf" at sendall_in_select\.py:{line} in \w+ `conn\.sendall\(data\)`$", headline), summary
    assert taken.took < BUDGET + 0.5, f"the capture took {taken.took:.3f} s"
    (stuck,) = taken.processes[0].threads
    if Path("/proc/self/sched").exists():
        assert stuck.blocked_for is not None, "the scheduler's clock was not read"
        assert 0.1 <= stuck.blocked_for <= since + stacks.CLOCK_SLACK, (stuck.blocked_for, since)


@needs_py_spy
def test_capture_of_one_at_a_time_names_its_recv_line(tmp_path: Path) -> None:
    script = FOLDER / "one_at_a_time.py"
    with (
        serving(faulty_command("one_at_a_time"), tmp_path) as server,
        socket.create_connection((server.host, server.port)),  # the first client, idle
    ):
        wait_until_in(server, {"recvfrom", "recvmsg", "read"})
        summary = stacks.summarise(capture(server), server.cwd)
    line = line_of(script, r"\.recv\(")
    assert re.match(r"the server's only thread was blocked in (recvfrom|recvmsg|read)\b", summary), summary
    # Not under the server's directory: the path is shown whole.
    assert summary.splitlines()[0].endswith(f" at {script}:{line} in main `while data := conn.recv(65536):`")


def test_capture_without_py_spy_says_how_to_install_it(tmp_path: Path) -> None:
    with (
        serving(faulty_command("one_at_a_time"), tmp_path) as server,
        socket.create_connection((server.host, server.port)),
    ):
        wait_until_in(server, {"recvfrom", "recvmsg", "read"})
        taken = capture(server, tools=Tools(None, TOOLS.eu_stack, TOOLS.gdb))
    (process,) = taken.processes
    assert process.note == "no Python stack: py-spy is not installed (pip install 'sockspec[stacks]')"
    assert process.tool == ""
    assert (
        stacks.summarise(taken, tmp_path)
        .splitlines()[0]
        .startswith("the server's only thread was blocked in recv")
    )


def drop_ptrace_capability() -> None:
    """In the child, before exec: give up CAP_SYS_PTRACE, as a checker that is not root lacks it."""
    pr_capbset_drop = 24
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_capbset_drop, stacks.CAP_SYS_PTRACE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE)")


@needs_py_spy
@pytest.mark.skipif(os.geteuid() != 0, reason="dropping CAP_SYS_PTRACE from a child needs root")
def test_capture_without_ptrace_permission_says_so_in_one_line(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom sockspec.servers import stacks\n"
        "print(stacks.summarise(stacks.capture([int(sys.argv[1])], sys.argv[2]), sys.argv[2]))\n"
    )
    with serving(faulty_command("one_at_a_time"), tmp_path) as server:
        assert server.pid is not None
        done = subprocess.run(
            [sys.executable, "-c", code, str(server.pid), str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            preexec_fn=drop_ptrace_capability,
        )
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stdout.splitlines() if "could not read" in line]
    assert len(notes) == 1, done.stdout
    assert notes == [
        f"  py-spy could not read {server.pid}: permission denied (the checker runs without CAP_SYS_PTRACE)"
    ]


def test_capture_of_a_process_that_is_gone_is_empty() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    taken = stacks.capture([gone.pid], Path.cwd())
    assert taken.processes == ()
    assert stacks.summarise(taken, Path.cwd()) == "the server's threads could not be read"


# -- a native server -------------------------------------------------------------

NATIVE_SERVER = """\
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve(int conn) {
    char buffer[4096];
    ssize_t n;
    while ((n = recv(conn, buffer, sizeof buffer, 0)) > 0) {
        send(conn, buffer, (size_t)n, 0);
    }
    close(conn);
}

static void wait_ready(int listener) {
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    for (;;) {
        struct epoll_event ready[8];
        int count = epoll_wait(epoll, ready, 8, -1);
        for (int i = 0; i < count; i++) close(accept(listener, NULL, NULL));
    }
}

int main(int argc, char **argv) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 16) != 0) {
        return 1;
    }
    if (argc > 2 && strcmp(argv[2], "epoll") == 0) {
        wait_ready(listener);
    }
    for (;;) {
        int conn = accept(listener, NULL, NULL);
        if (conn >= 0) serve(conn);
    }
}
"""


@pytest.fixture
def native_server(tmp_path: Path) -> Path:
    source = tmp_path / "srv.c"
    source.write_text(NATIVE_SERVER, encoding="utf-8")
    built = subprocess.run(
        ["gcc", "-g", "-O0", "-o", str(tmp_path / "srv"), str(source)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return tmp_path / "srv"


# tool -> (the tools capture may use, the budget); gdb takes 0.35-0.85 s to attach and unwind
# here, more than the default budget.
NATIVE_TOOLS = {
    "eu-stack": (Tools(None, TOOLS.eu_stack, None), BUDGET),
    "gdb": (Tools(None, None, TOOLS.gdb), 5.0),
    "none": (Tools(None, None, None), BUDGET),
}
PACKAGES = {"eu-stack": "elfutils", "gdb": "gdb"}


@needs_gcc
@pytest.mark.parametrize("blocked", ["accept", "recv"])
@pytest.mark.parametrize("tool", ["eu-stack", "gdb", "none"])
def test_capture_of_a_native_server_names_its_syscall_and_function(
    native_server: Path, blocked: str, tool: str
) -> None:
    tools, budget = NATIVE_TOOLS[tool]
    if tool in PACKAGES and tools.eu_stack is None and tools.gdb is None:
        pytest.skip(f"{tool} is not installed (apt-get install {PACKAGES[tool]})")
    cwd = native_server.parent
    with serving((str(native_server), "{port}"), cwd) as server:
        client = socket.create_connection((server.host, server.port)) if blocked == "recv" else None
        try:
            syscalls = {"accept", "accept4"} if blocked == "accept" else {"recvfrom", "recvmsg", "read"}
            wait_until_in(server, syscalls)
            taken = capture(server, tools=tools, budget=budget)
        finally:
            if client is not None:
                client.close()
    summary = stacks.summarise(taken, cwd)
    headline = summary.splitlines()[0]
    syscall = r"accept4?" if blocked == "accept" else r"(recvfrom|recvmsg|read)"
    assert re.match(rf"the server's only thread was blocked in {syscall}\b", headline), summary
    if tool == "none":
        assert taken.processes[0].note == "no native stack: neither eu-stack (elfutils) nor gdb is installed"
        return
    source = (cwd / "srv.c").read_text(encoding="utf-8")
    where = {"accept": ("main", "int conn = accept("), "recv": ("serve", "while ((n = recv(")}[blocked]
    line = next(number for number, text in enumerate(source.splitlines(), 1) if where[1] in text)
    assert f" at srv.c:{line} in {where[0]} `{where[1]}" in headline, summary
    assert taken.processes[0].tool == tool


@needs_gcc
def test_capture_does_not_stop_a_native_server_waiting_in_epoll(native_server: Path) -> None:
    cwd = native_server.parent
    with serving((str(native_server), "{port}", "epoll"), cwd) as server:
        wait_until_in(server, {"epoll_wait", "epoll_pwait", "epoll_pwait2"})
        taken = capture(server, tools=Tools(None, "/nonexistent/eu-stack", "/nonexistent/gdb"))
    (process,) = taken.processes
    assert process.tool == ""
    assert re.fullmatch(
        r"no native stack: a ptrace stop could end its wait in epoll_p?wait2? early with EINTR, "
        r"so it is not stopped",
        process.note,
    ), process.note


@needs_gcc
@pytest.mark.skipif(TOOLS.gdb is None, reason="gdb is not installed")
def test_capture_ends_a_slow_tool_at_its_budget_and_the_server_goes_on(native_server: Path) -> None:
    cwd = native_server.parent
    with serving((str(native_server), "{port}"), cwd) as server:
        wait_until_in(server, {"accept", "accept4"})
        taken = capture(server, tools=Tools(None, None, TOOLS.gdb), budget=0.06)
        assert taken.took < 2.0, f"the capture took {taken.took:.3f} s with a budget of 60 ms"
        note = taken.processes[0].note
        assert re.fullmatch(rf"gdb did not finish reading {server.pid} within \d+ ms", note), note
        with socket.create_connection((server.host, server.port), timeout=5) as client:
            client.sendall(b"still serving\n")
            assert client.recv(100) == b"still serving\n"


def test_capture_with_its_budget_spent_starts_no_tool(tmp_path: Path) -> None:
    with serving(faulty_command("one_at_a_time"), tmp_path) as server:
        taken = capture(server, Tools("/nonexistent/py-spy", None, None), budget=0.0)
    (process,) = taken.processes
    assert process.note == "no stack: the capture's budget (0 ms) was spent"
    assert process.threads, "the /proc facts are read whatever the budget"
