"""Python's socket module, used as the blocking and non-blocking models intend.

Each method is the one socket call it names: no retries, no loops, no hidden
waiting. In blocking mode these calls block in the kernel (recvfrom, sendto,
accept4, connect); in non-blocking mode the kernel answers at once and EAGAIN
surfaces as BlockingIOError. With a timeout, CPython waits in poll() for at
most that long, then raises TimeoutError.
"""

from __future__ import annotations

import socket
from typing import Any

from sockspec.driving.drivers import SocketDriver
from sockspec.language.model import Model


class SocketsDriver(SocketDriver):
    """The blocking and non-blocking models on Python's socket module."""

    name = "sockets"
    models = frozenset({Model.BLOCKING, Model.NONBLOCKING})
    description = "Python's socket module: one system call per operation"

    def set_blocking(self, sock: socket.socket, blocking: bool) -> None:
        sock.setblocking(blocking)

    def set_timeout(self, sock: socket.socket, seconds: float | None) -> None:
        sock.settimeout(seconds)

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        return sock.recv(size, flags)

    def send(self, sock: socket.socket, data: bytes, flags: int) -> int:
        return sock.send(data, flags)

    def accept(self, listener: socket.socket) -> socket.socket:
        conn, _address = listener.accept()
        return conn

    def connect(self, sock: socket.socket, address: tuple[Any, ...] | str) -> None:
        sock.connect(address)

    def shutdown(self, sock: socket.socket, how: int) -> None:
        sock.shutdown(how)

    def close(self, sock: socket.socket) -> None:
        sock.close()
