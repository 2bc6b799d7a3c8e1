"""Failures grouped by cause: what several failures of one impl come from, said once.

Rules of this module:
- pure: functions of item records and server records, no I/O, no pytest;
- an impl's failures are its items that failed or did not reach their rule;
  each belongs to exactly one cause, the first of these that names one:
  1. what the checker saw for itself (`FailureRecord.cause`): the server
     exited, or was not there;
  2. the model observed: the server was seen serving one client at a time, and
     the failing step had more than one client connected;
  3. for a behaviour not reached: the cause of the behaviour its set-up names
     (`FailureRecord.see`), when that one failed too on the same impl and
     family; else that set-up itself;
  4. the item's own rule;
- the groups keep the order of their first failure; a group says what its
  failures share beyond the cause (`CauseRecord.note`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sockspec.reports.record import CauseRecord, ItemRecord, Outcome, ServerRecord
from sockspec.servers.infer import Observed

#: The outcomes counted as an impl's failures.
FAILING: frozenset[Outcome] = frozenset({Outcome.FAILED, Outcome.NOT_REACHED})
#: The cause named when the server was observed serving one client at a time.
ONE_AT_A_TIME = "serves one client at a time (observed)"

# (kind, cause in words): see CauseRecord.kind.
Key = tuple[str, str]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class _Impl:
    """One impl's failures, and the cause of each."""

    def __init__(self, failing: Sequence[ItemRecord], one_at_a_time: bool) -> None:
        self.failing = failing
        self.one_at_a_time = one_at_a_time
        self.by_behaviour = {(item.id, item.family): item for item in failing}

    def key(self, item: ItemRecord, followed: tuple[str, ...] = ()) -> Key:
        found = item.failure
        if found is not None and found.cause:
            return ("server", found.cause)
        if self.one_at_a_time and found is not None and (found.clients_at_once or 0) > 1:
            return ("observed", ONE_AT_A_TIME)
        see = found.see if found is not None else None
        if see is not None:
            other = self.by_behaviour.get((see, item.family))
            if other is not None and other.nodeid not in followed:
                return self.key(other, (*followed, item.nodeid))
            return ("setup", f"a set-up that {see} tests")
        return ("rule", f"{item.id} breaks its rule")

    def groups(self) -> dict[Key, list[ItemRecord]]:
        found: dict[Key, list[ItemRecord]] = {}
        for item in self.failing:
            found.setdefault(self.key(item), []).append(item)
        return found


def _note(kind: str, items: Sequence[ItemRecord]) -> str | None:
    unreached = sum(1 for item in items if item.outcome is Outcome.NOT_REACHED)
    parts = []
    if kind == "observed":
        needing = sum(
            1
            for item in items
            if item.outcome is Outcome.FAILED
            and item.failure is not None
            and (item.failure.clients_at_once or 0) > 1
        )
        parts.append(f"{needing} of them need clients served at the same time")
    if unreached and unreached < len(items):
        parts.append(f"{unreached} of them not reached")
    return "; ".join(parts) or None


def group(items: Iterable[ItemRecord], servers: Iterable[ServerRecord]) -> tuple[CauseRecord, ...]:
    """Every failure of the run, grouped by cause, impl by impl (in the order impls first fail)."""
    observed = {server.impl: server.observed.kind for server in servers if server.observed is not None}
    by_impl: dict[str, list[ItemRecord]] = {}
    for item in items:
        if item.outcome in FAILING:
            by_impl.setdefault(item.impl, []).append(item)
    records = []
    for impl, failing in by_impl.items():
        found = _Impl(failing, observed.get(impl) == Observed.ONE_AT_A_TIME.value)
        for (kind, cause), grouped in found.groups().items():
            records.append(
                CauseRecord(impl, cause, kind, tuple(item.nodeid for item in grouped), _note(kind, grouped))
            )
    return tuple(records)


def render(causes: Sequence[CauseRecord], items: Iterable[ItemRecord]) -> list[str]:
    """Per impl whose failures share a cause, or have one the checker knows: "one_at_a_time: 3
    failed, 1 cause: serves one client at a time (observed); 3 of them need clients served at
    the same time" (several causes: one line each). Nothing for an impl whose every failure is
    its own rule's: the failures say it all."""
    outcomes = {item.nodeid: item.outcome for item in items}
    by_impl: dict[str, list[CauseRecord]] = {}
    for cause in causes:
        by_impl.setdefault(cause.impl, []).append(cause)
    lines = []
    for impl, found in by_impl.items():
        if all(cause.kind == "rule" and len(cause.items) == 1 for cause in found):
            continue
        nodeids = [nodeid for cause in found for nodeid in cause.items]
        unreached = sum(1 for nodeid in nodeids if outcomes.get(nodeid) is Outcome.NOT_REACHED)
        counted = [f"{len(nodeids) - unreached} failed"] if unreached < len(nodeids) else []
        counted += [f"{unreached} not reached"] if unreached else []
        head = f"{impl}: {', '.join(counted)}, {_plural(len(found), 'cause')}"
        if len(found) == 1:
            lines.append(f"{head}: {_said(found[0], with_count=False)}")
            continue
        lines.append(f"{head}:")
        lines.extend(f"  {_said(cause, with_count=True)}" for cause in found)
    return lines


#: How many behaviours a cause names before "and N more".
SHOWN = 5


def _said(cause: CauseRecord, with_count: bool) -> str:
    shown = [_behaviour(nodeid) for nodeid in cause.items[:SHOWN]]
    rest = len(cause.items) - len(shown)
    ids = ", ".join(shown) + (f" and {rest} more" if rest else "")
    count = f"{_plural(len(cause.items), 'failure')}: " if with_count else ""
    note = f"; {cause.note}" if cause.note else ""
    return f"{cause.cause}{note} ({count}{ids})"


def _behaviour(nodeid: str) -> str:
    """'spec/server.yaml::server.echo.small[impl-tcp4]' -> 'server.echo.small[tcp4]'."""
    tail = nodeid.rsplit("::", 1)[-1]
    name, _, params = tail.partition("[")
    family = params.rstrip("]").rsplit("-", 1)[-1] if params else ""
    return f"{name}[{family}]" if family else name
