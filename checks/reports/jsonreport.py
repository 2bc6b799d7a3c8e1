"""The JSON report: a run's record as one JSON document, described by report.schema.json.

Rules of this module:
- the document is `plain.to_plain` of the `RunRecord` (`dataclasses.asdict`,
  enums as their values, tuples as lists); nothing else is added or renamed
  here, so the record's docstrings document the fields and the schema pins
  them down;
- `render` returns text and `SCHEMA` names the schema file shipped beside
  this module; writing the file is the caller's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sockspec.reports.plain import to_plain
from sockspec.reports.record import RunRecord

SCHEMA = Path(__file__).resolve().parent / "report.schema.json"


def document(record: RunRecord) -> dict[str, Any]:
    """The report as JSON-able data."""
    plain: dict[str, Any] = to_plain(record)
    return plain


def render(record: RunRecord) -> str:
    return json.dumps(document(record), indent=1, ensure_ascii=False) + "\n"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded
