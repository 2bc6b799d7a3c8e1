"""The spec corpus bundled with sockspec: where its files are, their digest, the release.

Rules of this module:
- the corpus is the package data of `sockspec.corpus_files`, which pyproject.toml
  maps to the repository's top-level `spec/` folder: a wheel installs the files
  inside that package, an editable install reads them in the clone; both are
  found one way, through importlib.resources, never from a path relative to
  this file or to the current directory;
- `CORPUS` is the folder of the bundled spec files (`*.yaml`) and `SCHEMA` the
  JSON Schema they are checked against (`schema.json`, in that folder);
- `digest` names a set of spec files by their names and bytes only (not their
  folder), so one corpus has one digest in a clone and in any install;
- `version` is the version of the installed `sockspec` distribution;
- no pytest, and nothing read at import time beyond locating the folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import metadata, resources
from pathlib import Path

DISTRIBUTION = "sockspec"
PACKAGE = "sockspec.corpus_files"


def _folder() -> Path:
    found = resources.files(PACKAGE)
    if not isinstance(found, Path):
        raise RuntimeError(f"sockspec's spec files must be installed as files on disk; found {found!r}")
    return found


CORPUS: Path = _folder()
SCHEMA: Path = CORPUS / "schema.json"


def digest(paths: Sequence[Path]) -> str:
    """The first 12 hex digits of sha256 over each file's name and bytes, in the order given.

    Each file adds its name (UTF-8), a NUL byte, its size as 8 big-endian bytes and
    its bytes, so no two different lists of files run together into the same input.
    """
    hashed = hashlib.sha256()
    for path in paths:
        data = path.read_bytes()
        hashed.update(path.name.encode("utf-8") + b"\0")
        hashed.update(len(data).to_bytes(8, "big"))
        hashed.update(data)
    return hashed.hexdigest()[:12]


def version() -> str:
    """The installed sockspec distribution's version, or "unknown" when it is not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
