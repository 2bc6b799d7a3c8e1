"""Bad input never crashes: any spec file, baseline or impl table gives values or located problems.

Rules of this file:
- Hypothesis feeds the three readers of user input (the spec loader, the
  baseline parser, the [tool.sockspec.impls.X] tables) random documents and
  near-valid ones: real corpus behaviours, a valid baseline and valid impl
  tables, mutated as data (a field dropped, duplicated, retyped or replaced by
  a random scalar, list or mapping; unicode, huge numbers, negative durations,
  NaN, deep nesting) and as text (anchors and aliases, tags, a key twice,
  keys that are not strings, control characters, a BOM, CRLF, a cut);
- each reader either returns a whole value (every behaviour of the file, every
  entry, the server of each valid table) or raises its own error (SpecError,
  BaselineError, ConfigError) whose every problem names the file, a line from 1
  to the file's last (a whole-file problem, such as a file that is not YAML at
  all, has line 1 and the field ""), and a field; never another exception;
- a wrong impl table breaks only its impl: the other tables of the file stay
  usable, and its problems lie inside its own table;
- each crash these properties found has a plain example beside them
  (`test_*_regression`);
- runs are bounded: the "ci" profile (the default) runs each property on
  max_examples=60 examples, derandomized (the same examples every run, so a
  failure is a change's, never the luck of a seed), with deadline=None (no
  timing failure on a loaded machine) and no example database; all of them
  together take a few seconds. HYPOTHESIS_PROFILE=explore runs 2000 random
  examples each (and prints how to reproduce a failure) to hunt for new crashes.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sockspec.language import tomlmarks
from sockspec.language.loader import SpecError, load_text
from sockspec.language.model import SpecFile
from sockspec.language.validation import Invalid, Problem
from sockspec.reports.baseline import Baseline, BaselineError, parse
from sockspec.servers.config import ConfigError, ImplTables, has_sockspec_table, load_pyproject

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore",
    max_examples=2000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# --- what every reader promises ------------------------------------------------------------------

# Every way YAML ends a line (TOML knows only the first two): a problem's line is at most their count + 1.
LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def last_line(text: str) -> int:
    return len(LINE_BREAKS.findall(text)) + 1


def assert_located(problems: Sequence[Problem], file: str, text: str) -> None:
    """Each problem names the file, a line of it, a field ("" for the whole file) and a message."""
    assert problems, "an error without problems"
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.file == file
        assert isinstance(problem.line, int)
        assert 1 <= problem.line <= last_line(text), (problem, last_line(text))
        assert isinstance(problem.field, str)
        assert isinstance(problem.message, str)
        assert problem.message.strip()
        str(problem).encode("utf-8")  # it can be printed


def whole_or_located(
    read: Callable[[], T], error: type[Invalid | ConfigError], file: str, text: str
) -> T | None:
    """What `read()` returns; or None where it raises `error`, each of whose problems is located in
    `file` (whose text is `text`)."""
    try:
        return read()
    except error as exc:
        assert_located(exc.problems, file, text)
        return None


def plain(text: str) -> Any:
    """The data of a document sockspec read, read as sockspec reads it (libyaml when it is there)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def check_spec(text: str, file: str = "fuzz.yaml") -> SpecFile | None:
    """The spec loader's promise: the whole file, or a SpecError of located problems."""
    spec = whole_or_located(lambda: load_text(text, file), SpecError, file, text)
    if spec is None:
        return None
    # All or nothing: every behaviour the file holds, each from this file.
    raw = plain(text)
    assert isinstance(spec, SpecFile)
    assert len(spec.behaviours) == len(raw["behaviours"])
    for behaviour in spec.behaviours:
        assert behaviour.origin.file == file
        assert 1 <= behaviour.origin.line <= last_line(text)
    return spec


def check_baseline(text: str, file: str = "baseline.yaml") -> Baseline | None:
    """The baseline parser's promise: every entry, or a BaselineError of located problems."""
    baseline = whole_or_located(lambda: parse(text, file), BaselineError, file, text)
    if baseline is None:
        return None
    raw = plain(text)
    assert len(baseline.entries) == (0 if raw is None else len(raw["known_failures"]))
    for entry in baseline.entries:
        assert isinstance(entry.id, str)
        assert isinstance(entry.reason, str)
        assert 1 <= entry.line <= last_line(text)
    return baseline


# --- random documents ----------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 2**63, 10**30, -(10**30)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
    | st.sampled_from(["-5ms", "0s", "1e9s", "nan", "inf", "5 ms", "99999999999999999999999s", "\u0100", ""])
    | st.binary(max_size=8)
)
KEYS = TEXT | st.integers(-3, 3) | st.booleans() | st.none() | st.floats(allow_nan=False)


def values(scalars: st.SearchStrategy[Any] = SCALARS, keys: st.SearchStrategy[Any] = KEYS) -> Any:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


YAML_TOKENS = [
    "- ", ": ", "? ", "{", "}", "[", "]", ", ", "&a ", "*a ", "&b ", "*b ", "!!str ", "!!binary ",
    "!!python/object/apply:os.system ", "!thing ", "!!set ", "!!timestamp ", "!!float ", "<<: ",
    "'", '"', "#", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "|\n", ">-\n", "\n",
    "  ", "    ", "\t", "\ufeff", "\x00", "\x07", "\x85", "\u2028", "é", "€", "\U0001f600", "\r\n",
    "\r", "model", "source", "behaviours", "id", "steps", "call", "expect", "data", "size",
    "blocking", "1", "-1", "1e400", ".nan", ".inf", "0x1F", "0o17", "~", "null", "yes", "100ms",
]  # fmt: skip
YAML_TEXTS = st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join)


def dumped(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


# --- mutations of near-valid documents -----------------------------------------------------------

Path_ = tuple[Any, ...]


def containers(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    """The path of every mapping and list inside `value` (itself included)."""
    if isinstance(value, dict | list):
        yield path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from containers(item, (*path, key))


def at(value: Any, path: Path_) -> Any:
    for part in path:
        value = value[part]
    return value


def deep(depth: int, leaf: Any) -> Any:
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"a": leaf}
    return leaf


def retyped(value: Any) -> Any:
    """The same content under another type."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return 0


Pool = dict[Any, list[Any]]
DATA_MUTATIONS = (
    "drop", "duplicate", "retype", "replace", "add", "unicode", "huge", "nest", "nan", "swap", "rename",
)  # fmt: skip


def pool_of(*docs: Any) -> Pool:
    """Every value each key has somewhere in `docs`: swapped in, they make valid-looking nonsense."""
    pool: Pool = {}
    for doc in docs:
        for path in containers(doc):
            container = at(doc, path)
            if isinstance(container, dict):
                for key, value in container.items():
                    pool.setdefault(key, []).append(value)
    return {key: found[:50] for key, found in pool.items()}


def mutate_data(
    draw: st.DrawFn, doc: Any, scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[Any], pool: Pool
) -> Any:
    """`doc` with one field dropped, duplicated, retyped, replaced, swapped for another field's
    value, renamed or added, somewhere inside it."""
    places = [path for path in containers(doc) if at(doc, path)]
    if not places:
        return draw(values(scalars, keys))
    path = draw(st.sampled_from(places))
    container = at(doc, path)
    key = draw(st.sampled_from(list(container) if isinstance(container, dict) else range(len(container))))
    kind = draw(st.sampled_from(DATA_MUTATIONS))
    old = container[key]
    names = sorted(pool, key=str)
    if kind in {"swap", "rename"} and isinstance(container, dict) and names:
        name = draw(st.sampled_from(names))
        if kind == "rename":
            del container[key]
            key = name
        container[key] = json.loads(json.dumps(draw(st.sampled_from(pool[name])), default=str))
    elif kind == "drop":
        del container[key]
    elif kind == "duplicate" and isinstance(container, list):
        container.insert(key, json.loads(json.dumps(old, default=str)))
    elif kind == "duplicate":
        container[draw(keys)] = old
    elif kind == "retype":
        container[key] = retyped(old)
    elif kind == "replace":
        container[key] = draw(values(scalars, keys))
    elif kind == "add" and isinstance(container, dict):
        container[draw(st.sampled_from(["conn", "size", "extra", "model", "within", "data"]) | keys)] = draw(
            values(scalars, keys)
        )
    elif kind == "unicode" and isinstance(old, str):
        container[key] = old + draw(
            st.text(st.characters(min_codepoint=0x80, exclude_categories=["Cs"]), min_size=1)
        )
    elif kind == "huge":
        container[key] = draw(st.sampled_from([10**20, -(10**20), 2**64, 10**400]))
    elif kind == "nest":
        container[key] = deep(draw(st.integers(20, 120)), old)
    elif kind == "nan":
        container[key] = draw(st.sampled_from([math.nan, math.inf, -math.inf, -0.0, "-10ms", "-1s"]))
    else:
        container[key] = draw(scalars)
    return doc


def billion_laughs(key: str) -> str:
    """Top-level keys of a "billion laughs": nine aliases of nine, 9**9 values from nine lines."""
    first = f"{key}: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    return first + "".join(
        f"{key}{level}: &{chr(98 + level)} [{', '.join([f'*{chr(97 + level)}'] * 9)}]\n" for level in range(8)
    )


TEXT_MUTATIONS = (
    "bom", "crlf", "cr", "control", "twice", "delete", "tag", "anchor", "bomb", "key", "cut", "indent",
    "tab", "unicode", "merge",
)  # fmt: skip
TAGS = ("!!binary ", "!!python/object/apply:os.system ", "!!set ", "!!timestamp ", "!!int ", "!x ", "!!map ")


def mutate_text(draw: st.DrawFn, text: str) -> str:
    """`text` with one change a YAML file can carry: a tag, an alias, a key twice, bytes, a cut."""
    lines = text.splitlines(keepends=True) or ["\n"]
    index = draw(st.integers(0, len(lines) - 1))
    line = lines[index]
    kind = draw(st.sampled_from(TEXT_MUTATIONS))
    if kind == "bom":
        return "\ufeff" + text
    if kind == "crlf":
        return text.replace("\n", "\r\n")
    if kind == "cr":
        return text.replace("\n", "\r")
    if kind == "control":
        char = draw(st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\ufffe", "\x85", "\u2029", "\ud7ff"]))
        position = draw(st.integers(0, len(line)))
        lines[index] = line[:position] + char + line[position:]
    elif kind == "twice":
        lines.insert(index, line)
    elif kind == "delete":
        del lines[index]
    elif kind == "tag":
        tag = draw(st.sampled_from(TAGS))
        lines[index] = line.replace(": ", f": {tag}", 1)
    elif kind == "anchor":
        lines[index] = line.replace(": ", ": &here ", 1)
        later = draw(st.integers(index, len(lines) - 1))
        lines[later] = re.sub(r": \S.*", ": *here", lines[later], count=1)
    elif kind == "bomb":
        lines.append(billion_laughs("bomb"))
    elif kind == "key":
        key = draw(st.sampled_from(["1", "null", "true", "[a, b]", "{a: 1}", "2001-01-01", "1.5", "? [x]\n"]))
        indent = line[: len(line) - len(line.lstrip(" -"))].replace("-", " ")
        lines.insert(index, f"{indent}{key}: value\n")
    elif kind == "cut":
        return text[: draw(st.integers(0, len(text)))]
    elif kind == "indent":
        lines[index] = draw(st.sampled_from([" ", "   ", ""])) + line.lstrip(" ")
    elif kind == "tab":
        lines[index] = "\t" + line
    elif kind == "unicode":
        position = draw(st.integers(0, len(line)))
        lines[index] = line[:position] + draw(TEXT) + line[position:]
    else:
        lines.insert(index, "base: &base {conn: 1}\n<<: *base\n")
    return "".join(lines)


# --- spec files ----------------------------------------------------------------------------------

CORPUS = {
    path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(ROOT.glob("spec/*.yaml"))
}
CORPUS_POOL = pool_of(*CORPUS.values())


@st.composite
def corpus_pieces(draw: st.DrawFn) -> dict[str, Any]:
    """A corpus file cut down to a few of its behaviours (loading stays fast), as plain data."""
    name = draw(st.sampled_from(sorted(CORPUS)))
    whole = CORPUS[name]
    chosen = draw(
        st.lists(st.sampled_from(range(len(whole["behaviours"]))), min_size=1, max_size=3, unique=True)
    )
    piece = {key: value for key, value in whole.items() if key != "behaviours"}
    piece["behaviours"] = [whole["behaviours"][index] for index in sorted(chosen)]
    copied: dict[str, Any] = json.loads(json.dumps(piece))
    return copied


@st.composite
def near_valid_specs(draw: st.DrawFn) -> str:
    doc: Any = draw(corpus_pieces())
    for _mutation in range(draw(st.integers(0, 3))):
        doc = mutate_data(draw, doc, SCALARS, KEYS, CORPUS_POOL)
    text = dumped(doc)
    for _mutation in range(draw(st.integers(0, 2))):
        text = mutate_text(draw, text)
    return text


@given(corpus_pieces())
def test_the_corpus_cut_down_loads_whole(piece: dict[str, Any]) -> None:
    # The mutations start from valid documents: a piece of the corpus loads, every behaviour of it.
    spec = check_spec(dumped(piece))
    assert spec is not None
    assert len(spec.behaviours) == len(piece["behaviours"])


@given(near_valid_specs())
def test_a_near_valid_spec_file_loads_whole_or_names_each_problem(text: str) -> None:
    check_spec(text)


@given(st.one_of(values().map(dumped), YAML_TEXTS, st.text(max_size=200)))
def test_any_yaml_or_text_is_a_spec_file_or_located_problems(text: str) -> None:
    check_spec(text)


@given(
    st.fixed_dictionaries(
        {"model": st.sampled_from(["blocking", "server", "x"]) | SCALARS, "source": TEXT | SCALARS},
        optional={"behaviours": values(), "families": values()},
    ).map(dumped)
)
def test_a_spec_files_top_level_of_any_shape_is_located(text: str) -> None:
    check_spec(text)


# --- the baseline --------------------------------------------------------------------------------

BASELINE = {
    "known_failures": [
        {
            "id": "server.slow-reader.others-served",
            "impl": "myserver",
            "family": "tcp6",
            "reason": "one thread",
        },
        {"id": "blocking.recv.returns-data", "reason": "not yet"},
        {"id": "blocking.recv.returns-data", "impl": "other", "reason": "not yet either"},
    ]
}


@st.composite
def near_valid_baselines(draw: st.DrawFn) -> str:
    doc: Any = json.loads(json.dumps(BASELINE))
    for _mutation in range(draw(st.integers(0, 3))):
        doc = mutate_data(draw, doc, SCALARS, KEYS, pool_of(BASELINE))
    text = dumped(doc)
    for _mutation in range(draw(st.integers(0, 2))):
        text = mutate_text(draw, text)
    return text


def test_the_baseline_mutations_start_valid() -> None:
    baseline = check_baseline(dumped(BASELINE))
    assert baseline is not None
    assert len(baseline.entries) == 3


@given(st.one_of(near_valid_baselines(), values().map(dumped), YAML_TEXTS))
def test_any_baseline_is_entries_or_located_problems(text: str) -> None:
    check_baseline(text)


# --- impl tables in pyproject.toml ---------------------------------------------------------------

TOML_SCALARS = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.sampled_from([0, -1, 65536, 2**40])
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
    | st.sampled_from(["-5s", "0s", "5", "99999999999999999999999s", "{port}", "\x00", "a=b", "..", "::1"])
)
TOML_KEYS = TEXT | st.sampled_from(["command", "address", "port", "env", "cwd", "model", "startup_timeout"])
VALID_TABLES: list[dict[str, Any]] = [
    {
        "command": ["python", "server.py", "{port}"],
        "model": "threads",
        "protocol": "echo",
        "startup_timeout": "5s",
        "stop_timeout": 2,
        "env": {"A": "1"},
        "cwd": "sub",
    },
    {"command": "python server.py --port {port}", "model": "readiness"},
    {"command": ["python", "fixed.py"], "port": 9000},
    {"address": "127.0.0.1:9000", "model": "completion"},
    {"address": "[::1]:9000"},
]
BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_string(text: str) -> str:
    """A TOML basic string holding `text`."""
    escapes = {"\\": "\\\\", '"': '\\"'}
    return (
        '"'
        + "".join(
            escapes.get(char, f"\\u{ord(char):04x}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
            for char in text
        )
        + '"'
    )


def toml_key(key: str) -> str:
    return key if BARE.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else {math.inf: "inf", -math.inf: "-inf"}.get(value, repr(value))
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    return toml_string(str(value))


TOML_LINES = st.lists(
    st.sampled_from(
        [
            "port = 99999999999999999999999", "startup_timeout = nan", "stop_timeout = -inf",
            "startup_timeout = 1e308", 'cwd = "a\\u0000b"', 'env.X = "1"', "env = 1", 'command = """',
            "command = [", "]", "[[tool.sockspec.impls.x.command]]", "a.b.c = 1", "{", "}", "= 1", "#",
            'model = "thread"', "when = 1979-05-27T07:32:00Z", "nested = [[[[[[1]]]]]]",
            "deep = " + "[" * 400 + "]" * 400, "inline = {a = {b = {c = 1}}}", "'''", "\ufeff",
            "\r", "port = 1.0", 'address = "10.0.0.1:80"', 'address = "localhost:0"',
        ]
    ),
    max_size=5,
).map("\n".join)  # fmt: skip


@st.composite
def impl_tables(draw: st.DrawFn) -> str:
    """The TOML text of an impl table: a valid one mutated, or random, or with random lines."""
    table: Any = json.loads(json.dumps(draw(st.sampled_from(VALID_TABLES))))
    choice = draw(st.sampled_from(["mutated", "random", "lines"]))
    if choice == "random":
        table = draw(st.dictionaries(TOML_KEYS, values(TOML_SCALARS, TEXT), max_size=5))
    elif choice == "mutated":
        for _mutation in range(draw(st.integers(1, 3))):
            table = mutate_data(draw, table, TOML_SCALARS, TEXT, pool_of(*VALID_TABLES))
    if not isinstance(table, dict):
        table = {"command": table}
    body = "\n".join(
        f"{toml_key(str(key))} = {toml_value(value)}" for key, value in table.items() if value is not None
    )
    if choice == "lines":
        body += "\n" + draw(TOML_LINES)
    return body


GOOD = '[tool.sockspec.impls.good]\ncommand = ["python", "server.py", "{port}"]\n'
LATER = '[tool.sockspec.impls.later]\naddress = "127.0.0.1:9000"\n'


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pyproject.toml of each example is written (one folder for all of them)."""
    return tmp_path_factory.mktemp("pyproject")


def check_pyproject(body: str, folder: Path) -> ImplTables | None:
    """The impl tables' promise: a file-level ConfigError of located problems, or every valid
    table usable and each wrong one with problems inside its own table only."""
    head = '[project]\nname = "x"\n\n' + GOOD + "\n[tool.sockspec.impls.x]\n"
    text = head + body + "\n\n" + LATER
    path = folder / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    has_sockspec_table(path)
    tables = whole_or_located(lambda: load_pyproject(path), ConfigError, str(path), text)
    if tables is None:
        return None
    assert tables.servers["good"].command == ("python", "server.py", "{port}")
    assert tables.servers["later"].address == ("127.0.0.1", 9000)
    tables.check("good")
    tables.check("later")
    first = head.count("\n")  # the line of [tool.sockspec.impls.x]
    end = text.count("\n") - LATER.count("\n")  # the last line before [tool.sockspec.impls.later]
    for name, problems in tables.problems.items():
        assert name not in tables.servers
        assert_located(problems, str(path), text)
        for problem in problems:
            assert first <= problem.line <= end, (problem, first, end)
        with pytest.raises(ConfigError) as caught:
            tables.check(name)
        assert caught.value.problems == problems
    for server in tables.servers.values():
        assert server.startup_timeout > 0
        assert math.isfinite(server.startup_timeout)
        assert math.isfinite(server.stop_timeout)
    return tables


@given(impl_tables())
def test_any_impl_table_breaks_only_its_own_impl(folder: Path, body: str) -> None:
    check_pyproject(body, folder)


@given(st.dictionaries(TOML_KEYS, values(TOML_SCALARS, TEXT), max_size=4))
def test_a_tool_sockspec_table_of_any_shape_is_located(folder: Path, table: dict[str, Any]) -> None:
    text = "[tool.sockspec]\n" + "\n".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items())
    path = folder / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_pyproject(path)
    except ConfigError as exc:
        assert_located(exc.problems, str(path), text)


# --- each crash found, as a plain example --------------------------------------------------------

SPEC = """\
model: blocking
source: io-models-blog.md
behaviours:
  - id: blocking.fuzz.example
    level: must
    rule: A thing happens when it happens.
    source: recv(2)
    steps:
      - peer: send
        data: hello
        after: 10ms
      - call: recv
        size: 1024
        expect: {data: hello}
"""
BEHAVIOUR = "(behaviour blocking.fuzz.example)"
BOMB_SPEC = SPEC + billion_laughs("lol")


def matches(text: str, pattern: str) -> bool:
    """`text` is `pattern`, where each * stands for any text (and nothing else is special)."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text, re.DOTALL) is not None


def test_the_regression_examples_start_from_a_valid_spec() -> None:
    assert len(load_text(SPEC, "f.yaml").behaviours) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # PyYAML's constructors raised ValueError, KeyError, IndexError, AttributeError on these
        (
            SPEC.replace("size: 1024", "size: !!int many"),
            "f.yaml:13: not valid YAML: 'many' is not a valid !!int",
        ),
        (
            SPEC.replace("size: 1024", 'size: !!float ""'),
            "f.yaml:13: not valid YAML: '' is not a valid !!float",
        ),
        (
            SPEC.replace("size: 1024", "size: !!bool maybe"),
            "f.yaml:13: not valid YAML: 'maybe' is not a valid !!bool",
        ),
        (
            SPEC.replace("size: 1024", "size: !!timestamp soon"),
            "f.yaml:13: not valid YAML: 'soon' is not a valid !!timestamp",
        ),
        (
            SPEC.replace("source: recv(2)", "source: 2024-13-45"),
            "f.yaml:7: not valid YAML: '2024-13-45' is not a valid !!timestamp",
        ),
        (
            SPEC.replace("size: 1024", "size: " + "9" * 5000),
            "f.yaml:13: not valid YAML: '999* is not a valid !!int",
        ),
        # RecursionError, in PyYAML's pure-Python parser or in the schema check
        (
            SPEC.replace("size: 1024", "size: " + "[" * 5000 + "]" * 5000),
            "f.yaml:13: not valid YAML: exceeded*",
        ),
        (
            SPEC.replace("size: 1024", "size: " + "[" * 60 + "]" * 60),
            "f.yaml:13: behaviours[0].steps[1].size[0][0]*...: nested more than 50 levels deep",
        ),
        # a "billion laughs": ran until memory ran out
        (BOMB_SPEC, "f.yaml:15: lol*: aliases repeat more than 10000 values: write the values out instead"),
        # UnicodeEncodeError (latin-1) while the behaviour was built
        (
            SPEC.replace("data: hello\n        after", 'data: "h€llo"\n        after'),
            f"f.yaml:10: behaviours[0].steps[0].data {BEHAVIOUR}: 'h€llo' holds '€', which is not one byte: "
            'each character is a byte (U+0000..U+00FF); for its UTF-8 write "\\xe2\\x82\\xac"',
        ),
        # 1024.0 passed as an integer, then bytes * float raised TypeError
        (
            SPEC.replace("data: hello", "data: {size: 1024.0}", 1),
            f"f.yaml:10: behaviours[0].steps[0].data.size {BEHAVIOUR}: 1024.0 is not a whole number",
        ),
        # MemoryError while the payload was built
        (
            SPEC.replace("data: hello", "data: {size: 1000000000000}", 1),
            f"f.yaml:10: behaviours[0].steps[0].data.size {BEHAVIOUR}: 1000000000000 is too large: "
            "numbers in a spec file are at most 67108864 (64 MiB)",
        ),
        # loaded, then OverflowError when the run slept that long
        (
            SPEC.replace("after: 10ms", "after: 99999999999999999999s"),
            f"f.yaml:11: behaviours[0].steps[0].after {BEHAVIOUR}: 99999999999999999999s is longer than "
            "a behaviour may wait: at most 3600s",
        ),
        # UnicodeEncodeError: libyaml is handed UTF-8
        (
            SPEC.replace("hello", "\ud800", 1),
            "f.yaml:10: not valid YAML: special characters are not allowed (character #xd800)",
        ),
        # a line past the end of the file (libyaml places an empty value on the next line)
        ('? "model"', "f.yaml:1: model: null is not one of: *"),
        # minutes of parsing (the pure-Python parser on megabytes)
        (SPEC + "#" + "x" * 1_000_000, "f.yaml:1: a spec file holds at most 1,000,000 characters: *"),
        # not a crash, a wrong hint: "give its unit (e.g. -5ms)"
        (
            SPEC.replace("after: 10ms", "after: -5"),
            f"f.yaml:11: behaviours[0].steps[0].after {BEHAVIOUR}: -5 is not a duration (write e.g. 100ms, *",
        ),
    ],
    ids=[
        "int-tag",
        "empty-float",
        "bool-tag",
        "timestamp-tag",
        "bad-date",
        "5000-digits",
        "deep-5000",
        "deep-60",
        "billion-laughs",
        "not-latin-1",
        "float-size",
        "huge-size",
        "huge-duration",
        "surrogate",
        "value-past-the-end",
        "over-1MB",
        "negative-number-duration",
    ],
)
def test_spec_regression(text: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_text(text, "f.yaml")
    assert time.perf_counter() - started < 20  # each takes milliseconds: this bounds a runaway only
    said = [str(problem) for problem in caught.value.problems]
    assert any(matches(line, message) for line in said), said
    assert_located(caught.value.problems, "f.yaml", text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # accepted: a server with a startup timeout of nan, or of inf
        (
            "startup_timeout = nan",
            'P:6: [tool.sockspec.impls.x] startup_timeout: nan is not a duration (write e.g. "10s")',
        ),
        ("stop_timeout = inf", "P:6: [tool.sockspec.impls.x] stop_timeout: must be at most 3600s"),
        # OverflowError: an integer past a float's range
        (
            "startup_timeout = 1" + "0" * 400,
            "P:6: [tool.sockspec.impls.x] startup_timeout: must be at most 3600s",
        ),
        # accepted: a port of 1.0
        (
            'command = ["fixed"]\nport = 1.0',
            "P:6: [tool.sockspec.impls.x] port: 1.0 is not a port number between 1 and 65535",
        ),
        # ValueError from Path.resolve, or later from Popen
        ('cwd = "a\\u0000b"', "P:6: [tool.sockspec.impls.x] cwd: holds a NUL character (\\0), *"),
        (
            'command = ["a\\u0000", "{port}"]',
            "P:5: [tool.sockspec.impls.x] command[0]: holds a NUL character *",
        ),
        (
            'env = {"A=B" = "1"}',
            "P:6: [tool.sockspec.impls.x] env.A=B: the name of an environment variable *",
        ),
    ],
    ids=["nan", "inf", "huge-integer", "float-port", "nul-cwd", "nul-command", "env-name"],
)
def test_impl_table_regression(tmp_path: Path, body: str, message: str) -> None:
    text = GOOD + '\n[tool.sockspec.impls.x]\ncommand = ["s", "{port}"]\n' + body + "\n"
    text = text.replace('command = ["s", "{port}"]\ncommand', "command")
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    tables = load_pyproject(path)
    assert "good" in tables
    with pytest.raises(ConfigError) as caught:
        tables.check("x")
    said = [str(problem).replace(str(path), "P") for problem in caught.value.problems]
    assert any(matches(line, message) for line in said), said


def test_toml_nested_past_pythons_stack_is_a_located_file_error_regression(tmp_path: Path) -> None:
    # RecursionError, from tomllib (and from the locator for depths tomllib reads)
    path = tmp_path / "pyproject.toml"
    path.write_text(GOOD + "deep = " + "[" * 2000 + "]" * 2000 + "\n", encoding="utf-8")
    assert has_sockspec_table(path)
    with pytest.raises(ConfigError) as caught:
        load_pyproject(path)
    assert str(caught.value) == f"{path}:1: cannot read it: arrays or inline tables nested too deep"
    # the locator keeps the lines it found so far
    assert tomlmarks.locate("a = " + "[" * 2000 + "]" * 2000)[("a",)] == 1
