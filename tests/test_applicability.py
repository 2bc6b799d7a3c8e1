"""Which behaviour applies to which impl: sockspec.judging.applicability, without pytest runs.

Rules of this file:
- behaviours come from the corpus (loaded with the loader), impls are profiles
  written out here, so each test states the impl it means;
- a reason is compared whole where users read it, and a cause shared by many
  behaviours gives one reason for all of them (reports say it once).
"""

from __future__ import annotations

from pathlib import Path

from sockspec.judging.applicability import (
    DECLARED_MODEL,
    PROC,
    DriverProfile,
    Profile,
    ServerProfile,
    not_applicable,
)
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Model

SPEC = Path(__file__).resolve().parent.parent / "spec"
CORPUS = [b for path in sorted(SPEC.glob("*.yaml")) for b in load_file(path, f"spec/{path.name}").behaviours]
DRIVER_MODELS = frozenset(Model) - {Model.SERVER}
EVERY_DRIVER = DriverProfile(DRIVER_MODELS, DRIVER_MODELS, frozenset({"edge", "oneshot", "hangup", "rdhup"}))


def by_id(behaviour_id: str) -> Behaviour:
    return next(behaviour for behaviour in CORPUS if behaviour.id == behaviour_id)


def reasons(impl: Profile, behaviours: list[Behaviour]) -> set[str | None]:
    return {not_applicable(behaviour, impl) for behaviour in behaviours}


def test_a_server_gets_one_reason_for_every_driver_behaviour() -> None:
    server = Profile("mine", server=ServerProfile(started=True, declared_model="threads"))
    drivers = [b for b in CORPUS if b.model is not Model.SERVER]
    assert reasons(server, drivers) == {
        "mine is a server, checked over the wire by the server behaviours; "
        "the behaviours of the other models need a driver (module:Class)"
    }
    assert reasons(server, [b for b in CORPUS if b.model is Model.SERVER]) == {None}


def test_a_driver_gets_one_reason_for_the_models_it_does_not_declare() -> None:
    blocking = Profile("mine", DriverProfile(frozenset({Model.BLOCKING}), DRIVER_MODELS))
    undeclared = [b for b in CORPUS if b.model in DRIVER_MODELS - {Model.BLOCKING}]
    assert reasons(blocking, undeclared) == {"mine does not declare these models (it declares: blocking)"}
    assert reasons(blocking, [b for b in CORPUS if b.model is Model.SERVER]) == {
        "mine is a driver, not a server: server behaviours connect to a server process "
        "(name one with a command or an address in [tool.sockspec.impls.NAME], or cmd:/tcp://)"
    }


def test_a_driver_and_server_runs_both_kinds() -> None:
    both = Profile("mine", EVERY_DRIVER, ServerProfile(started=True, declared_model="readiness"))
    completion_needs = {"kernel_completion", "kernel_send_all", "write_flow_control"}
    assert [b.id for b in CORPUS if not_applicable(b, both) is not None] == [
        b.id for b in CORPUS if b.requires & completion_needs
    ]


def test_a_model_declared_without_its_contract_does_not_apply() -> None:
    pretender = Profile("mine", DriverProfile(frozenset({Model.READINESS}), frozenset({Model.BLOCKING})))
    assert not_applicable(by_id("readiness.edge.once-per-arrival"), pretender) == (
        "mine declares readiness but is not a ReadinessDriver"
    )


def test_a_capability_the_driver_lacks_is_named() -> None:
    level_only = Profile("mine", DriverProfile(DRIVER_MODELS, DRIVER_MODELS))
    assert not_applicable(by_id("readiness.edge.once-per-arrival"), level_only) == (
        "needs edge, which mine does not have"
    )
    assert not_applicable(by_id("readiness.edge.once-per-arrival"), Profile("all", EVERY_DRIVER)) is None


def test_a_server_given_by_address_cannot_be_observed() -> None:
    address = Profile("tcp://127.0.0.1:9", server=ServerProfile(started=False, declared_model="threads"))
    observed = [b for b in CORPUS if PROC in b.requires]
    assert observed
    assert reasons(address, observed) == {
        "needs /proc observation of the server's process, and tcp://127.0.0.1:9 is given by address "
        "(sockspec did not start it, so it cannot see its threads, CPU time and descriptors)"
    }


def test_a_server_without_a_model_says_where_to_declare_it() -> None:
    declared = [b for b in CORPUS if DECLARED_MODEL in b.requires]
    assert declared
    configured = Profile("mine", server=ServerProfile(started=True, in_pyproject=True))
    adhoc = Profile("cmd:./srv {port}", server=ServerProfile(started=True))
    assert reasons(configured, declared) == {
        'mine declares no model (set model = "threads", "processes", "readiness" or "completion" in '
        "its [tool.sockspec.impls.mine] table to have it checked)"
    }
    assert reasons(adhoc, declared) == {
        'cmd:./srv {port} declares no model (set model = "threads", "processes", "readiness" or '
        '"completion" in a [tool.sockspec.impls.NAME] table for it in pyproject.toml to have it checked)'
    }
