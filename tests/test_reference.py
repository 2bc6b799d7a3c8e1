"""Every reference implementation passes every behaviour of the models it declares.

Rules of this file:
- one item per (reference impl, behaviour, family), run in-process through the
  runner, exactly as the plugin runs it;
- a family this machine cannot use is skipped with the reason; a model the impl
  does not declare is not generated at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sockspec.driving.connections import unavailable
from sockspec.driving.drivers import Driver
from sockspec.driving.runner import run_behaviour
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Family, Model
from sockspec.language.timing import Timing
from sockspec.plugin.registry import REFERENCE_IMPLS, REFERENCE_SERVERS, resolve
from sockspec.reports.terminal import render_failure

SPEC = Path(__file__).resolve().parent.parent / "spec"
BEHAVIOURS = [
    b for path in sorted(SPEC.glob("*.yaml")) for b in load_file(path, f"spec/{path.name}").behaviours
]
IMPLS = resolve(list(REFERENCE_IMPLS))
DRIVERS = [(impl.name, impl.driver) for impl in IMPLS if impl.driver is not None]

CASES = [
    pytest.param(driver, behaviour, family, id=f"{name}-{behaviour.id}-{family.value}")
    for name, driver in DRIVERS
    for behaviour in BEHAVIOURS
    if behaviour.model in driver.models
    for family in behaviour.families
]


@pytest.mark.parametrize(("driver", "behaviour", "family"), CASES)
def test_reference_impl_passes(driver: type[Driver], behaviour: Behaviour, family: Family) -> None:
    reason = driver.unavailable_reason() or unavailable(family)
    if reason is not None:
        pytest.skip(reason)
    missing = behaviour.requires - driver.capabilities
    if missing:
        pytest.skip(f"needs {', '.join(sorted(missing))}")
    instance = driver()
    try:
        verdict = run_behaviour(behaviour, instance, family, Timing())
    finally:
        instance.release()
    assert verdict.passed, render_failure(verdict)


def test_every_model_in_the_corpus_has_a_reference_impl() -> None:
    covered = {model for _name, driver in DRIVERS for model in driver.models}
    if REFERENCE_SERVERS:  # the reference servers run in tests/test_server_plugin.py
        covered.add(Model.SERVER)
    missing = sorted({b.model.value for b in BEHAVIOURS} - {m.value for m in covered})
    assert not missing, f"no reference impl declares: {', '.join(missing)}"
