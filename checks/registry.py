"""Impl names -> implementations under test.

Rules of this module:
- one table names the reference implementations; `all` means every one of them;
- `module:attr` names a user's own driver class (imported here; a fresh
  instance drives each behaviour, so no state leaks from one to the next);
- an unknown name is a `LookupError` whose message lists what exists, with the
  closest match when there is one; nothing here knows about pytest.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass

from checks.drivers import Driver

# name -> "module:Class" of the reference implementations, in report order.
REFERENCE_IMPLS: dict[str, str] = {
    "sockets": "reference_impls.sockets_ref:SocketsDriver",
}
ALL = "all"


@dataclass(frozen=True)
class Impl:
    """An implementation under test, as named on the command line."""

    name: str
    driver: type[Driver]

    @property
    def description(self) -> str:
        models = ", ".join(sorted(model.value for model in self.driver.models))
        what = self.driver.description or self.driver.__qualname__
        return f"{self.name} ({what}; models: {models or 'none'})"


def known_names() -> list[str]:
    return [*REFERENCE_IMPLS, ALL]


def _unknown(name: str, why: str = "") -> LookupError:
    close = difflib.get_close_matches(name, known_names(), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return LookupError(
        f"unknown impl {name!r}{why}.{hint} Known impls: {', '.join(known_names())}; "
        "or module:Class for a driver of your own."
    )


def _load(name: str, target: str) -> type[Driver]:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _unknown(name, f" (cannot import module {module_name!r}: {exc})") from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise _unknown(name, f" (module {module_name!r} has no attribute {attr!r})") from None
    if not (isinstance(factory, type) and issubclass(factory, Driver)):
        raise LookupError(
            f"impl {name!r}: {target} is not a driver class (subclass checks.SocketDriver, "
            "checks.ReadinessDriver or checks.CompletionDriver and declare its models)"
        )
    return factory


def resolve(names: list[str]) -> list[Impl]:
    """The impls for `names` in order, without repeats; `all` expands to every reference impl."""
    wanted: list[str] = []
    for name in names:
        for one in REFERENCE_IMPLS if name == ALL else [name]:
            if one not in wanted:
                wanted.append(one)
    impls = []
    for name in wanted:
        if name in REFERENCE_IMPLS:
            impls.append(Impl(name, _load(name, REFERENCE_IMPLS[name])))
        elif ":" in name:
            impls.append(Impl(name, _load(name, name)))
        else:
            raise _unknown(name)
    return impls
