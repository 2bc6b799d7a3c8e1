"""Which behaviours apply to which implementation, decided from what the implementation is.

Rules of this module:
- pure: a function of a behaviour (its model and what it requires) and a
  `Profile` of the impl, a small frozen value the plugin builds from the
  registry's Impl; no I/O, no pytest, no driver classes (they import socket);
- it decides only what follows from the impl itself: whether it is a driver
  and of which models, which driver contracts its class implements, its
  capabilities, whether it is a server, whether sockspec starts that server,
  and whether it declares a model; what depends on the machine (a family it
  cannot use, an io_uring the kernel refuses, /proc, the descriptor limit, a
  server not listening on ::1) is found at run time by whoever runs the item;
- a behaviour that does not apply gets one reason: a sentence naming the impl,
  worded without the behaviour or its model where the cause is the same for
  many (a server and every driver behaviour; a driver and every model it does
  not declare), so that a report can say it once for all of them;
- the plugin (collection), the server session and tests/test_reference.py ask
  here; nothing else decides applicability.
"""

from __future__ import annotations

from dataclasses import dataclass

from sockspec.language.model import Behaviour, Model

#: The driver contract (a class of sockspec.driving.drivers, by name) behind each driver model.
CONTRACTS: dict[Model, str] = {
    Model.BLOCKING: "SocketDriver",
    Model.NONBLOCKING: "SocketDriver",
    Model.READINESS: "ReadinessDriver",
    Model.COMPLETION: "CompletionDriver",
}

#: The capabilities a server has by what it is: "proc" when sockspec starts its process (so it
#: can observe it in /proc, where the machine has one), "declared_model" when it declares a model.
PROC = "proc"
DECLARED_MODEL = "declared_model"


@dataclass(frozen=True)
class DriverProfile:
    """A driver as applicability sees it.

    models: the models it declares;
    contracts: the models whose driver contract (`CONTRACTS`) its class implements;
    capabilities: the optional features it declares ('edge', 'oneshot', 'kernel_completion', ...).
    """

    models: frozenset[Model]
    contracts: frozenset[Model]
    capabilities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ServerProfile:
    """A server as applicability sees it.

    started: sockspec starts its process (a command), rather than connecting to an address;
    declared_model: the model it declares ("threads", "readiness", ...), None when it declares none;
    in_pyproject: it is configured in a [tool.sockspec.impls.NAME] table (where a model is declared).
    """

    started: bool
    declared_model: str | None = None
    in_pyproject: bool = False

    @property
    def capabilities(self) -> frozenset[str]:
        found = {PROC} if self.started else set()
        if self.declared_model is not None:
            found.add(DECLARED_MODEL)
        return frozenset(found)


@dataclass(frozen=True)
class Profile:
    """An implementation under test, by the name the user gave: a driver, a server, or both."""

    name: str
    driver: DriverProfile | None = None
    server: ServerProfile | None = None


def not_applicable(behaviour: Behaviour, impl: Profile) -> str | None:
    """Why `behaviour` does not apply to `impl`, or None when it does."""
    if behaviour.model is Model.SERVER:
        return _server_reason(behaviour, impl)
    return _driver_reason(behaviour, impl)


def _driver_reason(behaviour: Behaviour, impl: Profile) -> str | None:
    name, driver, model = impl.name, impl.driver, behaviour.model
    if driver is None:
        return (
            f"{name} is a server, checked over the wire by the server behaviours; "
            "the behaviours of the other models need a driver (module:Class)"
        )
    if model not in driver.models:
        declared = ", ".join(sorted(each.value for each in driver.models)) or "none"
        return f"{name} does not declare these models (it declares: {declared})"
    if model not in driver.contracts:
        return f"{name} declares {model.value} but is not a {CONTRACTS[model]}"
    missing = sorted(behaviour.requires - driver.capabilities)
    if missing:
        return f"needs {', '.join(missing)}, which {name} does not have"
    return None


def _server_reason(behaviour: Behaviour, impl: Profile) -> str | None:
    name, server = impl.name, impl.server
    if server is None:
        return (
            f"{name} is a driver, not a server: server behaviours connect to a server process "
            "(name one with a command or an address in [tool.sockspec.impls.NAME], or cmd:/tcp://)"
        )
    missing = sorted(behaviour.requires - server.capabilities, key=lambda need: (need != PROC, need))
    if not missing:
        return None
    if missing[0] == PROC:
        return (
            f"needs /proc observation of the server's process, and {name} is given by address "
            "(sockspec did not start it, so it cannot see its threads, CPU time and descriptors)"
        )
    if missing[0] == DECLARED_MODEL:
        where = (
            f"its [tool.sockspec.impls.{name}] table"
            if server.in_pyproject
            else "a [tool.sockspec.impls.NAME] table for it in pyproject.toml"
        )
        return (
            f'{name} declares no model (set model = "threads", "processes", "readiness" or '
            f'"completion" in {where} to have it checked)'
        )
    return f"needs {missing[0]}, which {name} does not have"
