"""The falsifiability matrix: every behaviour of the corpus can fail, and each faulty driver breaks
exactly the behaviours it names.

Rules of this module:
- each faulty driver (the `FAULTY` tuple of every tests/faulty*.py module) must fail every behaviour in its
  `breaks`, over every family the behaviour lists, for the reason it names (a
  substring of the mismatch text), and must not outlive the run;
- and it must pass every other behaviour of the models it declares (those its
  capabilities allow), so `breaks` lists all that its defect breaks; this half
  runs over one family, tcp4 (or, for a behaviour that does not list it, the
  first it lists), to keep the suite's time: over every family it would cost
  about three times as much;
  a behaviour that fails there is run a second time, and only a second failure
  counts: a few behaviours hang on the kernel's timing, which a loaded machine
  can miss (blocking.send.after-peer-close fails about once in 1500 runs even
  with the reference driver), and this half runs each behaviour ~20 times;
- every behaviour of the corpus is broken by at least one faulty driver, and
  every `breaks` key names a real behaviour that applies to the driver;
- the reference driver passing the corpus is the plugin run's job, not this one's;
- short step and item limits, so a faulty call that hangs fails fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from sockspec.driving.connections import unavailable
from sockspec.driving.drivers import Driver
from sockspec.driving.runner import run_behaviour
from sockspec.judging.verdict import Verdict
from sockspec.language.model import Behaviour, Family, Model
from sockspec.language.timing import Timing
from sockspec.reports.terminal import timeline

from tests.bundled import BEHAVIOURS

TIMING = Timing(tolerance=0.25, step_limit=1.0, item_limit=8.0)
# The driver behaviours (server behaviours have their faulty servers: tests/test_server_corpus.py).
CORPUS = {behaviour.id: behaviour for behaviour in BEHAVIOURS if behaviour.model is not Model.SERVER}
#: The family a faulty driver is run over for the behaviours it does not break (where listed).
PASSING_FAMILY = Family.TCP4


def passing_family(behaviour: Behaviour) -> Family:
    """The one family the passing half runs `behaviour` over."""
    return PASSING_FAMILY if PASSING_FAMILY in behaviour.families else behaviour.families[0]


def _faulty() -> tuple[Any, ...]:
    """Every faulty driver class, from the `FAULTY` tuple of each tests/faulty*.py module."""
    found: list[Any] = []
    for path in sorted(Path(__file__).parent.glob("faulty*.py")):
        found.extend(importlib.import_module(f"tests.{path.stem}").FAULTY)
    return tuple(found)


FAULTY_DRIVERS = _faulty()


def applies(driver: Any, behaviour: Behaviour) -> bool:
    """Whether the behaviour is one of the driver's: of a model it declares, needing nothing it lacks."""
    return behaviour.model in driver.models and behaviour.requires <= driver.capabilities


def _cases() -> list[object]:
    cases: list[object] = []
    for driver in FAULTY_DRIVERS:
        for behaviour_id, expected in driver.breaks.items():
            behaviour = CORPUS.get(behaviour_id)
            if behaviour is None:
                continue  # reported by test_breaks_names_real_behaviours
            cases.extend(
                pytest.param(
                    driver, behaviour, family, expected, id=f"{driver.name}-{behaviour_id}-{family.value}"
                )
                for family in behaviour.families
            )
    return cases


def _passing_cases() -> list[object]:
    return [
        pytest.param(
            driver,
            behaviour,
            passing_family(behaviour),
            id=f"{driver.name}-{behaviour.id}-{passing_family(behaviour).value}",
        )
        for driver in FAULTY_DRIVERS
        for behaviour in CORPUS.values()
        if applies(driver, behaviour) and behaviour.id not in driver.breaks
    ]


def run(driver: Any, behaviour: Behaviour, family: Family) -> Verdict:
    """One behaviour run against a fresh instance of the driver (skipped where the machine cannot)."""
    reason = unavailable(family) or driver.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    instance = driver()
    try:
        return run_behaviour(behaviour, instance, family, TIMING)
    finally:
        instance.release()


@pytest.mark.parametrize(("driver", "behaviour", "family", "expected"), _cases())
def test_faulty_driver_fails_behaviour(
    driver: Any, behaviour: Behaviour, family: Family, expected: str | tuple[str, ...]
) -> None:
    verdict = run(driver, behaviour, family)
    assert verdict.failure is not None, (
        f"{driver.name} passed {behaviour.id} over {family.value}; its defect went unnoticed"
    )
    mismatches = "\n".join(verdict.failure.mismatches)
    phrases = (expected,) if isinstance(expected, str) else expected
    assert any(phrase in mismatches for phrase in phrases), (
        f"{driver.name} failed {behaviour.id} for another reason than {expected!r}:\n"
        f"{verdict.failure.title}: {mismatches}\n" + "\n".join(timeline(verdict.events, verdict.failure.step))
    )
    assert not verdict.notes, f"{driver.name} outlived the run: {verdict.notes}"


@pytest.mark.parametrize(("driver", "behaviour", "family"), _passing_cases())
def test_faulty_driver_passes_what_it_does_not_break(
    driver: Any, behaviour: Behaviour, family: Family
) -> None:
    verdict = run(driver, behaviour, family)
    if verdict.failure is not None:  # once more: see the module's rules
        first = verdict.failure.title
        verdict = run(driver, behaviour, family)
        if verdict.failure is not None:
            mismatches = "\n".join(verdict.failure.mismatches)
            pytest.fail(
                f"{driver.name} failed {behaviour.id} over {family.value} twice ({first}), though its "
                "`breaks` does not list it (list it if this is its defect showing, else narrow the defect):\n"
                f"{verdict.failure.title}: {mismatches}\n"
                + "\n".join(timeline(verdict.events, verdict.failure.step))
            )
    assert not verdict.notes, f"{driver.name} outlived the run: {verdict.notes}"


def test_every_behaviour_can_fail() -> None:
    caught = {behaviour_id for driver in FAULTY_DRIVERS for behaviour_id in driver.breaks}
    uncaught = sorted(set(CORPUS) - caught)
    assert not uncaught, f"no faulty driver breaks these behaviours: {', '.join(uncaught)}"


def test_breaks_names_real_behaviours() -> None:
    unknown = sorted(
        f"{driver.name}: {behaviour_id}"
        for driver in FAULTY_DRIVERS
        for behaviour_id in driver.breaks
        if behaviour_id not in CORPUS
    )
    assert not unknown, f"`breaks` names behaviours that are not in the corpus: {', '.join(unknown)}"
    foreign = sorted(
        f"{driver.name}: {behaviour_id}"
        for driver in FAULTY_DRIVERS
        for behaviour_id in driver.breaks
        if behaviour_id in CORPUS and not applies(driver, CORPUS[behaviour_id])
    )
    assert not foreign, f"`breaks` names behaviours that do not apply to the driver: {', '.join(foreign)}"


@pytest.mark.parametrize("driver", FAULTY_DRIVERS, ids=lambda driver: driver.name)
def test_faulty_driver_is_a_declared_driver(driver: Any) -> None:
    assert issubclass(driver, Driver)
    assert driver.models, f"{driver.name} declares no model"
    assert driver.name.startswith("faulty-")
    assert driver.breaks, f"{driver.name} breaks nothing"
    doc = (driver.__doc__ or "").strip()
    assert doc and "\n" not in doc, f"{driver.name} needs a one-line docstring saying its defect"


def test_faulty_driver_names_are_unique() -> None:
    names = [driver.name for driver in FAULTY_DRIVERS]
    assert len(names) == len(set(names)), f"duplicate names: {sorted(names)}"
