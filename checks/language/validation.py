"""What a user writes, checked against a JSON Schema: located problems, one wording for all.

Rules of this module:
- every file sockspec reads from its users (spec files, the baseline, the
  [tool.sockspec] tables of pyproject.toml) becomes a `Marked` document: the
  plain data, the line of each field path, and how messages name a field;
  YAML through `yaml_document` (PyYAML's safe loader only; a key given twice
  is a problem), TOML through `toml_document` (tomllib, with the lines found
  by sockspec.language.tomlmarks);
- any text is read in bounded time and memory, and whatever it holds is a
  document or `Invalid`, never another exception: YAML nested more than
  MAX_DEPTH levels, or whose aliases repeat more than MAX_REPEATED values
  (a "billion laughs"), is refused at its line; a scalar PyYAML cannot read
  (`!!int x`, the date 2024-13-45) is a YAML error at its line;
- `validate` checks a document against a JSON Schema (draft 2020-12, where
  an integer is a whole number written as one: 3, not 3.0) and turns each
  error into a `Problem`: file, line, field, message. The wording
  rules are the same for every input (see `_explain`): an unknown field lists
  the fields allowed there (each with its schema `description` when every one
  has one) and suggests a near spelling; a value outside an enum lists the
  choices and suggests one; a wrong value says what is expected there,
  from the schema's `x-expected` annotation (words that follow "is not")
  or else from its type; of alternatives (oneOf, anyOf) the one the author
  most likely meant is explained;
- a caller adds its own rules in front (`Rule`), and keeps what a schema cannot
  say as code, reported through `Marked.problem`, the same `Problem` type;
- `Invalid` carries the problems of a document that cannot be read at all;
  each caller turns it into its own error, which says whose fault it is;
- no I/O: callers read the text and name the file.
"""

from __future__ import annotations

import json
import re
import tomllib
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import jsonschema
import yaml
from sockspec.language import tomlmarks
from sockspec.language.suggest import did_you_mean

FieldPath = tuple[str | int, ...]

# How a message names what a value is not, by JSON Schema type.
TYPE_WORDS: Mapping[str, str] = types.MappingProxyType(
    {
        "string": "a string",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "array": "a list",
        "object": "a mapping",
        "null": "null",
    }
)
TOML_TYPE_WORDS: Mapping[str, str] = types.MappingProxyType({**TYPE_WORDS, "object": "a table"})
# The annotation a schema gives a value's expected form in: "<value> is not <x-expected>".
EXPECTED = "x-expected"
# Keywords about one value's own form, explained with EXPECTED when the schema has it.
VALUE_KEYWORDS = frozenset(
    {
        "type",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
    }
)
SHOWN_LIMIT = 60


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file a user wrote: where, which field, and what to do."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class Invalid(Exception):
    """A document cannot be read; each problem names file, line and field."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def format_path(path: FieldPath) -> str:
    """('behaviours', 2, 'steps', 0, 'expect') -> 'behaviours[2].steps[0].expect'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class Marked:
    """A document as plain data, with the line of every field path it has.

    name: how a message names the field at a path (default: format_path);
    type_words: how a message names each JSON type (TOML says "a table").
    """

    file: str
    data: Any
    lines: Mapping[FieldPath, int]
    name: Callable[[FieldPath], str] = format_path
    type_words: Mapping[str, str] = field(default_factory=lambda: TYPE_WORDS)

    def line(self, path: FieldPath) -> int:
        """The line of a field, or of its nearest enclosing field that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: FieldPath, message: str) -> Problem:
        return Problem(self.file, self.line(path), self.name(path), message)

    def at(self, prefix: FieldPath, name: Callable[[FieldPath], str] | None = None) -> Marked:
        """The part of this document under `prefix`, as a document of its own (same file, lines)."""
        data = self.data
        for part in prefix:
            data = data[part]
        size = len(prefix)
        lines = {path[size:]: line for path, line in self.lines.items() if path[:size] == prefix}
        lines.setdefault((), self.line(prefix))
        return replace(self, data=data, lines=lines, name=name or format_path)


# Bounds on what a document may make sockspec do, so that any file is read in bounded time and
# memory: how deep mappings and lists nest, and how many values aliases may repeat (a "billion
# laughs" file repeats billions from a few lines).
MAX_DEPTH = 50
MAX_REPEATED = 10_000
# A text with a YAML error is parsed again by the pure-Python parser only up to this size (its
# wording is better than libyaml's, but it takes seconds per 100 KB).
REPARSE_LIMIT = 64 * 1024
# What PyYAML's constructors raise on a scalar they cannot read (`!!int x`, `!!bool maybe`, a date
# such as 2024-13-45, an integer of more than 4300 digits, `!!float ""`) instead of a YAMLError.
SCALAR_ERRORS = (ValueError, TypeError, AttributeError, LookupError, OverflowError)


class _ReadableScalars(yaml.constructor.SafeConstructor):
    """PyYAML's safe constructor, where a scalar it cannot read is a YAML error at its line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except SCALAR_ERRORS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(
                None, None, f"{shown(node.value)} is not a valid {tag}", node.start_mark
            ) from None


class _PureLoader(_ReadableScalars, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader (it says what it found where the text is wrong)."""


try:
    from yaml import CSafeLoader as _FastBase

    LIBYAML = True
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _FastBase  # type: ignore[assignment]

    LIBYAML = False


class _FastLoader(_ReadableScalars, _FastBase):
    """libyaml's safe loader when PyYAML was built with it (several times faster), else the
    pure-Python one; both give nodes with their line."""


@dataclass
class _YamlMarks:
    file: str
    lines: dict[FieldPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    repeated: int = 0

    def mark(
        self, node: yaml.Node, path: FieldPath, open_nodes: frozenset[int] = frozenset(), key_line: int = 0
    ) -> None:
        line = node.start_mark.line + 1
        if key_line and isinstance(node, yaml.ScalarNode) and node.start_mark.index == node.end_mark.index:
            line = key_line  # an empty value (`? key` at the end) is on its key's line; libyaml says the next
        self.lines[path] = line
        if id(node) in open_nodes:
            self.problems.append(Problem(self.file, line, format_path(path), "an alias refers to itself"))
            return
        if len(path) > MAX_DEPTH:
            where = _shown_path(path)
            raise Invalid([Problem(self.file, line, where, f"nested more than {MAX_DEPTH} levels deep")])
        if id(node) in self.seen:
            self.repeated += 1
            if self.repeated > MAX_REPEATED:
                message = f"aliases repeat more than {MAX_REPEATED} values: write the values out instead"
                raise Invalid([Problem(self.file, line, _shown_path(path), message)])
        self.seen.add(id(node))
        inside = open_nodes | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    self.problems.append(
                        Problem(
                            self.file,
                            key_node.start_mark.line + 1,
                            format_path((*path, key)),
                            "this key is given twice in the same mapping",
                        )
                    )
                seen.add(key)
                self.mark(value_node, (*path, key), inside, key_node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.mark(item, (*path, index), inside)


def _shown_path(path: FieldPath) -> str:
    """A field path as a message shows it: cut short when it is very long."""
    text = format_path(path)
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 3] + "..."


def _yaml_parse(text: str, file: str, loader: type[_PureLoader] | type[_FastLoader]) -> Marked:
    reader = loader(text)
    try:
        node = reader.get_single_node()
        marks = _YamlMarks(file)
        if node is None:
            return Marked(file, None, {})
        marks.mark(node, ())
        if marks.problems:
            raise Invalid(marks.problems)
        return Marked(file, reader.construct_document(node), marks.lines)
    finally:
        reader.dispose()


def _yaml_problem(error: Exception, text: str, file: str) -> Problem:
    """Where and why `text` is not YAML, from the parser's error."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        return Problem(file, line, "", f"not valid YAML: {error.problem or error.context}")
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        code = error.character if isinstance(error.character, int) else ord(error.character)
        return Problem(file, line, "", f"not valid YAML: {error.reason} (character #x{code:04x})")
    if isinstance(error, UnicodeEncodeError):
        # libyaml reads UTF-8: a lone surrogate cannot even be handed to it
        line = text.count("\n", 0, error.start) + 1
        code = ord(text[error.start])
        return Problem(
            file, line, "", f"not valid YAML: special characters are not allowed (character #x{code:04x})"
        )
    if isinstance(error, RecursionError):
        return Problem(file, 1, "", f"not valid YAML: nested more than {MAX_DEPTH} levels deep")
    return Problem(file, 1, "", f"not valid YAML: {error}")


def yaml_document(text: str, file: str) -> Marked:
    """The YAML document in `text`, with its lines; `Invalid` when it is not valid YAML,
    gives a key twice in one mapping, holds an alias to itself, nests more than MAX_DEPTH
    levels, or repeats more than MAX_REPEATED values through aliases."""
    error: Exception
    try:
        return _yaml_parse(text, file, _FastLoader)
    except (yaml.YAMLError, UnicodeEncodeError, RecursionError) as exc:
        error = exc
    # (libyaml's own limit on nesting is past what Python's stack lets the pure parser reach)
    nested = isinstance(error, yaml.MarkedYAMLError) and "nesting depth" in str(error.problem)
    if LIBYAML and len(text) <= REPARSE_LIMIT and not nested:
        # the pure-Python parser says what it found ("but got ':'"): parse again for that
        try:
            return _yaml_parse(text, file, _PureLoader)
        except yaml.YAMLError as exc:
            error = exc
        except RecursionError:
            pass  # nested deeper than Python's stack allows: libyaml's error says so
    raise Invalid([_yaml_problem(error, text, file)]) from None


_TOML_LINE = re.compile(r"\(at line (?P<line>[0-9]+), column [0-9]+\)$")


def toml_document(text: str, file: str) -> Marked:
    """The TOML document in `text`, with the line of each table, key and array item;
    `Invalid` when it is not valid TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        line = int(found["line"]) if found else max(1, len(text.splitlines()))
        raise Invalid([Problem(file, line, "", f"not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib reads nested arrays and inline tables by recursion
        raise Invalid(
            [Problem(file, 1, "", "cannot read it: arrays or inline tables nested too deep")]
        ) from None
    return Marked(file, data, tomlmarks.locate(text), type_words=TOML_TYPE_WORDS)


# --- schemas -------------------------------------------------------------------------------------


def _schemas() -> Path:
    found = resources.files(__package__ or "sockspec.language")
    if not isinstance(found, Path):
        raise RuntimeError(f"sockspec's schemas must be installed as files on disk; found {found!r}")
    return found


# The schemas of the other inputs, shipped beside this module (package data of sockspec.language);
# the spec files' schema ships with the corpus (sockspec.language.corpus.SCHEMA).
BASELINE_SCHEMA: Path = _schemas() / "baseline.schema.json"
IMPLS_SCHEMA: Path = _schemas() / "impls.schema.json"


@cache
def load_schema(path: Path) -> Mapping[str, Any]:
    """The JSON Schema in `path`, checked against draft 2020-12 once."""
    with path.open(encoding="utf-8") as stream:
        loaded: dict[str, Any] = json.load(stream)
    jsonschema.Draft202012Validator.check_schema(loaded)
    return types.MappingProxyType(loaded)


def _whole_number(checker: jsonschema.TypeChecker, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# Draft 2020-12, where "integer" is a whole number written as one: 3, not 3.0 (JSON Schema counts
# 3.0 as an integer, and a float where a count or a port goes would reach the code as a float).
_extend: Any = jsonschema.validators.extend  # (untyped in types-jsonschema)
_Draft202012 = _extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole_number),
)


@cache
def validator(path: Path, definition: str | None = None) -> jsonschema.Draft202012Validator:
    """A validator for the schema in `path`, or for its `$defs/<definition>` alone."""
    schema = load_schema(path)
    if definition is not None:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return cast(jsonschema.Draft202012Validator, _Draft202012(dict(schema)))


# A caller's own wording for some schema errors: the message for the error's field, or None.
Rule = Callable[[jsonschema.ValidationError], str | None]


def validate(
    doc: Marked,
    checker: jsonschema.Draft202012Validator,
    rules: Sequence[Rule] = (),
    ignore: Collection[FieldPath] = (),
) -> list[Problem]:
    """The problems of `doc` against the schema, in line order, each once. Errors at or below
    a path in `ignore` are left out (the caller reports those fields its own way)."""
    problems: dict[Problem, None] = {}
    for error in checker.iter_errors(doc.data):
        path: FieldPath = tuple(error.absolute_path)
        if any(path[: len(skipped)] == skipped for skipped in ignore):
            continue
        problems.update(dict.fromkeys(_explain(doc, path, error, rules)))
    return sorted(problems, key=lambda problem: problem.line)


def shown(value: object) -> str:
    """A value as a message shows it: strings quoted, true/false/null as the files write them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= SHOWN_LIMIT else text[: SHOWN_LIMIT - 3] + "..."


def _closest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The error of the alternative the author most likely meant.

    An alternative that failed on something other than its type (the value has
    the right type but a wrong content) beats one of the wrong type; then the
    deepest error; then the first alternative.
    """
    return min(
        error.context or (),
        key=lambda option: (option.validator == "type", -len(option.relative_path)),
    )


def _no_alternative_fits(error: jsonschema.ValidationError) -> bool:
    """True when every alternative of a oneOf/anyOf refused the value's type."""
    alternatives = cast(list[object], error.validator_value)
    refused = {
        option.schema_path[0]
        for option in error.context or ()
        if option.validator == "type" and not option.relative_path
    }
    return len(refused) == len(alternatives)


def _allowed(schema: Mapping[str, Any]) -> str:
    properties: Mapping[str, Any] = schema.get("properties", {})
    described = {name: sub.get("description") for name, sub in properties.items() if isinstance(sub, Mapping)}
    if described and all(isinstance(text, str) for text in described.values()):
        return "; ".join(f"{name} ({described[name]})" for name in sorted(described))
    return ", ".join(sorted(properties))


def _type_words(doc: Marked, wanted: object) -> str:
    names = [wanted] if isinstance(wanted, str) else cast(list[str], wanted)
    return " or ".join(doc.type_words.get(name, name) for name in names)


def _explain(
    doc: Marked, path: FieldPath, error: jsonschema.ValidationError, rules: Sequence[Rule]
) -> list[Problem]:
    """Turn a schema error into the messages a user can act on."""
    for rule in rules:
        message = rule(error)
        if message is not None:
            return [doc.problem(path, message)]
    instance = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    expected = schema.get(EXPECTED)
    if error.validator in {"oneOf", "anyOf"} and error.context:
        if isinstance(expected, str) and _no_alternative_fits(error):
            return [doc.problem(path, f"{shown(instance)} is not {expected}")]
        closest = _closest(error)
        return _explain(doc, tuple(closest.absolute_path), closest, rules)
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = set(schema.get("properties", {}))
        return [
            doc.problem(
                (*path, key),
                f"unknown field {key!r}{did_you_mean(str(key), allowed)}; allowed here: {_allowed(schema)}",
            )
            for key in sorted(set(instance) - allowed, key=str)
        ]
    if error.validator == "enum":
        options = [str(option) for option in cast(list[object], error.validator_value)]
        hint = did_you_mean(instance, options) if isinstance(instance, str) else ""
        return [doc.problem(path, f"{shown(instance)} is not one of: {', '.join(options)}{hint}")]
    if error.validator == "const":
        only = shown(error.validator_value)
        return [doc.problem(path, f"only {only} is allowed here, not {shown(instance)}")]
    if error.validator in VALUE_KEYWORDS and isinstance(expected, str):
        return [doc.problem(path, f"{shown(instance)} is not {expected}")]
    if error.validator == "minLength" and isinstance(instance, str):
        least = cast(int, error.validator_value)
        unit = "character" if least == 1 else "characters"
        return [doc.problem(path, f"{instance!r} is too short: write at least {least} {unit}")]
    if error.validator == "type":
        return [doc.problem(path, f"{shown(instance)} is not {_type_words(doc, error.validator_value)}")]
    return [doc.problem(path, error.message)]
