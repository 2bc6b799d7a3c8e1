"""Confirming a verdict that fails only on time: the behaviour is run again before it is reported.

Rules of this module:
- a verdict whose failure is `late` (every mismatch an upper time bound missed,
  see judge.only_late) is run again, up to `RUNS` runs in all: a real stall
  fails every time, noise on the machine does not;
- the first verdict that is not a late failure ends it: a pass after late runs
  is a pass with a note ("passed on rerun (1st run: ...)"), a failure for
  another reason is reported as it is; a failure in every run says so
  ("confirmed in 3 of 3 runs");
- no other verdict is ever run again (order, results and lower bounds do not
  depend on the machine's speed);
- pure: the caller's function runs the behaviour (a fresh driver or server
  connection each time); no clock, no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sockspec.judging.verdict import Verdict

#: The most runs a verdict that fails only on time gets, the first included.
RUNS = 3

_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def ordinal(number: int) -> str:
    return _ORDINALS.get(number, f"{number}th")


def late(verdict: Verdict) -> bool:
    """Whether the verdict failed only on upper time bounds."""
    return verdict.failure is not None and verdict.failure.late


@dataclass(frozen=True)
class Confirmed:
    """The verdict to report (the last run's), and the late failures of the runs before it."""

    verdict: Verdict
    earlier: tuple[Verdict, ...] = ()

    @property
    def runs(self) -> int:
        return len(self.earlier) + 1

    @property
    def reruns(self) -> int:
        """How many more times the behaviour ran after its first verdict."""
        return len(self.earlier)

    def note(self) -> str | None:
        """For a pass after late runs: "passed on rerun (1st run: <its failure>)"; else None."""
        if not self.earlier or not self.verdict.passed:
            return None
        runs = "; ".join(
            f"{ordinal(number)} run: {_first_problem(verdict)}"
            for number, verdict in enumerate(self.earlier, start=1)
        )
        return f"passed on rerun ({runs})"

    def confirmation(self) -> str | None:
        """For a failure in every run (more than one): "confirmed in 3 of 3 runs"; else None."""
        if not self.earlier or self.verdict.passed:
            return None
        return f"confirmed in {self.runs} of {self.runs} runs"


def _first_problem(verdict: Verdict) -> str:
    failure = verdict.failure
    assert failure is not None
    problem = failure.mismatches[0] if failure.mismatches else "failed"
    return f"{failure.title}: {problem}"


def confirm(run: Callable[[], Verdict], runs: int = RUNS) -> Confirmed:
    """Run the behaviour (`run`), and again while it fails only on time, up to `runs` runs."""
    earlier: list[Verdict] = []
    verdict = run()
    while late(verdict) and len(earlier) + 1 < runs:
        earlier.append(verdict)
        verdict = run()
    return Confirmed(verdict, tuple(earlier))


def describe(runs: int = RUNS) -> str:
    """The policy in words, for the header and the reports."""
    return f"a verdict that fails only on an upper time bound is run up to {runs} times before it is reported"
