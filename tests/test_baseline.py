"""The baseline file and the gate's table, without running anything."""

from __future__ import annotations

import itertools

import pytest
from sockspec.language.model import Family, Level
from sockspec.language.validation import BASELINE_SCHEMA, load_schema
from sockspec.reports import baseline, gate
from sockspec.reports.record import GATE_FAILS, FailureRecord, ItemRecord, Outcome

TEXT = """\
known_failures:
  - id: a.one
    reason: everywhere
  - id: a.one
    impl: mine
    reason: on mine
  - id: a.one
    impl: mine
    family: tcp6
    reason: on mine over tcp6
  - id: b.two
    family: unix
    reason: over unix only
"""


def test_the_most_specific_entry_matches() -> None:
    known = baseline.parse(TEXT, "base.yaml")
    assert [entry.line for entry in known.entries] == [2, 4, 7, 11]
    assert known.match("a.one", "other", Family.TCP4).reason == "everywhere"  # type: ignore[union-attr]
    assert known.match("a.one", "mine", Family.TCP4).reason == "on mine"  # type: ignore[union-attr]
    assert known.match("a.one", "mine", Family.TCP6).reason == "on mine over tcp6"  # type: ignore[union-attr]
    assert known.match("b.two", "mine", Family.UNIX) is not None
    assert known.match("b.two", "mine", Family.TCP4) is None
    assert known.match("c.three", "mine", Family.TCP4) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "known_failures:\n  - id: a.one\n",
            "base.yaml:2: known_failures[0]: 'reason' is a required property",
        ),
        (
            "known_failures:\n  - id: a.one\n    reason: x\n    reasons: typo\n",
            "base.yaml:4: known_failures[0].reasons: unknown field 'reasons' (did you mean 'reason'?); "
            "allowed here: family, id, impl, reason",
        ),
        (
            "known_failures:\n  - id: a.one\n    family: tcp5\n    reason: x\n",
            "base.yaml:3: known_failures[0].family: 'tcp5' is not one of: tcp4, tcp6, unix "
            "(did you mean 'tcp6'?)",
        ),
        (
            "known_failures:\n  - id: ''\n    reason: x\n",
            "base.yaml:2: known_failures[0].id: '' is not a non-empty string",
        ),
        (
            "known_failures:\n  - id: a.one\n    reason: [x]\n",
            "base.yaml:3: known_failures[0].reason: ['x'] is not a non-empty string",
        ),
        ("known_failures:\n  - a.one\n", "base.yaml:2: known_failures[0]: 'a.one' is not a mapping"),
        (
            "failures: []\n",
            "base.yaml:1: 'known_failures' is a required property\n"
            "base.yaml:1: failures: unknown field 'failures' (did you mean 'known_failures'?); "
            "allowed here: known_failures",
        ),
        ("known_failures: 3\n", "base.yaml:1: known_failures: 3 is not a list"),
        ("known_failures:\n  - id: a\n   reason: b\n", "base.yaml:3: not valid YAML: "),
        (
            "known_failures:\n  - id: a\n    id: b\n    reason: c\n",
            "base.yaml:3: known_failures[0].id: this key is given twice in the same mapping",
        ),
    ],
)
def test_a_wrong_baseline_names_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(baseline.BaselineError) as raised:
        baseline.parse(text, "base.yaml")
    assert str(raised.value).startswith(message)


def test_unknown_ids_are_named_with_a_suggestion() -> None:
    known = baseline.parse("known_failures:\n  - id: a.onr\n    reason: x\n", "base.yaml")
    assert [str(problem) for problem in baseline.unknown(known, {"a.one", "b.two"})] == [
        "base.yaml:2: id: no behaviour 'a.onr' in the spec files run (did you mean 'a.one'?)"
    ]
    assert baseline.unknown(known, {"a.onr"}) == []


def test_a_rendered_baseline_parses_back_to_the_same_entries() -> None:
    entries = baseline.parse(TEXT, "base.yaml").entries
    again = baseline.parse(baseline.render(entries), "again.yaml").entries
    assert [(e.id, e.impl, e.family, e.reason) for e in again] == [
        (e.id, e.impl, e.family, e.reason) for e in entries
    ]
    assert baseline.parse("", "empty.yaml").entries == ()


def test_the_gate_table_covers_every_case_and_follows_the_levels() -> None:
    assert set(gate.OUTCOMES) == set(itertools.product(gate.Judged, Level, (True, False), (True, False)))
    for held, reached, level, strict, known in itertools.product(
        (True, False), (True, False), Level, (True, False), (True, False)
    ):
        if held and not reached:
            continue
        outcome = gate.decide(held, level, strict, known, reached=reached)
        fails_gate = outcome in GATE_FAILS
        if known:
            assert fails_gate == held  # a known failure that passes fails the gate
            assert outcome is (Outcome.UNEXPECTED_PASS if held else Outcome.EXPECTED_FAIL)
        elif held:
            assert outcome is Outcome.PASSED
        elif not reached:
            assert outcome is Outcome.NOT_REACHED and fails_gate  # at every level, in every mode
        else:
            assert fails_gate == (level is Level.MUST or strict)


def _item(behaviour: str, family: str, outcome: Outcome, reason: str | None = None) -> ItemRecord:
    failure = FailureRecord(3, "spec/x.yaml:40", "step 3", None, ("expected b'hi', observed b''",))
    return ItemRecord(
        nodeid=f"spec/x.yaml::{behaviour}[mine-{family}]",
        id=behaviour,
        model="blocking",
        level="must",
        impl="mine",
        family=family,
        outcome=outcome,
        duration=0.1,
        rule="r",
        source="s",
        reason=reason,
        failure=None if outcome is Outcome.PASSED else failure,
    )


def test_a_fresh_baseline_lists_what_broke_its_rule_per_behaviour_or_per_family() -> None:
    items = [
        _item("a.all", "tcp4", Outcome.FAILED),
        _item("a.all", "tcp6", Outcome.EXPECTED_FAIL, "kept reason"),
        _item("a.all", "unix", Outcome.NOT_APPLICABLE),
        _item("b.some", "tcp4", Outcome.PASSED),
        _item("b.some", "tcp6", Outcome.WARNED),
        _item("c.none", "tcp4", Outcome.PASSED),
        _item("d.unreached", "tcp4", Outcome.NOT_REACHED),
    ]
    entries = gate.fresh_entries(items)
    assert [(e.id, e.impl, e.family, e.reason) for e in entries] == [
        ("a.all", "mine", None, "kept reason"),
        ("b.some", "mine", Family.TCP6, "spec/x.yaml:40: expected b'hi', observed b''"),
        ("d.unreached", "mine", None, "not reached: spec/x.yaml:40: expected b'hi', observed b''"),
    ]


def test_entries_this_run_did_not_test_are_kept() -> None:
    previous = baseline.parse(
        "known_failures:\n"
        "  - {id: a.all, impl: mine, reason: tested now}\n"
        "  - {id: z.other, impl: mine, reason: deselected}\n"
        "  - {id: a.all, impl: theirs, reason: another impl}\n"
        "  - {id: b.some, family: unix, reason: not applicable here}\n",
        "base.yaml",
    )
    items = [
        _item("a.all", "tcp4", Outcome.EXPECTED_FAIL, "tested now"),
        _item("b.some", "unix", Outcome.NOT_APPLICABLE),
    ]
    kept = gate.unrun_entries(previous, items)
    assert [entry.reason for entry in kept] == ["deselected", "another impl", "not applicable here"]


def test_the_same_entry_twice_is_an_error() -> None:
    with pytest.raises(baseline.BaselineError) as raised:
        baseline.parse(TEXT + "  - id: a.one\n    impl: mine\n    reason: again\n", "base.yaml")
    assert str(raised.value) == (
        "base.yaml:14: known_failures[4]: the same id, impl and family as base.yaml:4"
    )


def test_the_baseline_schema_names_the_families_of_the_model() -> None:
    families = load_schema(BASELINE_SCHEMA)["$defs"]["entry"]["properties"]["family"]["enum"]
    assert families == [family.value for family in Family]
