"""The record of one sockspec run: what the JSON and HTML reports and the baseline writer read.

Rules of this module:
- values only: frozen dataclasses and enums, no I/O, no pytest;
- a record holds plain data (str, int, float, bool, None, enums, tuples of
  them, and records), so `plain.to_plain` of a `RunRecord` is the JSON report,
  `plain.from_plain` rebuilds any record from it, and `report.schema.json`
  beside this file describes exactly that document;
- an item's outcome is the gate's word for it (`Outcome`), not pytest's: a
  SHOULD behaviour that failed outside strict mode is WARNED, a known failure
  from the baseline is EXPECTED_FAIL, a baselined behaviour that passed is
  UNEXPECTED_PASS, one whose set-up failed before its rule could be judged is
  NOT_REACHED (it fails the gate, but it is not a broken rule);
- times are seconds; trace times are on the behaviour's own clock (0 is when
  its first step started); a trace event says what happened as the fields of
  sockspec.judging.events.What, never as a phrase to parse.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sockspec.judging.events import Actor, What
from sockspec.judging.scale import Level


class Outcome(enum.Enum):
    """What one item came to, and whether it fails the gate (`GATE_FAILS`)."""

    PASSED = "passed"
    FAILED = "failed"
    WARNED = "warned"
    EXPECTED_FAIL = "expected-fail"
    UNEXPECTED_PASS = "unexpected-pass"
    NOT_APPLICABLE = "n/a"
    ERROR = "error"
    NOT_REACHED = "not-reached"


#: Outcomes that make the run fail.
GATE_FAILS: frozenset[Outcome] = frozenset(
    {Outcome.FAILED, Outcome.UNEXPECTED_PASS, Outcome.ERROR, Outcome.NOT_REACHED}
)
#: Outcomes where the implementation broke the behaviour's rule.
BROKE_RULE: frozenset[Outcome] = frozenset({Outcome.FAILED, Outcome.WARNED, Outcome.EXPECTED_FAIL})


@dataclass(frozen=True)
class EventRecord:
    """One trace event: seconds since the behaviour started, who, its step (1-based; None for
    set-up), and what happened (its kind, operation and values)."""

    at: float
    actor: Actor
    step: int | None
    what: What


@dataclass(frozen=True)
class FailureRecord:
    """Where a behaviour failed and how.

    step: the failing step (1-based), None for set-up, clean-up or the server process;
    where: the step's place in the spec, "file:line";
    title: the step in words, e.g. "step 3: recv(5)";
    expected: what the step expected, in words (None when the step states no expectation);
    observed: each mismatch, "expected ..., observed ...";
    see: when the failing step was a set-up step (the rule was not reached), the behaviour
        that tests that set-up directly;
    cause: what the checker saw behind the failure that other items may share, e.g.
        "the server exited (exit code 1)", "the server is not available";
    clients_at_once: for a server behaviour, how many of the checker's clients were
        connected at once when the failing step ran (the step's own included);
    stuck: for a server behaviour that failed because a client's wait ran out, where the
        server was at that moment: one sentence, then its threads' stacks folded, one line
        each (or one line saying why they could not be read).
    """

    step: int | None
    where: str
    title: str
    expected: str | None
    observed: tuple[str, ...]
    see: str | None = None
    cause: str | None = None
    clients_at_once: int | None = None
    stuck: str | None = None


@dataclass(frozen=True)
class ObservedModel:
    """The I/O model the checker saw a server use, why, and the evidence (one fact a line).

    model: its name for people, e.g. "single-thread readiness loop";
    kind: the model it is, one of sockspec.servers.infer.Observed's values, e.g. "readiness loop".
    """

    model: str
    kind: str
    reason: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class ItemRecord:
    """One behaviour run against one impl over one family.

    reason: why it was not applicable, the baseline's reason for a known failure,
        or what went wrong for an error;
    text: the failure as the terminal shows it (None when nothing failed);
    reruns: how many more times the behaviour ran because its verdict failed only on
        an upper time bound (0: it ran once; see sockspec.judging.confirm);
    note: what a person should know of a verdict that stands, e.g. "passed on rerun
        (1st run: ...)" for a pass after late runs (None: nothing to say);
    scale: for a scale behaviour, each level it was to run at, with what was measured
        there (sockspec.judging.scale.Level; empty for every other behaviour).
    """

    nodeid: str
    id: str
    model: str
    level: str
    impl: str
    family: str
    outcome: Outcome
    duration: float
    rule: str
    source: str
    reason: str | None = None
    failure: FailureRecord | None = None
    trace: tuple[EventRecord, ...] = ()
    observed_model: ObservedModel | None = None
    text: str | None = None
    reruns: int = 0
    note: str | None = None
    scale: tuple[Level, ...] = ()


@dataclass(frozen=True)
class ServerRecord:
    """A server impl of the run: the model it declares, the one observed, and whether they agree.

    matches: None when no model is declared or none was observed;
    restarts: how many times it was restarted between behaviours (each restart is the first
    event, of kind "restart", of the next item's trace), and `restart_causes` why: cause -> count.
    """

    impl: str
    declared: str | None
    observed: ObservedModel | None
    matches: bool | None
    restarts: int = 0
    restart_causes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ImplRecord:
    """An impl of the run, as the user named it, and what it is."""

    name: str
    description: str


@dataclass(frozen=True)
class TimingRecord:
    """The timing settings the run used (seconds).

    derivation: where the tolerance came from, in words: measured at the start of the
        run (what, and the rule that made the tolerance of it), or set by an option;
    confirm_runs: the most runs a verdict that fails only on an upper time bound gets.
    """

    tolerance: float
    step_limit: float
    item_limit: float
    derivation: str = ""
    confirm_runs: int = 1


@dataclass(frozen=True)
class RerunRecord:
    """The items whose verdict failed only on an upper time bound and were run again.

    rerun: how many items were run again; passed: how many of them passed on a rerun
    (passes with a note, counted as passed); confirmed: how many failed in every run.
    """

    rerun: int = 0
    passed: int = 0
    confirmed: int = 0


@dataclass(frozen=True)
class CorpusRecord:
    """The spec files run: sockspec's version, a digest of the files' names and bytes, and each
    file as item ids name it ("spec/blocking.yaml" for the bundled corpus, a user's relative to
    the rootdir)."""

    sockspec: str
    digest: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class NotApplicableRecord:
    """Behaviours of the run's selection that do not apply to an impl, for one reason.

    Known from what the impl is (a server has no driver models, a driver declares
    only some models or lacks a capability), so their items were not collected:
    pytest counts them as deselected, and they are not among the run's `items`.
    impl: the impl's name as the user gave it;
    reason: why, one sentence naming the impl (the same for each behaviour listed);
    models: each model of those behaviours -> how many of its items were left out;
    behaviours: the ids of those behaviours, in the order they were collected.
    """

    impl: str
    reason: str
    models: dict[str, int]
    behaviours: tuple[str, ...]


@dataclass(frozen=True)
class CauseRecord:
    """Failures of one impl that share one cause (grouped by sockspec.reports.causes).

    cause: the cause in words, e.g. "serves one client at a time (observed)";
    kind: how the cause is known: "observed" (the model the checker saw the server use),
        "server" (the server process exited, or was not there), "setup" (a set-up that
        another behaviour tests, which did not fail itself), "rule" (one item's own rule);
    items: the node ids of the failures (failed or not reached), in run order;
    note: what the failures share beyond the cause, e.g. "3 of them need clients served
        at the same time" (None when there is nothing to add).
    """

    impl: str
    cause: str
    kind: str
    items: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """One run: settings, impls, servers, items, and the gate's verdict.

    items: every item that was run; one found not applicable as it ran (a family the
    machine lacks, a driver the machine refuses) has the outcome n/a and the reason;
    not_applicable: what was left out before anything ran, once per impl and reason
    (`NotApplicableRecord`); `counts` and the gate are of `items` only;
    causes: the failures (failed or not reached) grouped by what caused them, per impl;
    stopped: why the run ended before every item ran (Ctrl-C, -x, --maxfail), else None;
    a stopped run fails the gate, since what did not run was not checked;
    reruns: the items run again to confirm a verdict that failed only on time (`RerunRecord`).
    """

    format: int
    started: str
    duration: float
    corpus: CorpusRecord
    impls: tuple[ImplRecord, ...]
    timing: TimingRecord
    strict: bool
    baseline: str | None
    servers: tuple[ServerRecord, ...]
    items: tuple[ItemRecord, ...]
    counts: dict[str, int]
    stopped: str | None
    gate: str
    not_applicable: tuple[NotApplicableRecord, ...] = ()
    reruns: RerunRecord = RerunRecord()
    causes: tuple[CauseRecord, ...] = ()


#: The version of the record's format; it changes when a field changes meaning or goes away.
#: 2: a trace event's `what` is structured (kind, op, label, client, args, outcome, ...).
FORMAT = 2


def counts(items: tuple[ItemRecord, ...]) -> dict[str, int]:
    """How many items came to each outcome (every outcome named, zeros included)."""
    found = {outcome.value: 0 for outcome in Outcome}
    for item in items:
        found[item.outcome.value] += 1
    return found


def reruns(items: tuple[ItemRecord, ...]) -> RerunRecord:
    """How many items were run again, passed on a rerun, or failed in every run."""
    again = [item for item in items if item.reruns]
    return RerunRecord(
        rerun=len(again),
        passed=sum(1 for item in again if item.outcome is Outcome.PASSED),
        confirmed=sum(1 for item in again if item.outcome in BROKE_RULE),
    )


def checked_nothing(items: tuple[ItemRecord, ...]) -> bool:
    """No item tested its behaviour: every one was not applicable (or none was selected)."""
    return all(item.outcome is Outcome.NOT_APPLICABLE for item in items)


def gate(items: tuple[ItemRecord, ...], stopped: str | None = None) -> str:
    """The gate's verdict: "pass" when every item ran, at least one tested its behaviour, and none
    fails the gate; else "fail" (a run that checked nothing passes no gate)."""
    failing = stopped or checked_nothing(items) or any(item.outcome in GATE_FAILS for item in items)
    return "fail" if failing else "pass"
