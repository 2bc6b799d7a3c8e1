"""The baseline: behaviours known to fail, so that a CI gate fails only on a change.

A baseline is a YAML file::

    # sockspec baseline: behaviours known to fail
    known_failures:
      - id: server.slow-reader.others-served   # a behaviour id of the corpus
        impl: myserver                          # optional: only for this impl
        family: tcp6                            # optional: only over this family
        reason: one thread serves every client, blocking in send

Rules of this module:
- parsing, matching and writing only; the caller reads and writes the file
  (`parse` takes its text, `render` returns text), so this module does no I/O;
- the text is read and checked by sockspec.language.validation against
  baseline.schema.json (in sockspec.language), with the wording of spec errors:
  every entry needs an id and a reason; a mistake is a `BaselineError` that
  names the file, line and field, like a spec error; what a schema cannot say
  (the same entry twice, ids the corpus does not have) is code here, reported
  as the same `Problem`s;
- an item matches the most specific entry: id+impl+family, then id+impl,
  id+family, then id alone;
- ids the corpus does not have are the caller's to refuse (`unknown`), with a
  suggestion for a near spelling.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import yaml
from sockspec.language.model import Family
from sockspec.language.suggest import did_you_mean
from sockspec.language.validation import (
    BASELINE_SCHEMA,
    Invalid,
    Problem,
    validate,
    validator,
    yaml_document,
)

KEY = "known_failures"
HEADER = (
    "# sockspec baseline: behaviours known to fail.\n"
    "# A listed behaviour that fails is an expected failure; one that passes fails the run\n"
    "# (an unexpected pass) until it is removed from here. Rewrite this file from a run with\n"
    "# --sockspec-write-baseline=PATH. Leave out impl or family to match every one.\n"
)


class BaselineError(Invalid):
    """The baseline file is wrong: the user's to fix. Each line names file:line: field."""


@dataclass(frozen=True)
class Entry:
    """One known failure, and where it is written."""

    id: str
    reason: str
    impl: str | None = None
    family: Family | None = None
    file: str = "<baseline>"
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def matches(self, behaviour: str, impl: str, family: Family) -> bool:
        return (
            self.id == behaviour
            and (self.impl is None or self.impl == impl)
            and (self.family is None or self.family is family)
        )

    def specificity(self) -> int:
        return (2 if self.impl is not None else 0) + (1 if self.family is not None else 0)


@dataclass(frozen=True)
class Baseline:
    """The entries of one baseline file."""

    file: str
    entries: tuple[Entry, ...]

    def match(self, behaviour: str, impl: str, family: Family) -> Entry | None:
        """The most specific entry for this item, or None."""
        found = [entry for entry in self.entries if entry.matches(behaviour, impl, family)]
        return max(found, key=Entry.specificity, default=None)


def parse(text: str, file: str) -> Baseline:
    """The baseline in `text`, read from `file` (named in errors); BaselineError when it is wrong."""
    try:
        doc = yaml_document(text, file)
    except Invalid as exc:
        raise BaselineError(exc.problems) from None
    if doc.data is None:
        return Baseline(file, ())
    problems = validate(doc, validator(BASELINE_SCHEMA))
    if problems:
        raise BaselineError(problems)
    entries = []
    first: dict[tuple[str, str | None, Family | None], Entry] = {}
    for index, raw in enumerate(doc.data[KEY]):
        family = raw.get("family")
        entry = Entry(
            raw["id"],
            raw["reason"],
            raw.get("impl"),
            Family(family) if family is not None else None,
            file,
            doc.line((KEY, index)),
        )
        key = (entry.id, entry.impl, entry.family)
        if key in first:
            problems.append(doc.problem((KEY, index), f"the same id, impl and family as {first[key].where}"))
        first.setdefault(key, entry)
        entries.append(entry)
    if problems:
        raise BaselineError(problems)
    return Baseline(file, tuple(entries))


def unknown(baseline: Baseline, ids: Collection[str]) -> list[Problem]:
    """A problem for each entry whose id is not a behaviour of the corpus."""
    return [
        Problem(
            entry.file,
            entry.line,
            "id",
            f"no behaviour {entry.id!r} in the spec files run{did_you_mean(entry.id, ids)}",
        )
        for entry in baseline.entries
        if entry.id not in ids
    ]


def render(entries: Iterable[Entry]) -> str:
    """The text of a baseline file holding `entries`, in the order given."""
    body = [
        {
            key: value
            for key, value in (
                ("id", entry.id),
                ("impl", entry.impl),
                ("family", entry.family.value if entry.family is not None else None),
                ("reason", entry.reason),
            )
            if value is not None
        }
        for entry in entries
    ]
    dumped = yaml.safe_dump({KEY: body}, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + dumped
