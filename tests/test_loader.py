"""Unit tests of sockspec.language.loader: spec text in, frozen model values or exact messages out.

Rules of this file:
- every spec is a small YAML string written here; nothing is read from spec/
  except the JSON schema itself;
- a valid spec is checked value by value against sockspec.language.model;
- a bad spec is checked against the exact message a spec author reads
  (str(SpecError), or the file, line, field and message of its one problem);
  the lists a message enumerates (operations, fields, error kinds) are read
  from spec/schema.json, so adding an operation does not change these tests;
- no sockets, no pytest plugin, no I/O beyond reading spec/schema.json.
"""

from __future__ import annotations

import json
import textwrap

import jsonschema
import pytest
from sockspec.language.loader import SCHEMA_PATH, Problem, SpecError, check_unique_ids, load_text
from sockspec.language.model import (
    Await,
    Call,
    Check,
    Expectation,
    Family,
    Level,
    Mode,
    Model,
    Origin,
    Payload,
    Peer,
    Range,
)

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
DEFS = SCHEMA["$defs"]
CALL_OPS = ", ".join(DEFS["call"]["properties"]["call"]["enum"])
CALL_FIELDS = ", ".join(sorted(DEFS["call"]["properties"]))
FILE_FIELDS = ", ".join(sorted(SCHEMA["properties"]))
ERROR_KINDS = ", ".join(DEFS["error_kind"]["enum"])
LEVELS = ", ".join(DEFS["behaviour"]["properties"]["level"]["enum"])

FILE = "t.yaml"
WHERE = "behaviours[0].steps[0]"
BEHAVIOUR = "(behaviour blocking.x.y)"

# Lines 1-8 of every one-behaviour spec below; its first step is on line 9.
HEADER = """\
model: blocking
source: io-models-blog.md
behaviours:
  - id: blocking.x.y
    level: must
    rule: A thing happens when it happens.
    source: recv(2)
    steps:
"""


def with_steps(steps: str) -> str:
    """A one-behaviour blocking spec whose steps are `steps` (a YAML list, unindented)."""
    return HEADER + textwrap.indent(textwrap.dedent(steps), "      ")


def load_error(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_text(text, FILE)
    return caught.value


def only_problem(text: str) -> Problem:
    error = load_error(text)
    assert len(error.problems) == 1, str(error)
    return error.problems[0]


VALID = """\
model: nonblocking
source: io-models-blog.md §Non-Blocking
behaviours:
  - id: nonblocking.recv.sample
    level: should
    rule: >
      A sample rule
      holds.
    source: recv(2)
    steps:
      - peer: send
        data: {size: 300}
        name: sent
      - call: recv
        size: 1024
        flags: [peek]
        as: r
        after: 100ms
      - await: r
        expect: {length: {min: 1, max: 300}, within: 250us, not_before: sent}
      - call: send
        data: "hi\\xff"
        expect: {length: 3, min_elapsed: 1.5s}
        limit: 2s
      - check: {unread: 0, unread_data: ab, peer_unread: 3}
  - id: nonblocking.recv.second
    level: must
    rule: A second rule holds as well.
    source: send(2)
    families: [unix]
    mode: blocking
    steps:
      - call: recv
        size: 4
        expect:
          any_of:
            - {data: abcd}
            - {error: [would_block, reset]}
"""


def test_load_text_valid_spec_has_file_values() -> None:
    spec = load_text(VALID, "v.yaml")
    assert spec.path == "v.yaml"
    assert spec.model is Model.NONBLOCKING
    assert spec.source == "io-models-blog.md §Non-Blocking"
    assert [behaviour.id for behaviour in spec.behaviours] == [
        "nonblocking.recv.sample",
        "nonblocking.recv.second",
    ]


def test_load_text_valid_spec_has_behaviour_values() -> None:
    first = load_text(VALID, "v.yaml").behaviours[0]
    assert first.model is Model.NONBLOCKING
    assert first.level is Level.SHOULD
    assert first.rule == "A sample rule holds."
    assert first.source == "recv(2)"
    assert first.file_source == "io-models-blog.md §Non-Blocking"
    assert first.origin == Origin("v.yaml", 4)
    assert len(first.steps) == 5


def test_load_text_families_default_to_all_three() -> None:
    first = load_text(VALID, "v.yaml").behaviours[0]
    assert first.families == (Family.TCP4, Family.TCP6, Family.UNIX)


def test_load_text_families_given_replace_the_default() -> None:
    second = load_text(VALID, "v.yaml").behaviours[1]
    assert second.families == (Family.UNIX,)


def test_load_text_file_families_are_the_behaviour_default() -> None:
    text = HEADER.replace("source: io-models-blog.md\n", "source: io-models-blog.md\nfamilies: [tcp6]\n")
    spec = load_text(text + "      - call: close\n", FILE)
    assert spec.behaviours[0].families == (Family.TCP6,)


def test_load_text_mode_defaults_from_the_model() -> None:
    nonblocking = load_text(VALID, "v.yaml").behaviours[0]
    blocking = load_text(with_steps("- call: close\n"), FILE).behaviours[0]
    assert nonblocking.mode is Mode.NONBLOCKING
    assert blocking.mode is Mode.BLOCKING


def test_load_text_mode_given_overrides_the_model() -> None:
    second = load_text(VALID, "v.yaml").behaviours[1]
    assert second.model is Model.NONBLOCKING
    assert second.mode is Mode.BLOCKING


def test_load_text_peer_send_takes_pattern_bytes() -> None:
    step = load_text(VALID, "v.yaml").behaviours[0].steps[0]
    assert step == Peer(
        origin=Origin("v.yaml", 11),
        action="send",
        payload=Payload.pattern(300).data,
        name="sent",
    )
    assert step.payload is not None
    assert step.payload[:3] == b"\x00\x01\x02"
    assert step.payload[255:258] == b"\xff\x00\x01"


def test_load_text_background_call_has_duration_in_seconds() -> None:
    step = load_text(VALID, "v.yaml").behaviours[0].steps[1]
    assert isinstance(step, Call)
    assert step.origin == Origin("v.yaml", 14)
    assert step.op == "recv"
    assert step.size == 1024
    assert step.flags == frozenset({"peek"})
    assert step.background == "r"
    assert step.after == pytest.approx(0.1)
    assert step.limit is None
    assert step.expect is None


def test_load_text_await_expectation_has_range_and_durations() -> None:
    step = load_text(VALID, "v.yaml").behaviours[0].steps[2]
    assert isinstance(step, Await)
    assert step.origin == Origin("v.yaml", 19)
    assert step.call == "r"
    assert step.expect is not None
    assert step.expect.length == Range(1, 300)
    assert step.expect.within == pytest.approx(0.00025)
    assert step.expect.not_before == "sent"


def test_load_text_text_bytes_are_latin1() -> None:
    step = load_text(VALID, "v.yaml").behaviours[0].steps[3]
    assert isinstance(step, Call)
    assert step.payload == b"hi\xff"
    assert step.limit == pytest.approx(2.0)
    assert step.expect is not None
    assert step.expect.length == Range(3, 3)
    assert step.expect.min_elapsed == pytest.approx(1.5)


def test_load_text_check_step_values() -> None:
    step = load_text(VALID, "v.yaml").behaviours[0].steps[4]
    assert step == Check(origin=Origin("v.yaml", 25), unread=0, unread_data=b"ab", peer_unread=3)


def test_load_text_any_of_and_error_list() -> None:
    step = load_text(VALID, "v.yaml").behaviours[1].steps[0]
    assert isinstance(step, Call)
    assert step.expect == Expectation(
        any_of=(
            Expectation(data=b"abcd"),
            Expectation(errors=frozenset({"would_block", "reset"})),
        )
    )


def test_load_text_single_error_becomes_a_set() -> None:
    spec = load_text(with_steps("- call: recv\n  size: 1\n  expect: {error: timeout}\n"), FILE)
    step = spec.behaviours[0].steps[0]
    assert isinstance(step, Call)
    assert step.expect == Expectation(errors=frozenset({"timeout"}))


def test_load_text_invalid_yaml_names_the_line() -> None:
    error = load_error("model: blocking\nsource: [x\nbehaviours: 1\n")
    assert str(error) == "t.yaml:3: not valid YAML: expected ',' or ']', but got ':'"


def test_load_text_duplicate_key_names_the_second() -> None:
    error = load_error("model: blocking\nsource: abc\nmodel: nonblocking\nbehaviours: []\n")
    assert str(error) == "t.yaml:3: model: this key is given twice in the same mapping"


def test_load_text_not_a_mapping() -> None:
    error = load_error("- model\n")
    assert str(error) == "t.yaml:1: a spec file is a mapping with model, source and behaviours"


def test_load_text_unknown_field_suggests_the_close_one() -> None:
    problem = only_problem(with_steps("- call: recv\n  size: 1\n  expct: {data: a}\n"))
    assert (problem.file, problem.line) == (FILE, 11)
    assert problem.field == f"{WHERE}.expct {BEHAVIOUR}"
    assert problem.message == f"unknown field 'expct' (did you mean 'expect'?); allowed here: {CALL_FIELDS}"


def test_load_text_unknown_top_level_field_suggests_the_close_one() -> None:
    error = load_error(with_steps("- call: close\n").replace("source: io-models-blog.md", "sorce: x"))
    assert str(error) == (
        "t.yaml:1: 'source' is a required property\n"
        f"t.yaml:2: sorce: unknown field 'sorce' (did you mean 'source'?); allowed here: {FILE_FIELDS}"
    )


def test_load_text_unknown_call_op_lists_the_ops() -> None:
    error = load_error(with_steps("- call: recieve\n  size: 1\n"))
    assert str(error) == (
        f"t.yaml:9: {WHERE}.call {BEHAVIOUR}: 'recieve' is not one of: {CALL_OPS} (did you mean 'recv'?)"
    )


@pytest.mark.parametrize(
    ("step", "line", "field", "value"),
    [
        ("- call: recv\n  size: 1\n  after: 100 ms\n", 11, "after", "100 ms"),
        ("- call: recv\n  size: 1\n  limit: fast\n", 11, "limit", "fast"),
        ("- call: recv\n  size: 1\n  expect: {within: 5sec}\n", 11, "expect.within", "5sec"),
        ("- call: recv\n  size: 1\n  expect: {min_elapsed: 5sec}\n", 11, "expect.min_elapsed", "5sec"),
        ("- call: settimeout\n  timeout: 2 s\n", 10, "timeout", "2 s"),
    ],
    ids=["after", "limit", "within", "min_elapsed", "timeout"],
)
def test_load_text_bad_duration_says_how_to_write_one(step: str, line: int, field: str, value: str) -> None:
    error = load_error(with_steps(step))
    assert str(error) == (
        f"t.yaml:{line}: {WHERE}.{field} {BEHAVIOUR}: "
        f"{value!r} is not a duration (write e.g. 100ms, 1.5s, 250us)"
    )


def test_load_text_at_once_is_the_bound_zero() -> None:
    steps = load_text(
        with_steps("- call: recv\n  size: 1\n  expect: {error: would_block, at_once: true}\n"), "t.yaml"
    )
    step = steps.behaviours[0].steps[0]
    assert isinstance(step, Call)
    assert step.expect is not None
    assert (step.expect.at_once, step.expect.within, step.expect.bound) == (True, None, 0.0)


def test_load_text_at_once_with_within_names_both() -> None:
    error = load_error(with_steps("- call: recv\n  size: 1\n  expect: {at_once: true, within: 50ms}\n"))
    assert str(error) == (
        f"t.yaml:11: {WHERE}.expect {BEHAVIOUR}: at_once and within both bound how long the call takes: "
        "write at_once: true for a call that returns at once, or within: T for a rule about a duration T"
    )


def test_load_text_at_once_false_is_refused() -> None:
    error = load_error(with_steps("- call: recv\n  size: 1\n  expect: {at_once: false}\n"))
    assert (
        str(error) == f"t.yaml:11: {WHERE}.expect.at_once {BEHAVIOUR}: only true is allowed here, not false"
    )


def test_load_text_number_for_a_duration_asks_for_its_unit() -> None:
    error = load_error(with_steps("- call: recv\n  size: 1\n  after: 100\n"))
    assert (
        str(error)
        == f"t.yaml:11: {WHERE}.after {BEHAVIOUR}: 100 is not a duration: give its unit (e.g. 100ms)"
    )


def test_load_text_too_short_rule_says_the_minimum() -> None:
    text = with_steps("- call: recv\n  size: 1\n").replace("A thing happens when it happens.", "A recv.")
    assert str(load_error(text)) == (
        f"t.yaml:6: behaviours[0].rule {BEHAVIOUR}: 'A recv.' is too short: write at least 10 characters"
    )


def test_load_text_bad_error_kind_suggests_the_close_one() -> None:
    error = load_error(with_steps("- call: recv\n  size: 1\n  expect: {error: would_blok}\n"))
    assert str(error) == (
        f"t.yaml:11: {WHERE}.expect.error {BEHAVIOUR}: 'would_blok' is not one of: {ERROR_KINDS} "
        "(did you mean 'would_block'?)"
    )


def test_load_text_bad_level_without_a_close_match() -> None:
    error = load_error(with_steps("- call: close\n").replace("level: must", "level: may"))
    assert str(error) == f"t.yaml:5: behaviours[0].level {BEHAVIOUR}: 'may' is not one of: {LEVELS}"


def test_load_text_step_without_action() -> None:
    error = load_error(with_steps("- size: 1\n"))
    assert str(error) == (
        f"t.yaml:9: {WHERE} {BEHAVIOUR}: a step needs exactly one of "
        "call, peer, await, check, client, observe; found fields: size"
    )


def test_load_text_step_with_two_actions() -> None:
    error = load_error(with_steps("- call: recv\n  peer: send\n  size: 1\n"))
    assert str(error) == (
        f"t.yaml:9: {WHERE} {BEHAVIOUR}: a step needs exactly one of "
        "call, peer, await, check, client, observe; found fields: call, peer, size"
    )


def test_load_text_call_missing_argument() -> None:
    error = load_error(with_steps("- call: recv\n"))
    assert str(error) == f"t.yaml:9: {WHERE}.call {BEHAVIOUR}: call recv needs the field 'size'"


def test_load_text_peer_missing_argument() -> None:
    error = load_error(with_steps("- peer: read\n"))
    assert str(error) == f"t.yaml:9: {WHERE}.peer {BEHAVIOUR}: peer read needs the field 'size'"


def test_load_text_call_extra_argument() -> None:
    error = load_error(with_steps("- call: close\n  size: 3\n"))
    assert str(error) == f"t.yaml:10: {WHERE}.size {BEHAVIOUR}: call close does not take the field 'size'"


def test_load_text_await_of_unknown_name() -> None:
    text = with_steps("- call: recv\n  size: 1\n  as: r\n- await: r\n- await: q\n")
    error = load_error(text)
    assert str(error) == (
        f"t.yaml:13: behaviours[0].steps[2].await {BEHAVIOUR}: "
        "no earlier background call is named 'q' (background calls: r)"
    )


def test_load_text_background_call_never_awaited() -> None:
    problem = only_problem(with_steps("- call: recv\n  size: 1\n  as: r\n"))
    assert problem == Problem(FILE, 11, f"{WHERE}.as {BEHAVIOUR}", "the background call 'r' is never awaited")


def test_load_text_not_before_naming_no_step() -> None:
    problem = only_problem(with_steps("- call: recv\n  size: 1\n  expect: {data: a, not_before: send}\n"))
    assert problem == Problem(FILE, 11, f"{WHERE}.expect.not_before {BEHAVIOUR}", "no step is named 'send'")


def test_load_text_before_inside_any_of_naming_no_step() -> None:
    text = with_steps(
        """\
        - call: recv
          size: 1
          expect:
            any_of:
              - {data: a}
              - {eof: true, before: fin}
        """
    )
    problem = only_problem(text)
    assert problem == Problem(
        FILE, 14, f"{WHERE}.expect.any_of[1].before {BEHAVIOUR}", "no step is named 'fin'"
    )


def with_ids(*ids: str) -> str:
    """A blocking spec of one-step behaviours with these ids; the k-th (0-based) starts on line 4 + 5k."""
    behaviours = "".join(
        f"  - id: {behaviour_id}\n"
        "    level: must\n"
        "    rule: A thing happens when it happens.\n"
        "    source: recv(2)\n"
        "    steps: [{call: close}]\n"
        for behaviour_id in ids
    )
    return "model: blocking\nsource: io-models-blog.md\nbehaviours:\n" + behaviours


def test_load_text_duplicate_behaviour_id_in_one_file() -> None:
    error = load_error(with_ids("blocking.x.y", "blocking.x.z", "blocking.x.y"))
    assert str(error) == (
        "t.yaml:14: behaviours[2].id (behaviour blocking.x.y): id 'blocking.x.y' is already used on line 4"
    )


def test_check_unique_ids_across_two_files() -> None:
    first = load_text(with_ids("blocking.x.y"), "a.yaml")
    second = load_text(with_ids("blocking.x.z", "blocking.x.y"), "b.yaml")
    with pytest.raises(SpecError) as caught:
        check_unique_ids([first, second])
    assert caught.value.problems == (
        Problem("b.yaml", 9, "id", "id 'blocking.x.y' is already used at a.yaml:4"),
    )
    assert str(caught.value) == "b.yaml:9: id: id 'blocking.x.y' is already used at a.yaml:4"


def test_check_unique_ids_accepts_distinct_ids() -> None:
    first = load_text(with_ids("blocking.x.y"), "a.yaml")
    second = load_text(with_ids("blocking.x.z"), "b.yaml")
    check_unique_ids([first, second])


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
