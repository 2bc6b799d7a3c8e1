"""The corpus linter: house rules for every behaviour in spec/*.yaml.

Rules of this file:
- every spec file is loaded with sockspec.language.loader.load_file, by the name it has in
  node ids (spec/<file>.yaml), so a failure names the id and file:line;
- ids are unique across files and start with their model's name and a dot;
- a rule is one or two sentences in the present tense ending with a period;
  the level carries the obligation, so no "should", "must" or "test that";
- a source names the seed (io-models-blog.md), a man page such as recv(2),
  or another named source;
- every behaviour runs over at least one family.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sockspec.language.loader import SpecError, check_unique_ids, load_file
from sockspec.language.model import Behaviour, SpecFile

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted((ROOT / "spec").glob("*.yaml"))

SEED = "io-models-blog.md"
MAN_PAGE = re.compile(r"\b[a-z][a-z0-9_.]*\([1-8][a-z]*\)")
NAMED_SOURCES = ("Python socket", "gVisor", "POSIX", "RFC ", "linux-socket-facts")
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z]|$)")
OBLIGATION = re.compile(r"\b(should|must|test that)\b", re.IGNORECASE)


def load(path: Path) -> SpecFile:
    return load_file(path, f"spec/{path.name}")


def loadable() -> list[SpecFile]:
    """The spec files that load; one that does not is reported by test_corpus_file_loads."""
    files = []
    for path in SPEC_FILES:
        try:
            files.append(load(path))
        except SpecError:
            continue
    return files


BEHAVIOURS: list[Behaviour] = [behaviour for spec in loadable() for behaviour in spec.behaviours]


def by_behaviour() -> pytest.MarkDecorator:
    return pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=[behaviour.id for behaviour in BEHAVIOURS])


def names_a_source(source: str) -> bool:
    if SEED in source or MAN_PAGE.search(source):
        return True
    return any(name in source for name in NAMED_SOURCES)


def where(behaviour: Behaviour) -> str:
    return f"{behaviour.id} ({behaviour.origin})"


def test_corpus_has_spec_files() -> None:
    assert SPEC_FILES, f"no spec files in {ROOT / 'spec'}"


@pytest.mark.parametrize("path", SPEC_FILES, ids=[path.name for path in SPEC_FILES])
def test_corpus_file_loads(path: Path) -> None:
    try:
        spec = load(path)
    except SpecError as error:
        pytest.fail(f"spec/{path.name} does not load:\n{error}", pytrace=False)
    assert spec.behaviours


def test_corpus_ids_unique_across_files() -> None:
    try:
        check_unique_ids(loadable())
    except SpecError as error:
        pytest.fail(str(error), pytrace=False)


@by_behaviour()
def test_corpus_id_starts_with_its_model(behaviour: Behaviour) -> None:
    prefix = f"{behaviour.model.value}."
    assert behaviour.id.startswith(prefix), f"{where(behaviour)}: the id does not start with {prefix!r}"


@by_behaviour()
def test_corpus_rule_is_one_or_two_sentences(behaviour: Behaviour) -> None:
    sentences = len(SENTENCE_END.findall(behaviour.rule))
    assert 1 <= sentences <= 2, f"{where(behaviour)}: the rule has {sentences} sentences: {behaviour.rule!r}"


@by_behaviour()
def test_corpus_rule_ends_with_a_period(behaviour: Behaviour) -> None:
    assert behaviour.rule.endswith("."), f"{where(behaviour)}: the rule does not end with a period"


@by_behaviour()
def test_corpus_rule_states_no_obligation(behaviour: Behaviour) -> None:
    found = OBLIGATION.findall(behaviour.rule)
    assert not found, (
        f"{where(behaviour)}: the rule says {', '.join(repr(word) for word in found)}; "
        "state what happens, in the present tense "
        f"(the level, {behaviour.level.value}, carries the obligation)"
    )


@by_behaviour()
def test_corpus_source_is_named(behaviour: Behaviour) -> None:
    assert names_a_source(behaviour.source), (
        f"{where(behaviour)}: the source {behaviour.source!r} names neither {SEED}, a man page like recv(2), "
        f"nor one of: {', '.join(NAMED_SOURCES)}"
    )


@by_behaviour()
def test_corpus_lists_a_family(behaviour: Behaviour) -> None:
    assert behaviour.families, f"{where(behaviour)}: no family to run over"


@pytest.mark.parametrize(
    ("rule", "sentences"),
    [
        ("A recv returns.", 1),
        ("A recv of m bytes when k > m copies m; it leaves k - m.", 1),
        ("A recv waits. It then returns the bytes.", 2),
        ("One. Two. Three.", 3),
        ("No period", 0),
    ],
)
def test_sentence_count_of_sample_rules(rule: str, sentences: int) -> None:
    assert len(SENTENCE_END.findall(rule)) == sentences


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("io-models-blog.md §Blocking", True),
        ('recv(2) "If no messages are available"', True),
        ("Python socket.settimeout", True),
        ("gVisor ZeroLengthRecvPendingData", True),
        ("the internet", False),
        ("folklore (2)", False),
    ],
)
def test_source_check_of_sample_sources(source: str, named: bool) -> None:
    assert names_a_source(source) is named
