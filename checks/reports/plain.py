"""Records as plain data and back: the one conversion used wherever a record leaves the process.

Rules of this module:
- `to_plain` is `dataclasses.asdict` with enums as their values and tuples as
  lists: the result is JSON-able (dicts, lists, str, int, float, bool, None);
  the JSON report and an item's detail in pytest's `user_properties` (which
  pytest-xdist carries between processes) are both made by it;
- `from_plain(cls, data)` rebuilds a frozen dataclass from what `to_plain`
  made, guided by its fields' type hints (dataclasses, enums, Literals,
  `X | None`, `tuple[X, ...]`, `dict[str, X]` and the scalars); data that does
  not fit raises `PlainError` naming the path to it ("trace[3].what.kind");
- pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, TypeVar, cast

T = TypeVar("T")

_SCALARS: tuple[type, ...] = (str, int, float, bool)


class PlainError(ValueError):
    """Plain data that does not fit the record it should rebuild (a checker bug, or another version)."""


def to_plain(value: object) -> Any:
    """A dataclass (or any value made of them) as JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    return value


def from_plain(cls: type[T], data: object) -> T:
    """The `cls` dataclass that `to_plain` turned into `data`."""
    return cast(T, _build(cls, data, cls.__name__))


def _build(hint: Any, data: object, path: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint), data, path)
    if origin is typing.Literal:
        if data not in typing.get_args(hint):
            raise PlainError(f"{path}: {data!r} is not one of {typing.get_args(hint)}")
        return data
    if origin is tuple:
        return _tuple(typing.get_args(hint), data, path)
    if origin is dict:
        _key, value = typing.get_args(hint)
        mapping = _expect(data, dict, path)
        return {key: _build(value, item, f"{path}[{key!r}]") for key, item in mapping.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, data, path)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            raise PlainError(f"{path}: {data!r} is not a {hint.__name__}") from None
    if hint is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if hint in _SCALARS or hint is type(None):
        return _expect(data, hint, path)
    raise PlainError(f"{path}: cannot rebuild a {hint!r}")


def _expect(data: object, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise PlainError(f"{path}: expected {names}, got {type(data).__name__} {data!r}")
    return data


def _union(options: tuple[Any, ...], data: object, path: str) -> Any:
    if data is None:
        if type(None) in options:
            return None
        raise PlainError(f"{path}: None is not allowed here")
    problems = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _build(option, data, path)
        except PlainError as exc:
            problems.append(str(exc))
    raise PlainError("; ".join(problems))


def _tuple(items: tuple[Any, ...], data: object, path: str) -> tuple[Any, ...]:
    sequence = _expect(data, (list, tuple), path)
    if len(items) == 2 and items[1] is Ellipsis:
        return tuple(_build(items[0], item, f"{path}[{number}]") for number, item in enumerate(sequence))
    if len(items) != len(sequence):
        raise PlainError(f"{path}: expected {len(items)} items, got {len(sequence)}")
    return tuple(
        _build(hint, item, f"{path}[{number}]")
        for number, (hint, item) in enumerate(zip(items, sequence, strict=True))
    )


def _dataclass(cls: type[Any], data: object, path: str) -> Any:
    mapping = _expect(data, dict, path)
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = set(mapping) - set(fields)
    if unknown:
        raise PlainError(f"{path}: unknown fields {', '.join(sorted(unknown))}")
    values = {}
    for name, field in fields.items():
        if name in mapping:
            values[name] = _build(hints[name], mapping[name], f"{path}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise PlainError(f"{path}: the field {name} is missing")
    return cls(**values)
