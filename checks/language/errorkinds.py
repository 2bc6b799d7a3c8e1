"""Portable error kinds: what specs say instead of errno numbers.

Rules of this module:
- one table maps errno values to kind names; specs and reports use only the names;
- an exception that is not in the table keeps its errno name (e.g. 'os_error:EBADF'),
  so an unexpected error is shown as it is, never hidden;
- no I/O: this module only classifies exceptions it is given.
"""

from __future__ import annotations

import errno

# The kinds a spec may name, with the errno values that mean each on Linux.
KIND_ERRNOS: dict[str, frozenset[int]] = {
    "would_block": frozenset({errno.EAGAIN, errno.EWOULDBLOCK}),
    "timeout": frozenset({errno.ETIMEDOUT}),
    "reset": frozenset({errno.ECONNRESET}),
    "broken_pipe": frozenset({errno.EPIPE}),
    "refused": frozenset({errno.ECONNREFUSED}),
    "in_progress": frozenset({errno.EINPROGRESS}),
    "already": frozenset({errno.EALREADY}),
    "not_connected": frozenset({errno.ENOTCONN}),
    "is_connected": frozenset({errno.EISCONN}),
    "invalid": frozenset({errno.EINVAL}),
}

# Exceptions that carry no errno, by type name (so this module imports no framework):
# a cancelled operation (asyncio, concurrent.futures, trio) and Python's
# "invalid argument" (e.g. select() refusing a descriptor >= FD_SETSIZE).
KIND_TYPES: dict[str, str] = {
    "CancelledError": "cancelled",
    "Cancelled": "cancelled",
    "ValueError": "invalid",
}

KINDS: frozenset[str] = frozenset(KIND_ERRNOS) | frozenset(KIND_TYPES.values())

_BY_ERRNO: dict[int, str] = {number: kind for kind, numbers in KIND_ERRNOS.items() for number in numbers}


def classify(exc: BaseException) -> str:
    """The portable kind of an exception raised by a socket operation.

    Python's socket timeout (TimeoutError with no errno) is 'timeout'; an OSError
    is looked up by errno; other exceptions by type name (KIND_TYPES); anything
    else is 'exception:<TypeName>'.
    """
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return "timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        kind = _BY_ERRNO.get(exc.errno)
        if kind is not None:
            return kind
        return f"os_error:{errno.errorcode.get(exc.errno, str(exc.errno))}"
    for kind_type in type(exc).__mro__:
        if kind_type.__name__ in KIND_TYPES:
            return KIND_TYPES[kind_type.__name__]
    return f"exception:{type(exc).__name__}"
