"""The gate: what a verdict comes to, given the behaviour's level, strict mode and the baseline.

Rules of this module:
- pure: functions of values, no I/O, no pytest;
- one table (`OUTCOMES`) decides every item's outcome; a reader checks a case
  by finding its row;
- MUST behaviours that fail fail the run; SHOULD behaviours that fail are
  warnings, and fail the run only in strict mode; a behaviour listed in the
  baseline is expected to fail, whatever its level, and fails the run when it
  passes (an unexpected pass), until the baseline no longer lists it;
- a behaviour whose set-up failed did not reach its rule: it is NOT_REACHED at
  every level and in every mode (what failed is a set-up another behaviour
  tests, and nothing was judged), which fails the run; listed in the baseline,
  it is a known failure like any other;
- a fresh baseline lists every item that broke its rule or did not reach it,
  one entry per behaviour and impl when that happened over every family it ran
  on, and keeps the entries of the baseline in force that this run did not test.
"""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Iterable

from sockspec.language.model import Family, Level
from sockspec.reports.baseline import Baseline, Entry
from sockspec.reports.record import BROKE_RULE, ItemRecord, Outcome

#: How much of the first problem a fresh baseline's reason quotes (the user writes the real reason).
REASON_WIDTH = 90

#: Outcomes of items that tested their behaviour (the rest were not applicable).
TESTED: frozenset[Outcome] = frozenset(Outcome) - {Outcome.NOT_APPLICABLE}

#: Outcomes a fresh baseline lists: the rule was broken, or not reached.
BASELINED: frozenset[Outcome] = BROKE_RULE | {Outcome.NOT_REACHED}


class Judged(enum.Enum):
    """What a run found of a behaviour's rule."""

    HELD = "held"
    BROKEN = "broken"
    NOT_REACHED = "not reached"  # a set-up step failed: the rule was not judged


_HELD, _BROKEN, _UNREACHED = Judged.HELD, Judged.BROKEN, Judged.NOT_REACHED

# (the rule, level, strict, listed in the baseline) -> outcome
OUTCOMES: dict[tuple[Judged, Level, bool, bool], Outcome] = {
    (_HELD, Level.MUST, False, False): Outcome.PASSED,
    (_HELD, Level.MUST, True, False): Outcome.PASSED,
    (_HELD, Level.SHOULD, False, False): Outcome.PASSED,
    (_HELD, Level.SHOULD, True, False): Outcome.PASSED,
    (_HELD, Level.MUST, False, True): Outcome.UNEXPECTED_PASS,
    (_HELD, Level.MUST, True, True): Outcome.UNEXPECTED_PASS,
    (_HELD, Level.SHOULD, False, True): Outcome.UNEXPECTED_PASS,
    (_HELD, Level.SHOULD, True, True): Outcome.UNEXPECTED_PASS,
    (_BROKEN, Level.MUST, False, False): Outcome.FAILED,
    (_BROKEN, Level.MUST, True, False): Outcome.FAILED,
    (_BROKEN, Level.SHOULD, False, False): Outcome.WARNED,
    (_BROKEN, Level.SHOULD, True, False): Outcome.FAILED,
    (_BROKEN, Level.MUST, False, True): Outcome.EXPECTED_FAIL,
    (_BROKEN, Level.MUST, True, True): Outcome.EXPECTED_FAIL,
    (_BROKEN, Level.SHOULD, False, True): Outcome.EXPECTED_FAIL,
    (_BROKEN, Level.SHOULD, True, True): Outcome.EXPECTED_FAIL,
    (_UNREACHED, Level.MUST, False, False): Outcome.NOT_REACHED,
    (_UNREACHED, Level.MUST, True, False): Outcome.NOT_REACHED,
    (_UNREACHED, Level.SHOULD, False, False): Outcome.NOT_REACHED,
    (_UNREACHED, Level.SHOULD, True, False): Outcome.NOT_REACHED,
    (_UNREACHED, Level.MUST, False, True): Outcome.EXPECTED_FAIL,
    (_UNREACHED, Level.MUST, True, True): Outcome.EXPECTED_FAIL,
    (_UNREACHED, Level.SHOULD, False, True): Outcome.EXPECTED_FAIL,
    (_UNREACHED, Level.SHOULD, True, True): Outcome.EXPECTED_FAIL,
}


def decide(held: bool, level: Level, strict: bool, known: bool, reached: bool = True) -> Outcome:
    """The outcome of an item whose behaviour's rule held (or not), or was not reached (its
    set-up failed; `held` is then False)."""
    judged = _UNREACHED if not reached else _HELD if held else _BROKEN
    return OUTCOMES[(judged, level, strict, known)]


def _reason(item: ItemRecord) -> str:
    """Why a fresh baseline lists this item: the old reason, else the first thing observed."""
    if item.outcome is Outcome.EXPECTED_FAIL and item.reason:
        return item.reason
    if item.failure is not None:
        first = item.failure.observed[0] if item.failure.observed else item.failure.title
        said = f"{item.failure.where}: {textwrap.shorten(first, REASON_WIDTH, placeholder=' ...')}"
        return f"not reached: {said}" if item.outcome is Outcome.NOT_REACHED else said
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
    """Baseline entries for every item that broke its rule or did not reach it, in the items'
    order."""
    ran: dict[tuple[str, str], list[ItemRecord]] = {}
    for item in items:
        if item.outcome is not Outcome.NOT_APPLICABLE:
            ran.setdefault((item.id, item.impl), []).append(item)
    entries: list[Entry] = []
    for (behaviour, impl), group in ran.items():
        broke = [item for item in group if item.outcome in BASELINED]
        if not broke:
            continue
        if len(broke) == len(group):
            known = [item for item in broke if item.outcome is Outcome.EXPECTED_FAIL]
            entries.append(Entry(behaviour, _reason((known or broke)[0]), impl))
        else:
            entries.extend(Entry(behaviour, _reason(item), impl, Family(item.family)) for item in broke)
    return entries
