"""Spec files: safe YAML with line marks -> schema validation -> the frozen model.

Rules of this module:
- the text is read by sockspec.language.validation (PyYAML's safe loader, no
  global patching) and checked there against the JSON Schema (spec/schema.json),
  with the wording every input of sockspec shares; this module adds the rules
  only spec files have (a step with more than one action, a duration without
  its unit) and names a field inside a behaviour with the behaviour's id;
- every problem is a `SpecError` naming file, line and the field path, found
  before anything runs: a file with any error yields no behaviour at all;
- what a schema cannot say is checked here, as code: names that must exist,
  the fields each operation needs (sockspec.language.operations), ids unique
  in a file and across the files of a run (`repeated_ids`, the one check);
- what the schema lets through but no run can do is refused here too, located
  like a schema error: bytes written with a character above U+00FF, and
  values past the bounds below (a file of more than MAX_TEXT characters,
  numbers past MAX_NUMBER, durations past MAX_DURATION, pattern payloads past
  MAX_PAYLOAD in all): reading any file takes bounded time and memory, and a
  file that loads never stops a run with a crash;
- no I/O beyond reading the spec files; no pytest, no sockets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
from sockspec.language import server_steps
from sockspec.language.corpus import SCHEMA
from sockspec.language.model import (
    Await,
    Behaviour,
    Call,
    Check,
    Expectation,
    Family,
    Level,
    Mode,
    Model,
    Origin,
    Payload,
    Peer,
    Range,
    SocketOptions,
    SpecFile,
    Step,
    Topology,
)
from sockspec.language.operations import CALL_COMMON, CALLS, PEER_COMMON, PEERS, Arguments
from sockspec.language.timing import parse_duration
from sockspec.language.validation import (
    FieldPath,
    Invalid,
    Marked,
    Problem,
    format_path,
    load_schema,
    shown,
    validate,
    validator,
    yaml_document,
)

__all__ = [
    "SCHEMA_PATH",
    "Problem",
    "SpecError",
    "check_unique_ids",
    "load_file",
    "load_text",
    "repeated_ids",
]

SCHEMA_PATH = SCHEMA
STEP_KINDS = ("call", "peer", "await", "check", "client", "observe")

CALL_ARGUMENTS: dict[str, Arguments] = {name: operation.arguments for name, operation in CALLS.items()}
# Capabilities a behaviour needs because of what its steps ask for.
TRIGGER_NEEDS: dict[str, str] = {"edge": "edge", "oneshot": "oneshot"}
EVENT_NEEDS: dict[str, str] = {"rdhup": "rdhup"}

# The socket mode each model implies when a behaviour does not say.
DEFAULT_MODE: dict[Model, Mode | None] = {
    Model.BLOCKING: Mode.BLOCKING,
    Model.NONBLOCKING: Mode.NONBLOCKING,
    Model.READINESS: Mode.NONBLOCKING,
    Model.COMPLETION: None,
    Model.SERVER: None,
}


# The bounds of a spec file (see the rules above). A number past MAX_NUMBER is a buffer or a payload
# no behaviour needs (the corpus's largest is 16 MiB); the pattern payloads are built as the file
# loads (the corpus's server.yaml holds about 100 MiB of them); a wait past MAX_DURATION is a
# mistake in the file (and past 292 years, more than sleep() and socket timeouts take).
MIB = 1024 * 1024
MAX_TEXT = 1_000_000
MAX_NUMBER = 64 * MIB
MAX_PAYLOAD = 256 * MIB
MAX_DURATION = 3600.0


class SpecError(Invalid):
    """A spec file is wrong: the spec author's to fix. Names file, line and field."""


def _field_names(data: Any) -> Callable[[FieldPath], str]:
    """How messages name a field of this spec: a path inside a behaviour names the behaviour's id too."""

    def name(path: FieldPath) -> str:
        where = format_path(path)
        if len(path) >= 2 and path[0] == "behaviours" and isinstance(path[1], int):
            behaviours = data.get("behaviours") if isinstance(data, dict) else None
            if isinstance(behaviours, list) and path[1] < len(behaviours):
                raw = behaviours[path[1]]
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    where = f"{where} (behaviour {raw['id']})"
        return where

    return name


def _step_without_one_action(error: jsonschema.ValidationError) -> str | None:
    """A step that names none of the action kinds (the schema's anyOf of them)."""
    path = tuple(error.absolute_path)
    if error.validator != "anyOf" or not isinstance(error.instance, Mapping) or path[-2:-1] != ("steps",):
        return None
    fields = ", ".join(map(str, error.instance)) or "none"
    return f"a step needs exactly one of {', '.join(STEP_KINDS)}; found fields: {fields}"


def _duration_without_unit(error: jsonschema.ValidationError) -> str | None:
    """A number where a duration goes: the unit is missing."""
    instance = error.instance
    duration = load_schema(SCHEMA_PATH)["$defs"]["duration"]
    if (
        error.validator == "type"
        and isinstance(instance, int | float)
        and not isinstance(instance, bool)
        and 0 <= instance < math.inf  # (-5 or nan with a unit is no duration either)
        and error.schema == duration
    ):
        return f"{instance!r} is not a duration: give its unit (e.g. {instance}ms)"
    return None


#: The schema's rule that an expectation states one upper time bound (expect.dependentSchemas).
_ONE_UPPER_BOUND = {"required": ["within"]}


def _at_once_and_within(error: jsonschema.ValidationError) -> str | None:
    """An expectation with both `at_once` and `within`: two upper bounds for one call."""
    if error.validator == "not" and error.validator_value == _ONE_UPPER_BOUND:
        return (
            "at_once and within both bound how long the call takes: write at_once: true for a call "
            "that returns at once, or within: T for a rule about a duration T"
        )
    return None


def _schema_problems(doc: Marked) -> list[Problem]:
    crowded = _crowded_steps(doc.data)
    problems = [
        doc.problem(
            step_path,
            f"a step needs exactly one of {', '.join(STEP_KINDS)}; found fields: {', '.join(fields)}",
        )
        for step_path, fields in crowded.items()
    ]
    # The schema would call each action key of a crowded step unknown: those steps are said above.
    problems.extend(
        validate(
            doc,
            validator(SCHEMA_PATH),
            rules=(_step_without_one_action, _duration_without_unit, _at_once_and_within),
            ignore=crowded,
        )
    )
    return sorted(problems, key=lambda problem: problem.line)


def _crowded_steps(data: Any) -> dict[FieldPath, list[str]]:
    """The steps that name more than one action kind (STEP_KINDS), with their fields."""
    crowded: dict[FieldPath, list[str]] = {}
    behaviours = data.get("behaviours") if isinstance(data, dict) else None
    for index, raw in enumerate(behaviours if isinstance(behaviours, list) else []):
        steps = raw.get("steps") if isinstance(raw, dict) else None
        for step_index, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, dict) and sum(kind in step for kind in STEP_KINDS) > 1:
                crowded[("behaviours", index, "steps", step_index)] = [str(key) for key in step]
    return crowded


def _fields_of(definition: str) -> frozenset[str]:
    """The names of the fields whose value is `$defs/<definition>` of the schema (or may be)."""
    reference = f"#/$defs/{definition}"
    found: set[str] = set()

    def refers(schema: Any) -> bool:
        options = [*schema.get("oneOf", ()), *schema.get("anyOf", ())] if isinstance(schema, Mapping) else []
        return isinstance(schema, Mapping) and (schema.get("$ref") == reference or any(map(refers, options)))

    def visit(schema: Any) -> None:
        if isinstance(schema, Mapping):
            properties = schema.get("properties", {})
            found.update(name for name, sub in properties.items() if refers(sub))
            for sub in schema.values():
                visit(sub)
        elif isinstance(schema, list):
            for sub in schema:
                visit(sub)

    visit(load_schema(SCHEMA_PATH))
    return frozenset(found)


BYTES_FIELDS = _fields_of("bytes")
DURATION_FIELDS = _fields_of("duration")


def _seconds(text: str) -> float:
    """The duration in `text`; 0 for a text of the same field name that is no duration."""
    try:
        return parse_duration(text)
    except ValueError:
        return 0.0


def _value_problems(doc: Marked) -> list[Problem]:
    """What a valid document holds that no run can do (see MAX_NUMBER and the others)."""
    problems: list[Problem] = []
    payload = 0

    def field(key: object, value: object, path: FieldPath) -> None:
        nonlocal payload
        if key in BYTES_FIELDS and isinstance(value, str):
            wide = next((char for char in value if ord(char) > 0xFF), None)
            if wide is not None:
                utf8 = "".join(f"\\x{byte:02x}" for byte in wide.encode("utf-8", "surrogatepass"))
                problems.append(
                    doc.problem(
                        path,
                        f"{shown(value)} holds {wide!r}, which is not one byte: each character is a byte "
                        f'(U+0000..U+00FF); for its UTF-8 write "{utf8}"',
                    )
                )
        elif key in BYTES_FIELDS and isinstance(value, Mapping) and isinstance(value.get("size"), int):
            before = payload
            payload += value["size"] if value["size"] <= MAX_NUMBER else 0  # else too large already
            if payload > MAX_PAYLOAD >= before:
                message = f"the payloads of this file add up to more than {MAX_PAYLOAD // MIB} MiB"
                problems.append(doc.problem((*path, "size"), message))
        elif key in DURATION_FIELDS and isinstance(value, str) and _seconds(value) > MAX_DURATION:
            problems.append(
                doc.problem(path, f"{value} is longer than a behaviour may wait: at most {MAX_DURATION:g}s")
            )

    def visit(value: object, path: FieldPath) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                field(key, item, (*path, key))
                visit(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, (*path, index))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            bound = f"at most {MAX_NUMBER} ({MAX_NUMBER // MIB} MiB)"
            problems.append(doc.problem(path, f"{value} is too large: numbers in a spec file are {bound}"))

    visit(doc.data, ())
    return problems


def _bytes(value: str | Mapping[str, int]) -> bytes:
    if isinstance(value, str):
        return value.encode("latin-1")
    return Payload.pattern(value["size"]).data


def _range(value: int | Mapping[str, int]) -> Range:
    if isinstance(value, int):
        return Range(value, value)
    return Range(value.get("min"), value.get("max"))


def _duration(value: str | None) -> float | None:
    return None if value is None else parse_duration(value)


def _expectation(raw: Mapping[str, Any]) -> Expectation:
    errors = raw.get("error", ())
    return Expectation(
        data=_bytes(raw["data"]) if "data" in raw else None,
        length=_range(raw["length"]) if "length" in raw else None,
        eof=raw.get("eof"),
        ok=raw.get("ok"),
        errors=frozenset([errors] if isinstance(errors, str) else errors),
        not_before=raw.get("not_before"),
        before=raw.get("before"),
        within=_duration(raw.get("within")),
        at_once=raw.get("at_once"),
        min_elapsed=_duration(raw.get("min_elapsed")),
        ready=frozenset(raw["ready"]) if "ready" in raw else None,
        ready_includes=frozenset(raw.get("ready_includes", ())),
        ready_excludes=frozenset(raw.get("ready_excludes", ())),
        unread=raw.get("unread"),
        prefix_of=_bytes(raw["prefix_of"]) if "prefix_of" in raw else None,
        any_of=tuple(_expectation(option) for option in raw.get("any_of", ())),
    )


class _BehaviourBuilder:
    """Builds one behaviour and collects what the schema cannot check."""

    def __init__(self, doc: Marked, path: FieldPath, file_model: Model) -> None:
        self.doc = doc
        self.path = path
        self.file_model = file_model
        self.problems: list[Problem] = []

    def build(self, raw: Mapping[str, Any], file_source: str, families: Sequence[str]) -> Behaviour:
        model = Model(raw.get("model", self.file_model.value))
        steps = tuple(
            self._step(step, (*self.path, "steps", index)) for index, step in enumerate(raw["steps"])
        )
        self._check_names(raw["steps"], steps)
        self._check_setup(raw["id"], steps)
        mode = Mode(raw["mode"]) if "mode" in raw else DEFAULT_MODE[model]
        sock = raw.get("socket", {})
        connections = raw.get("connections", 1)
        for index, step in enumerate(steps):
            conn = step.conn if isinstance(step, Call | Peer | Check) else 1
            if conn > connections:
                self.problems.append(
                    self.doc.problem(
                        (*self.path, "steps", index, "conn"),
                        f"conn {conn} is more than this behaviour's {connections} connection(s)",
                    )
                )
        requires = set(raw.get("requires", ())) | server_steps.requirements(steps)
        families_here = [Family(name) for name in raw.get("families", families)]
        for field_path, message in server_steps.problems(model, raw, steps, families_here, self.path):
            self.problems.append(self.doc.problem(field_path, message))
        for step in steps:
            if isinstance(step, Call):
                if step.trigger in TRIGGER_NEEDS:
                    requires.add(TRIGGER_NEEDS[step.trigger])
                requires.update(EVENT_NEEDS[event] for event in step.events if event in EVENT_NEEDS)
        scale = server_steps.scale_section(raw.get("scale"))
        behaviour = Behaviour(
            id=raw["id"],
            model=model,
            level=Level(raw["level"]),
            rule=" ".join(raw["rule"].split()),
            source=raw["source"],
            origin=Origin(self.doc.file, self.doc.line(self.path)),
            steps=steps,
            families=tuple(families_here),
            topology=Topology(raw.get("connection", "pair")),
            mode=mode,
            socket=SocketOptions(**sock),
            connections=connections,
            requires=frozenset(requires),
            file_source=file_source,
            scale=scale,
        )
        # Until a level is chosen, a `count: level` connect counts the largest level.
        return server_steps.at_level(behaviour, max(scale.levels)) if scale is not None else behaviour

    def _step(self, raw: Mapping[str, Any], path: FieldPath) -> Step:
        origin = Origin(self.doc.file, self.doc.line(path))
        common: dict[str, Any] = {
            "origin": origin,
            "name": raw.get("name"),
            "after": parse_duration(raw.get("after", "0s")),
            "limit": _duration(raw.get("limit")),
            "conn": raw.get("conn", 1),
            "setup": raw.get("setup"),
        }
        expect = _expectation(raw["expect"]) if "expect" in raw else None
        if "call" in raw:
            self._check_arguments(raw, path, "call", CALL_ARGUMENTS, CALL_COMMON)
            return Call(
                op=raw["call"],
                size=raw.get("size"),
                payload=_bytes(raw["data"]) if "data" in raw else None,
                flags=frozenset(raw.get("flags", ())),
                how=raw.get("how"),
                timeout=_duration(raw.get("timeout")),
                blocking=raw.get("blocking"),
                events=frozenset(raw.get("events", ())),
                trigger=raw.get("trigger", "level"),
                sock=raw.get("sock"),
                target=raw.get("target"),
                background=raw.get("as"),
                repeat=raw.get("repeat", 1),
                expect=expect,
                **common,
            )
        if "peer" in raw:
            self._check_arguments(raw, path, "peer", PEERS, PEER_COMMON)
            return Peer(
                action=raw["peer"],
                payload=_bytes(raw["data"]) if "data" in raw else None,
                size=raw.get("size"),
                how=raw.get("how"),
                expect=expect,
                **common,
            )
        if "client" in raw:
            self._check_arguments(
                raw, path, "action", server_steps.CLIENT_ARGUMENTS, server_steps.CLIENT_COMMON
            )
            return server_steps.client_step(raw, origin, common, expect, _bytes)
        if "observe" in raw:
            return server_steps.observe_step(raw, origin, common)
        if "await" in raw:
            common.pop("conn")
            return Await(call=raw["await"], expect=expect, **common)
        probe = raw["check"]
        return Check(
            unread=probe.get("unread"),
            unread_data=_bytes(probe["unread_data"]) if "unread_data" in probe else None,
            peer_unread=probe.get("peer_unread"),
            pending=frozenset(probe.get("pending", ())),
            done=frozenset(probe.get("done", ())),
            so_error=probe.get("so_error"),
            hung_up=probe.get("hung_up"),
            **common,
        )

    def _check_arguments(
        self,
        raw: Mapping[str, Any],
        path: FieldPath,
        kind: str,
        table: Mapping[str, Arguments],
        common: frozenset[str],
    ) -> None:
        arguments = table[raw[kind]]
        for missing in sorted(arguments.needs - set(raw)):
            self.problems.append(
                self.doc.problem((*path, kind), f"{kind} {raw[kind]} needs the field {missing!r}")
            )
        for extra in sorted(set(raw) - arguments.fields - common):
            self.problems.append(
                self.doc.problem((*path, extra), f"{kind} {raw[kind]} does not take the field {extra!r}")
            )

    def _check_setup(self, own: str, steps: Sequence[Step]) -> None:
        """A set-up step names another behaviour, and some step is left for the rule to judge.
        (Whether the named behaviour exists is the corpus lint's to check: it may be in
        another file.)"""
        for index, step in enumerate(steps):
            if step.setup == own:
                self.problems.append(
                    self.doc.problem(
                        (*self.path, "steps", index, "setup"),
                        "setup names the behaviour that tests this step directly: another behaviour, "
                        "not this one (a step this behaviour judges has no setup)",
                    )
                )
        if steps and all(step.setup is not None for step in steps):
            self.problems.append(
                self.doc.problem(
                    (*self.path, "steps"),
                    "every step is marked setup, so nothing is left for the rule to judge: "
                    "leave setup off the steps the rule is about",
                )
            )

    def _check_names(self, raws: Sequence[Mapping[str, Any]], steps: Sequence[Step]) -> None:
        names: dict[str, int] = {}
        background: dict[str, int] = {}
        awaited: set[str] = set()
        for index, step in enumerate(steps):
            path = (*self.path, "steps", index)
            for name in filter(None, (step.name, getattr(step, "background", None))):
                if name in names:
                    self.problems.append(
                        self.doc.problem(path, f"the name {name!r} is already used by step {names[name] + 1}")
                    )
                names[name] = index
            if isinstance(step, Call) and step.background:
                background[step.background] = index
                if step.repeat > 1:
                    self.problems.append(
                        self.doc.problem((*path, "repeat"), "a background call cannot repeat")
                    )
            if isinstance(step, Await):
                if step.call not in background:
                    known = ", ".join(sorted(background)) or "none so far"
                    self.problems.append(
                        self.doc.problem(
                            (*path, "await"),
                            f"no earlier background call is named {step.call!r} (background calls: {known})",
                        )
                    )
                elif step.call in awaited:
                    self.problems.append(
                        self.doc.problem((*path, "await"), f"{step.call!r} is awaited twice")
                    )
                awaited.add(step.call)
            for field_name, referred in _background_references(step):
                if referred not in background:
                    known = ", ".join(sorted(background)) or "none so far"
                    self.problems.append(
                        self.doc.problem(
                            (*path, field_name),
                            f"no earlier background call is named {referred!r} (background calls: {known})",
                        )
                    )
        for name, index in background.items():
            if name not in awaited:
                self.problems.append(
                    self.doc.problem(
                        (*self.path, "steps", index, "as"),
                        f"the background call {name!r} is never awaited",
                    )
                )
        for index, raw in enumerate(raws):
            for option_path, reference in _references(raw.get("expect", {}), ("expect",)):
                if reference not in names:
                    self.problems.append(
                        self.doc.problem(
                            (*self.path, "steps", index, *option_path),
                            f"no step is named {reference!r}",
                        )
                    )


def _background_references(step: Step) -> Iterable[tuple[str, str]]:
    """(field, name) for each background call a step refers to, other than by await."""
    if isinstance(step, Call) and step.target is not None:
        yield "target", step.target
    if isinstance(step, Check):
        for referred in sorted(step.pending | step.done):
            yield "check", referred


def _references(raw: Mapping[str, Any], path: FieldPath) -> Iterable[tuple[FieldPath, str]]:
    for key in ("not_before", "before"):
        if key in raw:
            yield (*path, key), raw[key]
    for index, option in enumerate(raw.get("any_of", ())):
        yield from _references(option, (*path, "any_of", index))


_TOO_LONG = f"a spec file holds at most {MAX_TEXT:,} characters: split this one into several files"


def load_text(text: str, file: str) -> SpecFile:
    """Parse and validate one spec file's text; `file` is the name used in messages."""
    if len(text) > MAX_TEXT:
        raise SpecError([Problem(file, 1, "", _TOO_LONG)])
    try:
        doc = yaml_document(text, file)
    except Invalid as exc:
        raise SpecError(exc.problems) from None
    if not isinstance(doc.data, dict):
        empty = "the file holds no YAML document: " if doc.data is None else ""
        raise SpecError(
            [Problem(file, 1, "", f"{empty}a spec file is a mapping with model, source and behaviours")]
        )
    doc = replace(doc, name=_field_names(doc.data))
    problems = _schema_problems(doc) or _value_problems(doc)
    if problems:
        raise SpecError(problems)
    data = doc.data
    model = Model(data["model"])
    every_family = [family.value for family in Family]
    families = data.get("families", server_steps.DEFAULT_FAMILIES.get(model, every_family))
    behaviours = []
    for index, raw in enumerate(data["behaviours"]):
        builder = _BehaviourBuilder(doc, ("behaviours", index), model)
        behaviours.append(builder.build(raw, data["source"], families))
        problems.extend(builder.problems)
    for index, message in repeated_ids(behaviours, {}):
        problems.append(doc.problem(("behaviours", index, "id"), message))
    if problems:
        raise SpecError(problems)
    return SpecFile(path=file, model=model, source=data["source"], behaviours=tuple(behaviours))


def load_file(path: Path, display: str | None = None) -> SpecFile:
    """Load one spec file from disk; `display` is the name shown in messages."""
    name = display or str(path)
    try:
        with path.open(encoding="utf-8") as stream:
            text = stream.read(MAX_TEXT + 1)  # never more: a file of any size is refused at once
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(name, 1, "", f"cannot read the spec file: {exc}")]) from None
    return load_text(text, name)


def repeated_ids(behaviours: Iterable[Behaviour], seen: MutableMapping[str, Origin]) -> list[tuple[int, str]]:
    """The one check that ids are unique: within a file, and across the files of a run.

    For each behaviour whose id `seen` holds already (from another file, or from
    earlier in `behaviours`): its index and the message; the origin of each new
    id is added to `seen`.
    """
    found = []
    for index, behaviour in enumerate(behaviours):
        first = seen.setdefault(behaviour.id, behaviour.origin)
        if first != behaviour.origin:
            where = f"on line {first.line}" if first.file == behaviour.origin.file else f"at {first}"
            found.append((index, f"id {behaviour.id!r} is already used {where}"))
    return found


def check_unique_ids(files: Sequence[SpecFile], seen: MutableMapping[str, Origin] | None = None) -> None:
    """Refuse an id used by two files of one run. `seen` holds the ids of the files checked
    before (id -> where it is); the ids of `files` are added to it."""
    known: MutableMapping[str, Origin] = {} if seen is None else seen
    problems = []
    for spec in files:
        for index, message in repeated_ids(spec.behaviours, known):
            origin = spec.behaviours[index].origin
            problems.append(Problem(origin.file, origin.line, "id", message))
    if problems:
        raise SpecError(problems)
