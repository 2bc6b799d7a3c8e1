"""The tests' one poll loop (tests/waiting.py): it returns what it waited for, and a wait that runs out
fails within its bound, naming what it waited for and what it found instead."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.waiting import until


def test_until_returns_the_first_truthy_answer() -> None:
    answers = iter([0, None, "", 7, 8])
    assert until(lambda: next(answers), within=5.0, what="an answer", interval=0.0) == 7


def test_until_runs_out_within_its_bound_and_says_why() -> None:
    asked = itertools.count(1)
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        until(lambda: next(asked) < 0, within=0.1, what="a negative count", explain=lambda: "only counts up")
    assert 0.1 <= time.monotonic() - started < 1.0
    assert str(caught.value) == "waited 0.10 s for a negative count, in vain: only counts up"
    assert next(asked) > 2, "the probe was not asked again while waiting"
