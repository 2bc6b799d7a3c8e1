"""Import boundaries of checks/, read from the source's syntax tree.

Rules of this file:
- imports are found by parsing each module's AST (Import and ImportFrom nodes,
  wherever they stand, TYPE_CHECKING blocks included), never by importing the
  module or looking at sys.modules;
- relative imports are resolved against the checks package;
- the value layer (model, loader, judge, timing, errorkinds, trace, report, and
  the gate's and reports' record, results, gate, baseline, htmlreport) imports
  no I/O, concurrency or test framework module;
- only plugin.py imports pytest, and no module of checks/ imports checks.plugin.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CHECKS = Path(__file__).resolve().parent.parent / "checks"
PACKAGE = "checks"

VALUE_LAYER = (
    *("model", "loader", "judge", "timing", "errorkinds", "trace", "report"),
    *("record", "results", "gate", "baseline", "htmlreport"),
)
FORBIDDEN_IN_VALUE_LAYER = frozenset({"socket", "selectors", "asyncio", "trio", "pytest", "threading"})
# The trace is appended to from the runner's threads, so it holds a lock: no I/O, but threading.
ALLOWED_IN_VALUE_LAYER: dict[str, frozenset[str]] = {"trace": frozenset({"threading"})}
ALL_MODULES = sorted(path.stem for path in CHECKS.glob("*.py"))


def imported_modules(module: str) -> set[str]:
    """Every module checks/<module>.py imports, dotted; `from a.b import c` gives a.b and a.b.c."""
    path = CHECKS / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = PACKAGE.split(".")[: max(0, 1 - (node.level - 1))]
                parent = ".".join([*base, node.module] if node.module else base)
            else:
                parent = node.module or ""
            found.add(parent)
            found.update(f"{parent}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_all_modules_found() -> None:
    assert set(VALUE_LAYER) <= set(ALL_MODULES)
    assert "plugin" in ALL_MODULES


@pytest.mark.parametrize("module", VALUE_LAYER)
def test_value_layer_imports_no_io_or_framework(module: str) -> None:
    forbidden = top_level(imported_modules(module)) & (
        FORBIDDEN_IN_VALUE_LAYER - ALLOWED_IN_VALUE_LAYER.get(module, frozenset())
    )
    assert not forbidden, f"checks/{module}.py imports {', '.join(sorted(forbidden))}"


@pytest.mark.parametrize("module", [name for name in ALL_MODULES if name != "plugin"])
def test_only_the_plugin_imports_pytest(module: str) -> None:
    found = {name for name in imported_modules(module) if name.split(".")[0] in {"pytest", "_pytest"}}
    assert not found, f"checks/{module}.py imports {', '.join(sorted(found))}"


@pytest.mark.parametrize("module", ALL_MODULES)
def test_nothing_imports_the_plugin(module: str) -> None:
    assert "checks.plugin" not in imported_modules(module), f"checks/{module}.py imports checks.plugin"


def test_imported_modules_reads_every_import_form() -> None:
    runner = imported_modules("runner")
    assert {"threading", "socket", "checks.judge", "checks.peer", "checks.model.Call"} <= runner
    plugin = imported_modules("plugin")
    assert {"pytest", "checks.report", "checks.loader.load_file"} <= plugin
