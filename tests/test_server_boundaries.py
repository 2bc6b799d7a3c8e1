"""Import boundaries of checks/servers/, read from the source's syntax tree.

Rules of this file:
- imports are found by parsing each module (never by importing it);
- no module of checks/servers imports pytest or the plugin: the plugin is the only glue;
- the value modules (config, infer, steps, report) import no I/O, process,
  concurrency or framework module: they are pure, tested without sockets;
- the runner reaches sockets only through the client pool (it imports the
  socket module for address family constants, and nothing that does I/O of
  its own: no selectors, no subprocess).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVERS = Path(__file__).resolve().parent.parent / "checks" / "servers"
MODULES = sorted(path.stem for path in SERVERS.glob("*.py") if path.stem != "__init__")
VALUE_MODULES = ("config", "infer", "steps", "report")
IO = frozenset(
    {"socket", "selectors", "asyncio", "trio", "threading", "subprocess", "os", "pytest", "_pytest"}
)


def imported(module: str) -> set[str]:
    tree = ast.parse((SERVERS / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_modules_are_found() -> None:
    assert set(VALUE_MODULES) <= set(MODULES)
    assert {"runner", "clients", "process", "observe", "live", "session"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_no_server_module_imports_pytest_or_the_plugin(module: str) -> None:
    found = {
        name
        for name in imported(module)
        if name.split(".")[0] in {"pytest", "_pytest"} or name == "checks.plugin"
    }
    assert not found, f"checks/servers/{module}.py imports {', '.join(sorted(found))}"


@pytest.mark.parametrize("module", VALUE_MODULES)
def test_value_modules_do_no_io(module: str) -> None:
    found = {name.split(".")[0] for name in imported(module)} & IO
    assert not found, f"checks/servers/{module}.py imports {', '.join(sorted(found))}"


def test_runner_leaves_io_to_the_client_pool() -> None:
    found = {name.split(".")[0] for name in imported("runner")} & {
        "selectors",
        "subprocess",
        "asyncio",
        "trio",
    }
    assert not found
