"""The clone's root conftest: says so clearly when sockspec is not installed.

The plugin itself is registered once, by the pytest11 entry point that
`pip install -e ".[dev]"` installs; this file never registers it. When that
entry point is missing, it accepts sockspec's --impl only to answer with the
set-up command instead of argparse's "unrecognized arguments".
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

INSTALLED = any(ep.name == "sockspec" for ep in entry_points(group="pytest11"))
SETUP = 'sockspec is not installed in this environment: run  pip install -e ".[dev]"  first'


def pytest_addoption(parser: pytest.Parser) -> None:
    if not INSTALLED:
        parser.addoption("--impl", action="append", default=[], help=SETUP)


def pytest_configure(config: pytest.Config) -> None:
    if not INSTALLED:
        raise pytest.UsageError(SETUP)
