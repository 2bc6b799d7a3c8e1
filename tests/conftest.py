"""The project's own tests: the longest ones are handed out first.

Rules of this file:
- a few test files run whole `pytest --impl=...` sessions against servers, each test
  tens of seconds to minutes of mostly waiting; under pytest-xdist a test handed out
  last keeps the run going long after the other workers are idle, so these files'
  items are moved to the front of the collection, longest first (LONGEST), and every
  other item keeps its place;
- the order in which tests run decides nothing else: each test starts its own
  servers, folders and sockets.
"""

from __future__ import annotations

import pytest

#: Test files by how long their items take, longest first (measured with --durations).
LONGEST = (
    "tests/test_server_order.py",
    "tests/test_server_corpus.py",
    "tests/test_hostile_servers.py",
    "tests/test_gate.py",
    "tests/test_server_plugin.py",
    "tests/test_plugin.py",
    "tests/test_install.py",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return LONGEST.index(path) if path in LONGEST else len(LONGEST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: every other item keeps its place
