"""Synchronous notification (readiness) on select, poll, epoll and Python's selectors module.

The process keeps asking the kernel which sockets are ready; the kernel only
answers, and whether the asking waits is decided by the timeout. Every driver
here is that and nothing more: `wait` makes one system call (select, poll,
epoll_wait) and translates the bits it returns; it never reads or writes a
socket, so after a 'read' report the bytes are still in the kernel buffer. The
socket operations themselves are the non-blocking model's (SocketsDriver).

Rules of this module:
- the mechanisms differ only in their table of event bits (`EventBits`: how
  'read', 'write', 'rdhup' and the triggers are spelled, and which reported bit
  means which event) and in four primitives around their kernel object (add,
  change, remove, poll); the translation between the two is written once;
- a driver's capabilities follow from its table: only what the mechanism can
  express ('edge', 'oneshot', 'rdhup', 'hangup') is declared, so a behaviour
  needing more is reported as not applicable, never passed vacuously;
- timeouts are passed through as the mechanism takes them, rounded up to its
  resolution, so a wait never ends before its timeout.

Impl names, and why there are seven:
- `selectors` is `selectors.DefaultSelector`, which on Linux is EpollSelector;
  `selectors-select`, `selectors-poll` and `selectors-epoll` pick one selector
  class each. The selectors API has only EVENT_READ and EVENT_WRITE, always
  level-triggered, and folds error and hang-up conditions into read and write:
  no rdhup, hangup, edge or oneshot can be asked of it.
- `select`, `poll` and `epoll` use the select module directly, so the corpus
  can also check what only they express: poll reports POLLERR, POLLHUP and
  POLLRDHUP; epoll adds edge-triggered (EPOLLET) and one-shot (EPOLLONESHOT)
  registrations.

What each is underneath, on Linux:
- select(2): three fd_set bitmaps of FD_SETSIZE (1024) bits, copied into the
  kernel on every call; a descriptor >= 1024 cannot be watched (Python raises
  ValueError at the call). Level-triggered; an error shows as readable and
  writable, a hang-up as readable (the kernel's POLLIN_SET and POLLOUT_SET).
- poll(2): an array of pollfd copied into the kernel on every call; no
  descriptor limit. Level-triggered.
- epoll(7): the interest list lives in the kernel (epoll_ctl), epoll_wait
  returns only ready descriptors. Level-triggered by default.
Interest changed while a wait runs takes effect at once with epoll and at the
next wait with select and poll (they copy the interest when called).
"""

from __future__ import annotations

import abc
import math
import select
import selectors
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from sockspec.driving.drivers import ReadinessDriver
from sockspec.language.model import Model
from sockspec.reference_impls.sockets_ref import SocketsDriver


@dataclass(frozen=True)
class EventBits:
    """How one mechanism spells readiness as bits.

    interest: event name ('read', 'write', 'rdhup') -> the bit to register;
    triggers: trigger name ('level', 'edge', 'oneshot') -> the flag to add;
    reports: reported bit -> the event name it means.
    """

    mechanism: str
    interest: Mapping[str, int]
    triggers: Mapping[str, int]
    reports: Mapping[int, str]

    def mask(self, events: Iterable[str], trigger: str) -> int:
        """The registration mask for `events` with `trigger`; ValueError for what it cannot express."""
        unknown = sorted({*events} - set(self.interest)) + ([] if trigger in self.triggers else [trigger])
        if unknown:
            raise ValueError(f"{self.mechanism} cannot express {', '.join(unknown)}")
        mask = self.triggers[trigger]
        for event in events:
            mask |= self.interest[event]
        return mask

    def events(self, mask: int) -> frozenset[str]:
        """The event names a reported mask means."""
        return frozenset(name for bit, name in self.reports.items() if mask & bit)

    @property
    def capabilities(self) -> frozenset[str]:
        """What a behaviour may ask of this mechanism beyond level-triggered read and write."""
        found = {trigger for trigger in self.triggers if trigger != "level"}
        found.update(event for event in self.interest if event not in {"read", "write"})
        if {"error", "hangup"} <= set(self.reports.values()):
            found.add("hangup")
        return frozenset(found)


# select(2) has no bitmask: these bits name its read and write descriptor sets.
SELECT_READ = 1
SELECT_WRITE = 2

SELECT = EventBits(
    "select",
    interest={"read": SELECT_READ, "write": SELECT_WRITE},
    triggers={"level": 0},
    reports={SELECT_READ: "read", SELECT_WRITE: "write"},
)
SELECTORS = EventBits(
    "selectors",
    interest={"read": selectors.EVENT_READ, "write": selectors.EVENT_WRITE},
    triggers={"level": 0},
    reports={selectors.EVENT_READ: "read", selectors.EVENT_WRITE: "write"},
)
POLL = EventBits(
    "poll",
    interest={"read": select.POLLIN, "write": select.POLLOUT, "rdhup": select.POLLRDHUP},
    triggers={"level": 0},
    reports={
        select.POLLIN: "read",
        select.POLLOUT: "write",
        select.POLLERR: "error",
        select.POLLNVAL: "error",
        select.POLLHUP: "hangup",
        select.POLLRDHUP: "rdhup",
        select.POLLPRI: "priority",
    },
)
EPOLL = EventBits(
    "epoll",
    interest={"read": select.EPOLLIN, "write": select.EPOLLOUT, "rdhup": select.EPOLLRDHUP},
    triggers={"level": 0, "edge": select.EPOLLET, "oneshot": select.EPOLLONESHOT},
    reports={
        select.EPOLLIN: "read",
        select.EPOLLOUT: "write",
        select.EPOLLERR: "error",
        select.EPOLLHUP: "hangup",
        select.EPOLLRDHUP: "rdhup",
        select.EPOLLPRI: "priority",
    },
)


class ReadinessReference(SocketsDriver, ReadinessDriver):
    """The readiness contract in portable names, over one mechanism's bits and primitives."""

    models = frozenset({Model.READINESS, Model.NONBLOCKING})
    bits: ClassVar[EventBits]

    def register(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        self._add(sock, self.bits.mask(events, trigger))

    def modify(self, sock: socket.socket, events: frozenset[str], trigger: str) -> None:
        self._change(sock, self.bits.mask(events, trigger))

    def unregister(self, sock: socket.socket) -> None:
        self._remove(sock)

    def wait(self, timeout: float | None) -> Mapping[int, frozenset[str]]:
        ready: dict[int, int] = {}
        for fd, mask in self._poll(timeout):
            ready[fd] = ready.get(fd, 0) | mask
        return {fd: self.bits.events(mask) for fd, mask in ready.items()}

    @abc.abstractmethod
    def _add(self, sock: socket.socket, mask: int) -> None:
        """Add the socket to the interest set with `mask`."""

    @abc.abstractmethod
    def _change(self, sock: socket.socket, mask: int) -> None:
        """Replace the socket's mask (re-arms a one-shot registration)."""

    @abc.abstractmethod
    def _remove(self, sock: socket.socket) -> None:
        """Remove the socket from the interest set."""

    @abc.abstractmethod
    def _poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        """One system call: (descriptor, reported mask) for each ready socket."""


class SelectDriver(ReadinessReference):
    """select(2): the interest set lives here and is handed to the kernel on every call."""

    name = "select"
    description = "select.select: fd_set bitmaps of FD_SETSIZE bits, copied in on every call"
    bits = SELECT
    capabilities = SELECT.capabilities

    def __init__(self) -> None:
        self.interest: dict[int, int] = {}

    def _add(self, sock: socket.socket, mask: int) -> None:
        self.interest[sock.fileno()] = mask

    def _change(self, sock: socket.socket, mask: int) -> None:
        self.interest[sock.fileno()] = mask

    def _remove(self, sock: socket.socket) -> None:
        del self.interest[sock.fileno()]

    def _poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        watched = dict(self.interest)
        readers = [fd for fd, mask in watched.items() if mask & SELECT_READ]
        writers = [fd for fd, mask in watched.items() if mask & SELECT_WRITE]
        readable, writable, _ = select.select(readers, writers, [], timeout)
        return [(fd, SELECT_READ) for fd in readable] + [(fd, SELECT_WRITE) for fd in writable]


class PollDriver(ReadinessReference):
    """poll(2): a pollfd array handed to the kernel on every call; reports POLLERR, POLLHUP, POLLRDHUP."""

    name = "poll"
    description = "select.poll: a pollfd array copied in on every call, no descriptor limit"
    bits = POLL
    capabilities = POLL.capabilities

    def __init__(self) -> None:
        self.poller = select.poll()

    def _add(self, sock: socket.socket, mask: int) -> None:
        self.poller.register(sock.fileno(), mask)

    def _change(self, sock: socket.socket, mask: int) -> None:
        self.poller.modify(sock.fileno(), mask)

    def _remove(self, sock: socket.socket) -> None:
        self.poller.unregister(sock.fileno())

    def _poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        return self.poller.poll(None if timeout is None else math.ceil(timeout * 1000))


class EpollDriver(ReadinessReference):
    """epoll(7): the interest list lives in the kernel; level, edge (EPOLLET) and one-shot."""

    name = "epoll"
    description = "select.epoll: interest kept in the kernel; level, edge-triggered and one-shot"
    bits = EPOLL
    capabilities = EPOLL.capabilities

    def __init__(self) -> None:
        self.epoll = select.epoll()

    def release(self) -> None:
        self.epoll.close()

    def _add(self, sock: socket.socket, mask: int) -> None:
        self.epoll.register(sock.fileno(), mask)

    def _change(self, sock: socket.socket, mask: int) -> None:
        self.epoll.modify(sock.fileno(), mask)

    def _remove(self, sock: socket.socket) -> None:
        self.epoll.unregister(sock.fileno())

    def _poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        return self.epoll.poll(-1 if timeout is None else timeout)


class SelectorsDriver(ReadinessReference):
    """Python's selectors module: EVENT_READ and EVENT_WRITE, level-triggered, over one selector class."""

    name = "selectors"
    description = (
        f"selectors.DefaultSelector (here: {selectors.DefaultSelector.__name__}); "
        "read and write only, level-triggered"
    )
    bits = SELECTORS
    capabilities = SELECTORS.capabilities
    selector_class: ClassVar[type[selectors.BaseSelector]] = selectors.DefaultSelector

    def __init__(self) -> None:
        self.selector = self.selector_class()

    def release(self) -> None:
        self.selector.close()

    def _add(self, sock: socket.socket, mask: int) -> None:
        self.selector.register(sock, mask)

    def _change(self, sock: socket.socket, mask: int) -> None:
        self.selector.modify(sock, mask)

    def _remove(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)

    def _poll(self, timeout: float | None) -> Iterable[tuple[int, int]]:
        return [(key.fd, mask) for key, mask in self.selector.select(timeout)]


class SelectSelectorDriver(SelectorsDriver):
    """selectors.SelectSelector: select(2) underneath; fails at select() for a descriptor >= 1024."""

    name = "selectors-select"
    description = "selectors.SelectSelector: select(2) underneath; read and write only"
    selector_class = selectors.SelectSelector


class PollSelectorDriver(SelectorsDriver):
    """selectors.PollSelector: poll(2) underneath; errors and hang-ups surface as read and write."""

    name = "selectors-poll"
    description = "selectors.PollSelector: poll(2) underneath; read and write only"
    selector_class = selectors.PollSelector


class EpollSelectorDriver(SelectorsDriver):
    """selectors.EpollSelector: epoll(7) underneath, always level-triggered."""

    name = "selectors-epoll"
    description = "selectors.EpollSelector: epoll(7) underneath, level-triggered; read and write only"
    selector_class = selectors.EpollSelector
