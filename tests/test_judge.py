"""Unit tests of the judge, the error kinds and the timing: values in, verdicts out.

Rules of this file:
- observations and expectations are made by hand; no socket, no thread, no clock;
- times are binary fractions (0.25, 0.5, 0.75, ...) so bounds compare exactly;
- a mismatch is checked by its exact sentence, a pass by an empty list;
- exceptions given to classify are built with the errno the kernel reports.
"""

from __future__ import annotations

import errno
import json

import pytest
from sockspec.judging.judge import Mismatch, Miss, Observation, assess, describe, judge, only_late
from sockspec.language.errorkinds import KINDS, classify
from sockspec.language.loader import SCHEMA_PATH
from sockspec.language.model import Expectation, Range
from sockspec.language.timing import Timing, format_duration, parse_duration

TIMING = Timing(tolerance=0.25)
NOBODY: dict[str, float] = {}


def returned(value: object, started: float = 0.0, ended: float = 0.25) -> Observation:
    return Observation(started, ended, value)


def failed(kind: str, detail: str = "") -> Observation:
    return Observation(0.0, 0.25, None, kind, detail)


def test_judge_data_match() -> None:
    assert judge(Expectation(data=b"hello"), returned(b"hello"), NOBODY, TIMING) == []


def test_judge_data_mismatch() -> None:
    found = judge(Expectation(data=b"hello"), returned(b"help"), NOBODY, TIMING)
    assert found == ["expected data b'hello', observed b'help'"]


def test_judge_data_expected_error_observed() -> None:
    outcome = failed("reset", "ConnectionResetError: [Errno 104] Connection reset by peer")
    found = judge(Expectation(data=b"hello"), outcome, NOBODY, TIMING)
    assert found == [
        "expected data b'hello', observed error reset "
        "(ConnectionResetError: [Errno 104] Connection reset by peer)"
    ]


@pytest.mark.parametrize("value", [b"", b"he", b"hello"])
def test_judge_prefix_of_none_to_all(value: bytes) -> None:
    assert judge(Expectation(prefix_of=b"hello"), returned(value), NOBODY, TIMING) == []


@pytest.mark.parametrize(
    ("whole", "value", "text"),
    [
        (b"hello", b"hex", "expected a prefix of b'hello', observed b'hex'"),
        (b"hello", b"hello!", "expected a prefix of b'hello', observed b'hello!'"),
        (
            b"a" * 40,
            b"a" * 41,
            "expected a prefix of 40 bytes (b'aaaaaaaaaaaa'...), observed 41 bytes (b'aaaaaaaaaaaa'...); "
            "all 40 bytes match, then 1 more bytes came",
        ),
        (
            b"a" * 40,
            b"a" * 20 + b"x" * 14,
            "expected a prefix of 40 bytes (b'aaaaaaaaaaaa'...), observed 34 bytes (b'aaaaaaaaaaaa'...); "
            "they differ first at offset 20: expected b'aaaaaaaa'..., observed b'xxxxxxxx'...",
        ),
    ],
)
def test_judge_prefix_of_refuses_other_bytes(whole: bytes, value: bytes, text: str) -> None:
    assert judge(Expectation(prefix_of=whole), returned(value), NOBODY, TIMING) == [text]


def test_judge_prefix_of_an_error() -> None:
    found = judge(Expectation(prefix_of=b"hello"), failed("reset"), NOBODY, TIMING)
    assert found == ["expected a prefix of b'hello' (none to all of it), observed error reset"]


@pytest.mark.parametrize("value", [b"h", b"hell", 1, 4])
def test_judge_length_in_range(value: object) -> None:
    assert judge(Expectation(length=Range(1, 4)), returned(value), NOBODY, TIMING) == []


def test_judge_length_above_range() -> None:
    found = judge(Expectation(length=Range(1, 4)), returned(b"hello"), NOBODY, TIMING)
    assert found == ["expected length 1..4, observed b'hello'"]


def test_judge_length_of_send_count_below_range() -> None:
    found = judge(Expectation(length=Range(1, None)), returned(0), NOBODY, TIMING)
    assert found == ["expected length at least 1, observed returned 0"]


def test_judge_length_of_no_value() -> None:
    found = judge(Expectation(length=Range(5, 5)), returned(None), NOBODY, TIMING)
    assert found == ["expected length 5, observed returned"]


def test_judge_eof_match() -> None:
    assert judge(Expectation(eof=True), returned(b""), NOBODY, TIMING) == []


def test_judge_eof_mismatch() -> None:
    found = judge(Expectation(eof=True), returned(b"x"), NOBODY, TIMING)
    assert found == ["expected EOF (b''), observed b'x'"]


def test_judge_ok_accepts_any_return() -> None:
    assert judge(Expectation(ok=True), returned(None), NOBODY, TIMING) == []


def test_judge_ok_refuses_an_error() -> None:
    found = judge(Expectation(ok=True), failed("refused"), NOBODY, TIMING)
    assert found == ["expected success, observed error refused"]


@pytest.mark.parametrize("kind", ["broken_pipe", "reset"])
def test_judge_error_kinds_any_of_match(kind: str) -> None:
    expect = Expectation(errors=frozenset({"broken_pipe", "reset"}))
    assert judge(expect, failed(kind), NOBODY, TIMING) == []


def test_judge_error_kinds_other_kind() -> None:
    expect = Expectation(errors=frozenset({"broken_pipe", "reset"}))
    found = judge(expect, failed("timeout"), NOBODY, TIMING)
    assert found == ["expected error broken_pipe or reset, observed error timeout"]


def test_judge_error_kinds_but_returned() -> None:
    expect = Expectation(errors=frozenset({"would_block"}))
    found = judge(expect, returned(b"hi"), NOBODY, TIMING)
    assert found == ["expected error would_block, observed b'hi'"]


def test_judge_timing_only_expectation_leaves_the_result_unjudged() -> None:
    assert judge(Expectation(within=0.5), failed("reset"), NOBODY, TIMING) == []


SEND_OR_FAIL = Expectation(
    any_of=(Expectation(length=Range(1, 1)), Expectation(errors=frozenset({"broken_pipe", "reset"})))
)


@pytest.mark.parametrize("observed", [returned(1), failed("broken_pipe"), failed("reset")])
def test_judge_any_of_one_alternative_matches(observed: Observation) -> None:
    assert judge(SEND_OR_FAIL, observed, NOBODY, TIMING) == []


def test_judge_any_of_no_alternative_matches() -> None:
    found = judge(SEND_OR_FAIL, failed("timeout"), NOBODY, TIMING)
    assert found == ["expected any of (length 1; error broken_pipe or reset), observed error timeout"]


def test_judge_any_of_with_a_plain_field_needs_both() -> None:
    expect = Expectation(length=Range(1, 1), any_of=(Expectation(data=b"a"), Expectation(data=b"b")))
    assert judge(expect, returned(b"a"), NOBODY, TIMING) == []
    assert judge(expect, returned(b"ab"), NOBODY, TIMING) == [
        "expected any of (data b'a'; data b'b'), observed b'ab'",
        "expected length 1, observed b'ab'",
    ]


def test_judge_not_before_returned_before() -> None:
    found = judge(Expectation(not_before="send"), returned(b"x", ended=0.25), {"send": 0.5}, TIMING)
    assert found == [
        "expected it to return not before 'send' (at 500.0 ms), observed it returned at 250.0 ms"
    ]


@pytest.mark.parametrize("ended", [0.5, 0.75])
def test_judge_not_before_returned_at_or_after(ended: float) -> None:
    assert judge(Expectation(not_before="send"), returned(b"x", ended=ended), {"send": 0.5}, TIMING) == []


def test_judge_not_before_named_step_not_acted() -> None:
    found = judge(Expectation(not_before="send"), returned(b"x", ended=0.25), NOBODY, TIMING)
    assert found == [
        "expected it to return not before 'send', but it returned at 250.0 ms and 'send' had not acted yet"
    ]


def test_judge_not_before_has_no_tolerance() -> None:
    timing = Timing(tolerance=10.0)
    found = judge(Expectation(not_before="send"), returned(b"x", ended=0.25), {"send": 0.5}, timing)
    assert len(found) == 1


def test_judge_before_returned_before() -> None:
    assert judge(Expectation(before="fin"), returned(b"x", ended=0.25), {"fin": 0.5}, TIMING) == []


def test_judge_before_returned_at_the_same_time() -> None:
    found = judge(Expectation(before="fin"), returned(b"x", ended=0.5), {"fin": 0.5}, TIMING)
    assert found == ["expected it to return before 'fin' (at 500.0 ms), observed it returned at 500.0 ms"]


def test_judge_before_named_step_not_acted() -> None:
    assert judge(Expectation(before="fin"), returned(b"x", ended=0.25), NOBODY, TIMING) == []


def test_judge_min_elapsed_met_exactly() -> None:
    outcome = returned(None, started=0.25, ended=0.5)
    assert judge(Expectation(min_elapsed=0.25), outcome, NOBODY, TIMING) == []


def test_judge_min_elapsed_too_soon_without_tolerance() -> None:
    outcome = returned(None, started=0.25, ended=0.375)
    found = judge(Expectation(min_elapsed=0.25), outcome, NOBODY, Timing(tolerance=10.0))
    assert found == ["expected it to take at least 250.0 ms, observed 125.0 ms"]


@pytest.mark.parametrize("elapsed", [0.25, 0.5, 0.75])
def test_judge_within_up_to_bound_plus_tolerance(elapsed: float) -> None:
    outcome = returned(b"x", started=0.25, ended=0.25 + elapsed)
    assert judge(Expectation(within=0.5), outcome, NOBODY, TIMING) == []


def test_judge_within_beyond_bound_plus_tolerance() -> None:
    outcome = returned(b"x", started=0.25, ended=0.25 + 0.7578125)
    found = judge(Expectation(within=0.5), outcome, NOBODY, TIMING)
    assert found == ["expected it to return within 500.0 ms (+250.0 ms tolerance), observed 757.8 ms"]


def test_judge_within_uses_the_given_tolerance() -> None:
    outcome = returned(b"x", started=0.0, ended=0.625)
    assert judge(Expectation(within=0.5), outcome, NOBODY, Timing(tolerance=0.125)) == []
    assert judge(Expectation(within=0.5), outcome, NOBODY, Timing(tolerance=0.0625)) == [
        "expected it to return within 500.0 ms (+62.5 ms tolerance), observed 625.0 ms"
    ]


AT_ONCE = Expectation(errors=frozenset({"would_block"}), at_once=True)
QUICK = Timing(tolerance=0.03125)


@pytest.mark.parametrize("elapsed", [0.0, 0.015625, 0.03125])
def test_judge_at_once_up_to_the_tolerance_alone(elapsed: float) -> None:
    assert judge(AT_ONCE, failed_after("would_block", elapsed), NOBODY, QUICK) == []


def test_judge_at_once_past_the_tolerance_says_so() -> None:
    found = assess(AT_ONCE, failed_after("would_block", 0.0546875), NOBODY, QUICK)
    assert found == [
        Mismatch(Miss.LATE, "expected it to return at once (within the 31.2 ms tolerance), observed 54.7 ms")
    ]
    assert only_late(found)


def test_judge_at_once_is_the_bound_zero() -> None:
    assert AT_ONCE.bound == 0.0
    assert Expectation(within=0.5).bound == 0.5
    assert Expectation().bound is None
    assert describe(AT_ONCE) == "error would_block, at once"


def test_judge_late_and_wrong_is_not_only_late() -> None:
    found = assess(AT_ONCE, returned(b"x", started=0.0, ended=0.0625), NOBODY, QUICK)
    assert [mismatch.kind for mismatch in found] == [Miss.RESULT, Miss.LATE]
    assert not only_late(found)
    assert not only_late([])


def test_judge_too_soon_is_early_and_after_a_step_is_late() -> None:
    expect = Expectation(not_before="send", before="fin", min_elapsed=0.5)
    found = assess(expect, returned(b"x", ended=0.25), {"send": 0.5, "fin": 0.125}, TIMING)
    assert [mismatch.kind for mismatch in found] == [Miss.EARLY, Miss.EARLY, Miss.LATE]
    assert (
        found[2].text == "expected it to return before 'fin' (at 125.0 ms), observed it returned at 250.0 ms"
    )


def test_judge_no_return_is_late_only_past_a_stated_bound() -> None:
    still = Observation(0.0, None)
    (bounded,) = assess(AT_ONCE, still, NOBODY, QUICK)
    assert bounded == Mismatch(
        Miss.LATE, "expected error would_block, at once, observed no return (the call is still blocked)"
    )
    (unbounded,) = assess(Expectation(data=b"x"), still, NOBODY, QUICK)
    assert unbounded.kind is Miss.BLOCKED


def test_judge_any_of_late_in_every_alternative_is_late() -> None:
    expect = Expectation(
        any_of=(Expectation(length=Range(1, 1), at_once=True), Expectation(errors=frozenset({"reset"})))
    )
    (late,) = assess(expect, returned(1, started=0.0, ended=0.0625), NOBODY, QUICK)
    assert late.kind is Miss.RESULT  # the error alternative fails on its result, not on time
    only_time = Expectation(
        any_of=(Expectation(length=Range(1, 1), at_once=True), Expectation(length=Range(1, 2), at_once=True))
    )
    (late,) = assess(only_time, returned(1, started=0.0, ended=0.0625), NOBODY, QUICK)
    assert late.kind is Miss.LATE


def failed_after(kind: str, elapsed: float) -> Observation:
    return Observation(0.0, elapsed, None, kind)


def test_judge_result_and_timing_mismatches_together() -> None:
    expect = Expectation(data=b"hello", not_before="send")
    found = judge(expect, returned(b"", ended=0.25), {"send": 0.5}, TIMING)
    assert found == [
        "expected data b'hello', observed EOF (b'')",
        "expected it to return not before 'send' (at 500.0 ms), observed it returned at 250.0 ms",
    ]


def test_judge_still_running() -> None:
    observed = Observation(0.25, None)
    found = judge(Expectation(data=b"hello", not_before="send"), observed, {"send": 0.5}, TIMING)
    assert found == [
        "expected data b'hello', not before 'send', observed no return (the call is still blocked)"
    ]
    assert observed.elapsed is None
    assert observed.describe() == "still running"


def test_describe_every_field() -> None:
    expect = Expectation(
        data=b"hi",
        length=Range(None, 4),
        eof=True,
        ok=True,
        errors=frozenset({"reset", "broken_pipe"}),
        not_before="a",
        before="b",
        within=0.5,
        min_elapsed=0.25,
        prefix_of=b"hi!",
    )
    assert describe(expect) == (
        "data b'hi', length at most 4, EOF (b''), success, error broken_pipe or reset, "
        "a prefix of b'hi!' (none to all of it), "
        "not before 'a', before 'b', not sooner than 250.0 ms, within 500.0 ms"
    )
    assert describe(Expectation()) == "anything"


def test_outcome_describe_long_bytes() -> None:
    assert returned(bytes(range(40))).describe() == (
        "40 bytes (b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b'...)"
    )


def test_classify_blocking_io_error_is_would_block() -> None:
    exc = BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
    assert classify(exc) == "would_block"


def test_classify_socket_timeout_without_errno_is_timeout() -> None:
    assert classify(TimeoutError("timed out")) == "timeout"
    assert classify(TimeoutError()) == "timeout"


def test_classify_timeout_errno_is_timeout() -> None:
    assert classify(OSError(errno.ETIMEDOUT, "Connection timed out")) == "timeout"


def test_classify_connection_reset_is_reset() -> None:
    exc = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    assert classify(exc) == "reset"


def test_classify_broken_pipe_is_broken_pipe() -> None:
    assert classify(BrokenPipeError(errno.EPIPE, "Broken pipe")) == "broken_pipe"


def test_classify_oserror_builds_the_subclass_from_errno() -> None:
    exc = OSError(errno.ECONNREFUSED, "Connection refused")
    assert isinstance(exc, ConnectionRefusedError)
    assert classify(exc) == "refused"


def test_classify_unknown_errno_keeps_its_name() -> None:
    assert classify(OSError(errno.EBADF, "Bad file descriptor")) == "os_error:EBADF"


def test_classify_errno_without_a_name_keeps_its_number() -> None:
    assert classify(OSError(99999, "no such errno")) == "os_error:99999"


def test_classify_other_exception_keeps_its_type() -> None:
    assert classify(RuntimeError("bad")) == "exception:RuntimeError"


def test_error_kinds_are_the_schema_names() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert set(schema["$defs"]["error_kind"]["enum"]) == KINDS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("100ms", 0.1),
        ("1.5s", 1.5),
        ("250us", 0.00025),
        ("+2s", 2.0),
        ("0s", 0.0),
        (" 50ms ", 0.05),
    ],
)
def test_parse_duration_values(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "100", "100 ms", "5sec", "1m", "-1s", ".5s", "1e3ms", "ms"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"not a duration: {text!r} (write e.g. 100ms, 1.5s, 250us)"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.0 ms"),
        (0.0004, "0.4 ms"),
        (0.1004, "100.4 ms"),
        (0.5, "500.0 ms"),
        (1.0, "1.000 s"),
        (2.5, "2.500 s"),
        (10.0, "10.0 s"),
        (15.3, "15.3 s"),
    ],
)
def test_format_duration_values(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_timing_upper_adds_the_tolerance() -> None:
    assert Timing(tolerance=0.25).upper(0.5) == 0.75


def test_timing_describe_defaults() -> None:
    assert Timing().describe() == (
        "tolerance 250.0 ms on upper bounds, step limit 2.000 s, item limit 15.0 s"
    )
    assert Timing().derivation == "the fixed default of sockspec's Timing (not measured)"
