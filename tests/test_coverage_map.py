"""The coverage map (docs/coverage.yaml) against the corpus, the seed's list and, when beside the clone,
the seed and the facts file themselves.

Rules of this file:
- the map loads, and every entry has one status: behaviours, behaviours with `weak`, a `reason`, or a
  `todo`; every id it names is a behaviour of the bundled corpus (loaded as the plugin loads it);
- every facts item (A.1 to A.70, B1 to B4, C, D, E) is listed once, every claim's section and quote are
  in tests/seed-sections.txt, and every section of the seed but its references has a claim;
- every item of the facts file (shipped as docs/linux-socket-facts.md) is in the map once, under its own
  name; with ../shared beside the clone, every quote is in its section of the real seed and the shipped
  facts file is the one beside it (skipped, with the reason, otherwise);
- an entry's `limits` (how its behaviours were narrowed to their source) is shown under it in the
  table, and is refused on an entry without behaviours;
- the checks themselves are shown to catch each kind of problem on small samples.
"""

from __future__ import annotations

import pytest

from tests import coverage_map as cm
from tests.test_corpus_lint import seed_sections_of

COVERAGE = cm.load()
SEED = cm.read_seed_sections(cm.SEED_DATA.read_text(encoding="utf-8"))


def test_coverage_map_has_no_problems() -> None:
    problems = cm.problems(COVERAGE, cm.corpus_ids(), SEED)
    assert not problems, "docs/coverage.yaml:\n" + "\n".join(problems)


def test_coverage_map_matches_the_facts_file() -> None:
    problems = cm.source_problems(COVERAGE, None, cm.FACTS.read_text(encoding="utf-8"))
    assert not problems, "docs/coverage.yaml differs from docs/linux-socket-facts.md:\n" + "\n".join(problems)


def test_coverage_map_matches_the_seed_beside_the_clone() -> None:
    if not cm.SEED_BESIDE.is_file():
        pytest.skip(
            f"not beside the clone: {cm.SEED_BESIDE}; its claims are checked against tests/seed-sections.txt"
        )
    problems = cm.source_problems(
        COVERAGE,
        seed_sections_of(cm.SEED_BESIDE.read_text(encoding="utf-8")),
        cm.FACTS.read_text(encoding="utf-8"),
    )
    assert not problems, "docs/coverage.yaml differs from the seed:\n" + "\n".join(problems)


def test_the_shipped_facts_file_is_the_one_beside_the_clone() -> None:
    if not cm.FACTS_BESIDE.is_file():
        pytest.skip(f"not beside the clone: {cm.FACTS_BESIDE}")
    assert cm.FACTS.read_text(encoding="utf-8") == cm.FACTS_BESIDE.read_text(encoding="utf-8"), (
        f"docs/linux-socket-facts.md differs from {cm.FACTS_BESIDE}; copy the newer one over"
    )


def test_coverage_table_counts_every_entry() -> None:
    text = cm.table(COVERAGE)
    assert f"The seed's claims ({len(COVERAGE.claims)}: " in text
    assert f"The Linux facts ({len(COVERAGE.facts)}: " in text
    for entry in COVERAGE.entries:
        assert f"    {entry.key:<9} " in text


SAMPLE = """
seed:
  - {claim: 1, section: Blocking, quote: "it waits.", says: waits, behaviours: [blocking.a]}
  - {claim: 2, section: Blocking, quote: "not there.", says: x, behaviours: [blocking.gone]}
  - {claim: 3, section: Nowhere, quote: null, says: y, reason: untestable}
  - {claim: 4, section: Blocking, quote: null, says: z}
facts:
  - {item: A.1, name: recv.x, says: s, behaviours: [blocking.a], reason: both}
  - {item: A.1, name: recv.x, says: s, todo: later}
  - {item: A.99, name: nope, says: s, reason: r}
"""


def test_problems_of_a_sample_map() -> None:
    sample = cm.parse(SAMPLE, "sample")
    problems = cm.problems(sample, ["blocking.a"], {"Blocking": ("it waits.",), "Non-Blocking": ()})
    expected = [
        "claim 2: no behaviour 'blocking.gone' in the corpus",
        "claim 4: neither behaviours nor a reason (or a todo) why none",
        "A.1: states more than one status (covered, uncovered); keep one",
        "A.1: listed more than once",
        "A.2: the facts item is not in the map",
        "A.99: the facts have no such item (they have A.1 to A.70, B1 to B4, C, D, E)",
        "claim 2: 'not there.' is not listed under §Blocking in tests/seed-sections.txt"
        " (a quote from the seed goes there first)",
        "claim 3: the seed has no section 'Nowhere'; it has Blocking, Non-Blocking",
        "§Non-Blocking: the seed's section has no claim in the map",
    ]
    for problem in expected:
        assert problem in problems
    assert sum(problem.endswith("is not in the map") for problem in problems) == len(cm.FACT_ITEMS) - 1


def test_limits_are_shown_with_their_entry_and_need_behaviours() -> None:
    sample = cm.parse(
        "seed: []\nfacts:\n"
        "  - {item: A.45, name: flag.waitall, says: s, behaviours: [blocking.a], limits: short on a signal}\n"
        "  - {item: A.46, name: rd.read_cond, says: s, reason: r, limits: nothing to narrow}\n",
        "sample",
    )
    assert sample.facts[0].status is cm.Status.COVERED
    assert "              (limits: short on a signal)" in cm.table(sample).splitlines()
    problems = cm.problems(sample, ["blocking.a"], {})
    assert "A.46: `limits` says how its behaviours are narrowed, and it names none" in problems
    assert not [problem for problem in problems if problem.startswith("A.45:")]


def test_sample_map_refuses_an_unknown_field() -> None:
    with pytest.raises(ValueError, match=r"sample: facts\[0\]: unknown field\(s\) \['covers'\]"):
        cm.parse("seed: []\nfacts:\n  - {item: A.1, says: s, covers: [x]}\n", "sample")


SAMPLE_FACTS = """
## A. Behaviours (70)
1. `recv.blocking_waits` - returns only once the peer sends.
2. `recv.renamed` - an empty buffer.
2. `recv.again` - twice.
## B. Readiness vs completion
- **B1** At notification time:
## C. Determinism facts
"""


def test_source_problems_of_sample_facts() -> None:
    sample = cm.parse(
        "seed:\n  - {claim: 1, section: Blocking, quote: 'not said.', says: x, reason: r}\n"
        "facts:\n  - {item: A.1, name: recv.blocking_waits, says: s, reason: r}\n"
        "  - {item: A.2, name: recv.nb_empty_eagain, says: s, reason: r}\n"
        "  - {item: D, name: Completion on Linux, says: s, reason: r}\n",
        "sample",
    )
    problems = cm.source_problems(sample, {"Blocking": "it waits."}, SAMPLE_FACTS)
    assert sorted(problems) == sorted(
        [
            "claim 1: §Blocking of the seed does not contain 'not said.'",
            "A.2: the facts file has it 2 times",
            "A.2: the facts file names it 'recv.renamed', the map 'recv.nb_empty_eagain'",
            "A.2: the facts file names it 'recv.again', the map 'recv.nb_empty_eagain'",
            "B1 (unnamed): in the facts file, not in the map",
            "C (Determinism facts): in the facts file, not in the map",
            "D: in the map, not in the facts file",
        ]
    )


def test_readme_states_the_maps_counts() -> None:
    readme = (cm.ROOT / "README.md").read_text(encoding="utf-8")
    for title, entries in (("the seed's claims", COVERAGE.claims), ("the Linux facts", COVERAGE.facts)):
        line = f"- {title}: {cm.summary(entries)}"
        assert line in readme, f"README.md does not state the map's counts; write: {line}"
