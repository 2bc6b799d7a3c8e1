"""Judging: does an observation (what a call or an action did) meet an expectation?

Rules of this module:
- pure functions of values: no I/O, no clock, no threads, no pytest, no sockets;
- order is judged without tolerance ("not before the peer acted" compares two
  timestamps of one clock); only the upper bounds (`at_once`, `within`) use the
  tolerance, through `Timing`;
- a mismatch is a sentence that says what was expected and what was seen, and
  a kind (`Miss`) that says what sort of rule it broke: the plugin reruns a
  verdict whose every mismatch is LATE (noise on the machine can make a call
  return later, never sooner, never with another result), and nothing reads
  the sentence back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sockspec.language.model import Expectation, Payload
from sockspec.language.timing import Timing, format_duration


@dataclass(frozen=True)
class Observation:
    """What one call, peer read or client action was observed to do (the judge's input).

    value: bytes for recv-like calls, an int for send-like calls, a frozenset of
        event names for a readiness wait (the step's socket), None otherwise.
    error: the portable kind (see errorkinds), or None when the call returned.
    ended: None when it had not returned (or completed) by the end of its wait.
    unread: FIONREAD of the step's socket at that moment, when it was probed.
    """

    started: float
    ended: float | None
    value: object = None
    error: str | None = None
    detail: str = ""
    unread: int | None = None

    @property
    def elapsed(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def length(self) -> int | None:
        """Bytes returned (a recv's data) or counted (a send's return), else None."""
        return _length(self.value)

    def describe(self) -> str:
        if self.ended is None:
            return "still running"
        if self.error is not None:
            shown = f"error {self.error}"
            return f"{shown} ({self.detail})" if self.detail else shown
        if isinstance(self.value, bytes):
            return "EOF (b'')" if not self.value else Payload(self.value).describe()
        if isinstance(self.value, frozenset):
            return "events {" + ", ".join(sorted(self.value)) + "}" if self.value else "no events"
        if self.value is None:
            return "returned"
        return f"returned {self.value!r}"


class Miss(enum.Enum):
    """What sort of rule a mismatch broke."""

    RESULT = "result"  # the value or error returned
    EARLY = "early"  # returned too soon: not_before (order) or min_elapsed (an exact lower bound)
    LATE = "late"  # an upper time bound (at_once, within, before a step): past it, or no return by it
    BLOCKED = "blocked"  # no return, where no upper bound was stated


@dataclass(frozen=True)
class Mismatch:
    """One way an observation fails an expectation: its kind and its sentence."""

    kind: Miss
    text: str

    def __str__(self) -> str:
        return self.text


def only_late(found: Sequence[Mismatch]) -> bool:
    """Whether every mismatch (at least one) is an upper time bound missed: the verdict noise
    on the machine could have caused, to be confirmed by running the behaviour again."""
    return bool(found) and all(mismatch.kind is Miss.LATE for mismatch in found)


def describe(expect: Expectation) -> str:
    """The expectation as a phrase: "data b'hello', not before step 'send'"."""
    parts = []
    if expect.data is not None:
        parts.append(f"data {Payload(expect.data).describe()}")
    if expect.length is not None:
        parts.append(f"length {expect.length.describe()}")
    if expect.eof:
        parts.append("EOF (b'')")
    if expect.ok:
        parts.append("success")
    if expect.errors:
        parts.append("error " + " or ".join(sorted(expect.errors)))
    if expect.ready is not None:
        parts.append("events {" + ", ".join(sorted(expect.ready)) + "}" if expect.ready else "no events")
    if expect.ready_includes:
        parts.append("events including " + ", ".join(sorted(expect.ready_includes)))
    if expect.ready_excludes:
        parts.append("events without " + ", ".join(sorted(expect.ready_excludes)))
    if expect.unread is not None:
        parts.append(f"{expect.unread} bytes left in the kernel buffer at that moment")
    if expect.prefix_of is not None:
        parts.append(f"a prefix of {Payload(expect.prefix_of).describe()} (none to all of it)")
    if expect.any_of:
        parts.append("any of (" + "; ".join(describe(option) for option in expect.any_of) + ")")
    if expect.not_before:
        parts.append(f"not before {expect.not_before!r}")
    if expect.before:
        parts.append(f"before {expect.before!r}")
    if expect.min_elapsed is not None:
        parts.append(f"not sooner than {format_duration(expect.min_elapsed)}")
    if expect.within is not None:
        parts.append(f"within {format_duration(expect.within)}")
    if expect.at_once:
        parts.append("at once")
    return ", ".join(parts) or "anything"


def _length(value: object) -> int | None:
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _result_mismatches(expect: Expectation, observed: Observation) -> list[Mismatch]:
    """What the returned value or error gets wrong (timing aside)."""
    return [Mismatch(Miss.RESULT, text) for text in _result_texts(expect, observed)]


def _result_texts(expect: Expectation, observed: Observation) -> list[str]:
    wants_value = (
        expect.data is not None
        or expect.length is not None
        or expect.eof
        or expect.ok
        or expect.ready is not None
        or bool(expect.ready_includes or expect.ready_excludes)
        or expect.unread is not None
        or expect.prefix_of is not None
    )
    if observed.error is not None:
        if expect.errors and observed.error not in expect.errors:
            return [f"expected error {' or '.join(sorted(expect.errors))}, observed {observed.describe()}"]
        if wants_value or not expect.errors:
            return [f"expected {describe(expect)}, observed {observed.describe()}"]
        return []
    if expect.errors:
        return [f"expected error {' or '.join(sorted(expect.errors))}, observed {observed.describe()}"]
    found = []
    if expect.data is not None and observed.value != expect.data:
        found.append(
            f"expected data {Payload(expect.data).describe()}, observed {observed.describe()}"
            + _difference_note(expect.data, observed.value)
        )
    length = observed.length
    if expect.length is not None and (length is None or not expect.length.contains(length)):
        found.append(f"expected length {expect.length.describe()}, observed {observed.describe()}")
    if expect.eof and observed.value != b"":
        found.append(f"expected EOF (b''), observed {observed.describe()}")
    found.extend(_ready_mismatches(expect, observed))
    if expect.unread is not None and observed.unread != expect.unread:
        seen = "not probed" if observed.unread is None else f"{observed.unread} bytes"
        found.append(
            f"expected {expect.unread} bytes left in the kernel buffer when it returned, observed {seen}"
        )
    if expect.prefix_of is not None and not _is_prefix(expect.prefix_of, observed.value):
        found.append(
            f"expected a prefix of {Payload(expect.prefix_of).describe()}, observed {observed.describe()}"
            + _prefix_note(expect.prefix_of, observed.value)
        )
    return found


def _is_prefix(whole: bytes, value: object) -> bool:
    return isinstance(value, bytes) and len(value) <= len(whole) and whole.startswith(value)


def _prefix_note(whole: bytes, observed: object) -> str:
    """For long payloads, where bytes that are not a prefix of `whole` leave it."""
    if not isinstance(observed, bytes) or max(len(whole), len(observed)) <= SHORT:
        return ""
    if len(observed) > len(whole):
        return f"; {describe_difference(whole, observed)}"
    return f"; {describe_difference(whole[: len(observed)], observed)}"


SHORT = 32
_BLOCK = 65536


def _first_difference(expected: bytes, observed: bytes) -> int:
    """The first offset where the two differ (the shorter length when one is a prefix)."""
    limit = min(len(expected), len(observed))
    start = 0
    while start < limit and expected[start : start + _BLOCK] == observed[start : start + _BLOCK]:
        start += _BLOCK
    for offset in range(start, min(limit, start + _BLOCK)):
        if expected[offset] != observed[offset]:
            return offset
    return limit


def describe_difference(expected: bytes, observed: bytes) -> str:
    """Where two byte strings part: what is missing or extra, or the first offset that differs."""
    offset = _first_difference(expected, observed)
    if offset == len(observed) < len(expected):
        missing = len(expected) - len(observed)
        return f"the first {offset} bytes match; the last {missing} bytes (from offset {offset}) are missing"
    if offset == len(expected) < len(observed):
        return f"all {offset} bytes match, then {len(observed) - offset} more bytes came"
    sizes = f" ({len(observed)} bytes instead of {len(expected)})" if len(observed) != len(expected) else ""
    return (
        f"they differ first at offset {offset}: expected {expected[offset : offset + 8]!r}..., "
        f"observed {observed[offset : offset + 8]!r}...{sizes}"
    )


def _difference_note(expected: bytes, observed: object) -> str:
    """For long payloads, where they part (short ones are shown whole already)."""
    if not isinstance(observed, bytes) or not observed or max(len(expected), len(observed)) <= SHORT:
        return ""
    return f"; {describe_difference(expected, observed)}"


def _ready_mismatches(expect: Expectation, observed: Observation) -> list[str]:
    wanted = expect.ready is not None or expect.ready_includes or expect.ready_excludes
    if not wanted:
        return []
    if not isinstance(observed.value, frozenset):
        return [f"expected readiness events, observed {observed.describe()}"]
    events: frozenset[str] = observed.value
    found = []
    if expect.ready is not None and events != expect.ready:
        found.append(f"expected {describe(Expectation(ready=expect.ready))}, observed {observed.describe()}")
    missing = expect.ready_includes - events
    if missing:
        found.append(
            f"expected events including {', '.join(sorted(missing))}, observed {observed.describe()}"
        )
    extra = expect.ready_excludes & events
    if extra:
        found.append(f"expected no {', '.join(sorted(extra))} event, observed {observed.describe()}")
    return found


def _late(expect: Expectation, observed: Observation, timing: Timing) -> list[Mismatch]:
    """The upper time bound (at once, or within T) it missed, if any."""
    bound = expect.bound
    assert observed.elapsed is not None
    if bound is None or observed.elapsed <= timing.upper(bound):
        return []
    elapsed = format_duration(observed.elapsed)
    if expect.at_once:
        text = (
            f"expected it to return at once (within the {format_duration(timing.tolerance)} tolerance), "
            f"observed {elapsed}"
        )
    else:
        text = (
            f"expected it to return within {format_duration(bound)} "
            f"(+{format_duration(timing.tolerance)} tolerance), observed {elapsed}"
        )
    return [Mismatch(Miss.LATE, text)]


def _time_mismatches(
    expect: Expectation, observed: Observation, acted: Mapping[str, float], timing: Timing
) -> list[Mismatch]:
    assert observed.ended is not None and observed.elapsed is not None
    early = []
    if expect.not_before is not None:
        at = acted.get(expect.not_before)
        if at is None:
            early.append(
                f"expected it to return not before {expect.not_before!r}, "
                f"but it returned at {format_duration(observed.ended)} and {expect.not_before!r} "
                "had not acted yet"
            )
        elif observed.ended < at:
            early.append(
                f"expected it to return not before {expect.not_before!r} "
                f"(at {format_duration(at)}), observed it returned at {format_duration(observed.ended)}"
            )
    late = []
    if expect.before is not None:
        at = acted.get(expect.before)
        if at is not None and observed.ended >= at:
            late.append(
                f"expected it to return before {expect.before!r} (at {format_duration(at)}), "
                f"observed it returned at {format_duration(observed.ended)}"
            )
    if expect.min_elapsed is not None and observed.elapsed < expect.min_elapsed:
        early.append(
            f"expected it to take at least {format_duration(expect.min_elapsed)}, "
            f"observed {format_duration(observed.elapsed)}"
        )
    return (
        [Mismatch(Miss.EARLY, text) for text in early]
        + [Mismatch(Miss.LATE, text) for text in late]
        + _late(expect, observed, timing)
    )


def assess(
    expect: Expectation, observed: Observation, acted: Mapping[str, float], timing: Timing
) -> list[Mismatch]:
    """The mismatches between `expect` and `observed`, each with its kind; empty when it meets
    them all.

    `acted` maps step names to the time each step acted (a peer action's start,
    a call's return), for `not_before` and `before`. A call that had not returned
    is LATE when the expectation bounds its time (the runner waited past that
    bound), else BLOCKED.
    """
    if observed.ended is None:
        kind = Miss.BLOCKED if expect.bound is None else Miss.LATE
        text = f"expected {describe(expect)}, observed no return (the call is still blocked)"
        return [Mismatch(kind, text)]
    found: list[Mismatch] = []
    if expect.any_of:
        options = [
            _result_mismatches(option, observed) + _time_mismatches(option, observed, acted, timing)
            for option in expect.any_of
        ]
        if all(options):
            kind = Miss.LATE if all(only_late(option) for option in options) else Miss.RESULT
            found.append(
                Mismatch(
                    kind,
                    f"expected any of ({'; '.join(describe(o) for o in expect.any_of)}), "
                    f"observed {observed.describe()}",
                )
            )
    plain = Expectation(
        data=expect.data,
        length=expect.length,
        eof=expect.eof,
        ok=expect.ok,
        errors=expect.errors,
        ready=expect.ready,
        ready_includes=expect.ready_includes,
        ready_excludes=expect.ready_excludes,
        unread=expect.unread,
        prefix_of=expect.prefix_of,
    )
    if plain != Expectation():
        found.extend(_result_mismatches(plain, observed))
    return found + _time_mismatches(expect, observed, acted, timing)


def judge(
    expect: Expectation, observed: Observation, acted: Mapping[str, float], timing: Timing
) -> list[str]:
    """The mismatches between `expect` and `observed` as sentences (see `assess`)."""
    return [mismatch.text for mismatch in assess(expect, observed, acted, timing)]
