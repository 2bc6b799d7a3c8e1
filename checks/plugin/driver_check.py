"""A user's driver class, checked once before anything runs.

`--impl=module:Class` names a class the user wrote. What is wrong with the class
itself (not with how it behaves) is the user's to fix before a single behaviour
can mean anything, so it is found here, at start, and said once, naming the class.

Rules of this module:
- each check is one entry of `CHECKS`: a function from the class to a problem in
  words, or None; the first problems found are all reported together;
- building the class is the last check, and only when the others pass and the
  machine can run it (`unavailable_reason`): a class
  that cannot be built would otherwise fail every item with "sockspec itself
  failed"; what it raises is quoted, never re-raised;
- nothing here judges behaviour; a driver that declares a model it does not
  implement is applicability's business (not applicable, with the reason).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from sockspec.driving.drivers import Driver
from sockspec.language.model import Model

#: Models a driver can declare (the server model belongs to configured servers).
DRIVER_MODELS = tuple(model for model in Model if model is not Model.SERVER)


def _models(cls: type[Driver]) -> str | None:
    models = cls.__dict__.get("models", cls.models)
    if not isinstance(models, (frozenset, set)):
        return f"models is a {type(models).__name__}; write frozenset({{Model.BLOCKING, ...}})"
    strings = sorted(str(each) for each in models if isinstance(each, str))
    if strings:
        spelled = ", ".join(f"Model.{each.upper()}" for each in strings if each in {m.value for m in Model})
        hint = f" (write {spelled}, from sockspec import Model)" if spelled else ""
        return f"models holds plain strings {strings}; declare sockspec.Model members{hint}"
    others = [each for each in models if not isinstance(each, Model)]
    if others:
        return f"models holds {others!r}, which are not sockspec.Model members"
    if not models:
        known = ", ".join(f"Model.{model.name}" for model in DRIVER_MODELS)
        return f"it declares no models, so no behaviour would run (declare some of {known})"
    if Model.SERVER in models:
        return "it declares Model.SERVER; servers are configured as impls, not written as drivers"
    return None


def _capabilities(cls: type[Driver]) -> str | None:
    capabilities = cls.capabilities
    if not isinstance(capabilities, (frozenset, set)) or not all(isinstance(c, str) for c in capabilities):
        return f"capabilities is {capabilities!r}; write a frozenset of names, e.g. frozenset({{'edge'}})"
    return None


def _complete(cls: type[Driver]) -> str | None:
    if not inspect.isabstract(cls):
        return None
    missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
    return f"it does not implement {missing} (abstract in the driver contract it subclasses)"


#: The checks, in the order their problems are reported.
CHECKS: tuple[Callable[[type[Driver]], str | None], ...] = (_models, _capabilities, _complete)


def _build(cls: type[Driver]) -> str | None:
    try:
        driver = cls()
    except Exception as exc:
        return f"building it raised {type(exc).__name__}: {exc}"
    try:
        driver.release()
    except Exception as exc:
        return f"its release() raised {type(exc).__name__}: {exc}"
    return None


def problems(cls: type[Driver]) -> list[str]:
    """What is wrong with the class as a driver; empty when it can run."""
    found = [problem for check in CHECKS if (problem := check(cls)) is not None]
    if found or cls.unavailable_reason() is not None:  # one the machine refuses is not built here
        return found
    built = _build(cls)
    return [built] if built is not None else []


def check(name: str, cls: type[Driver]) -> None:
    """Raise a LookupError naming the class and every problem found, or return."""
    found = problems(cls)
    if found:
        where = f"{cls.__module__}.{cls.__qualname__}"
        lines = "\n".join(f"  - {problem}" for problem in found)
        raise LookupError(f"impl {name!r}: the driver class {where} cannot run:\n{lines}")
