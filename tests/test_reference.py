"""Every reference implementation passes every behaviour that applies to it.

Rules of this file:
- one item per (reference driver, behaviour, family) where the behaviour applies
  to the driver, as sockspec.judging.applicability decides for the plugin (a
  model it does not declare, a capability it lacks: not generated at all); run
  in-process through the runner, exactly as the plugin runs it;
- what only the machine can say (a family it cannot use, a driver it refuses)
  is a skip with the reason, as in the plugin.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sockspec.driving.connections import unavailable
from sockspec.driving.drivers import Driver
from sockspec.driving.runner import run_behaviour
from sockspec.judging.applicability import not_applicable
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Family, Model
from sockspec.language.timing import Timing
from sockspec.plugin.profiles import profile
from sockspec.plugin.registry import REFERENCE_IMPLS, REFERENCE_SERVERS, Impl, resolve
from sockspec.reports.terminal import render_failure

SPEC = Path(__file__).resolve().parent.parent / "spec"
BEHAVIOURS = [
    b for path in sorted(SPEC.glob("*.yaml")) for b in load_file(path, f"spec/{path.name}").behaviours
]
# The drivers alone: a name that is a server too has its server checked in tests/test_server_plugin.py.
DRIVERS = [Impl(impl.name, impl.driver) for impl in resolve(list(REFERENCE_IMPLS)) if impl.driver is not None]

CASES = [
    pytest.param(impl.driver, behaviour, family, id=f"{impl.name}-{behaviour.id}-{family.value}")
    for impl in DRIVERS
    for behaviour in BEHAVIOURS
    if not_applicable(behaviour, profile(impl)) is None
    for family in behaviour.families
]


@pytest.mark.parametrize(("driver", "behaviour", "family"), CASES)
def test_reference_impl_passes(driver: type[Driver], behaviour: Behaviour, family: Family) -> None:
    reason = driver.unavailable_reason() or unavailable(family)
    if reason is not None:
        pytest.skip(reason)
    instance = driver()
    try:
        verdict = run_behaviour(behaviour, instance, family, Timing())
    finally:
        instance.release()
    assert verdict.passed, render_failure(verdict)


def test_every_model_in_the_corpus_has_a_reference_impl() -> None:
    covered = {model for impl in DRIVERS if impl.driver is not None for model in impl.driver.models}
    if REFERENCE_SERVERS:  # the reference servers run in tests/test_server_plugin.py
        covered.add(Model.SERVER)
    missing = sorted({b.model.value for b in BEHAVIOURS} - {m.value for m in covered})
    assert not missing, f"no reference impl declares: {', '.join(missing)}"
