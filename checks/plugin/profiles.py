"""From the registry's impls to the profiles applicability decides on.

Rules of this module:
- `profile` is the one place that reads a driver class or a server's
  configuration for applicability (sockspec.judging.applicability stays pure:
  it never sees a class that imports socket);
- `CONTRACTS` names the driver contract class of each driver model; its names
  are applicability's `CONTRACTS` (a test keeps the two tables in step).
"""

from __future__ import annotations

from sockspec.driving.drivers import CompletionDriver, Driver, ReadinessDriver, SocketDriver
from sockspec.judging.applicability import DriverProfile, Profile, ServerProfile
from sockspec.language.model import Model
from sockspec.plugin.registry import Impl

#: The contract a driver must implement for each model's behaviours.
CONTRACTS: dict[Model, type[Driver]] = {
    Model.BLOCKING: SocketDriver,
    Model.NONBLOCKING: SocketDriver,
    Model.READINESS: ReadinessDriver,
    Model.COMPLETION: CompletionDriver,
}


def profile(impl: Impl) -> Profile:
    driver = impl.driver
    server = impl.server
    return Profile(
        impl.name,
        driver=None
        if driver is None
        else DriverProfile(
            models=driver.models,
            contracts=frozenset(
                model for model, contract in CONTRACTS.items() if issubclass(driver, contract)
            ),
            capabilities=driver.capabilities,
        ),
        server=None
        if server is None
        else ServerProfile(
            started=server.started_by_checker,
            declared_model=server.model.value if server.model is not None else None,
            in_pyproject=server.origin.endswith(f"[tool.sockspec.impls.{impl.name}]"),
        ),
    )
