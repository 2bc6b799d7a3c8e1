"""Faulty readiness drivers: the negative controls of spec/readiness.yaml.

Rules of this module:
- each faulty driver is a small subclass of a reference readiness driver
  (sockspec.reference_impls.selectors_ref) that breaks one rule the way a real
  implementation might get it wrong; its docstring says the defect in one line;
- a defect in a mechanism's table of bits is written as a changed table, the
  way such a bug looks in real code;
- `breaks` maps every behaviour id the defect fails, wherever it shows, to a
  substring expected in that failure's mismatch text, so a failure for another
  reason is noticed; every other behaviour of its models must pass (the
  matrix, tests/test_matrix.py, checks both), so a defect is kept narrow;
- a faulty driver keeps the capabilities of the driver it changes: it claims
  what the reference claims and fails to deliver it;
- real sockets only, no mocks; every faulty wait and recv is bounded by its
  timeout or returns once the runner shuts its socket down.
"""

from __future__ import annotations

import array
import dataclasses
import errno
import fcntl
import os
import select
import socket
import termios
import time
from collections.abc import Iterable, Mapping
from typing import ClassVar

from sockspec.reference_impls.selectors_ref import (
    EPOLL,
    SELECT_READ,
    SELECT_WRITE,
    EpollDriver,
    EventBits,
    SelectDriver,
)

#: select(2)'s fd_set holds descriptors below this.
FD_SETSIZE = 1024


@dataclasses.dataclass(frozen=True)
class Watch:
    """What a faulty driver remembers of one registration."""

    sock: socket.socket
    events: frozenset[str]
    trigger: str


def _queued(sock: socket.socket) -> int | None:
    """FIONREAD of a socket, or None where it has no meaning (a listening socket)."""
    count = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, count)
    except OSError:
        return None
    return count[0]


def _epoll_registering(trigger: str, bit: int) -> EventBits:
    """epoll's bits, but registering `trigger` with `bit` (what a faulty registration hands the kernel)."""
    return dataclasses.replace(EPOLL, triggers={**EPOLL.triggers, trigger: bit})


class FaultyReadiness(EpollDriver):
    """Base of the faulty readiness drivers: epoll, plus a record of what is watched."""

    name = "faulty-readiness"
    #: Behaviour id -> a substring of the mismatch text its failure must show.
    breaks: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.watched: dict[int, Watch] = {}

    def register(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        super().register(sock, events, trigger)
        self.watched[sock.fileno()] = Watch(sock, events, trigger)

    def modify(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        super().modify(sock, events, trigger)
        self.watched[sock.fileno()] = Watch(sock, events, trigger)

    def unregister(self, sock: socket.socket) -> None:
        super().unregister(sock)
        self.watched.pop(sock.fileno(), None)


class AssumesReady(FaultyReadiness):
    """Base: reports `assumed` for every socket watched for it, without asking the kernel whether it holds."""

    assumed: ClassVar[str] = "read"

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        assumed = {fd for fd, watch in self.watched.items() if self.assumed in watch.events}
        if not assumed:
            return super().wait(timeout)
        ready = {fd: set(events) for fd, events in super().wait(0).items()}
        for fd in assumed:
            ready.setdefault(fd, set()).add(self.assumed)
        return {fd: frozenset(events) for fd, events in ready.items()}


class PrematureRead(AssumesReady):
    """Reports every socket watched for reading as readable at once, before any data has arrived."""

    name = "faulty-premature-read"
    assumed = "read"
    breaks = {
        "readiness.read.data-arrives": "expected no events, observed events {read}",
        "readiness.accept.pending-connection": "expected no events, observed events {read}",
        "readiness.wait.timeout-zero": "expected no events, observed events {read}",
        "readiness.wait.per-socket": "expected no events, observed events {read}",
        "readiness.rcvlowat.threshold": "not before 'more'",
        "readiness.read.eof": "not before 'fin'",
        "readiness.wait.timeout-elapses": "expected no events, observed events {read}",
        "readiness.wait.timeout-none-waits": "not before 'send'",
        "readiness.wait.event-ends-wait": "not before 'send'",
        "readiness.level.repeats": "expected no events, observed events {read}",
        "readiness.edge.once-per-arrival": "expected no events, observed events {read}",
        "readiness.oneshot.silent-until-rearmed": "expected no events, observed events {read}",
        "readiness.modify.changes-interest": "expected no events, observed events {read}",
        "readiness.shutdown.rdhup": "not before 'fin'",
        "readiness.reset.readable": "not before 'rst'",
        "readiness.hint.steal": "expected no events, observed events {read}",
    }


class AlwaysWritable(AssumesReady):
    """Reports every socket watched for writing as writable, as if send buffers never filled."""

    name = "faulty-always-writable"
    assumed = "write"
    breaks = {
        "readiness.write.full-not-writable": "expected no events, observed events {write}",
        "readiness.write.drain-hysteresis": "not before 'drain'",
    }


class BlockingZeroTimeout(FaultyReadiness):
    """Takes timeout 0 for 'no timeout', so a wait that should return at once waits for an event."""

    name = "faulty-blocking-zero-timeout"
    breaks = {
        "readiness.wait.timeout-zero": "expected it to return before 'send'",
        "readiness.read.data-arrives": "still blocked",
        "readiness.modify.changes-interest": "still blocked",
        "readiness.accept.pending-connection": "still blocked",
        "readiness.write.full-not-writable": "still blocked",
        "readiness.level.repeats": "still blocked",
        "readiness.hint.steal": "still blocked",
    }

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        return super().wait(None if timeout == 0 else timeout)


class NoneAsZero(FaultyReadiness):
    """Takes timeout None for 0, so a wait that should wait for an event returns at once."""

    name = "faulty-none-as-zero"
    breaks = {
        "readiness.wait.timeout-none-waits": "not before 'send'",
    }

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        return super().wait(0 if timeout is None else timeout)


class ShortTimeout(FaultyReadiness):
    """Waits only half the timeout it is given."""

    name = "faulty-short-timeout"
    breaks = {
        "readiness.wait.timeout-elapses": "expected it to take at least 200.0 ms",
        "readiness.edge.once-per-arrival": "expected it to take at least 100.0 ms",
        "readiness.oneshot.silent-until-rearmed": "expected it to take at least 100.0 ms",
        "readiness.unregister.silent": "expected it to take at least 100.0 ms",
    }

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        return super().wait(None if timeout is None else timeout / 2)


class SleepingWait(FaultyReadiness):
    """Finding nothing ready, sleeps out the whole timeout, then asks again: no event ends the wait early."""

    name = "faulty-sleeping-wait"
    breaks = {
        "readiness.wait.event-ends-wait": "expected it to return before 'later'",
        "readiness.write.drain-hysteresis": "still blocked",  # a wait(2 s) sleeps past the step limit
    }

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        if timeout is None:
            return super().wait(None)
        ready = super().wait(0)
        if not ready and timeout > 0:
            time.sleep(timeout)
            ready = super().wait(0)
        return ready


class DrainingWait(FaultyReadiness):
    """Reads a ready socket's bytes into its own buffer when it reports readiness; recv hands them out."""

    name = "faulty-draining-wait"
    breaks = {
        "readiness.buffer.bytes-stay": "expected 5 bytes left in the kernel buffer when it returned",
        "readiness.hint.steal": "expected data b'abc', observed EOF",
        "readiness.level.repeats": "expected events {read}, observed no events",
        "readiness.edge.once-per-arrival": "expected unread 3, observed 0",
        "readiness.oneshot.silent-until-rearmed": "expected unread 9, observed 4",
        "readiness.unregister.silent": "expected unread 5, observed 0",
        # Its recv in wait takes the reset error too, so the process never learns of it.
        "readiness.reset.readable": "expected error reset, observed EOF",
        "readiness.reset.error-hangup": "observed events {hangup, read}",
    }

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[int, bytearray] = {}

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        ready = super().wait(timeout)
        for fd, events in ready.items():
            watch = self.watched.get(fd)
            if "read" not in events or watch is None:
                continue
            try:
                data = watch.sock.recv(65536, socket.MSG_DONTWAIT)
            except OSError:
                continue
            self.kept.setdefault(fd, bytearray()).extend(data)
        return ready

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        kept = self.kept.get(sock.fileno())
        if kept:
            data = bytes(kept[:size])
            del kept[:size]
            return data
        return super().recv(sock, size, flags)


class RetryingRecv(FaultyReadiness):
    """A recv on a watched socket that, finding the buffer empty, waits for data instead of failing."""

    name = "faulty-retrying-recv"
    breaks = {
        "readiness.hint.steal": "still blocked",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        if sock.fileno() not in self.watched:
            return super().recv(sock, size, flags)
        try:
            return super().recv(sock, size, flags)
        except BlockingIOError:
            select.select([sock], [], [])
            return super().recv(sock, size, flags)


class ByteCountReadiness(FaultyReadiness):
    """Decides level-triggered readability from FIONREAD (bytes queued), which ignores EOF and SO_RCVLOWAT."""

    name = "faulty-byte-count-readiness"
    breaks = {
        "readiness.read.eof": "expected events {read}, observed no events",
        "readiness.rcvlowat.threshold": "not before 'more'",
        "readiness.shutdown.rdhup": "expected events {rdhup, read}, observed events {rdhup}",
        "readiness.shutdown.both-hangup": "expected events {read}, observed no events",
        # A reset leaves no bytes queued either.
        "readiness.reset.readable": "expected events including read, observed events {error, hangup}",
        "readiness.reset.error-hangup": "observed events {error, hangup}",
    }

    def _counts(self) -> dict[int, int]:
        counts = {}
        for fd, watch in self.watched.items():
            level = "read" in watch.events and watch.trigger == "level"
            count = _queued(watch.sock) if level else None
            if count is not None:
                counts[fd] = count
        return counts

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        early = any(self._counts().values())
        ready = {fd: set(events) for fd, events in super().wait(0 if early else timeout).items()}
        for fd, count in self._counts().items():
            events = ready.setdefault(fd, set())
            if count:
                events.add("read")
            else:
                events.discard("read")
        return {fd: frozenset(events) for fd, events in ready.items() if events}


class WakeAll(FaultyReadiness):
    """When any watched socket is ready, reports every watched socket with all the events it watches."""

    name = "faulty-wake-all"
    breaks = {
        "readiness.wait.per-socket": "expected no events, observed events {read}",
    }

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        ready = super().wait(timeout)
        if not ready:
            return ready
        return {fd: watch.events | ready.get(fd, frozenset()) for fd, watch in self.watched.items()}


class AllEvents(FaultyReadiness):
    """Watches every socket for reading and writing whatever it was registered for, and reports both."""

    name = "faulty-all-events"
    breaks = {
        "readiness.read.interest-only": "expected events {write}, observed events {read, write}",
        "readiness.read.data-arrives": "expected no events, observed events {write}",
        "readiness.read.eof": "expected events {read}, observed events {write}",
        "readiness.wait.timeout-zero": "expected no events, observed events {write}",
        "readiness.wait.timeout-elapses": "expected no events, observed events {write}",
        "readiness.wait.timeout-none-waits": "expected events {read}, observed events {write}",
        "readiness.wait.event-ends-wait": "expected events {read}, observed events {write}",
        "readiness.wait.per-socket": "expected events {read}, observed events {read, write}",
        "readiness.level.repeats": "expected events {read}, observed events {read, write}",
        "readiness.edge.once-per-arrival": "expected events {read}, observed events {read, write}",
        "readiness.oneshot.silent-until-rearmed": "expected events {read}, observed events {read, write}",
        "readiness.modify.changes-interest": "expected no events, observed events {write}",
        "readiness.unregister.silent": "expected events {read}, observed events {read, write}",
        "readiness.connect.refused-error": "observed events {error, hangup, read, write}",
        "readiness.shutdown.rdhup": "expected events {rdhup, read}, observed events {write}",
        "readiness.shutdown.both-hangup": "expected events {read}, observed events {read, write}",
        "readiness.reset.readable": "expected events including read, observed events {write}",
        "readiness.reset.error-hangup": "observed events {error, hangup, read, write}",
        "readiness.buffer.bytes-stay": "expected events {read}, observed events {read, write}",
        "readiness.hint.steal": "expected events {read}, observed events {read, write}",
        "readiness.rcvlowat.threshold": "expected events {read}, observed events {write}",
        "readiness.fd.high-descriptor": "observed events {read, write}",
    }

    def register(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        super().register(sock, events | {"read", "write"}, trigger)

    def modify(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        super().modify(sock, events | {"read", "write"}, trigger)


class IgnoredModify(FaultyReadiness):
    """A modify that does nothing, so the interest given at register stays and one-shot is never re-armed."""

    name = "faulty-ignored-modify"
    breaks = {
        "readiness.modify.changes-interest": "expected events {write}, observed no events",
        "readiness.oneshot.silent-until-rearmed": "expected events {read}, observed no events",
    }

    def modify(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        return None


class NoRearm(FaultyReadiness):
    """A modify that skips the kernel call when the interest is unchanged, so a one-shot is never re-armed."""

    name = "faulty-no-rearm"
    breaks = {
        "readiness.oneshot.silent-until-rearmed": "expected events {read}, observed no events",
    }

    def modify(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        if self.watched.get(sock.fileno()) != Watch(sock, events, trigger):
            super().modify(sock, events, trigger)


class StickyUnregister(FaultyReadiness):
    """An unregister that forgets the socket itself but leaves it in the kernel's interest list."""

    name = "faulty-sticky-unregister"
    breaks = {
        "readiness.unregister.silent": "expected no events, observed events {read}",
    }

    def unregister(self, sock: socket.socket) -> None:
        self.watched.pop(sock.fileno(), None)


class EdgeRepeats(FaultyReadiness):
    """Accepts an edge-triggered registration but registers it level-triggered, so reports repeat."""

    name = "faulty-edge-repeats"
    bits = _epoll_registering("edge", 0)
    breaks = {
        "readiness.edge.once-per-arrival": "expected no events, observed events {read}",
    }


class ReportsOnce(FaultyReadiness):
    """Registers every socket edge-triggered, so a level-triggered report is not repeated until drained."""

    name = "faulty-reports-once"
    bits = _epoll_registering("level", select.EPOLLET)
    breaks = {
        "readiness.level.repeats": "expected events {read}, observed no events",
        "readiness.read.eof": "expected events {read}, observed no events",
        "readiness.accept.pending-connection": "expected events {read}, observed no events",
        "readiness.reset.error-hangup": "expected events {error, hangup, read}, observed no events",
    }


class OneshotRepeats(FaultyReadiness):
    """Accepts a one-shot registration but registers it level-triggered, so it keeps reporting."""

    name = "faulty-oneshot-repeats"
    bits = _epoll_registering("oneshot", 0)
    breaks = {
        "readiness.oneshot.silent-until-rearmed": "expected no events, observed events {read}",
    }


class SwappedReports(FaultyReadiness):
    """Its table of reported bits names the kernel's read bit 'write' and its write bit 'read'."""

    name = "faulty-swapped-reports"
    bits = dataclasses.replace(
        EPOLL, reports={**EPOLL.reports, select.EPOLLIN: "write", select.EPOLLOUT: "read"}
    )
    breaks = {
        "readiness.read.data-arrives": "expected events {read}, observed events {write}",
        "readiness.write.full-not-writable": "expected events {write}, observed events {read}",
        "readiness.connect.writable": "expected events {write}, observed events {read}",
        "readiness.read.eof": "expected events {read}, observed events {write}",
        "readiness.read.interest-only": "expected events {write}, observed events {read}",
        "readiness.accept.pending-connection": "expected events {read}, observed events {write}",
        "readiness.write.drain-hysteresis": "expected events {write}, observed events {read}",
        "readiness.wait.timeout-none-waits": "expected events {read}, observed events {write}",
        "readiness.wait.event-ends-wait": "expected events {read}, observed events {write}",
        "readiness.wait.per-socket": "expected events {read}, observed events {write}",
        "readiness.level.repeats": "expected events {read}, observed events {write}",
        "readiness.edge.once-per-arrival": "expected events {read}, observed events {write}",
        "readiness.oneshot.silent-until-rearmed": "expected events {read}, observed events {write}",
        "readiness.modify.changes-interest": "expected events {write}, observed events {read}",
        "readiness.unregister.silent": "expected events {read}, observed events {write}",
        "readiness.connect.refused": "expected events including write, observed events {error, hangup, read}",
        "readiness.connect.refused-error": "observed events {error, hangup, read}",
        "readiness.connect.refused-reported-once": (
            "expected events including write, observed events {error, hangup, read}"
        ),
        "readiness.shutdown.rdhup": "expected events {rdhup, read}, observed events {rdhup, write}",
        "readiness.shutdown.both-hangup": "expected events {read}, observed events {write}",
        "readiness.reset.readable": "observed events {error, hangup, write}",
        "readiness.reset.error-hangup": "observed events {error, hangup, write}",
        "readiness.buffer.bytes-stay": "expected events {read}, observed events {write}",
        "readiness.hint.steal": "expected events {read}, observed events {write}",
        "readiness.rcvlowat.threshold": "expected events {read}, observed events {write}",
        "readiness.fd.high-descriptor": "observed events {write}",
    }


class HangupDropped(FaultyReadiness):
    """Its table of reported bits has no entry for the hang-up bit, so hang-ups go unreported."""

    name = "faulty-hangup-dropped"
    bits = dataclasses.replace(
        EPOLL, reports={bit: event for bit, event in EPOLL.reports.items() if event != "hangup"}
    )
    breaks = {
        "readiness.shutdown.both-hangup": "expected events {hangup, read}, observed events {read}",
        "readiness.reset.error-hangup": "observed events {error, read}",
        "readiness.connect.refused-error": "observed events {error, write}",
    }


class RdhupAsHangup(FaultyReadiness):
    """Its table of reported bits names EPOLLRDHUP (the peer shut down writing) 'hangup'."""

    name = "faulty-rdhup-as-hangup"
    bits = dataclasses.replace(EPOLL, reports={**EPOLL.reports, select.EPOLLRDHUP: "hangup"})
    breaks = {
        "readiness.shutdown.rdhup": "expected events {rdhup, read}, observed events {hangup, read}",
    }


class ClearsError(FaultyReadiness):
    """Reads SO_ERROR of each socket it reports, which clears the error the process was to learn."""

    name = "faulty-clears-error"
    breaks = {
        "readiness.connect.refused": "expected so_error 'refused', observed 'none'",
        "readiness.connect.refused-error": "expected so_error 'refused', observed 'none'",
        "readiness.connect.refused-reported-once": "expected so_error 'refused', observed 'none'",
        "readiness.reset.readable": "expected error reset, observed EOF",
        "readiness.reset.error-hangup": "observed events {hangup, read}",
    }

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        ready = dict(super().wait(timeout))
        for fd, events in ready.items():
            watch = self.watched.get(fd)
            if watch is not None and watch.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                ready[fd] = events | {"error"}
        return ready


class RepeatedRefusal(FaultyReadiness):
    """A recv that takes EOF on a socket that never connected for a refusal: a refusal is reported twice."""

    name = "faulty-repeated-refusal"
    breaks = {
        "readiness.connect.refused-reported-once": "expected EOF (b''), observed error refused",
        "nonblocking.connect.refused-read": "expected EOF (b''), observed error refused",
    }

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        data = super().recv(sock, size, flags)
        if data or size == 0:
            return data
        try:
            sock.getpeername()
        except OSError as exc:
            raise ConnectionRefusedError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED)) from exc
        return data


class DroppedHighDescriptor(SelectDriver):
    """A select driver that leaves descriptors >= FD_SETSIZE out of its sets instead of failing."""

    name = "faulty-dropped-high-descriptor"
    breaks: ClassVar[dict[str, str]] = {
        "readiness.fd.high-descriptor": "expected any of",
    }

    def _poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        kept = {fd: mask for fd, mask in self.interest.items() if fd < FD_SETSIZE}
        readers = [fd for fd, mask in kept.items() if mask & SELECT_READ]
        writers = [fd for fd, mask in kept.items() if mask & SELECT_WRITE]
        readable, writable, _ = select.select(readers, writers, [], timeout)
        return [(fd, SELECT_READ) for fd in readable] + [(fd, SELECT_WRITE) for fd in writable]


FAULTY: tuple[type[FaultyReadiness | DroppedHighDescriptor], ...] = (
    PrematureRead,
    AlwaysWritable,
    BlockingZeroTimeout,
    NoneAsZero,
    ShortTimeout,
    SleepingWait,
    DrainingWait,
    RetryingRecv,
    ByteCountReadiness,
    WakeAll,
    AllEvents,
    IgnoredModify,
    NoRearm,
    StickyUnregister,
    EdgeRepeats,
    ReportsOnce,
    OneshotRepeats,
    SwappedReports,
    HangupDropped,
    RdhupAsHangup,
    ClearsError,
    RepeatedRefusal,
    DroppedHighDescriptor,
)
