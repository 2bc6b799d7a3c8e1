"""The operations a spec names: one table, and everything that lists them agrees with it.

Rules of this file:
- sockspec.language.operations is the table; spec/schema.json (enums and the
  fields of a call and a peer step), the runner's tables
  (sockspec.driving.operations) and the operation table of spec/README.md are
  checked against it, names and order;
- nothing runs: the files are read, the modules imported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sockspec.driving import operations as performed
from sockspec.language import server_steps
from sockspec.language.loader import SCHEMA_PATH
from sockspec.language.operations import (
    CALL_COMMON,
    CALLS,
    PEER_COMMON,
    PEERS,
    Performer,
    performed_by,
    submitted,
)

ROOT = Path(__file__).resolve().parent.parent
DEFS = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["$defs"]
README = (ROOT / "spec" / "README.md").read_text(encoding="utf-8")
# The README's "drivers" column, by what performs the operation and whether it is submitted.
DRIVERS: dict[tuple[Performer, bool], str] = {
    (Performer.SOCKET, True): "socket drivers; completion drivers submit it",
    (Performer.SOCKET, False): "socket drivers",
    (Performer.READINESS, False): "readiness drivers",
    (Performer.DRIVER, False): "completion drivers",
    (Performer.RUNNER, False): "completion drivers",
}


def words(cell: str) -> frozenset[str]:
    """The `quoted` names of a README table cell."""
    return frozenset(re.findall(r"`([^`]+)`", cell))


def readme_operations() -> list[tuple[str, frozenset[str], frozenset[str], str]]:
    """(name, needs, may take, drivers) of each row of the README's operation table."""
    section = README.split("### Operations", 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), words(cells[1]), words(cells[2]), cells[3]))
    return rows


def test_the_schema_names_the_operations_in_table_order() -> None:
    assert DEFS["call"]["properties"]["call"]["enum"] == list(CALLS)


def test_the_schema_takes_the_fields_the_operations_take() -> None:
    fields = {name for operation in CALLS.values() for name in operation.arguments.fields}
    assert set(DEFS["call"]["properties"]) == fields | CALL_COMMON


def test_the_schema_names_the_peer_actions_and_their_fields() -> None:
    assert DEFS["peer"]["properties"]["peer"]["enum"] == list(PEERS)
    fields = {name for arguments in PEERS.values() for name in arguments.fields}
    assert set(DEFS["peer"]["properties"]) == fields | PEER_COMMON


def test_the_schema_names_the_client_actions_and_their_fields() -> None:
    assert DEFS["client"]["properties"]["action"]["enum"] == list(server_steps.CLIENT_ARGUMENTS)
    fields = {name for arguments in server_steps.CLIENT_ARGUMENTS.values() for name in arguments.fields}
    assert set(DEFS["client"]["properties"]) == fields | server_steps.CLIENT_COMMON


def test_the_runner_performs_each_operation_where_the_table_says() -> None:
    assert list(performed.SOCKET_CALLS) == performed_by(Performer.SOCKET)
    assert list(performed.READINESS_CALLS) == performed_by(Performer.READINESS)
    assert list(performed.DRIVER_CALLS) == performed_by(Performer.DRIVER)
    assert list(performed.SUBMITS) == submitted()
    assert set(submitted()) <= set(performed_by(Performer.SOCKET))
    assert performed_by(Performer.RUNNER) == ["cancel"]  # the runner's own step (driving/runner.py)


def test_a_runner_table_that_differs_from_the_language_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"^sockspec bug: the socket call table performs recv, send; "):
        performed._table(["recv"], {"recv": 1, "send": 2}, "socket call")


def test_the_readme_lists_each_operation_with_its_fields_and_drivers() -> None:
    assert readme_operations() == [
        (
            name,
            operation.arguments.needs,
            operation.arguments.takes,
            DRIVERS[operation.performer, operation.submitted],
        )
        for name, operation in CALLS.items()
    ]


def test_the_readme_lists_the_fields_every_call_takes() -> None:
    line = next(line for line in README.splitlines() if line.startswith("Every call may also take:"))
    assert words(line) == CALL_COMMON - {"call"}


def test_every_call_the_readme_mentions_is_an_operation() -> None:
    mentioned = set(re.findall(r"`call: ([a-z_]+)`", README))
    assert mentioned
    assert mentioned <= set(CALLS)
