"""Waiting in tests for a state that has no event to wait on (the process table, /proc, a buffer the
kernel fills): the one poll loop of the test suite.

Rules of this module:
- every wait has a bound (`within`, seconds) and says what it waits for
  (`what`), so a wait that runs out fails at once and names what did not
  happen, with `explain()`'s account of the state it found instead, if given;
- `until` asks `probe` at once, then every `interval` seconds, and returns its
  first truthy answer (so a test gets what it waited for); it raises
  `TimeoutError` when `within` has passed without one;
- no sockspec import: these helpers serve the tests of every layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How often a probe is asked, by default (seconds).
INTERVAL = 0.02


def until(
    probe: Callable[[], T],
    *,
    within: float,
    what: str,
    explain: Callable[[], str] | None = None,
    interval: float = INTERVAL,
) -> T:
    """Ask `probe` until it answers something truthy and return that answer.

    `what` names the state waited for, e.g. "the server's processes to exit"; `explain`, called
    only when the wait runs out, says what was found instead.
    """
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() >= deadline:
            found_instead = f": {explain()}" if explain is not None else ""
            raise TimeoutError(f"waited {within:.2f} s for {what}, in vain{found_instead}")
        time.sleep(interval)
