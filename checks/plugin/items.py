"""The corpus as pytest nodes: a node per spec file, an item per behaviour, impl and family.

Rules of this module:
- items are named `<spec file>::<behaviour id>[<impl>-<family>]` and carry the
  behaviour's model and level as markers, and its properties (for --junitxml);
- whether a behaviour applies to an impl is asked of
  sockspec.judging.applicability when the item is made: an item that does not
  apply is made (so -k and -m see it) but never run; the plugin deselects it
  (`not_applicable`) and the recorder reports it once per impl and reason;
- what only the machine can say (a family it cannot use, a driver it refuses,
  what a server session finds while running) is a skip at run time, whose
  location is the behaviour's line in its spec file;
- a failure's text is rendered once, when the item runs, by sockspec.reports;
  `repr_failure` only picks it (or explains a checker error, blaming the checker);
- a verdict that fails only on an upper time bound is run again (same impl and
  family, a fresh driver or server connection) before it is reported, as
  sockspec.judging.confirm decides; the item's record counts the reruns and
  carries the note.
- a scale behaviour's item carries the marker `scale` (the plugin deselects it unless -m
  names it) and its levels' figures in its detail;
- an item whose set-up failed (or whose server is not there) did not reach its
  rule: it fails as NotReached, with the property `sockspec_not_reached` saying
  what failed and which behaviour to see, and a text that says "not reached".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sockspec.driving.connections import unavailable
from sockspec.driving.runner import run_behaviour
from sockspec.judging import applicability
from sockspec.judging.confirm import Confirmed, confirm
from sockspec.judging.verdict import Verdict
from sockspec.language.loader import SpecError, check_unique_ids, load_file
from sockspec.language.model import Behaviour, Family, Model
from sockspec.plugin.options import SCALE
from sockspec.plugin.registry import Impl
from sockspec.plugin.session import NotApplicable
from sockspec.plugin.state import STATE, LeftOut, State
from sockspec.reports import baseline as baselines
from sockspec.reports import gate, results
from sockspec.reports import terminal as reports
from sockspec.reports.record import Outcome
from sockspec.servers.live import ServerUnavailable
from sockspec.servers.runner import ServerVerdict
from sockspec.servers.scale import ScaleVerdict

#: The pytest-xdist group the items of scale behaviours share (one worker, one measure at a time).
SCALE_GROUP = "sockspec-scale"


class ConformanceFailure(Exception):
    """The implementation under test broke a behaviour's rule."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.behaviour.id} failed")
        self.verdict = verdict


class NotReached(ConformanceFailure):
    """The behaviour's set-up failed, so its rule was not judged (neither held nor broken)."""


class UnexpectedPass(Exception):
    """A behaviour the baseline lists as a known failure held its rule."""

    def __init__(self, entry: baselines.Entry) -> None:
        super().__init__(f"{entry.id} passed")
        self.entry = entry


class SpecFileNode(pytest.File):
    """One spec file: a behaviour per impl and family."""

    def collect(self) -> list[pytest.Item]:
        state = self.config.stash[STATE]
        spec = load_file(self.path, self.nodeid)
        check_unique_ids([spec], state.ids)
        return [
            BehaviourItem.from_parent(
                self,
                name=f"{behaviour.id}[{impl.name}-{family.value}]",
                # Given whole, so pytest (9.1+) reads "[impl-family]" as this id's parameters, as it
                # reads the ids it saved: --lf and --sw find the items again.
                nodeid=f"{self.nodeid}::{behaviour.id}[{impl.name}-{family.value}]",
                behaviour=behaviour,
                impl=impl,
                family=family,
                not_applicable=applicability.not_applicable(behaviour, state.profiles[impl.name]),
            )
            for behaviour in spec.behaviours
            for impl in state.settings.impls
            for family in behaviour.families
        ]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, SpecError):
            return f"sockspec cannot load this spec file:\n{excinfo.value}"
        return super().repr_failure(excinfo)


class BehaviourItem(pytest.Item):
    """One behaviour, run against one impl over one family.

    not_applicable: why the behaviour does not apply to the impl, known when the item
    was made (then the item is deselected and never runs), else None.
    """

    def __init__(
        self,
        *,
        behaviour: Behaviour,
        impl: Impl,
        family: Family,
        not_applicable: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.behaviour = behaviour
        self.impl = impl
        self.family = family
        self.not_applicable = not_applicable
        self.add_marker(behaviour.model.value)
        self.add_marker(behaviour.level.value)
        if behaviour.scale is not None:
            self.add_marker(SCALE)
            if self.config.pluginmanager.hasplugin("xdist"):
                # With --dist loadgroup, every scale item runs on one worker: one measure at a time.
                self.add_marker(pytest.mark.xdist_group(SCALE_GROUP))
        # Written by --junitxml as <properties> of the test case, so CI systems can show them.
        self.user_properties.extend(results.properties(behaviour, impl.name, family.value))
        self.known: baselines.Entry | None = None
        self.detail: results.Detail | None = None

    def left_out(self) -> LeftOut:
        """What the recorder keeps of an item that was not collected as not applicable."""
        assert self.not_applicable is not None
        return (self.impl.name, self.behaviour.model.value, self.behaviour.id, self.not_applicable)

    def _skip(self, reason: str) -> None:
        """Not applicable after all, as this machine or the server's session found out."""
        self.user_properties.append((results.OUTCOME, Outcome.NOT_APPLICABLE.value))
        pytest.skip(reason)

    def setup(self) -> None:
        driver = self.impl.driver
        if self.behaviour.model is Model.SERVER or driver is None:
            return  # the server session finds out what the machine cannot do
        refused = driver.unavailable_reason()
        if refused is not None:
            self._skip(f"{self.impl.name} cannot run on this machine: {refused}")
        missing = unavailable(self.family)
        if missing is not None:
            self._skip(missing)

    def _verdict(self, state: State) -> Verdict:
        if self.impl.server is not None and self.behaviour.model is Model.SERVER:
            try:
                return state.servers.run(
                    self.behaviour, self.impl.name, self.impl.server, self.family, state.settings.timing
                )
            except NotApplicable as exc:
                self._skip(str(exc))
            except ServerUnavailable as exc:
                self._unavailable(state, exc)
                raise
        assert self.impl.driver is not None
        driver = self.impl.driver()
        try:
            return run_behaviour(self.behaviour, driver, self.family, state.settings.timing)
        finally:
            driver.release()

    def _unavailable(self, state: State, problem: ServerUnavailable) -> None:
        """The server is not there: the behaviour's rule is not reached (a known failure, when the
        baseline lists it). Called while the ServerUnavailable goes up to pytest."""
        text = state.servers.unavailable_text(self.behaviour, self.impl.name, self.family, problem)
        failed = results.unavailable(self.behaviour, str(problem), problem.cause)
        self.detail = results.detail(
            None, text, known=self.known.reason if self.known is not None else None, failed=failed
        )
        outcome = gate.decide(
            False, self.behaviour.level, state.settings.strict, self.known is not None, reached=False
        )
        self.user_properties.append((results.OUTCOME, outcome.value))
        first = str(problem).splitlines()[0] if str(problem) else results.NOT_AVAILABLE
        self.user_properties.append((results.NOT_REACHED, first))
        if outcome is Outcome.EXPECTED_FAIL:
            assert self.known is not None
            pytest.xfail(f"known failure ({self.known.where}): {self.known.reason}")

    def runtest(self) -> None:
        state = self.config.stash[STATE]
        confirmed = confirm(lambda: self._verdict(state))
        verdict = confirmed.verdict
        text = None if verdict.passed else self._failure_text(state, verdict, confirmed)
        inferences = verdict.inferences if isinstance(verdict, ServerVerdict) else ()
        self.detail = results.detail(
            verdict,
            text,
            inferences[-1] if inferences else None,
            self.known.reason if self.known is not None else None,
            confirmed.reruns,
            confirmed.note(),
            levels=verdict.levels if isinstance(verdict, ScaleVerdict) else (),
        )
        see = verdict.not_reached
        outcome = gate.decide(
            verdict.passed,
            self.behaviour.level,
            state.settings.strict,
            self.known is not None,
            reached=see is None,
        )
        self.user_properties.append((results.OUTCOME, outcome.value))
        if see is not None and verdict.failure is not None:
            self.user_properties.append((results.NOT_REACHED, f"{verdict.failure.title} failed; see {see}"))
        if outcome is Outcome.WARNED and verdict.failure is not None:
            # A pass for pytest and for JUnit: this property is what a CI system can show of it.
            first = verdict.failure.mismatches[0] if verdict.failure.mismatches else verdict.failure.title
            self.user_properties.append((results.WARNING, f"{verdict.failure.origin}: {first}"))
        if outcome is Outcome.FAILED:
            raise ConformanceFailure(verdict)
        if outcome is Outcome.NOT_REACHED:
            raise NotReached(verdict)
        if outcome is Outcome.UNEXPECTED_PASS:
            assert self.known is not None
            raise UnexpectedPass(self.known)
        if outcome is Outcome.EXPECTED_FAIL:
            assert self.known is not None
            pytest.xfail(f"known failure ({self.known.where}): {self.known.reason}")

    def _failure_text(self, state: State, verdict: Verdict, confirmed: Confirmed | None = None) -> str:
        if isinstance(verdict, ServerVerdict):
            return state.servers.failure_text(verdict, self.impl.name)
        return reports.render_failure(
            verdict, self.impl.name, confirmed.confirmation() if confirmed is not None else None
        )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        state = self.config.stash[STATE]
        if isinstance(excinfo.value, ConformanceFailure):
            if self.detail is not None and self.detail.get("text"):
                return self.detail["text"]  # rendered once, when the item ran
            return self._failure_text(state, excinfo.value.verdict)
        if isinstance(excinfo.value, UnexpectedPass):
            entry = excinfo.value.entry
            return (
                f"{self.behaviour.id} passed on {self.impl.name} over {self.family.value}, "
                f"but the baseline lists it as a known failure ({entry.where}: {entry.reason}).\n"
                "If the implementation is fixed, remove that entry from the baseline "
                "(or rewrite it with --sockspec-write-baseline=PATH)."
            )
        if isinstance(excinfo.value, ServerUnavailable):
            return state.servers.unavailable_text(self.behaviour, self.impl.name, self.family, excinfo.value)
        text = super().repr_failure(excinfo, style)
        if state.settings.traceback:
            return text
        return (
            f"sockspec itself failed while running {self.behaviour.id} "
            f"({type(excinfo.value).__name__}: {excinfo.value}); "
            "this is a checker bug: rerun with --sockspec-traceback and report it"
        )

    def reportinfo(self) -> tuple[Path, int, str]:
        # A head line that is not the node id's tail, so pytest shows the id with its dots.
        where = f"{self.behaviour.id} on {self.impl.name} over {self.family.value}"
        return self.path, self.behaviour.origin.line - 1, where

    def skip_location(self, reason: str) -> tuple[str, int, str]:
        """Where pytest says a run-time skip happened: the behaviour's line in its spec file, as
        node ids and failure texts name the file (not the plugin line that raised the skip)."""
        return self.behaviour.origin.file, self.behaviour.origin.line, reason


def collect(session: pytest.Session, state: State) -> list[pytest.Item]:
    """Every item of the run's spec files, in file order; a spec file that cannot be loaded is a
    collection error (reported by pytest), and the baseline's entries are matched to the items."""
    collected: list[pytest.Item] = []
    for path, shown in state.settings.files:
        node = SpecFileNode.from_parent(session, path=path, nodeid=shown)
        node.ihook.pytest_collectstart(collector=node)
        report = node.ihook.pytest_make_collect_report(collector=node)
        node.ihook.pytest_collectreport(report=report)
        if report.passed:
            collected.extend(item for item in report.result if isinstance(item, pytest.Item))
    baseline = state.settings.baseline
    if baseline is not None:
        problems = baselines.unknown(baseline, state.ids)
        if problems:
            raise pytest.UsageError(
                f"sockspec cannot use the baseline {baseline.file}:\n" + "\n".join(map(str, problems))
            )
        for item in collected:
            if isinstance(item, BehaviourItem):
                item.known = baseline.match(item.behaviour.id, item.impl.name, item.family)
    return collected


def scale_items(items: list[pytest.Item]) -> list[BehaviourItem]:
    """The items of scale behaviours (opt-in: run only when -m names the scale marker)."""
    return [item for item in items if isinstance(item, BehaviourItem) and item.behaviour.scale is not None]


def not_applicable_items(items: list[pytest.Item]) -> list[BehaviourItem]:
    """The items whose behaviour does not apply to their impl."""
    return [item for item in items if isinstance(item, BehaviourItem) and item.not_applicable is not None]
