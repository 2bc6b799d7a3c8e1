"""The one validation path: documents with line marks, schema errors worded one way, suggestions.

Rules of this file:
- the wording rules of sockspec.language.validation are checked on small
  schemas written here, each rule by the exact message it gives; the inputs
  that use them (spec files, the baseline, pyproject tables) have their own
  tests (test_loader, test_baseline, test_server_config);
- YAML and TOML documents are small strings; the TOML locator is checked on
  every form of table, key and value it follows;
- no I/O beyond reading the package's own sources.
"""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sockspec
from sockspec.language import tomlmarks
from sockspec.language.suggest import closest, did_you_mean
from sockspec.language.validation import (
    BASELINE_SCHEMA,
    IMPLS_SCHEMA,
    Invalid,
    Marked,
    Problem,
    format_path,
    load_schema,
    shown,
    toml_document,
    validate,
    yaml_document,
)

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "colour": {"enum": ["red", "green", "blue"]},
        "count": {"type": "integer", "minimum": 1, "x-expected": "a count of at least 1"},
        "label": {"type": "string", "minLength": 3},
        "letter": {"type": "string", "minLength": 1},
        "code": {"type": "string", "pattern": "^[A-Z]{2}$", "x-expected": "a code of two capitals"},
        "flag": {"const": True},
        "items": {"type": "array", "items": {"type": "integer"}},
        "either": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
            "x-expected": "a string or a list of strings",
        },
        "nested": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "size": {"type": "integer", "description": "how big"},
                "shape": {"type": "string", "description": "round or square"},
            },
        },
    },
}
CHECKER = jsonschema.Draft202012Validator(SCHEMA)


def problems_of(text: str) -> list[str]:
    return [str(problem) for problem in validate(yaml_document(text, "f.yaml"), CHECKER)]


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        (
            "colour: red\ncolor: red\nsize: 3\n",
            [
                "f.yaml:2: color: unknown field 'color' (did you mean 'colour'?); "
                "allowed here: code, colour, count, either, flag, items, label, letter, nested",
                "f.yaml:3: size: unknown field 'size'; "
                "allowed here: code, colour, count, either, flag, items, label, letter, nested",
            ],
        ),
        (
            "nested: {sise: 1}\n",
            [
                "f.yaml:1: nested.sise: unknown field 'sise' (did you mean 'size'?); "
                "allowed here: shape (round or square); size (how big)"
            ],
        ),
        (
            "colour: gren\n",
            ["f.yaml:1: colour: 'gren' is not one of: red, green, blue (did you mean 'green'?)"],
        ),
        ("colour: 7\n", ["f.yaml:1: colour: 7 is not one of: red, green, blue"]),
        ("count: 0\n", ["f.yaml:1: count: 0 is not a count of at least 1"]),
        ("count: yes\n", ["f.yaml:1: count: true is not a count of at least 1"]),
        ("code: abc\n", ["f.yaml:1: code: 'abc' is not a code of two capitals"]),
        ("label: ab\n", ["f.yaml:1: label: 'ab' is too short: write at least 3 characters"]),
        ("letter: ''\n", ["f.yaml:1: letter: '' is too short: write at least 1 character"]),
        ("flag: false\n", ["f.yaml:1: flag: only true is allowed here, not false"]),
        ("items: [1, x, 3]\n", ["f.yaml:1: items[1]: 'x' is not a whole number"]),
        ("items: {a: 1}\n", ["f.yaml:1: items: {'a': 1} is not a list"]),
        ("label: ~\n", ["f.yaml:1: label: null is not a string"]),
        ("either: [a, 1]\n", ["f.yaml:1: either[1]: 1 is not a string"]),
        ("either: 3\n", ["f.yaml:1: either: 3 is not a string or a list of strings"]),
        ("- a\n", ["f.yaml:1: ['a'] is not a mapping"]),
    ],
    ids=[
        "unknown-fields",
        "unknown-described",
        "enum-hint",
        "enum-number",
        "minimum",
        "bool-for-integer",
        "pattern",
        "too-short",
        "too-short-one",
        "const",
        "item-type",
        "type",
        "null",
        "closest-alternative",
        "no-alternative",
        "root-type",
    ],
)
def test_schema_errors_are_worded_one_way(text: str, messages: list[str]) -> None:
    assert problems_of(text) == messages


def test_problems_are_in_line_order_and_each_once() -> None:
    checker = jsonschema.Draft202012Validator({"allOf": [{"type": "object"}, {"type": "object"}]})
    assert [str(problem) for problem in validate(yaml_document("[1]\n", "f.yaml"), checker)] == [
        "f.yaml:1: [1] is not a mapping"
    ]
    assert problems_of("label: ab\n\ncount: 0\n")[0].startswith("f.yaml:1:")


def test_a_callers_rule_comes_first_and_ignored_fields_are_left_out() -> None:
    doc = yaml_document("count: 0\ncode: x\n", "f.yaml")
    rule = lambda error: "the caller's words" if error.validator == "minimum" else None  # noqa: E731
    assert validate(doc, CHECKER, rules=[rule], ignore=[("code",)]) == [
        Problem("f.yaml", 1, "count", "the caller's words")
    ]


def test_a_toml_document_says_table() -> None:
    doc = toml_document("[nested]\nsize = 1\n[items]\nx = 1\n", "p.toml")
    assert [str(problem) for problem in validate(doc, CHECKER)] == ["p.toml:3: items: {'x': 1} is not a list"]


def test_a_part_of_a_document_keeps_its_lines_and_names_its_fields() -> None:
    doc = yaml_document("outer:\n  inner:\n    - a\n    - b\n", "f.yaml")
    part = doc.at(("outer", "inner"), name=lambda path: f"<inner> {format_path(path)}")
    assert part.data == ["a", "b"]
    assert part.problem((1,), "wrong") == Problem("f.yaml", 4, "<inner> [1]", "wrong")
    assert part.line(()) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1\nb: 2\n", "f.yaml:2: not valid YAML: expected ',' or ']', but got ':'"),
        ("a: 1\nb: 2\na: 3\n", "f.yaml:3: a: this key is given twice in the same mapping"),
        (
            "a: 1\nb: \x07\n",
            "f.yaml:2: not valid YAML: special characters are not allowed (character #x0007)",
        ),
        ("a: &x [1, *x]\n", "f.yaml:1: a[1]: an alias refers to itself"),
        ("a: !thing 1\n", "f.yaml:1: not valid YAML: could not determine a constructor for the tag '!thing'"),
    ],
    ids=["syntax", "twice", "control-character", "self-alias", "tag"],
)
def test_a_yaml_document_that_cannot_be_read_names_the_line(text: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        yaml_document(text, "f.yaml")
    assert str(caught.value) == message


def test_an_empty_yaml_document_is_none() -> None:
    assert yaml_document("# nothing\n", "f.yaml").data is None


def test_a_toml_document_that_cannot_be_read_names_the_line() -> None:
    with pytest.raises(Invalid) as caught:
        toml_document("a = 1\nb = [\n", "p.toml")
    assert str(caught.value).startswith("p.toml:2: not valid TOML: ")


TOML = """\
# a comment [not.a.table]
title = "x # not a comment"  # a comment
[tool.sockspec.impls.s]
command = [
  "python",   # arg, with [brackets]
  "{port}",
]
env = { A = "1", "B c" = 'x' }
[tool.sockspec.impls."my server"]
address = \"\"\"a
"b" \"\"\"
cwd = '''x'''
[tool.sockspec]
impls.dotted.command = ["a"]
[[runs]]
x = 1
[[runs]]
x = 2
[runs.detail]
when = 1979-05-27 07:32:00Z
"""


def test_the_toml_locator_finds_every_table_key_and_item() -> None:
    assert tomlmarks.locate(TOML) == {
        ("title",): 2,
        ("tool",): 3,
        ("tool", "sockspec"): 13,
        ("tool", "sockspec", "impls"): 3,
        ("tool", "sockspec", "impls", "s"): 3,
        ("tool", "sockspec", "impls", "s", "command"): 4,
        ("tool", "sockspec", "impls", "s", "command", 0): 5,
        ("tool", "sockspec", "impls", "s", "command", 1): 6,
        ("tool", "sockspec", "impls", "s", "env"): 8,
        ("tool", "sockspec", "impls", "s", "env", "A"): 8,
        ("tool", "sockspec", "impls", "s", "env", "B c"): 8,
        ("tool", "sockspec", "impls", "my server"): 9,
        ("tool", "sockspec", "impls", "my server", "address"): 10,
        ("tool", "sockspec", "impls", "my server", "cwd"): 12,
        ("tool", "sockspec", "impls", "dotted"): 14,
        ("tool", "sockspec", "impls", "dotted", "command"): 14,
        ("tool", "sockspec", "impls", "dotted", "command", 0): 14,
        ("runs",): 15,
        ("runs", 0): 15,
        ("runs", 0, "x"): 16,
        ("runs", 1): 17,
        ("runs", 1, "x"): 18,
        ("runs", 1, "detail"): 19,
        ("runs", 1, "detail", "when"): 20,
    }


@pytest.mark.parametrize("text", ["[a\n", 'a = "unclosed\n', "a = [1, }\n", "= 1\n", "a = {b = 1, ]\n"])
def test_the_toml_locator_never_raises(text: str) -> None:
    assert isinstance(tomlmarks.locate(text), dict)


def test_suggestions_come_from_one_place() -> None:
    assert closest("modle", ["model", "port"]) == "model"
    assert closest("xyz", ["model"]) is None
    assert did_you_mean("recieve", ["recv", "receive"]) == " (did you mean 'receive'?)"
    assert did_you_mean("xyz", ["recv"]) == ""
    sources = Path(sockspec.__file__).parent.rglob("*.py")
    users = sorted(
        path.name for path in sources if re.search(r"^import difflib|difflib\.", path.read_text(), re.M)
    )
    assert users == ["suggest.py"]


def test_values_are_shown_as_the_files_write_them() -> None:
    assert [shown(value) for value in (None, True, False, "a", 3)] == ["null", "true", "false", "'a'", "3"]
    assert shown("x" * 100).endswith("...") and len(shown("x" * 100)) == 60


def test_a_marked_document_falls_back_to_the_enclosing_line() -> None:
    doc = Marked("f", {"a": {"b": 1}}, {(): 1, ("a",): 4})
    assert (doc.line(("a", "b", "c")), doc.line(("z",))) == (4, 1)
    assert str(doc.problem(("a", "b"), "m")) == "f:4: a.b: m"


def test_the_input_schemas_are_valid_and_ship_as_package_data() -> None:
    root = Path(__file__).resolve().parent.parent
    setuptools = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = setuptools["package-data"]["sockspec.language"]
    for path in (BASELINE_SCHEMA, IMPLS_SCHEMA):
        assert load_schema(path)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert path.parent == Path(sockspec.__file__).parent / "language"
        assert any(fnmatch(path.name, pattern) for pattern in patterns), path.name
