"""The ctypes io_uring layer (sockspec.reference_impls._uring) and the io_uring driver's start-up probe.

Rules of this file:
- real rings and real loopback sockets only; every test that needs io_uring is
  skipped, with the probe's own reason, where the kernel refuses it;
- each ring is closed by the test that made it; a request is submitted and
  reaped by one thread, except where a test shows the ring thread parked;
- the probe's refusal path is shown through the plugin with a driver that
  reports a reason, so no system call is faked;
- the driver's capabilities follow from its ring's setup flags and its SEND
  flags, and a ring set up with DEFER_TASKRUN is shown not to complete while
  its thread is parked (the reason such a ring has no 'kernel_completion').
"""

from __future__ import annotations

import array
import ctypes
import errno
import fcntl
import os
import socket
import struct
import tempfile
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sockspec.judging.applicability import DriverProfile, Profile, not_applicable
from sockspec.language.loader import load_file
from sockspec.language.model import Model
from sockspec.reference_impls._uring import (
    IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_SINGLE_ISSUER,
    SETUP_REFUSALS,
    Cqe,
    Op,
    Ring,
    sockaddr,
    unavailable,
)
from sockspec.reference_impls.uring_ref import UringDriver, capabilities_of

from tests.waiting import until

REASON = unavailable()
needs_uring = pytest.mark.skipif(REASON is not None, reason=f"io_uring unavailable: {REASON}")
DEFERRING = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
DEFERRING_REASON = unavailable(flags=DEFERRING)
needs_deferring = pytest.mark.skipif(
    DEFERRING_REASON is not None, reason=f"no DEFER_TASKRUN ring: {DEFERRING_REASON}"
)
WAIT = 5.0
SPEC = Path(__file__).resolve().parent.parent / "spec" / "completion.yaml"


def _unread(sock: socket.socket) -> int:
    count = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, count)
    return count[0]


@pytest.fixture
def ring() -> Iterator[Ring]:
    made = Ring(8)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected TCP pair on 127.0.0.1: (the ring's end, the peer's end)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        theirs, _address = listener.accept()
    with ours, theirs:
        theirs.settimeout(WAIT)
        yield ours, theirs


def _submit_recv(ring: Ring, sock: socket.socket, buffer: ctypes.Array[ctypes.c_char]) -> None:
    """Submit a RECV of `sock` into `buffer` (user_data 1): the caller keeps a reference to
    `buffer` until the RECV completes, as the kernel writes there."""
    ring.prepare(Op.RECV, sock.fileno(), addr=ctypes.addressof(buffer), length=len(buffer), user_data=1)
    ring.submit()


def _reap(ring: Ring, count: int) -> list[Cqe]:
    found: list[Cqe] = []
    while len(found) < count:
        ring.submit(wait=1)
        found.extend(ring.completions())
    return found


def test_unavailable_is_none_or_one_sentence() -> None:
    assert REASON is None or (REASON and "\n" not in REASON)


def test_setup_refusals_name_the_error_and_the_setting() -> None:
    text = SETUP_REFUSALS[errno.EPERM].format(setting="; kernel.io_uring_disabled = 2", error="")
    assert "EPERM" in text and "io_uring_disabled = 2" in text
    assert "ENOSYS" in SETUP_REFUSALS[errno.ENOSYS]


@needs_uring
def test_ring_supports_every_opcode_it_uses(ring: Ring) -> None:
    assert ring.supported() == frozenset(Op)


@needs_uring
def test_nop_completes_with_its_user_data(ring: Ring) -> None:
    ring.prepare(Op.NOP, user_data=42)
    assert _reap(ring, 1) == [Cqe(42, 0, 0)]


@needs_uring
def test_more_entries_than_the_queue_holds_are_all_submitted(ring: Ring) -> None:
    for user_data in range(1, 13):  # the queue holds 8: the 9th prepare submits first
        ring.prepare(Op.NOP, user_data=user_data)
    assert sorted(cqe.user_data for cqe in _reap(ring, 12)) == list(range(1, 13))


@needs_uring
def test_recv_completes_with_the_bytes_and_drains_the_buffer(
    ring: Ring, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = pair
    buffer = ctypes.create_string_buffer(64)
    _submit_recv(ring, ours, buffer)
    theirs.sendall(b"hello")
    (cqe,) = _reap(ring, 1)
    assert (cqe.user_data, cqe.res, buffer.raw[:5]) == (1, 5, b"hello")
    assert _unread(ours) == 0


@needs_uring
def test_cancelled_recv_ends_with_ecanceled_and_consumes_nothing(
    ring: Ring, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = pair
    buffer = ctypes.create_string_buffer(64)
    _submit_recv(ring, ours, buffer)
    ring.prepare(Op.ASYNC_CANCEL, addr=1, user_data=2)
    results = {cqe.user_data: cqe.res for cqe in _reap(ring, 2)}
    assert results == {1: -errno.ECANCELED, 2: 0}
    theirs.sendall(b"kept")
    ours.settimeout(WAIT)
    assert ours.recv(64, socket.MSG_PEEK) == b"kept"


@needs_uring
def test_recv_reports_a_reset_as_negative_errno(
    ring: Ring, pair: tuple[socket.socket, socket.socket]
) -> None:
    ours, theirs = pair
    buffer = ctypes.create_string_buffer(64)
    _submit_recv(ring, ours, buffer)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    theirs.close()
    assert _reap(ring, 1) == [Cqe(1, -errno.ECONNRESET, 0)]


@needs_uring
def test_send_with_waitall_completes_after_the_whole_transfer(ring: Ring) -> None:
    data = bytes(range(256)) * 4096
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        ours = socket.socket()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        ours.connect(listener.getsockname())
        theirs, _address = listener.accept()
    with ours, theirs:
        buffer = ctypes.create_string_buffer(data, len(data))
        ring.prepare(
            Op.SEND,
            ours.fileno(),
            addr=ctypes.addressof(buffer),
            length=len(data),
            op_flags=socket.MSG_WAITALL | socket.MSG_NOSIGNAL,
            user_data=1,
        )
        ring.submit()
        assert ring.completions() == []  # the buffers hold a few KiB: it is still going
        theirs.settimeout(WAIT)
        got = bytearray()
        while len(got) < len(data):
            chunk = theirs.recv(1 << 20)
            assert chunk
            got += chunk
        assert _reap(ring, 1) == [Cqe(1, len(data), 0)]
        assert bytes(got) == data


def _listen(family: socket.AddressFamily, folder: str) -> socket.socket:
    listener = socket.socket(family)
    listener.bind({socket.AF_INET: ("127.0.0.1", 0), socket.AF_INET6: ("::1", 0)}.get(family, f"{folder}/l"))
    listener.listen()
    return listener


@needs_uring
@pytest.mark.parametrize(
    "family", [socket.AF_INET, socket.AF_INET6, socket.AF_UNIX], ids=["tcp4", "tcp6", "unix"]
)
def test_accept_and_connect_make_a_connection(ring: Ring, family: socket.AddressFamily) -> None:
    if family == socket.AF_INET6 and not socket.has_ipv6:
        pytest.skip("no IPv6")
    with (
        tempfile.TemporaryDirectory() as folder,
        _listen(family, folder) as listener,
        socket.socket(family) as client,
    ):
        address = sockaddr(family, listener.getsockname())
        ring.prepare(Op.ACCEPT, listener.fileno(), op_flags=socket.SOCK_CLOEXEC, user_data=1)
        ring.prepare(
            Op.CONNECT, client.fileno(), addr=ctypes.addressof(address), off=len(address), user_data=2
        )
        results = {cqe.user_data: cqe.res for cqe in _reap(ring, 2)}
        assert results[2] == 0 and results[1] >= 0
        with socket.socket(fileno=results[1]) as accepted:
            client.sendall(b"x")
            accepted.settimeout(WAIT)
            assert accepted.recv(1) == b"x"
            assert accepted.family == family


@pytest.mark.parametrize(
    ("family", "address", "expected"),
    [
        (
            socket.AF_INET,
            ("127.0.0.1", 8080),
            struct.pack("=H", socket.AF_INET) + bytes([0x1F, 0x90, 127, 0, 0, 1]) + bytes(8),
        ),
        (
            socket.AF_INET6,
            ("::1", 8080, 0, 0),
            struct.pack("=H", socket.AF_INET6)
            + bytes([0x1F, 0x90])
            + bytes(4)
            + bytes(15)
            + b"\x01"
            + bytes(4),
        ),
        (socket.AF_UNIX, "/tmp/x", struct.pack("=H", socket.AF_UNIX) + b"/tmp/x\0"),
    ],
    ids=["tcp4", "tcp6", "unix"],
)
def test_sockaddr_matches_the_c_layout(
    family: socket.AddressFamily, address: object, expected: bytes
) -> None:
    assert isinstance(address, tuple | str)
    assert sockaddr(family, address).raw == expected


@needs_uring
def test_kernel_completes_while_the_submitting_thread_is_parked(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    def filled(buffer: ctypes.Array[ctypes.c_char]) -> None:
        until(
            lambda: buffer.raw[:5] == b"hello",
            within=WAIT,
            what="the paused ring to fill the recv buffer",
            interval=0.001,
        )

    assert _parked_recv(pair, 0, filled) == (0, b"hello", [Cqe(1, 5, 0)])


def _parked_recv(
    pair: tuple[socket.socket, socket.socket],
    flags: int,
    settle: Callable[[ctypes.Array[ctypes.c_char]], object],
) -> tuple[int, bytes, list[Cqe]]:
    """A RECV submitted by a thread that then parks while the peer sends: FIONREAD and the buffer
    once `settle(buffer)` returns, and the CQEs reaped after the thread resumes."""
    ours, theirs = pair
    buffer = ctypes.create_string_buffer(64)
    parked, resumed = threading.Event(), threading.Event()
    reaped: list[Cqe] = []

    def ring_thread() -> None:
        ring = Ring(8, flags)  # made here: a SINGLE_ISSUER ring belongs to the thread that makes it
        try:
            _submit_recv(ring, ours, buffer)
            parked.set()
            resumed.wait(WAIT)  # the application does nothing until told
            reaped.extend(_reap(ring, 1))
        finally:
            ring.close()

    thread = threading.Thread(target=ring_thread)
    thread.start()
    try:
        assert parked.wait(WAIT)
        theirs.sendall(b"hello")
        settle(buffer)
        seen = (_unread(ours), buffer.raw[:5])
    finally:
        resumed.set()
        thread.join(WAIT)
    return (*seen, reaped)


@needs_deferring
def test_a_deferring_ring_completes_nothing_while_its_thread_is_parked(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    # the bytes had time to move (200 ms), but nothing runs the deferred work
    assert _parked_recv(pair, DEFERRING, lambda _buffer: threading.Event().wait(0.2)) == (
        5,
        bytes(5),
        [Cqe(1, 5, 0)],
    )


def test_capabilities_follow_the_ring_and_send_flags() -> None:
    waitall = socket.MSG_WAITALL | socket.MSG_NOSIGNAL
    assert capabilities_of(0, waitall) == {"kernel_completion", "kernel_send_all"}
    assert capabilities_of(DEFERRING, waitall) == {"kernel_send_all"}
    assert capabilities_of(0, socket.MSG_NOSIGNAL) == {"kernel_completion"}
    assert UringDriver.capabilities == {"kernel_completion", "kernel_send_all"}


def test_a_deferring_or_short_sending_driver_is_not_given_the_kernel_behaviours() -> None:
    class Deferring(UringDriver):
        setup_flags = DEFERRING

    class ShortSends(UringDriver):
        send_flags = socket.MSG_NOSIGNAL

    behaviours = {b.id: b for b in load_file(SPEC, "spec/completion.yaml").behaviours}

    def reason(driver: type[UringDriver], behaviour_id: str) -> str | None:
        models = frozenset({Model.COMPLETION})
        profile = Profile(driver.__name__, DriverProfile(models, models, driver.capabilities))
        return not_applicable(behaviours[behaviour_id], profile)

    drains, sends = "completion.kernel.drains-while-paused", "completion.kernel.send-progresses-while-paused"
    assert reason(UringDriver, drains) is None and reason(UringDriver, sends) is None
    assert reason(Deferring, drains) == "needs kernel_completion, which Deferring does not have"
    assert reason(Deferring, sends) == "needs kernel_completion, which Deferring does not have"
    assert reason(ShortSends, drains) is None
    assert reason(ShortSends, sends) == "needs kernel_send_all, which ShortSends does not have"


@needs_uring
def test_close_releases_the_ring_descriptor() -> None:
    ring = Ring(4)
    fd = ring.fd
    ring.close()
    with pytest.raises(OSError) as raised:
        os.fstat(fd)
    assert raised.value.errno == errno.EBADF


@needs_uring
def test_driver_release_joins_its_thread() -> None:
    before = {thread.name for thread in threading.enumerate()}
    driver = UringDriver()
    assert "sockspec-io_uring" in {thread.name for thread in threading.enumerate()}
    driver.release()
    assert {thread.name for thread in threading.enumerate()} == before


def test_driver_reports_its_probe() -> None:
    assert UringDriver.unavailable_reason() == REASON


def test_refused_driver_is_not_applicable_with_its_reason(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert()
    pytester.makepyfile(
        refused="""
        from sockspec.reference_impls.uring_ref import UringDriver

        class Refused(UringDriver):
            @classmethod
            def unavailable_reason(cls):
                return "io_uring is refused to this process (io_uring_setup: EPERM)"
        """
    )
    result = pytester.runpytest("--impl=refused:Refused", "-m", "completion", "-rs", "-p", "no:cacheprovider")
    behaviours = load_file(SPEC, "spec/completion.yaml").behaviours
    # What the machine refuses is skipped; what the driver lacks (write flow control) is not collected.
    items = sum(len(b.families) for b in behaviours if b.requires <= UringDriver.capabilities)
    result.assert_outcomes(skipped=items)
    result.stdout.fnmatch_lines(["*refused:Refused cannot run on this machine: io_uring is refused*EPERM*"])
