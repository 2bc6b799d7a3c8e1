"""Impl names -> implementations under test.

Rules of this module:
- one table names the reference drivers, another the reference servers; a name
  may be in both (sockets is a driver and a thread-per-client server); `all`
  means every one of them;
- a server may also be named by the user: in pyproject.toml (the plugin reads
  it and passes the servers in; naming one whose table is wrong is that
  table's ConfigError, other names are not affected), or ad hoc as
  cmd:COMMAND or tcp://HOST:PORT;
- `module:attr` names a user's own driver class (imported here, from the
  installed packages or else the folder pytest runs in; a fresh instance
  drives each behaviour, so no state leaks from one to the next); the class
  itself is checked once, before anything runs (sockspec.plugin.driver_check);
- an unknown name is a `LookupError` whose message lists what exists, with the
  closest match when there is one; nothing here knows about pytest.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sockspec.driving.drivers import Driver
from sockspec.language.suggest import closest
from sockspec.plugin import driver_check
from sockspec.servers.config import DeclaredModel, ImplTables, ServerSpec, parse_adhoc

# name -> "module:Class" of the reference implementations, in report order.
REFERENCE_IMPLS: dict[str, str] = {
    "sockets": "sockspec.reference_impls.sockets_ref:SocketsDriver",
    "selectors": "sockspec.reference_impls.selectors_ref:SelectorsDriver",
    "selectors-select": "sockspec.reference_impls.selectors_ref:SelectSelectorDriver",
    "selectors-poll": "sockspec.reference_impls.selectors_ref:PollSelectorDriver",
    "selectors-epoll": "sockspec.reference_impls.selectors_ref:EpollSelectorDriver",
    "select": "sockspec.reference_impls.selectors_ref:SelectDriver",
    "poll": "sockspec.reference_impls.selectors_ref:PollDriver",
    "epoll": "sockspec.reference_impls.selectors_ref:EpollDriver",
    "asyncio": "sockspec.reference_impls.asyncio_ref:AsyncioDriver",
    "asyncio-streams": "sockspec.reference_impls.asyncio_ref:AsyncioStreamsDriver",
    "trio": "sockspec.reference_impls.trio_ref:TrioDriver",
    "io_uring": "sockspec.reference_impls.uring_ref:UringDriver",
}
ALL = "all"

# name -> (module run as `python -m MODULE --port {port}`, the model it declares) of the
# reference servers; a name in both tables is a driver and a server at once.
REFERENCE_SERVERS: dict[str, tuple[str, str]] = {
    "sockets": ("sockspec.reference_impls.threads_server", "threads"),
    "selectors": ("sockspec.reference_impls.selectors_server", "readiness"),
    "asyncio": ("sockspec.reference_impls.asyncio_server", "readiness"),
    "trio": ("sockspec.reference_impls.trio_server", "readiness"),
    "forking": ("sockspec.reference_impls.forking_server", "processes"),
}


@dataclass(frozen=True)
class Impl:
    """An implementation under test, as named on the command line: a driver, a server, or both."""

    name: str
    driver: type[Driver] | None = None
    server: ServerSpec | None = None

    @property
    def description(self) -> str:
        parts = []
        if self.driver is not None:
            models = ", ".join(sorted(model.value for model in self.driver.models))
            what = self.driver.description or self.driver.__qualname__
            parts.append(f"{what}; models: {models or 'none'}")
        if self.server is not None:
            parts.append(self.server.describe())
        return f"{self.name} ({'; '.join(parts)})"


def reference_names() -> list[str]:
    """Every reference impl (driver, server or both), in report order."""
    return list(dict.fromkeys([*REFERENCE_IMPLS, *REFERENCE_SERVERS]))


def known_names(configured: Iterable[str] = ()) -> list[str]:
    return list(dict.fromkeys([*reference_names(), *configured, ALL]))


def reference_server(name: str) -> ServerSpec:
    module, model = REFERENCE_SERVERS[name]
    return ServerSpec(
        name=name,
        origin=f"sockspec's reference server {module}",
        command=(sys.executable, "-m", module, "--port", "{port}"),
        model=DeclaredModel(model),
    )


def _unknown(name: str, why: str = "", configured: Iterable[str] = ()) -> LookupError:
    names = known_names(configured)
    near = closest(name, names)
    hint = f" Did you mean {near!r}?" if near is not None else ""
    return LookupError(
        f"unknown impl {name!r}{why}.{hint} Known impls: {', '.join(names)}; "
        "or module:Class for a driver of your own; or a server: a [tool.sockspec.impls.NAME] table in "
        "pyproject.toml, cmd:COMMAND {port}, or tcp://127.0.0.1:PORT."
    )


def _import(module_name: str, search: Path | None) -> ModuleType:
    """The module; one the installed packages lack is looked for in `search` (the folder pytest
    was run from) too, as `python -m pytest` would find it there."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if search is None or exc.name != module_name.partition(".")[0] or str(search) in sys.path:
            raise
        sys.path.append(str(search))
        return importlib.import_module(module_name)


def _load(name: str, target: str, search: Path | None = None) -> type[Driver]:
    module_name, _, attr = target.partition(":")
    try:
        module = _import(module_name, search)
    except ImportError as exc:
        raise _unknown(name, f" (cannot import module {module_name!r}: {exc})") from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise _unknown(name, f" (module {module_name!r} has no attribute {attr!r})") from None
    if not (isinstance(factory, type) and issubclass(factory, Driver)):
        raise LookupError(
            f"impl {name!r}: {target} is not a driver class (subclass sockspec.SocketDriver, "
            "sockspec.ReadinessDriver or sockspec.CompletionDriver and declare its models)"
        )
    return factory


def resolve(
    names: list[str], configured: Mapping[str, ServerSpec] | None = None, search: Path | None = None
) -> list[Impl]:
    """The impls for `names` in order, without repeats; `all` expands to every reference impl.
    A module:Class the installed packages lack is looked for in `search` too.

    A name is looked up among the servers the user configured first (they may
    shadow a reference name), then the reference impls, then the ad hoc server
    forms (cmd:..., tcp://...), then module:Class. A malformed ad hoc form is a
    ConfigError, and so is a name whose pyproject table is wrong (`configured`
    given as the ImplTables of load_pyproject).
    """
    servers = configured or {}
    wrong = configured.problems if isinstance(configured, ImplTables) else {}
    wanted: list[str] = []
    for name in names:
        for one in reference_names() if name == ALL else [name]:
            if one not in wanted:
                wanted.append(one)
    impls = []
    for name in wanted:
        if isinstance(configured, ImplTables):
            configured.check(name)
        adhoc = None if name in servers else parse_adhoc(name)
        if name in servers:
            impls.append(Impl(name, server=servers[name]))
        elif name in REFERENCE_IMPLS or name in REFERENCE_SERVERS:
            driver = _load(name, REFERENCE_IMPLS[name]) if name in REFERENCE_IMPLS else None
            server = reference_server(name) if name in REFERENCE_SERVERS else None
            impls.append(Impl(name, driver, server))
        elif adhoc is not None:
            impls.append(Impl(name, server=adhoc))
        elif ":" in name:
            user = _load(name, name, search)
            driver_check.check(name, user)
            impls.append(Impl(name, user))
        else:
            raise _unknown(name, configured=[*servers, *wrong])
    return impls
