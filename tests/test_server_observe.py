"""Reading a server's process tree: /proc parsers on captured text, the tree walk on real processes,
and the model inference table on evidence values.

Rules of this file:
- the parsers are fed strings captured from real /proc files (x86_64 and aarch64);
- the reader is tried on real child processes parked where the test put them
  (a blocking recv, a sleep, a wrapper waiting for its child), never on mocks;
- the syscall tables are checked against the kernel headers when they are installed;
- inference is tested rule by rule, on evidence written out by hand.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sockspec.servers import observe
from sockspec.servers.config import DeclaredModel
from sockspec.servers.infer import Evidence, Observed, check_declared, infer
from sockspec.servers.observe import Parked, Snapshot, Stat, Wait, parse_stat, parse_syscall

from tests.waiting import until

STAT = (
    "4242 (python3 (my) server) S 4200 4242 4242 34816 4242 4194560 1195 0 0 0 "
    "17 5 0 0 20 0 3 0 1234567 26267648 2433 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0"
)


def test_parse_stat_takes_the_name_between_the_outer_parentheses() -> None:
    stat = parse_stat(STAT)
    assert stat == Stat(
        pid=4242,
        comm="python3 (my) server",
        state="S",
        ppid=4200,
        pgrp=4242,
        session=4242,
        utime=17,
        stime=5,
        threads=3,
        starttime=1234567,
    )
    assert stat.cpu_ticks == 22


@pytest.mark.parametrize(
    ("text", "arch", "parked"),
    [
        ("running", "x86_64", Parked(Wait.RUNNING, "running")),
        ("-1 0x7ffc1e11cfb8 0x7fac9e32c2ad", "x86_64", Parked(Wait.OTHER, "blocked outside a syscall")),
        ("45 0x5 0x7f 0x10000 0x0 0x0 0x0 0x7ffd 0x7fac", "x86_64", Parked(Wait.RECV, "recvfrom")),
        ("288 0x3 0x0 0x0 0x80000 0x0 0x0 0x7ffd 0x7fac", "x86_64", Parked(Wait.ACCEPT, "accept4")),
        (
            "232 0x4 0x7f 0x20 0xffffffff 0x0 0x0 0x7ffd 0x7fac",
            "x86_64",
            Parked(Wait.READINESS, "epoll_wait"),
        ),
        ("7 0x7f 0x1 0x3e8 0x0 0x0 0x0 0x7ffd 0x7fac", "x86_64", Parked(Wait.READINESS, "poll")),
        ("23 0x5 0x7f 0x0 0x0 0x7f 0x0 0x7ffd 0x7fac", "x86_64", Parked(Wait.READINESS, "select")),
        ("426 0x3 0x0 0x1 0x1 0x0 0x8 0x7ffd 0x7fac", "x86_64", Parked(Wait.COMPLETION, "io_uring_enter")),
        ("202 0x7f 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x7fac", "x86_64", Parked(Wait.LOCK, "futex")),
        ("230 0x1 0x0 0x7ffd 0x0 0x0 0x0 0x7ffd 0x7fac", "x86_64", Parked(Wait.SLEEP, "clock_nanosleep")),
        ("61 0xffffffff 0x7ffd 0x0 0x0 0x0 0x0 0x7ffd 0x7fac", "x86_64", Parked(Wait.CHILD, "wait4")),
        ("207 0x5 0xffff 0x10000 0x0 0x0 0x0 0xffff 0xffff", "aarch64", Parked(Wait.RECV, "recvfrom")),
        (
            "22 0x4 0xffff 0x20 0xffffffff 0x0 0x8 0xffff 0xffff",
            "aarch64",
            Parked(Wait.READINESS, "epoll_pwait"),
        ),
        ("73 0xffff 0x1 0x0 0x0 0x8 0x0 0xffff 0xffff", "aarch64", Parked(Wait.READINESS, "ppoll")),
        ("999 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0", "x86_64", Parked(Wait.OTHER, "syscall 999")),
        ("", "x86_64", Parked(Wait.UNKNOWN)),
    ],
)
def test_parse_syscall_names_where_a_thread_waits(text: str, arch: str, parked: Parked) -> None:
    assert parse_syscall(text, arch) == parked


HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),
}


@pytest.mark.parametrize("arch", sorted(observe.SYSCALLS))
def test_syscall_table_matches_the_kernel_headers(arch: str) -> None:
    header = HEADERS[arch]
    if not header.exists():
        pytest.skip(f"{header} is not installed")
    defined = {
        name: int(number)
        for name, number in re.findall(
            r"#define __NR(?:3264)?_(\w+) (\d+)\b", header.read_text(encoding="utf-8")
        )
    }
    wrong = {name: number for number, name in observe.SYSCALLS[arch].items() if defined.get(name) != number}
    assert not wrong, f"numbers that disagree with {header}: {wrong}"


def stat(pid: int, ppid: int, session: int, state: str = "S") -> Stat:
    return Stat(pid, "x", state, ppid, session, session, 0, 0, 1, pid)


def test_tree_members_follow_parents_and_the_session() -> None:
    stats = [
        stat(1, 0, 1),
        stat(100, 1, 100),  # the server started by sockspec
        stat(101, 100, 100),  # its child
        stat(102, 101, 100),  # a grandchild
        stat(150, 1, 100),  # orphaned, still in the session
        stat(200, 1, 200),  # unrelated
    ]
    assert [member.pid for member in observe.tree_members(stats, 100, 100)] == [100, 101, 102, 150]
    assert [member.pid for member in observe.tree_members(stats, 100, None)] == [100, 101, 102]


def snapshot(waits: list[list[str]], at: float = 0.0) -> Snapshot:
    """A snapshot with one process per entry, its threads parked in the syscalls named."""
    processes = []
    for number, names in enumerate(waits):
        threads = tuple(
            observe.Thread(1000 * number + index, Parked(observe.WAITS.get(name, Wait.RUNNING), name))
            for index, name in enumerate(names)
        )
        processes.append(observe.Process(stat(100 + number, 99, 100), threads, 10))
    return Snapshot(at, tuple(processes))


def test_snapshot_counts_and_waits() -> None:
    snap = snapshot([["accept4", "recvfrom", "recvfrom"], ["wait4"]])
    assert snap.counts() == (2, 4, 20)
    assert observe.describe_waits(snap.waits()) == "2 in recvfrom, 1 in accept4, 1 in wait4"


def test_majority_waits_count_each_thread_once_at_its_usual_wait() -> None:
    samples = [snapshot([["epoll_wait"]]), snapshot([["running"]]), snapshot([["epoll_wait"]])]
    assert observe.majority_waits(samples) == {"epoll_wait": 1}
    assert observe.majority_kinds(samples) == {Wait.READINESS: 1}


@pytest.fixture
def parked_child() -> Iterator[subprocess.Popen[bytes]]:
    """A child whose main thread blocks in recv on a socket nobody writes to."""
    ours, theirs = socket.socketpair()
    child = subprocess.Popen(
        [sys.executable, "-c", f"import socket; socket.socket(fileno={theirs.fileno()}).recv(1)"],
        pass_fds=[theirs.fileno()],
        start_new_session=True,
    )
    theirs.close()
    try:
        yield child
    finally:
        ours.close()
        child.wait(timeout=5)


def test_snapshot_of_a_real_process_blocked_in_recv(parked_child: subprocess.Popen[bytes]) -> None:
    def parked() -> bool:
        return observe.snapshot(parked_child.pid, parked_child.pid, 0.0).waits() == {"recvfrom": 1}

    until(parked, within=5.0, what="the child to block in recvfrom", interval=0.01)
    snap = observe.snapshot(parked_child.pid, parked_child.pid, 0.0)
    assert snap.counts()[:2] == (1, 1)
    assert snap.processes[0].stat.ppid == observe.read_stat(parked_child.pid).ppid  # type: ignore[union-attr]


def test_snapshot_sees_the_child_of_a_wrapper() -> None:
    wrapper = subprocess.Popen(["sh", "-c", "sleep 30; exit $?"], start_new_session=True)
    try:

        def both() -> bool:
            waits = observe.snapshot(wrapper.pid, wrapper.pid, 0.0).waits()
            return (
                waits.get("wait4", 0) == 1
                and waits.get("clock_nanosleep", 0) + waits.get("nanosleep", 0) == 1
            )

        until(both, within=5.0, what="sh to wait4 for its sleeping child", interval=0.01)
        assert observe.snapshot(wrapper.pid, wrapper.pid, 0.0).process_count == 2
    finally:
        subprocess.run(["kill", "--", f"-{wrapper.pid}"], check=False)
        wrapper.wait(timeout=5)


def evidence(**values: object) -> Evidence:
    defaults: dict[str, object] = {
        "clients": 20,
        "base": (1, 1, 4),
        "loaded": (1, 1, 24),
        "waits": {},
        "kinds": {},
        "cpu_share": 0.0,
        "window": 0.5,
    }
    defaults.update(values)
    return Evidence(**defaults)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "model"),
    [
        (evidence(loaded=(1, 21, 24), kinds={Wait.RECV: 20, Wait.ACCEPT: 1}), Observed.THREAD_PER_CLIENT),
        (evidence(loaded=(21, 21, 84), kinds={Wait.RECV: 20, Wait.ACCEPT: 1}), Observed.PROCESS_PER_CLIENT),
        (evidence(kinds={Wait.READINESS: 1}), Observed.READINESS_LOOP),
        (evidence(kinds={Wait.COMPLETION: 1}), Observed.COMPLETION_LOOP),
        (evidence(kinds={Wait.RUNNING: 1}, cpu_share=0.97), Observed.BUSY_POLLING),
        (evidence(loaded=(1, 21, 24), kinds={Wait.RUNNING: 21}, cpu_share=0.5), Observed.BUSY_POLLING),
        # a spinning loop on a loaded machine: little CPU, but never seen parked
        (evidence(kinds={Wait.RUNNING: 1}, cpu_share=0.15), Observed.BUSY_POLLING),
        (evidence(kinds={Wait.RUNNING: 1, Wait.READINESS: 1}, cpu_share=0.15), Observed.READINESS_LOOP),
        (evidence(kinds={Wait.RUNNING: 1}, cpu_share=0.05), Observed.UNKNOWN),
        (evidence(kinds={Wait.LOCK: 1}), Observed.UNKNOWN),
        (evidence(kinds={Wait.RECV: 1}), Observed.ONE_AT_A_TIME),
        (evidence(loaded=(2, 2, 24), kinds={Wait.CHILD: 1, Wait.ACCEPT: 1}), Observed.ONE_AT_A_TIME),
        (evidence(loaded=(1, 9, 24), kinds={Wait.RECV: 8, Wait.READINESS: 1}), Observed.UNKNOWN),
        (evidence(clients=0, kinds={Wait.READINESS: 1}), Observed.UNKNOWN),  # every client was closed
        (evidence(clients=1, kept=20, kinds={Wait.ACCEPT: 1}), Observed.UNKNOWN),  # the server closed 19
        (evidence(clients=19, kept=20, kinds={Wait.READINESS: 1}), Observed.READINESS_LOOP),
    ],
)
def test_infer_by_the_first_rule_that_holds(found: Evidence, model: Observed) -> None:
    assert infer(found).model is model


def test_inference_says_its_evidence() -> None:
    found = evidence(loaded=(1, 21, 24), waits={"recvfrom": 20, "accept4": 1}, kinds={Wait.RECV: 20})
    inference = infer(found)
    assert inference.describe() == (
        "thread-per-client (20 new threads for 20 clients; with 20 clients connected: processes 1 -> 1, "
        "threads 1 -> 21, open descriptors 4 -> 24; threads wait: 20 in recvfrom, 1 in accept4; "
        "CPU 0.0% of one core over 500.0 ms)"
    )


def test_readiness_title_counts_its_threads() -> None:
    assert infer(evidence(kinds={Wait.READINESS: 1})).title() == "single-thread readiness loop"
    assert infer(evidence(kinds={Wait.READINESS: 4})).title() == "readiness loop (4 threads)"


@pytest.mark.parametrize(
    ("declared", "model", "matches"),
    [
        (DeclaredModel.THREADS, Observed.THREAD_PER_CLIENT, True),
        (DeclaredModel.THREADS, Observed.READINESS_LOOP, False),
        (DeclaredModel.PROCESSES, Observed.PROCESS_PER_CLIENT, True),
        (DeclaredModel.READINESS, Observed.READINESS_LOOP, True),
        (DeclaredModel.READINESS, Observed.BUSY_POLLING, False),
        (DeclaredModel.COMPLETION, Observed.COMPLETION_LOOP, True),
        (DeclaredModel.COMPLETION, Observed.READINESS_LOOP, True),
        (DeclaredModel.COMPLETION, Observed.THREAD_PER_CLIENT, False),
    ],
)
def test_declared_model_table(declared: DeclaredModel, model: Observed, matches: bool) -> None:
    inference = infer(evidence())
    inference = type(inference)(model, "because", inference.evidence)
    assert (check_declared(declared, inference) == []) is matches


def test_declared_mismatch_says_what_the_declaration_means() -> None:
    inference = infer(evidence(loaded=(1, 21, 24), waits={"recvfrom": 20}, kinds={Wait.RECV: 20}))
    problems = check_declared(DeclaredModel.READINESS, inference)
    assert problems[0] == (
        "expected the declared model readiness (no thread or process per client, and a thread that waits in "
        "poll, epoll or select), observed thread-per-client: 20 new threads for 20 clients"
    )
    assert problems[1].startswith("evidence: with 20 clients connected")
