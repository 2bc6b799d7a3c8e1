"""The checker's layers, as pyproject.toml's import-linter contracts state them.

Rules of this file:
- the contracts are the ones `.ci/run` checks (`lint-imports`), run here too so
  that plain `pytest` catches a broken layer; imports are followed indirectly;
- the contracts name every layer package, so a package that is renamed or added
  cannot slip out of them unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import sockspec

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    # The venv's own script first: a venv's python run without activating it has no PATH to it.
    beside = Path(sys.executable).parent / "lint-imports"
    lint = str(beside) if beside.is_file() else shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_layers_contract_names_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(contract["layers"] for contract in contracts if contract["type"] == "layers")
    named = {name.strip() for layer in layers for name in layer.split("|")}
    packages = {
        f"sockspec.{path.parent.name}"
        for path in Path(sockspec.__file__).parent.glob("*/__init__.py")
        if path.parent.name != "__pycache__"
    }
    assert packages == named
