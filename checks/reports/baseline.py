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
- every entry needs an id and a reason; a mistake is a `BaselineError` that
  names the file, line and field, like a spec error;
- an item matches the most specific entry: id+impl+family, then id+impl,
  id+family, then id alone;
- ids the corpus does not have are the caller's to refuse (`unknown`), with a
  suggestion for a near spelling.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import yaml
from sockspec.language.model import Family

KEY = "known_failures"
FIELDS = ("id", "impl", "family", "reason")
HEADER = (
    "# sockspec baseline: behaviours known to fail.\n"
    "# A listed behaviour that fails is an expected failure; one that passes fails the run\n"
    "# (an unexpected pass) until it is removed from here. Rewrite this file from a run with\n"
    "# --sockspec-write-baseline=PATH. Leave out impl or family to match every one.\n"
)


class BaselineError(Exception):
    """The baseline file is wrong: the user's to fix. Each line names file:line: field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


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


def _scalar(node: yaml.Node, file: str, field: str, problems: list[str]) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        problems.append(f"{file}:{node.start_mark.line + 1}: {field}: expected a non-empty text")
        return None
    return str(node.value)


def _entry(node: yaml.Node, file: str, index: int, problems: list[str]) -> Entry | None:
    where = f"{KEY}[{index}]"
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"{file}:{line}: {where}: expected a mapping with id and reason")
        return None
    values: dict[str, str] = {}
    present: set[str] = set()
    for key_node, value_node in node.value:
        key = str(key_node.value)
        present.add(key)
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"{file}:{key_node.start_mark.line + 1}: {where}.{key}: unknown field; "
                f"an entry has {', '.join(FIELDS)}{hint}"
            )
            continue
        value = _scalar(value_node, file, f"{where}.{key}", problems)
        if value is not None:
            values[key] = value
    for needed in ("id", "reason"):
        if needed not in present:
            problems.append(f"{file}:{line}: {where}: missing {needed!r}")
    family: Family | None = None
    if "family" in values:
        try:
            family = Family(values["family"])
        except ValueError:
            problems.append(
                f"{file}:{line}: {where}.family: {values['family']!r} is not a family "
                f"({', '.join(f.value for f in Family)})"
            )
    if "id" not in values or "reason" not in values:
        return None
    return Entry(values["id"], values["reason"], values.get("impl"), family, file, line)


def parse(text: str, file: str) -> Baseline:
    """The baseline in `text`, read from `file` (named in errors); BaselineError when it is wrong."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise BaselineError([f"{file}:{line}: not valid YAML: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise BaselineError([f"{file}: not valid YAML: {exc}"]) from None
    if root is None:
        return Baseline(file, ())
    body: yaml.Node | None = None
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if key_node.value == KEY:
                body = value_node
            else:
                line = key_node.start_mark.line + 1
                raise BaselineError([f"{file}:{line}: {key_node.value}: unknown key; expected {KEY!r}"])
    if body is None or not isinstance(body, yaml.SequenceNode):
        line = (body or root).start_mark.line + 1
        raise BaselineError([f"{file}:{line}: expected '{KEY}:' followed by a list of entries"])
    problems: list[str] = []
    entries = [_entry(node, file, index, problems) for index, node in enumerate(body.value)]
    first: dict[tuple[str, str | None, Family | None], Entry] = {}
    for entry in entries:
        if entry is None:
            continue
        key = (entry.id, entry.impl, entry.family)
        if key in first:
            problems.append(f"{entry.where}: {KEY}: the same id, impl and family as {first[key].where}")
        first.setdefault(key, entry)
    if problems:
        raise BaselineError(problems)
    return Baseline(file, tuple(entry for entry in entries if entry is not None))


def unknown(baseline: Baseline, ids: Collection[str]) -> list[str]:
    """A problem line for each entry whose id is not a behaviour of the corpus."""
    problems = []
    for entry in baseline.entries:
        if entry.id not in ids:
            close = difflib.get_close_matches(entry.id, list(ids), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{entry.where}: id: no behaviour {entry.id!r} in the spec files run{hint}")
    return problems


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
