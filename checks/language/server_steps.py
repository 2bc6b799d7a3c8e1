"""The server step language: client and observe steps, from YAML to the frozen model.

Rules of this module:
- part of the loader (sockspec.language.loader calls it): values only, no I/O, no sockets;
- `CLIENT_ARGUMENTS` is the table of what each client action needs and
  accepts, checked the same way as the call operations of
  sockspec.language.operations;
- `problems` returns what a schema cannot say about a server behaviour, each
  as (field path, message): clients used before they connect, observations
  named before they exist, fields that need another field;
- `requirements` names the capabilities a behaviour needs because of its steps:
  'proc' for any observation, 'declared_model' for `model: declared`;
- `clients_at_once` counts the clients a step has connected at the same time,
  from the steps alone (what a failure there needed of the server);
- a scale behaviour (`scale:`) runs its steps once per level: `scale_problems`
  says what its section and its `count: level` connect must be, `at_level` gives
  the behaviour as it runs at one level, and `parse_levels` reads levels given on
  the command line or in an ini file.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sockspec.language.model import (
    CLIENT_PLACEHOLDER,
    Behaviour,
    Client,
    Expectation,
    Family,
    Model,
    Observe,
    ObserveExpectation,
    Origin,
    Scale,
    Step,
)
from sockspec.language.operations import Arguments
from sockspec.language.timing import parse_duration

FieldPath = tuple[str | int, ...]

# For each client action: the fields it needs, and the other fields it accepts.
CLIENT_ARGUMENTS: dict[str, Arguments] = {
    "connect": Arguments.of((), {"count", "rcvbuf", "sndbuf", "expect"}),
    "send": Arguments.of({"data"}, {"fragment", "pause"}),
    "read": Arguments.of((), {"size", "expect"}),
    "stop_reading": Arguments.of(),
    "wait_stalled": Arguments.of(),
    "shutdown": Arguments.of((), {"how"}),
    "close": Arguments.of(),
    "reset": Arguments.of(),
    "cycle": Arguments.of({"count"}, {"data", "rcvbuf", "sndbuf", "expect"}),
}
CLIENT_COMMON = frozenset({"client", "action", "name", "after", "limit", "setup"})
# Client actions that make their client (the others need it connected first).
MAKERS = frozenset({"connect", "cycle"})
SERVER_FAMILIES = frozenset({Family.TCP4, Family.TCP6})
# The families a file's behaviours run over when it names none (otherwise: every family).
DEFAULT_FAMILIES: dict[Model, list[str]] = {Model.SERVER: [Family.TCP4.value]}
# Behaviour fields of the driver models that a server behaviour does not take.
DRIVER_ONLY_FIELDS = ("connection", "mode", "socket", "connections")
PROC = "proc"
DECLARED_MODEL = "declared_model"
#: `count: level` in a connect step: as many clients as the level a scale behaviour runs at.
LEVEL = "level"
#: The most clients a level may connect (the schema's bound of `count`).
MAX_LEVEL = 10000


def client_step(
    raw: Mapping[str, Any],
    origin: Origin,
    common: Mapping[str, Any],
    expect: Expectation | None,
    to_bytes: Callable[[Any], bytes],
) -> Client:
    payload = to_bytes(raw["data"]) if "data" in raw else None
    count = raw.get("count", 1)
    return Client(
        origin=origin,
        client=raw["client"],
        action=raw["action"],
        count=MAX_LEVEL if count == LEVEL else count,
        scaled=count == LEVEL,
        payload=payload,
        per_client=payload is not None and CLIENT_PLACEHOLDER in payload,
        fragment=raw.get("fragment"),
        pause=parse_duration(raw.get("pause", "0s")),
        size=raw.get("size"),
        how=raw.get("how"),
        rcvbuf=raw.get("rcvbuf"),
        sndbuf=raw.get("sndbuf"),
        expect=expect,
        name=common.get("name"),
        after=common["after"],
        limit=common.get("limit"),
        setup=common.get("setup"),
    )


def _percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


def observe_step(raw: Mapping[str, Any], origin: Origin, common: Mapping[str, Any]) -> Observe:
    wanted = raw.get("expect")
    expect = (
        ObserveExpectation(
            cpu_below=_percent(wanted["cpu_below"]) if "cpu_below" in wanted else None,
            back_to=wanted.get("back_to"),
            model=wanted.get("model"),
            loop_flat=bool(wanted.get("loop_flat", False)),
        )
        if wanted is not None
        else None
    )
    over = raw.get("over")
    return Observe(
        origin=origin,
        name=raw["observe"],
        over=parse_duration(over) if over is not None else None,
        baseline=raw.get("baseline"),
        expect=expect,
        after=common["after"],
        limit=common.get("limit"),
        setup=common.get("setup"),
    )


def scale_section(raw: Mapping[str, Any] | None) -> Scale | None:
    """The behaviour's `scale:` section as a value (None when it has none)."""
    if raw is None:
        return None
    limit = raw.get("limit")
    return Scale(
        levels=tuple(raw["levels"]),
        measure=raw["measure"],
        limit=parse_duration(limit) if limit is not None else None,
    )


def at_level(behaviour: Behaviour, level: int) -> Behaviour:
    """The scale behaviour as it runs at `level`: each `count: level` connect makes `level` clients."""
    steps = tuple(
        dataclasses.replace(step, count=level) if isinstance(step, Client) and step.scaled else step
        for step in behaviour.steps
    )
    return dataclasses.replace(behaviour, steps=steps)


_LEVEL_SEPARATORS = re.compile(r"[\s,]+")


def parse_levels(text: str) -> tuple[int, ...]:
    """'10,100,1000' (or '10 100 1_000') -> (10, 100, 1000): levels in rising order, without
    repeats; ValueError naming what is wrong."""
    words = [word for word in _LEVEL_SEPARATORS.split(text.strip()) if word]
    if not words:
        raise ValueError("no levels given: write numbers of clients, e.g. 10,100,1000")
    levels = set()
    for word in words:
        try:
            level = int(word)
        except ValueError:
            raise ValueError(f"{word!r} is not a number of clients (write e.g. 10,100,1000)") from None
        if not 1 <= level <= MAX_LEVEL:
            raise ValueError(f"{level} clients: a level is 1 to {MAX_LEVEL} clients")
        levels.add(level)
    return tuple(sorted(levels))


def clients_at_once(steps: Sequence[Step], index: int) -> int:
    """How many of the checker's clients are connected at once when step `index` runs: those
    made by earlier connects and not closed or reset yet, with the step's own (a connect's
    group, or the one connection of a cycle)."""
    groups: dict[str, int] = {}
    for step in steps[: index + 1]:
        if not isinstance(step, Client):
            continue
        if step.action == "connect":
            groups[step.client] = step.count
        elif step.action in {"close", "reset"}:
            groups.pop(step.client, None)
    current = steps[index] if 0 <= index < len(steps) else None
    cycling = isinstance(current, Client) and current.action == "cycle"
    return sum(groups.values()) + (1 if cycling else 0)


def requirements(steps: Sequence[Step]) -> set[str]:
    needs = set()
    for step in steps:
        if isinstance(step, Observe):
            needs.add(PROC)
            if step.expect is not None and step.expect.model == "declared":
                needs.add(DECLARED_MODEL)
    return needs


def problems(
    model: Model, raw: Mapping[str, Any], steps: Sequence[Step], families: Sequence[Family], path: FieldPath
) -> list[tuple[FieldPath, str]]:
    """What is wrong with the server side of a behaviour (or with server steps elsewhere)."""
    found: list[tuple[FieldPath, str]] = []
    is_server = model is Model.SERVER
    for index, step in enumerate(steps):
        server_step = isinstance(step, Client | Observe)
        if is_server and not server_step:
            found.append(
                (
                    (*path, "steps", index),
                    "a server behaviour's steps are client and observe steps "
                    "(call, peer, await and check act on a driver's socket)",
                )
            )
        elif server_step and not is_server:
            found.append(((*path, "steps", index), "client and observe steps belong to server behaviours"))
    if not is_server:
        if "scale" in raw:
            found.append(
                ((*path, "scale"), "scale belongs to server behaviours: it counts a server's clients")
            )
        return found
    found.extend(
        (
            (*path, key),
            f"{key} does not apply to a server behaviour (clients set rcvbuf and sndbuf on connect)",
        )
        for key in DRIVER_ONLY_FIELDS
        if key in raw
    )
    other = [family.value for family in families if family not in SERVER_FAMILIES]
    if other:
        where = (*path, "families") if "families" in raw else ("families",)
        found.append((where, f"a server behaviour runs over tcp4 or tcp6, not {', '.join(other)}"))
    found.extend(_client_problems(steps, path))
    found.extend(_observe_problems(steps, path))
    found.extend(_scale_problems(raw, steps, path))
    return found


def _client_problems(steps: Sequence[Step], path: FieldPath) -> list[tuple[FieldPath, str]]:
    found: list[tuple[FieldPath, str]] = []
    made: dict[str, int] = {}
    cycles: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, Client):
            continue
        where = (*path, "steps", index)
        first = made.get(step.client)
        if step.action in MAKERS:
            if first is not None:
                found.append(
                    (
                        (*where, "client"),
                        f"the client {step.client!r} was made at step {first + 1}; "
                        "give each connection (or cycle) its own name",
                    )
                )
            made.setdefault(step.client, index)
            if step.action == "cycle":
                cycles.add(step.client)
        elif first is None:
            known = ", ".join(sorted(made)) or "none so far"
            found.append(
                (
                    (*where, "client"),
                    f"the client {step.client!r} is not connected yet: connect it first (clients: {known})",
                )
            )
        elif step.client in cycles:
            found.append(
                (
                    (*where, "client"),
                    f"{step.client!r} is a cycle of connections, each closed in turn: "
                    "nothing is left to act on",
                )
            )
        if step.pause and step.fragment is None:
            found.append(((*where, "pause"), "pause goes with fragment: the pause is between fragments"))
        if step.action == "read" and step.size is None and (step.expect is None or step.expect.data is None):
            found.append(
                ((*where, "action"), "read needs size, or expect.data (then it reads that many bytes)")
            )
    return found


def _observe_problems(steps: Sequence[Step], path: FieldPath) -> list[tuple[FieldPath, str]]:
    found: list[tuple[FieldPath, str]] = []
    named: list[str] = []
    for index, step in enumerate(steps):
        if not isinstance(step, Observe):
            continue
        where = (*path, "steps", index)
        expect = step.expect or ObserveExpectation()
        for field_path, reference in (
            ((*where, "baseline"), step.baseline),
            ((*where, "expect", "back_to"), expect.back_to),
        ):
            if reference is not None and reference not in named:
                found.append(
                    (
                        field_path,
                        f"no earlier observe step is named {reference!r} "
                        f"(observations: {', '.join(named) or 'none so far'})",
                    )
                )
        if expect.cpu_below is not None and step.over is None:
            found.append(
                ((*where, "expect", "cpu_below"), "cpu_below needs over: the window to measure CPU time over")
            )
        if expect.loop_flat and step.baseline is None:
            found.append(
                ((*where, "expect", "loop_flat"), "loop_flat needs baseline: the threads are counted from it")
            )
        if expect.model is not None and (step.over is None or step.baseline is None):
            found.append(
                (
                    (*where, "expect", "model"),
                    "model needs over and baseline: the model is inferred by comparing them",
                )
            )
        named.append(step.name)
    return found


def _scale_problems(
    raw: Mapping[str, Any], steps: Sequence[Step], path: FieldPath
) -> list[tuple[FieldPath, str]]:
    """A scale section and `count: level` go together: one connect of `count: level` clients,
    levels in rising order, and `measure` naming an observe step with a baseline."""
    found: list[tuple[FieldPath, str]] = []
    scaled = [(index, step) for index, step in enumerate(steps) if isinstance(step, Client) and step.scaled]
    section = raw.get("scale")
    for index, step in scaled:
        if step.action != "connect":
            found.append(
                (
                    (*path, "steps", index, "count"),
                    f"count: {LEVEL} is for connect: a cycle counts its own turns",
                )
            )
        elif section is None:
            found.append(
                (
                    (*path, "steps", index, "count"),
                    f"count: {LEVEL} needs a scale section in the behaviour (the levels to run at)",
                )
            )
    if section is None:
        return found
    where = (*path, "scale")
    connects = [index for index, step in scaled if step.action == "connect"]
    if len(connects) != 1:
        found.append(
            (
                where,
                f"a scale behaviour connects one group of `count: {LEVEL}` clients "
                f"(found {len(connects)}): that group is what each level counts",
            )
        )
    levels = list(section["levels"])
    if levels != sorted(levels):
        found.append(
            ((*where, "levels"), "levels run from the fewest clients up: write them in rising order")
        )
    observations = {step.name: step for step in steps if isinstance(step, Observe)}
    measured = observations.get(section["measure"])
    if measured is None:
        found.append(
            (
                (*where, "measure"),
                f"no observe step is named {section['measure']!r} "
                f"(observations: {', '.join(observations) or 'none'})",
            )
        )
    elif measured.baseline is None:
        found.append(
            (
                (*where, "measure"),
                f"the observe step {measured.name!r} needs a baseline: a level's costs are measured from it",
            )
        )
    return found
