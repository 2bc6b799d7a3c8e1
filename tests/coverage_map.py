"""The coverage map (docs/coverage.yaml): what the corpus tests of the seed tutorial and the Linux facts.

Rules of this module:
- the map lists each claim of the seed (io-models-blog.md: its section, a short verbatim quote, what it
  says) and each item of the measured facts (linux-socket-facts: A.1 to A.70, B1 to B4, C, D, E: its name
  and a one-line summary), each once, so it reads and is checked without the sources beside it;
- an entry has exactly one status: `covered` (behaviours), `weak` (behaviours and `weak`, what they leave
  out), `uncovered` (`reason`: why no behaviour can) or `todo` (`todo`: a behaviour wanted, not written);
- an entry with behaviours may also say their `limits`: where a rule was narrowed to what its source
  supports (its text, or what it requires of an impl), and why; it is a note, not a status;
- `problems(map, ids, seed)` says what is wrong with the map: an entry with no status or two, an id the
  corpus lacks, a claim whose section or quote the seed's list (tests/seed-sections.txt) does not have,
  an item listed twice or missing; `source_problems` compares it with the real seed and facts file;
- `table(map)` renders the map with counts, as `python -m tests.coverage_map` prints it (exit status 1
  when the map has problems);
- parsing is strict (an unknown field is an error naming the entry); no I/O beyond reading the files.
"""

from __future__ import annotations

import enum
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sockspec.language.corpus import CORPUS
from sockspec.language.loader import load_file

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "coverage.yaml"
SEED_DATA = ROOT / "tests" / "seed-sections.txt"
FACTS = ROOT / "docs" / "linux-socket-facts.md"
SHARED = ROOT.parent / "shared"
SEED_BESIDE = SHARED / "seed" / "io-models-blog.md"
FACTS_BESIDE = SHARED / "research" / "linux-socket-facts.md"

#: Every item of the facts file, in its order.
FACT_ITEMS: tuple[str, ...] = (
    *(f"A.{number}" for number in range(1, 71)),
    *(f"B{number}" for number in range(1, 5)),
    "C",
    "D",
    "E",
)
#: Seed sections that make no behavioural claim.
NO_CLAIMS = frozenset({"Reference"})


class Status(enum.Enum):
    COVERED = "covered"
    WEAK = "weak"
    UNCOVERED = "uncovered"
    TODO = "todo"


@dataclass(frozen=True)
class Entry:
    """One claim of the seed or one item of the facts."""

    key: str  # "claim 9", "A.33"
    section: str  # the seed's section, or the item's name
    quote: str | None  # the seed's words; None for a fact
    says: str
    behaviours: tuple[str, ...]
    weak: str | None
    reason: str | None
    todo: str | None
    limits: str | None = None

    @property
    def statuses(self) -> tuple[Status, ...]:
        """Every status the entry's fields state; a well-formed entry states exactly one."""
        found = []
        if self.behaviours:
            found.append(Status.WEAK if self.weak else Status.COVERED)
        elif self.weak:
            found.append(Status.WEAK)
        if self.reason:
            found.append(Status.UNCOVERED)
        if self.todo:
            found.append(Status.TODO)
        return tuple(found)

    @property
    def status(self) -> Status | None:
        statuses = self.statuses
        return statuses[0] if len(statuses) == 1 else None

    @property
    def note(self) -> str:
        return self.weak or self.reason or self.todo or ""


@dataclass(frozen=True)
class CoverageMap:
    claims: tuple[Entry, ...]
    facts: tuple[Entry, ...]

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.claims + self.facts


STATUS_FIELDS = frozenset({"says", "behaviours", "weak", "reason", "todo", "limits"})
CLAIM_FIELDS = frozenset({"claim", "section", "quote"}) | STATUS_FIELDS
FACT_FIELDS = frozenset({"item", "name"}) | STATUS_FIELDS


def _entry(raw: Any, fields: frozenset[str], key_field: str, where: str) -> Entry:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping, found {raw!r}")
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; an entry takes {sorted(fields)}")
    if key_field not in raw or "says" not in raw:
        raise ValueError(f"{where}: needs {key_field!r} and 'says'")
    behaviours = raw.get("behaviours") or []
    if not isinstance(behaviours, list) or not all(isinstance(one, str) for one in behaviours):
        raise ValueError(f"{where}: behaviours is a list of spec ids, found {behaviours!r}")
    is_claim = key_field == "claim"
    return Entry(
        key=f"claim {raw['claim']}" if is_claim else str(raw["item"]),
        section=str(raw.get("section" if is_claim else "name", "")),
        quote=raw.get("quote") if is_claim else None,
        says=str(raw["says"]),
        behaviours=tuple(behaviours),
        weak=raw.get("weak"),
        reason=raw.get("reason"),
        todo=raw.get("todo"),
        limits=raw.get("limits"),
    )


def parse(text: str, name: str = "docs/coverage.yaml") -> CoverageMap:
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping) or set(data) != {"seed", "facts"}:
        raise ValueError(f"{name}: expected a mapping with exactly 'seed' and 'facts'")
    claims = tuple(
        _entry(raw, CLAIM_FIELDS, "claim", f"{name}: seed[{index}]") for index, raw in enumerate(data["seed"])
    )
    facts = tuple(
        _entry(raw, FACT_FIELDS, "item", f"{name}: facts[{index}]") for index, raw in enumerate(data["facts"])
    )
    return CoverageMap(claims, facts)


def load(path: Path = MAP) -> CoverageMap:
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    return parse(path.read_text(encoding="utf-8"), name)


def read_seed_sections(text: str) -> dict[str, tuple[str, ...]]:
    """tests/seed-sections.txt: '§ heading' lines, each followed by indented verbatim text of its section."""
    sections: dict[str, list[str]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("§ "):
            heading = line[2:].strip()
            sections[heading] = []
        elif line.startswith("    ") and heading:
            sections[heading].append(line.strip())
    return {heading: tuple(texts) for heading, texts in sections.items()}


def _repeated(keys: Iterable[str]) -> list[str]:
    return sorted(key for key, count in Counter(keys).items() if count > 1)


def problems(coverage: CoverageMap, ids: Iterable[str], seed: Mapping[str, Sequence[str]]) -> list[str]:
    """What is wrong with the map, given the corpus's ids and the seed's sections and quotable text."""
    known = set(ids)
    found: list[str] = []
    for entry in coverage.entries:
        statuses = entry.statuses
        if not statuses:
            found.append(f"{entry.key}: neither behaviours nor a reason (or a todo) why none")
        elif len(statuses) > 1:
            names = ", ".join(status.value for status in statuses)
            found.append(f"{entry.key}: states more than one status ({names}); keep one")
        for behaviour in entry.behaviours:
            if behaviour not in known:
                found.append(f"{entry.key}: no behaviour {behaviour!r} in the corpus")
        if entry.limits and not entry.behaviours:
            found.append(f"{entry.key}: `limits` says how its behaviours are narrowed, and it names none")
    for repeated in _repeated(entry.key for entry in coverage.entries):
        found.append(f"{repeated}: listed more than once")
    items = [entry.key for entry in coverage.facts]
    for missing in (item for item in FACT_ITEMS if item not in items):
        found.append(f"{missing}: the facts item is not in the map")
    for extra in (item for item in items if item not in FACT_ITEMS):
        found.append(f"{extra}: the facts have no such item (they have A.1 to A.70, B1 to B4, C, D, E)")
    for claim in coverage.claims:
        if claim.section not in seed:
            found.append(f"{claim.key}: the seed has no section {claim.section!r}; it has {', '.join(seed)}")
        elif claim.quote is not None and claim.quote not in seed[claim.section]:
            found.append(
                f"{claim.key}: {claim.quote!r} is not listed under §{claim.section} in tests/{SEED_DATA.name}"
                " (a quote from the seed goes there first)"
            )
    claimed = {claim.section for claim in coverage.claims}
    for section in (name for name in seed if name not in claimed and name not in NO_CLAIMS):
        found.append(f"§{section}: the seed's section has no claim in the map")
    return found


FACT_LINE = re.compile(r"^(\d+)\. `([^`]+)`", re.MULTILINE)
FACT_B = re.compile(r"\*\*(B\d+)\*\*")
FACT_SECTION = re.compile(r"^## ([A-Z])\. (.+?)\s*$", re.MULTILINE)
FACT_ANY = re.compile(rf"{FACT_LINE.pattern}|{FACT_B.pattern}|{FACT_SECTION.pattern}", re.MULTILINE)


def facts_of(markdown: str) -> list[tuple[str, str]]:
    """The facts file's items, in order, each with its name: ('A.7', 'recv.cross_thread'), ('B1', ''),
    ('C', 'Determinism facts'); the sections A and B stand for their numbered items."""
    items: list[tuple[str, str]] = []
    for match in FACT_ANY.finditer(markdown):
        number, name, b_item, letter, title = match.groups()
        if number:
            items.append((f"A.{number}", name))
        elif b_item:
            items.append((b_item, ""))
        elif letter not in ("A", "B"):
            items.append((letter, title))
    return items


def source_problems(
    coverage: CoverageMap, seed_sections: Mapping[str, str] | None, facts_markdown: str
) -> list[str]:
    """Where the map differs from the seed (section to body text; None: not at hand, not compared)
    and the facts file themselves."""
    found: list[str] = []
    sections: Mapping[str, str] = seed_sections or {}
    for claim in coverage.claims if seed_sections is not None else ():
        body = sections.get(claim.section)
        if body is None:
            found.append(f"{claim.key}: the seed has no section {claim.section!r}")
        elif claim.quote is not None and claim.quote not in body:
            found.append(f"{claim.key}: §{claim.section} of the seed does not contain {claim.quote!r}")
    listed = {entry.key: entry for entry in coverage.facts}
    actual = facts_of(facts_markdown)
    for item, count in Counter(item for item, _ in actual).items():
        if count > 1:
            found.append(f"{item}: the facts file has it {count} times")
    for item, name in actual:
        entry = listed.get(item)
        if entry is None:
            found.append(f"{item} ({name or 'unnamed'}): in the facts file, not in the map")
        elif name and item.startswith("A.") and entry.section != name:
            found.append(f"{item}: the facts file names it {name!r}, the map {entry.section!r}")
        elif name and not item.startswith("A.") and entry.section != name:
            found.append(f"{item}: the facts file's section is {name!r}, the map says {entry.section!r}")
    for item in listed.keys() - {item for item, _ in actual}:
        found.append(f"{item}: in the map, not in the facts file")
    return found


def counts(entries: Iterable[Entry]) -> dict[Status, int]:
    tally = Counter(entry.status for entry in entries)
    return {status: tally.get(status, 0) for status in Status}


def summary(entries: Sequence[Entry]) -> str:
    tally = counts(entries)
    return (
        f"{len(entries)}: {tally[Status.COVERED]} covered, {tally[Status.WEAK]} weak, "
        f"{tally[Status.UNCOVERED]} uncovered with a reason, {tally[Status.TODO]} to write"
    )


def _rows(title: str, entries: Sequence[Entry], label: str) -> list[str]:
    lines = [f"{title} ({summary(entries)})"]
    for status in Status:
        chosen = [entry for entry in entries if entry.status is status]
        if not chosen:
            continue
        lines.append(f"  {status.value}:")
        for entry in chosen:
            head = f"    {entry.key:<9} {label.format(entry=entry)}"
            lines.append(head)
            if entry.behaviours:
                lines.append(f"              -> {', '.join(entry.behaviours)}")
            if entry.note:
                lines.append(f"              ({entry.note})")
            if entry.limits:
                lines.append(f"              (limits: {entry.limits})")
    return lines


def table(coverage: CoverageMap) -> str:
    """The map as text: per source, the entries grouped by status, with counts."""
    lines = _rows("The seed's claims", coverage.claims, "§{entry.section}: {entry.says}")
    lines.append("")
    lines += _rows("The Linux facts", coverage.facts, "{entry.section}: {entry.says}")
    return "\n".join(lines)


def corpus_ids() -> list[str]:
    """The ids of the bundled corpus, loaded as the plugin loads them."""
    paths = sorted(CORPUS.glob("*.yaml"))
    return [behaviour.id for path in paths for behaviour in load_file(path).behaviours]


def main() -> int:
    coverage = load()
    print(table(coverage))
    found = problems(coverage, corpus_ids(), read_seed_sections(SEED_DATA.read_text(encoding="utf-8")))
    for problem in found:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
