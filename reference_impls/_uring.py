"""A small ctypes layer over the raw io_uring system calls.

io_uring_setup(2) makes a ring; the process writes submission queue entries
(SQEs) into shared memory and hands them over with io_uring_enter(2); the kernel
performs each operation on its own and posts a completion queue entry (CQE)
carrying the result. This module is that and nothing more.

Rules of this module:
- raw system calls (setup, enter, register) and the mmap'ed rings; no liburing,
  no threads, no event loop;
- one `Ring` is used by one thread: a request belongs to the task that submitted
  it (io_uring_enter(2): requests are cancelled when that thread exits), and the
  rings are read and written without locks;
- memory handed to the kernel (buffers, addresses) is the caller's to keep alive
  until the request's CQE has been reaped;
- ring indices are read with single aligned 32-bit loads; the layer relies on
  x86-64's ordering of memory accesses (no explicit barriers), and `unavailable`
  says so on any other machine;
- `unavailable()` probes once and says in one sentence why io_uring cannot be
  used here (no kernel support, refused by policy or seccomp, missing opcodes),
  or returns None.

The opcode and structure values are those of <linux/io_uring.h>.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import mmap
import os
import platform
import socket
import struct
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# System call numbers: io_uring came after the unified table, so these are the same on every architecture.
SYS_IO_URING_SETUP = 425
SYS_IO_URING_ENTER = 426
SYS_IO_URING_REGISTER = 427

IORING_ENTER_GETEVENTS = 1 << 0
# io_uring_setup(2) flags: one thread submits; the kernel defers its completion work until that
# thread asks for completions (io_uring_enter with GETEVENTS). DEFER_TASKRUN needs SINGLE_ISSUER.
IORING_SETUP_SINGLE_ISSUER = 1 << 12
IORING_SETUP_DEFER_TASKRUN = 1 << 13
IORING_FEAT_SINGLE_MMAP = 1 << 0
IORING_REGISTER_PROBE = 8
IO_URING_OP_SUPPORTED = 1 << 0
IORING_OFF_SQ_RING = 0
IORING_OFF_CQ_RING = 0x8000000
IORING_OFF_SQES = 0x10000000

SQE_SIZE = 64
CQE_SIZE = 16
# opcode, flags, ioprio, fd, off/addr2, addr, len, op_flags, user_data, buf_index,
# personality, splice_fd_in, addr3, pad: struct io_uring_sqe (64 bytes).
SQE_FORMAT = "=BBHiQQIIQHHiQQ"
CQE_FORMAT = "=QiI"
DISABLED_SETTING = Path("/proc/sys/kernel/io_uring_disabled")
# Machines whose memory ordering makes the barrier-free ring accesses here correct.
ORDERED_MACHINES = frozenset({"x86_64", "amd64"})


class Op(enum.IntEnum):
    """The opcodes this layer uses (enum io_uring_op)."""

    NOP = 0
    POLL_ADD = 6
    ACCEPT = 13
    ASYNC_CANCEL = 14
    CONNECT = 16
    SEND = 26
    RECV = 27


# Why io_uring_setup refused, by errno.
SETUP_REFUSALS: dict[int, str] = {
    errno.ENOSYS: "this kernel has no io_uring, or a seccomp filter hides it (io_uring_setup: ENOSYS)",
    errno.EPERM: "io_uring is refused to this process (io_uring_setup: EPERM{setting})",
    errno.EACCES: "io_uring is refused to this process (io_uring_setup: EACCES{setting})",
    errno.ENOMEM: "the kernel could not allocate an io_uring (io_uring_setup: ENOMEM; RLIMIT_MEMLOCK?)",
}


class _SqringOffsets(ctypes.Structure):
    _fields_ = [
        ("head", ctypes.c_uint32),
        ("tail", ctypes.c_uint32),
        ("ring_mask", ctypes.c_uint32),
        ("ring_entries", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("dropped", ctypes.c_uint32),
        ("array", ctypes.c_uint32),
        ("resv1", ctypes.c_uint32),
        ("user_addr", ctypes.c_uint64),
    ]


class _CqringOffsets(ctypes.Structure):
    _fields_ = [
        ("head", ctypes.c_uint32),
        ("tail", ctypes.c_uint32),
        ("ring_mask", ctypes.c_uint32),
        ("ring_entries", ctypes.c_uint32),
        ("overflow", ctypes.c_uint32),
        ("cqes", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("resv1", ctypes.c_uint32),
        ("user_addr", ctypes.c_uint64),
    ]


class _Params(ctypes.Structure):
    _fields_ = [
        ("sq_entries", ctypes.c_uint32),
        ("cq_entries", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("sq_thread_cpu", ctypes.c_uint32),
        ("sq_thread_idle", ctypes.c_uint32),
        ("features", ctypes.c_uint32),
        ("wq_fd", ctypes.c_uint32),
        ("resv", ctypes.c_uint32 * 3),
        ("sq_off", _SqringOffsets),
        ("cq_off", _CqringOffsets),
    ]


class _ProbeOp(ctypes.Structure):
    _fields_ = [
        ("op", ctypes.c_uint8),
        ("resv", ctypes.c_uint8),
        ("flags", ctypes.c_uint16),
        ("resv2", ctypes.c_uint32),
    ]


PROBE_OPS = 256


class _Probe(ctypes.Structure):
    _fields_ = [
        ("last_op", ctypes.c_uint8),
        ("ops_len", ctypes.c_uint8),
        ("resv", ctypes.c_uint16),
        ("resv2", ctypes.c_uint32 * 3),
        ("ops", _ProbeOp * PROBE_OPS),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _check(result: int) -> int:
    if result < 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))
    return result


def _enter(fd: int, to_submit: int, min_complete: int, flags: int) -> int:
    """io_uring_enter(2), retried when a signal interrupts the wait."""
    while True:
        result = _syscall(
            ctypes.c_long(SYS_IO_URING_ENTER),
            ctypes.c_int(fd),
            ctypes.c_uint(to_submit),
            ctypes.c_uint(min_complete),
            ctypes.c_uint(flags),
            ctypes.c_void_p(None),
            ctypes.c_size_t(0),
        )
        if result >= 0:
            return int(result)
        number = ctypes.get_errno()
        if number != errno.EINTR:
            raise OSError(number, f"io_uring_enter: {os.strerror(number)}")


@dataclass(frozen=True)
class Cqe:
    """One completion: the request's user_data, its result (>= 0, or -errno) and flags."""

    user_data: int
    res: int
    flags: int = 0


class Ring:
    """One io_uring instance: a submission queue, a completion queue and the SQE array."""

    def __init__(self, entries: int = 64, flags: int = 0) -> None:
        """A ring of `entries` SQEs set up with io_uring_setup(2) `flags` (IORING_SETUP_*). With
        IORING_SETUP_SINGLE_ISSUER the thread that makes it is the only one that may submit."""
        params = _Params()
        params.flags = flags
        self.fd = _check(
            _syscall(ctypes.c_long(SYS_IO_URING_SETUP), ctypes.c_uint(entries), ctypes.byref(params))
        )
        self._maps: list[mmap.mmap] = []
        try:
            self._map(params)
        except BaseException:
            self.close()
            raise

    def _map(self, params: _Params) -> None:
        sq, cq = params.sq_off, params.cq_off
        sq_size = sq.array + params.sq_entries * 4
        cq_size = cq.cqes + params.cq_entries * CQE_SIZE
        if params.features & IORING_FEAT_SINGLE_MMAP:
            sq_ring = cq_ring = self._mmap(max(sq_size, cq_size), IORING_OFF_SQ_RING)
        else:
            sq_ring = self._mmap(sq_size, IORING_OFF_SQ_RING)
            cq_ring = self._mmap(cq_size, IORING_OFF_CQ_RING)
        self._sqes = self._mmap(params.sq_entries * SQE_SIZE, IORING_OFF_SQES)
        self._cq_ring = cq_ring
        self._sq_head = ctypes.c_uint32.from_buffer(sq_ring, sq.head)
        self._sq_tail = ctypes.c_uint32.from_buffer(sq_ring, sq.tail)
        self._sq_mask = ctypes.c_uint32.from_buffer(sq_ring, sq.ring_mask).value
        self._sq_entries = params.sq_entries
        self._cq_head = ctypes.c_uint32.from_buffer(cq_ring, cq.head)
        self._cq_tail = ctypes.c_uint32.from_buffer(cq_ring, cq.tail)
        self._cq_mask = ctypes.c_uint32.from_buffer(cq_ring, cq.ring_mask).value
        self._cqes = cq.cqes
        # SQ slot i always holds SQE i: the index array is filled once.
        for index in range(params.sq_entries):
            struct.pack_into("=I", sq_ring, sq.array + index * 4, index)
        self._unsubmitted = 0

    def _mmap(self, length: int, offset: int) -> mmap.mmap:
        mapped = mmap.mmap(
            self.fd,
            length,
            flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
            prot=mmap.PROT_READ | mmap.PROT_WRITE,
            offset=offset,
        )
        self._maps.append(mapped)
        return mapped

    def prepare(
        self,
        op: Op,
        fd: int = -1,
        *,
        addr: int = 0,
        length: int = 0,
        off: int = 0,
        op_flags: int = 0,
        user_data: int = 0,
    ) -> None:
        """Write one SQE; it goes to the kernel at the next `submit`. Submits first when the queue is full."""
        if self._sq_tail.value - self._sq_head.value >= self._sq_entries:
            self.submit()
        tail = self._sq_tail.value
        struct.pack_into(
            SQE_FORMAT,
            self._sqes,
            (tail & self._sq_mask) * SQE_SIZE,
            int(op),
            0,
            0,
            fd,
            off,
            addr,
            length,
            op_flags,
            user_data,
            0,
            0,
            0,
            0,
            0,
        )
        self._sq_tail.value = (tail + 1) & 0xFFFFFFFF
        self._unsubmitted += 1

    def submit(self, wait: int = 0) -> int:
        """Hand the prepared SQEs to the kernel; with `wait`, block until that many CQEs are there."""
        flags = IORING_ENTER_GETEVENTS if wait else 0
        submitted = _enter(self.fd, self._unsubmitted, wait, flags)
        self._unsubmitted = max(0, self._unsubmitted - submitted)
        return submitted

    def completions(self) -> list[Cqe]:
        """Reap every CQE posted so far, oldest first."""
        found: list[Cqe] = []
        head = self._cq_head.value
        tail = self._cq_tail.value
        while head != tail:
            offset = self._cqes + (head & self._cq_mask) * CQE_SIZE
            user_data, res, flags = struct.unpack_from(CQE_FORMAT, self._cq_ring, offset)
            found.append(Cqe(user_data, res, flags))
            head = (head + 1) & 0xFFFFFFFF
        self._cq_head.value = head
        return found

    def supported(self) -> frozenset[Op]:
        """The opcodes of `Op` this kernel's io_uring performs (io_uring_register(2) PROBE)."""
        probe = _Probe()
        _check(
            _syscall(
                ctypes.c_long(SYS_IO_URING_REGISTER),
                ctypes.c_int(self.fd),
                ctypes.c_uint(IORING_REGISTER_PROBE),
                ctypes.byref(probe),
                ctypes.c_uint(PROBE_OPS),
            )
        )
        known = {probe.ops[i].op: probe.ops[i].flags for i in range(min(probe.ops_len, PROBE_OPS))}
        return frozenset(op for op in Op if known.get(op, 0) & IO_URING_OP_SUPPORTED)

    def close(self) -> None:
        """Unmap the rings and close the ring's descriptor (the kernel cancels what is still in flight)."""
        for name in ("_sq_head", "_sq_tail", "_cq_head", "_cq_tail"):
            if hasattr(self, name):
                delattr(self, name)
        for mapped in self._maps:
            mapped.close()
        self._maps.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def sockaddr(family: int, address: tuple[object, ...] | str) -> ctypes.Array[ctypes.c_char]:
    """The C struct sockaddr for a loopback address, as CONNECT takes it (kept alive by the caller)."""
    if family == socket.AF_UNIX:
        assert isinstance(address, str)
        path = os.fsencode(address)
        return ctypes.create_string_buffer(struct.pack("=H", family) + path + b"\0", 2 + len(path) + 1)
    assert isinstance(address, tuple)
    host, port = str(address[0]), int(str(address[1]))
    if family == socket.AF_INET:
        packed = struct.pack("=H", family) + struct.pack("!H", port) + socket.inet_pton(family, host)
        return ctypes.create_string_buffer(packed + bytes(8), 16)
    flowinfo = int(str(address[2])) if len(address) > 2 else 0
    scope = int(str(address[3])) if len(address) > 3 else 0
    packed = (
        struct.pack("=H", family)
        + struct.pack("!HI", port, flowinfo)
        + socket.inet_pton(family, host)
        + struct.pack("=I", scope)
    )
    return ctypes.create_string_buffer(packed, 28)


def _disabled_setting() -> str:
    try:
        value = DISABLED_SETTING.read_text(encoding="ascii").strip()
    except OSError:
        return ""
    return f"; kernel.io_uring_disabled = {value}"


@cache
def unavailable(needed: frozenset[Op] = frozenset(Op), flags: int = 0) -> str | None:
    """Why io_uring with the `needed` opcodes, on a ring set up with `flags`, cannot be used on this
    machine, or None when it can."""
    if not sys.platform.startswith("linux"):
        return f"io_uring is Linux only (this is {sys.platform})"
    machine = platform.machine().lower()
    if machine not in ORDERED_MACHINES:
        return f"the ctypes io_uring layer relies on x86-64 memory ordering; this machine is {machine}"
    try:
        ring = Ring(4, flags)
    except OSError as exc:
        template = SETUP_REFUSALS.get(exc.errno or 0, "io_uring_setup failed: {error}")
        return template.format(setting=_disabled_setting(), error=exc)
    try:
        missing = sorted(op.name for op in needed - ring.supported())
    except OSError as exc:
        return f"this kernel cannot list its io_uring opcodes (IORING_REGISTER_PROBE: {exc.strerror})"
    finally:
        ring.close()
    if missing:
        return f"this kernel's io_uring lacks {', '.join(missing)}"
    return None
