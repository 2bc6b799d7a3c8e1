"""The corpus linter: house rules for every behaviour in spec/*.yaml.

Rules of this file:
- every spec file is loaded with sockspec.language.loader.load_file, by the name it has in
  node ids (spec/<file>.yaml), so a failure names the id and file:line;
- ids are unique across files and start with their model's name and a dot;
- a rule is one or two sentences in the present tense ending with a period;
  the level carries the obligation, so no "should", "must" or "test that";
- a source names the seed (io-models-blog.md), a man page such as recv(2),
  or another named source;
- every behaviour runs over at least one family;
- a source (of a behaviour or a file) that cites the seed does it in a part of its
  own (parts are separated by ';'), by sections that exist in the seed, and
  quotes from those sections only text they contain; the seed's headings and the
  quoted text live in tests/seed-sections.txt, checked against the seed itself
  when shared/seed/ is beside the repository (skipped otherwise);
- a source that cites linux-socket-facts names its items (A.34, B1, C, ...);
- every `setup` of a step names a behaviour of the corpus, of the same model
  (the one that tests that set-up directly, against the same impls).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from sockspec.language.loader import SpecError, check_unique_ids, load_file, load_text
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


def setup_problems(behaviour: Behaviour, corpus: Mapping[str, Behaviour]) -> list[str]:
    """What is wrong with the `setup` marks of a behaviour's steps: each names a behaviour of the
    corpus, of the same model (the one that tests that set-up against the same impls)."""
    found = []
    for index, step in enumerate(behaviour.steps):
        if step.setup is None:
            continue
        named = corpus.get(step.setup)
        if named is None:
            found.append(
                f"step {index + 1} ({step.origin}): setup names {step.setup!r}, no behaviour of the corpus"
            )
        elif named.model is not behaviour.model:
            found.append(
                f"step {index + 1} ({step.origin}): setup names {step.setup!r}, a {named.model.value} "
                f"behaviour: name one of {behaviour.model.value}, which runs against the same impls"
            )
    return found


CORPUS: dict[str, Behaviour] = {behaviour.id: behaviour for behaviour in BEHAVIOURS}


@by_behaviour()
def test_corpus_setup_names_a_behaviour(behaviour: Behaviour) -> None:
    problems = setup_problems(behaviour, CORPUS)
    assert not problems, f"{where(behaviour)}: " + "; ".join(problems)


def test_corpus_marks_setup_in_server_behaviours() -> None:
    marked = [behaviour.id for behaviour in BEHAVIOURS if any(step.setup for step in behaviour.steps)]
    assert "server.observe.idle-cpu" in marked, marked


def test_setup_check_of_sample_behaviours() -> None:
    text = """
model: server
source: RFC 862 "any data received is sent back"
behaviours:
  - id: server.echo.small
    level: must
    rule: It echoes.
    source: RFC 862 "any data received is sent back"
    steps:
      - {client: a, action: connect}
  - id: server.sample.marked
    level: must
    rule: It echoes again.
    source: RFC 862 "any data received is sent back"
    steps:
      - {client: a, action: connect, setup: server.echo.small}
      - {client: b, action: connect, setup: server.echo.nowhere}
      - {client: c, action: connect, setup: blocking.recv.waits-for-data}
      - {client: d, action: connect}
"""
    spec = load_text(text, "sample.yaml")
    blocking = next(behaviour for behaviour in BEHAVIOURS if behaviour.model.value == "blocking")
    corpus = {behaviour.id: behaviour for behaviour in spec.behaviours}
    corpus["blocking.recv.waits-for-data"] = blocking
    problems = setup_problems(spec.behaviours[1], corpus)
    assert problems == [
        "step 2 (sample.yaml:17): setup names 'server.echo.nowhere', no behaviour of the corpus",
        "step 3 (sample.yaml:18): setup names 'blocking.recv.waits-for-data', a blocking behaviour: "
        "name one of server, which runs against the same impls",
    ]


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


# Sources: the seed's sections and quotes, and the measured facts' items.

SEED_DATA = Path(__file__).resolve().parent / "seed-sections.txt"
SEED_BESIDE = ROOT.parent / "shared" / "seed" / SEED
SEED_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$")
QUOTED = re.compile(r'"([^"]*)"')
ELISION = "..."
FACTS = "linux-socket-facts"
FACT_ITEMS_IN_A = 70
FACT_ITEM = r"(?:A\.\d+|B[1-4]|[CDE])"
FACT_NOTE = r" \([^()]*\)"
FACTS_CITATION = re.compile(rf"{FACTS} {FACT_ITEM}(?:{FACT_NOTE})?(?:, {FACT_ITEM}(?:{FACT_NOTE})?)*")
FACT_NOTES = re.compile(FACT_NOTE)
FACT_IN_A = re.compile(r"\bA\.(\d+)\b")

SeedSections = Mapping[str, Sequence[str]]
"""The seed's headings in order, each with the verbatim text of its section that sources quote."""


def read_seed_sections(text: str, name: str = SEED_DATA.name) -> dict[str, tuple[str, ...]]:
    """Parse tests/seed-sections.txt: '# ' comments, '§ heading' lines, indented quoted text."""
    sections: dict[str, list[str]] = {}
    heading = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("§ "):
            heading = line[2:].strip()
            sections[heading] = []
        elif line.startswith("    ") and heading:
            sections[heading].append(line.strip())
        else:
            raise ValueError(
                f"{name}:{number}: expected '# comment', '§ heading' or text indented under a heading: "
                f"{line!r}"
            )
    return {heading: tuple(texts) for heading, texts in sections.items()}


def seed_sections_of(markdown: str) -> dict[str, str]:
    """The seed's sections, heading to body, in order; its YAML front matter left out."""
    lines = markdown.splitlines()
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---"), 0)
        lines = lines[end + 1 :]
    sections: dict[str, list[str]] = {}
    body: list[str] | None = None
    for line in lines:
        heading = SEED_HEADING.match(line)
        if heading:
            body = sections.setdefault(heading.group(1), [])
        elif body is not None:
            body.append(line)
    return {heading: "\n".join(body) for heading, body in sections.items()}


def source_parts(source: str) -> list[str]:
    """A source's parts: split at each ';' outside double quotes and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in source:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        if char == ";" and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def says(text: str, quote: str) -> bool:
    """Whether text contains the quote verbatim; '...' in the quote stands for left-out text."""
    position = 0
    for fragment in (piece.strip() for piece in quote.split(ELISION)):
        if not fragment:
            continue
        found = text.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


def seed_citation_problems(source: str, seed: SeedSections) -> list[str]:
    """What is wrong with the source's citations of the seed, if anything."""
    problems: list[str] = []
    known = ", ".join(seed)
    for part in source_parts(source):
        if SEED not in part:
            continue
        if not part.startswith(SEED):
            problems.append(f"{part!r}: cite the seed in a part of its own that starts with {SEED}")
            continue
        head = re.split(r'[("]', part[len(SEED) :], maxsplit=1)[0]
        before, *named = head.split("§")
        sections = [name.strip(" ,") for name in named]
        if before.strip() or not sections or not all(sections):
            problems.append(f"{part!r}: name the seed's sections, as {SEED} §Section or {SEED} §One, §Two")
            continue
        for name in sections:
            if name not in seed:
                problems.append(f"{part!r}: the seed has no section {name!r}; its sections are: {known}")
        text = "\n".join(quoted for name in sections for quoted in seed.get(name, ()))
        for quote in QUOTED.findall(part):
            if not says(text, quote):
                problems.append(
                    f"{part!r}: {', '.join('§' + name for name in sections)} does not say {quote!r} "
                    f"in the text tests/{SEED_DATA.name} lists (a new quote from the seed goes there first)"
                )
    return problems


def facts_citation_problems(source: str) -> list[str]:
    """What is wrong with the source's citations of linux-socket-facts, if anything."""
    problems: list[str] = []
    for part in source_parts(source):
        if FACTS not in part:
            continue
        if not FACTS_CITATION.fullmatch(part):
            problems.append(
                f"{part!r}: cite {FACTS} as a part of its own with its items, e.g. "
                f"'{FACTS} A.34 (a note), B1' (a '#' would start a YAML comment)"
            )
            continue
        for number in FACT_IN_A.findall(FACT_NOTES.sub("", part)):
            if not 1 <= int(number) <= FACT_ITEMS_IN_A:
                problems.append(f"{part!r}: {FACTS} has items A.1 to A.{FACT_ITEMS_IN_A}, not A.{number}")
    return problems


def seed_data_problems(seed: SeedSections, markdown: str) -> list[str]:
    """Where the listed headings and quoted text differ from the seed itself."""
    actual = seed_sections_of(markdown)
    problems: list[str] = []
    if list(seed) != list(actual):
        problems.append(f"the seed's headings are {list(actual)}, the list has {list(seed)}")
    for heading, texts in seed.items():
        for text in texts:
            if text not in actual.get(heading, ""):
                problems.append(f"§{heading} of the seed does not contain {text!r}")
    return problems


SEED_SECTIONS = read_seed_sections(SEED_DATA.read_text(encoding="utf-8"))
SPEC_SOURCES = {spec.path: (spec.path, spec.source) for spec in loadable()} | {
    behaviour.id: (where(behaviour), behaviour.source) for behaviour in BEHAVIOURS
}
"""Every source in the corpus, the files' own included, by the file's name or the behaviour's id."""


def by_source() -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("cited_by", "source"), SPEC_SOURCES.values(), ids=SPEC_SOURCES.keys())


@by_source()
def test_corpus_source_cites_the_seed_by_its_sections(cited_by: str, source: str) -> None:
    problems = seed_citation_problems(source, SEED_SECTIONS)
    assert not problems, f"{cited_by}: " + "\n".join(problems)


@by_source()
def test_corpus_source_cites_facts_by_item(cited_by: str, source: str) -> None:
    problems = facts_citation_problems(source)
    assert not problems, f"{cited_by}: " + "\n".join(problems)


def test_seed_sections_list_matches_the_seed() -> None:
    if not SEED_BESIDE.is_file():
        pytest.skip(
            f"the seed is not beside the repository ({SEED_BESIDE}); {SEED_DATA.name} is trusted as is"
        )
    problems = seed_data_problems(SEED_SECTIONS, SEED_BESIDE.read_text(encoding="utf-8"))
    assert not problems, f"tests/{SEED_DATA.name} differs from {SEED_BESIDE}:\n" + "\n".join(problems)


SAMPLE_SEED: SeedSections = {
    "Blocking": (),
    "Non-Blocking": ('recvfrom 함수는 "EWOULDBLOCK"을 리턴한다.',),
    "동기형 통지모델": (),
}


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("io-models-blog.md §Blocking; recv(2)", None),
        ("io-models-blog.md §Blocking, §동기형 통지모델 (a paraphrase; with a semicolon)", None),
        ('io-models-blog.md §Non-Blocking ("EWOULDBLOCK" while the buffer is empty)', None),
        ('io-models-blog.md §Non-Blocking "recvfrom ... 리턴한다."', None),
        ("io-models-blog.md §Blockin", "the seed has no section 'Blockin'"),
        ("recv(2); io-models-blog.md §Non-Blocking, §Asynchronous", "the seed has no section 'Asynchronous'"),
        ('io-models-blog.md §Non-Blocking "EAGAIN"', "does not say 'EAGAIN'"),
        ('io-models-blog.md §Blocking ("EWOULDBLOCK")', "§Blocking does not say 'EWOULDBLOCK'"),
        ('io-models-blog.md §Non-Blocking "리턴한다 ... recvfrom"', "does not say"),
        ("io-models-blog.md", "name the seed's sections"),
        ("io-models-blog.md Blocking", "name the seed's sections"),
        ("recv(2) after io-models-blog.md §Blocking", "a part of its own"),
    ],
)
def test_seed_citation_check_of_sample_sources(source: str, problem: str | None) -> None:
    problems = seed_citation_problems(source, SAMPLE_SEED)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("recv(2); linux-socket-facts A.34", None),
        ("linux-socket-facts A.34 (RST: ECONNRESET once, then EOF), A.35, B1, C (partial-send recipe)", None),
        ("linux-socket-facts", "with its items"),
        ("linux-socket-facts #69", "with its items"),
        ("linux-socket-facts A.34 and A.35", "with its items"),
        ("linux-socket-facts A.71", "not A.71"),
        ("linux-socket-facts B5", "with its items"),
    ],
)
def test_facts_citation_check_of_sample_sources(source: str, problem: str | None) -> None:
    problems = facts_citation_problems(source)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


SAMPLE_MARKDOWN = """---
title: "a seed"
---

## Blocking

It waits.

## Non-Blocking

그래서 recvfrom 함수는 "EWOULDBLOCK"을 리턴한다. 그 다음.

### 동기형 통지모델

It asks.
"""


def test_seed_data_check_of_a_sample_seed() -> None:
    assert seed_data_problems(SAMPLE_SEED, SAMPLE_MARKDOWN) == []
    renamed = SAMPLE_MARKDOWN.replace("## Blocking", "## Blocking I/O")
    assert seed_data_problems(SAMPLE_SEED, renamed) == [
        "the seed's headings are ['Blocking I/O', 'Non-Blocking', '동기형 통지모델'], "
        "the list has ['Blocking', 'Non-Blocking', '동기형 통지모델']"
    ]
    reworded = SAMPLE_MARKDOWN.replace("리턴한다", "반환한다")
    assert seed_data_problems(SAMPLE_SEED, reworded) == [
        "§Non-Blocking of the seed does not contain 'recvfrom 함수는 \"EWOULDBLOCK\"을 리턴한다.'"
    ]


def test_seed_sections_file_format() -> None:
    assert read_seed_sections("# a comment\n§ One\n    said\n\n§ Two\n") == {"One": ("said",), "Two": ()}
    with pytest.raises(ValueError, match=r"seed-sections.txt:2: expected"):
        read_seed_sections("§ One\nunindented text\n")
