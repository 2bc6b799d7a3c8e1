"""The falsifiability matrix: every behaviour of the corpus can fail.

Rules of this module:
- each faulty driver (the `FAULTY` tuple of every tests/faulty*.py module) must fail every behaviour in its
  `breaks`, over every family the behaviour lists, for the reason it names (a
  substring of the mismatch text), and must not outlive the run;
- every behaviour of the corpus is broken by at least one faulty driver, and
  every `breaks` key names a real behaviour;
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
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Family, Model
from sockspec.language.timing import Timing
from sockspec.reports.terminal import timeline

ROOT = Path(__file__).resolve().parent.parent
TIMING = Timing(tolerance=0.25, step_limit=1.0, item_limit=8.0)


def _corpus() -> dict[str, Behaviour]:
    """The driver behaviours (server behaviours have their faulty servers: tests/test_server_faulty.py)."""
    behaviours: dict[str, Behaviour] = {}
    for path in sorted((ROOT / "spec").glob("*.yaml")):
        for behaviour in load_file(path, display=f"spec/{path.name}").behaviours:
            if behaviour.model is not Model.SERVER:
                behaviours[behaviour.id] = behaviour
    return behaviours


CORPUS = _corpus()


def _faulty() -> tuple[Any, ...]:
    """Every faulty driver class, from the `FAULTY` tuple of each tests/faulty*.py module."""
    found: list[Any] = []
    for path in sorted(Path(__file__).parent.glob("faulty*.py")):
        found.extend(importlib.import_module(f"tests.{path.stem}").FAULTY)
    return tuple(found)


FAULTY_DRIVERS = _faulty()
# Server behaviours are broken by faulty server programs, checked by the server tests.
DRIVER_CORPUS = {key: b for key, b in CORPUS.items() if b.model is not Model.SERVER}


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


@pytest.mark.parametrize(("driver", "behaviour", "family", "expected"), _cases())
def test_faulty_driver_fails_behaviour(
    driver: Any, behaviour: Behaviour, family: Family, expected: str
) -> None:
    reason = unavailable(family)
    if reason is not None:
        pytest.skip(reason)
    instance = driver()
    try:
        verdict = run_behaviour(behaviour, instance, family, TIMING)
    finally:
        instance.release()
    assert verdict.failure is not None, (
        f"{driver.name} passed {behaviour.id} over {family.value}; its defect went unnoticed"
    )
    mismatches = "\n".join(verdict.failure.mismatches)
    assert expected in mismatches, (
        f"{driver.name} failed {behaviour.id} for another reason than {expected!r}:\n"
        f"{verdict.failure.title}: {mismatches}\n" + "\n".join(timeline(verdict.events, verdict.failure.step))
    )
    assert not verdict.notes, f"{driver.name} outlived the run: {verdict.notes}"


def test_every_behaviour_can_fail() -> None:
    caught = {behaviour_id for driver in FAULTY_DRIVERS for behaviour_id in driver.breaks}
    uncaught = sorted(set(DRIVER_CORPUS) - caught)
    assert not uncaught, f"no faulty driver breaks these behaviours: {', '.join(uncaught)}"


def test_breaks_names_real_behaviours() -> None:
    unknown = sorted(
        f"{driver.name}: {behaviour_id}"
        for driver in FAULTY_DRIVERS
        for behaviour_id in driver.breaks
        if behaviour_id not in CORPUS
    )
    assert not unknown, f"`breaks` names behaviours that are not in the corpus: {', '.join(unknown)}"


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
