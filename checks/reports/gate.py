"""The gate: what a verdict comes to, given the behaviour's level, strict mode and the baseline.

Rules of this module:
- pure: functions of values, no I/O, no pytest;
- one table (`OUTCOMES`) decides every item's outcome; a reader checks a case
  by finding its row;
- MUST behaviours that fail fail the run; SHOULD behaviours that fail are
  warnings, and fail the run only in strict mode; a behaviour listed in the
  baseline is expected to fail, whatever its level, and fails the run when it
  passes (an unexpected pass), until the baseline no longer lists it;
- a fresh baseline lists every item that broke its rule, one entry per
  behaviour and impl when it broke it over every family it ran on, and keeps
  the entries of the baseline in force that this run did not test.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from sockspec.language.model import Family, Level
from sockspec.reports.baseline import Baseline, Entry
from sockspec.reports.record import BROKE_RULE, ItemRecord, Outcome

#: How much of the first problem a fresh baseline's reason quotes (the user writes the real reason).
REASON_WIDTH = 90

#: Outcomes of items that tested their behaviour (the rest were not applicable).
TESTED: frozenset[Outcome] = frozenset(Outcome) - {Outcome.NOT_APPLICABLE}

# (rule held, level, strict, listed in the baseline) -> outcome
OUTCOMES: dict[tuple[bool, Level, bool, bool], Outcome] = {
    (True, Level.MUST, False, False): Outcome.PASSED,
    (True, Level.MUST, True, False): Outcome.PASSED,
    (True, Level.SHOULD, False, False): Outcome.PASSED,
    (True, Level.SHOULD, True, False): Outcome.PASSED,
    (True, Level.MUST, False, True): Outcome.UNEXPECTED_PASS,
    (True, Level.MUST, True, True): Outcome.UNEXPECTED_PASS,
    (True, Level.SHOULD, False, True): Outcome.UNEXPECTED_PASS,
    (True, Level.SHOULD, True, True): Outcome.UNEXPECTED_PASS,
    (False, Level.MUST, False, False): Outcome.FAILED,
    (False, Level.MUST, True, False): Outcome.FAILED,
    (False, Level.SHOULD, False, False): Outcome.WARNED,
    (False, Level.SHOULD, True, False): Outcome.FAILED,
    (False, Level.MUST, False, True): Outcome.EXPECTED_FAIL,
    (False, Level.MUST, True, True): Outcome.EXPECTED_FAIL,
    (False, Level.SHOULD, False, True): Outcome.EXPECTED_FAIL,
    (False, Level.SHOULD, True, True): Outcome.EXPECTED_FAIL,
}


def decide(held: bool, level: Level, strict: bool, known: bool) -> Outcome:
    """The outcome of an item whose behaviour's rule held (or not)."""
    return OUTCOMES[(held, level, strict, known)]


def _reason(item: ItemRecord) -> str:
    """Why a fresh baseline lists this item: the old reason, else the first thing observed."""
    if item.outcome is Outcome.EXPECTED_FAIL and item.reason:
        return item.reason
    if item.failure is not None:
        first = item.failure.observed[0] if item.failure.observed else item.failure.title
        return f"{item.failure.where}: {textwrap.shorten(first, REASON_WIDTH, placeholder=' ...')}"
    return item.reason or "failed"


def _tested(items: Iterable[ItemRecord]) -> list[tuple[str, str, Family]]:
    """(behaviour, impl, family) of every item that tested its behaviour."""
    return [(item.id, item.impl, Family(item.family)) for item in items if item.outcome in TESTED]


def unrun_entries(previous: Baseline, items: Iterable[ItemRecord]) -> list[Entry]:
    """The entries of the baseline in force that no item of this run tested (deselected with -k
    or -m, another impl, not applicable): a fresh baseline keeps them as they are."""
    ran = _tested(items)
    return [entry for entry in previous.entries if not any(entry.matches(*key) for key in ran)]


def unused_entries(previous: Baseline, items: Iterable[ItemRecord]) -> list[Entry]:
    """Entries for a behaviour that ran which matched none of its items (a misspelt impl or family,
    or a family that does not apply): the gate ignores them, the user should hear of them."""
    ran = _tested(items)
    ids = {behaviour for behaviour, _impl, _family in ran}
    return [
        entry for entry in previous.entries if entry.id in ids and not any(entry.matches(*key) for key in ran)
    ]


def fresh_entries(items: Iterable[ItemRecord]) -> list[Entry]:
    """Baseline entries for every item that broke its rule, in the items' order."""
    ran: dict[tuple[str, str], list[ItemRecord]] = {}
    for item in items:
        if item.outcome is not Outcome.NOT_APPLICABLE:
            ran.setdefault((item.id, item.impl), []).append(item)
    entries: list[Entry] = []
    for (behaviour, impl), group in ran.items():
        broke = [item for item in group if item.outcome in BROKE_RULE]
        if not broke:
            continue
        if len(broke) == len(group):
            known = [item for item in broke if item.outcome is Outcome.EXPECTED_FAIL]
            entries.append(Entry(behaviour, _reason((known or broke)[0]), impl))
        else:
            entries.extend(Entry(behaviour, _reason(item), impl, Family(item.family)) for item in broke)
    return entries
