"""Server impls as the user configures them: pyproject tables and ad hoc forms -> `ServerSpec`.

Rules of this module:
- a server is named in the user's pyproject.toml, `[tool.sockspec.impls.NAME]`,
  read with tomllib; or ad hoc on the command line: `cmd:COMMAND {port}` (split
  like a shell would) and `tcp://HOST:PORT` (a server that is already running);
- the file is read by sockspec.language.validation (tomllib, with the line of
  each key) and each impl table is checked against impls.schema.json (in
  sockspec.language) on its own, with the wording of spec errors; what a schema
  cannot say (a command without {port}, an address that is not loopback, ...)
  is code here, reported as the same `Problem`s;
- a wrong impl table breaks only its impl: `load_pyproject` returns the valid
  servers and the problems of each wrong table (`ImplTables`), and naming a
  wrong one is a `ConfigError` that names the file, the line, the table and
  the key, and says what to write instead: the user's to fix, found before
  anything runs. A file that is not valid TOML, or a [tool.sockspec] table
  that is wrong outside the impl tables, is a ConfigError for every impl;
- `restart` says when a server sockspec starts is restarted between behaviours
  (`Restart`; after-failure when not given, for cmd: and reference servers too);
  a table with an address may only say "never";
- only loopback addresses are accepted (127.0.0.0/8, ::1, localhost): sockspec
  never connects anywhere else;
- values only: no process is started and no socket opened here.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import math
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sockspec.language.timing import parse_duration
from sockspec.language.validation import (
    IMPLS_SCHEMA,
    Invalid,
    Marked,
    Problem,
    format_path,
    toml_document,
    validate,
    validator,
)

PORT = "{port}"
HOST = "{host}"
LOOPBACK_V4 = "127.0.0.1"
CMD_PREFIX = "cmd:"
TCP_PREFIX = "tcp://"
DEFAULT_STARTUP_TIMEOUT = 10.0
DEFAULT_STOP_TIMEOUT = 3.0
# The longest startup or stop timeout: longer is a mistake (and past days, more than a wait takes).
MAX_TIMEOUT = 3600.0
TABLE = "tool.sockspec.impls"
RESERVED = "this name is reserved (all, module:Class, cmd:, tcp://)"


class DeclaredModel(enum.Enum):
    """The I/O model a user says their server uses (checked by server.model.declared)."""

    THREADS = "threads"
    PROCESSES = "processes"
    READINESS = "readiness"
    COMPLETION = "completion"


class Restart(enum.Enum):
    """When sockspec restarts a server it started, before a server behaviour runs on it."""

    AFTER_FAILURE = "after-failure"  # after a behaviour failed or errored, or when it did not settle
    EACH = "each"  # before every behaviour but the first: each runs on a fresh process
    NEVER = "never"  # one process for the whole run (a server that exits stays gone)


PROTOCOLS: dict[str, str] = {"echo": "RFC 862: every byte received is sent back"}


class ConfigError(Exception):
    """A server impl is configured wrongly: the user's to fix. The message names the place."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> ConfigError:
        return cls("\n".join(str(problem) for problem in problems), problems)


@dataclass(frozen=True)
class ServerSpec:
    """A server under test: a command the checker starts, or the address of a running server.

    origin: where it was configured, as messages show it (a file and table, or --impl=...);
    command: the argument list, with {port} (and optionally {host}) still in it;
    address: (host, port) of a running server, when there is no command;
    port: a fixed port for a command without {port}; None: the checker picks a free one;
    env: extra environment variables, added to the checker's own;
    cwd: the working directory of the command (None: the directory pytest was started in);
    restart: when to restart it between behaviours (only a server sockspec starts can be).
    """

    name: str
    origin: str
    command: tuple[str, ...] = ()
    address: tuple[str, int] | None = None
    port: int | None = None
    protocol: str = "echo"
    model: DeclaredModel | None = None
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    restart: Restart = Restart.AFTER_FAILURE

    @property
    def started_by_checker(self) -> bool:
        """True when sockspec starts (and can observe) the process."""
        return bool(self.command)

    @property
    def host(self) -> str:
        return self.address[0] if self.address is not None else LOOPBACK_V4

    def argv(self, port: int) -> list[str]:
        """The command with its placeholders filled in."""
        return [arg.replace(PORT, str(port)).replace(HOST, self.host) for arg in self.command]

    def describe(self) -> str:
        """One line for the pytest header: what runs, and what it declares."""
        shown = " ".join(arg if arg in {PORT, HOST} else shlex.quote(arg) for arg in self.command)
        what = (
            f"command {shown}"
            if self.command
            else f"running at {format_address(self.host, self.address[1] if self.address else 0)}"
        )
        declared = f"declares {self.model.value}" if self.model is not None else "declares no model"
        return f"server: {what}; {self.protocol}; {declared}"


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _loopback(host: str) -> str:
    if host == "localhost":
        return LOOPBACK_V4
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{host!r} is not an IP address; give a loopback address such as 127.0.0.1 or ::1"
        ) from None
    if not ip.is_loopback:
        raise ValueError(
            f"{host} is not a loopback address; sockspec connects only to 127.0.0.1, ::1 "
            "or other loopback addresses"
        )
    return str(ip)


_ADDRESS = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>[0-9]{1,5})$")


def _address(text: str) -> tuple[str, int]:
    """(host, port) of a loopback HOST:PORT; ValueError saying what is wrong."""
    match = _ADDRESS.match(text.removeprefix(TCP_PREFIX))
    if match is None:
        raise ValueError(f"{text!r} is not HOST:PORT (write e.g. 127.0.0.1:9000 or [::1]:9000)")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not between 1 and 65535")
    return _loopback(match["v6"] or match["host"]), port


def parse_address(text: str, where: str) -> tuple[str, int]:
    """'127.0.0.1:9000', '[::1]:9000', 'localhost:9000' (optionally after tcp://) -> (host, port)."""
    try:
        return _address(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _command_problem(command: Sequence[str], has_port: bool, example: str) -> str | None:
    if not command:
        return "the command is empty"
    if not has_port and not any(PORT in arg for arg in command):
        return f"the command has no {PORT}: put {PORT} where the server takes its port ({example})"
    return None


def parse_adhoc(text: str) -> ServerSpec | None:
    """The server of an ad hoc --impl form (cmd:..., tcp://...), or None for any other name."""
    where = f"--impl={text}"
    if text.startswith(CMD_PREFIX):
        try:
            command = shlex.split(text.removeprefix(CMD_PREFIX))
        except ValueError as exc:
            raise ConfigError(f"{where}: cannot split the command ({exc})") from None
        problem = _command_problem(command, False, f'e.g. --impl="cmd:python server.py {PORT}"')
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
        return ServerSpec(name=text, origin=where, command=tuple(command))
    if text.startswith(TCP_PREFIX):
        return ServerSpec(name=text, origin=where, address=parse_address(text, where))
    return None


@dataclass(frozen=True, eq=False)
class ImplTables(Mapping[str, ServerSpec]):
    """The servers a pyproject.toml names under [tool.sockspec.impls].

    As a mapping: name -> ServerSpec of each valid table. `problems` holds,
    for each wrong table, what is wrong with it; `check(name)` raises them.
    """

    file: str = ""
    servers: Mapping[str, ServerSpec] = field(default_factory=dict)
    problems: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServerSpec:
        return self.servers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.servers)

    def __len__(self) -> int:
        return len(self.servers)

    def check(self, name: str) -> None:
        """A ConfigError naming what is wrong, when `name` is a wrong table of this file."""
        if name in self.problems:
            raise ConfigError.of(self.problems[name])


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _header(name: str) -> str:
    """[tool.sockspec.impls.NAME] as TOML writes it (a name that is not a bare key quoted)."""
    return f"[{TABLE}.{name if _BARE_KEY.match(name) else json.dumps(name)}]"


def _field(header: str, path: tuple[str | int, ...]) -> str:
    return f"{header} {format_path(path)}" if path else header


EXAMPLE_COMMAND = f'command = ["python", "server.py", "{PORT}"]'


def _command(table: Marked, has_port: bool) -> tuple[tuple[str, ...], list[Problem]]:
    raw = table.data.get("command")
    if raw is None:
        return (), []
    if isinstance(raw, str):
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            return (), [table.problem(("command",), f"cannot split the command ({exc})")]
    else:
        words = list(raw)
    problem = _command_problem(words, has_port, f"e.g. {EXAMPLE_COMMAND}, or give a fixed port = N")
    return tuple(words), [table.problem(("command",), problem)] if problem is not None else []


def _seconds(table: Marked, key: str, default: float, problems: list[Problem]) -> float:
    value = table.data.get(key, default)
    try:
        seconds = parse_duration(value) if isinstance(value, str) else float(value)
    except OverflowError:  # an integer past a float's range
        seconds = math.inf
    if math.isnan(seconds):
        problems.append(table.problem((key,), 'nan is not a duration (write e.g. "10s")'))
    elif seconds <= 0:
        problems.append(table.problem((key,), "must be more than 0"))
    elif seconds > MAX_TIMEOUT:
        problems.append(table.problem((key,), f"must be at most {MAX_TIMEOUT:g}s"))
    return seconds


def _unpassable(table: Marked, command: Sequence[str]) -> list[Problem]:
    """What no process can be given: a NUL character, an environment variable named with '='."""
    raw: Mapping[str, Any] = table.data
    listed = isinstance(raw.get("command"), list)
    env: Mapping[str, str] = raw.get("env", {})
    texts: list[tuple[tuple[str | int, ...], str]] = [
        (("command", index) if listed else ("command",), arg) for index, arg in enumerate(command)
    ]
    texts.extend((("env", name), name + value) for name, value in env.items())
    texts.append((("cwd",), raw.get("cwd", "")))
    problems = [
        table.problem(path, "holds a NUL character (\\0), which no process can be given")
        for path, text in texts
        if "\0" in text
    ]
    problems.extend(
        table.problem(("env", name), "the name of an environment variable cannot be empty or hold '='")
        for name in env
        if not name or "=" in name
    )
    return problems


def _server(path: Path, name: str, table: Marked) -> tuple[ServerSpec | None, list[Problem]]:
    """The server of one impl table the schema accepted, or what the schema could not say."""
    raw: Mapping[str, Any] = table.data
    port = raw.get("port")
    command, problems = _command(table, port is not None)
    if "command" in raw and "address" in raw:
        problems.append(table.problem((), "give either command (sockspec starts it) or address, not both"))
    elif "command" not in raw and "address" not in raw:
        problems.append(
            table.problem(
                (),
                f"give a command (e.g. {EXAMPLE_COMMAND}) "
                'or the address of a running server (e.g. address = "127.0.0.1:9000")',
            )
        )
    address = None
    if "address" in raw:
        try:
            address = _address(raw["address"])
        except ValueError as exc:
            problems.append(table.problem(("address",), str(exc)))
        if port is not None:
            problems.append(table.problem(("port",), "port goes with a command; the address already has one"))
    if "address" in raw and raw.get("restart", Restart.NEVER.value) != Restart.NEVER.value:
        problems.append(
            table.problem(
                ("restart",),
                "sockspec cannot restart a server it did not start: give a command instead of the address, "
                'or leave restart out (or write restart = "never")',
            )
        )
    startup = _seconds(table, "startup_timeout", DEFAULT_STARTUP_TIMEOUT, problems)
    stop = _seconds(table, "stop_timeout", DEFAULT_STOP_TIMEOUT, problems)
    problems.extend(_unpassable(table, command))
    if problems:
        return None, problems
    model = raw.get("model")
    cwd = raw.get("cwd")
    base = path.parent
    server = ServerSpec(
        name=name,
        origin=f"{path} {_header(name)}",
        command=command,
        address=address,
        port=port,
        protocol=raw.get("protocol", "echo"),
        model=DeclaredModel(model) if model is not None else None,
        startup_timeout=startup,
        stop_timeout=stop,
        env=tuple(sorted(raw.get("env", {}).items())),
        cwd=str((base / cwd).resolve()) if cwd is not None else str(base),
        restart=Restart(raw.get("restart", Restart.AFTER_FAILURE.value)),
    )
    return server, []


def _tool_table(data: Mapping[str, Any]) -> Any:
    tool = data.get("tool")
    return tool.get("sockspec") if isinstance(tool, dict) else None


def load_pyproject(path: Path) -> ImplTables:
    """The servers a pyproject.toml names under [tool.sockspec.impls], and what is wrong with
    the others. ConfigError when the file cannot be read, is not TOML, or its [tool.sockspec]
    table is wrong outside the impl tables."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        doc = toml_document(text, str(path))
    except Invalid as exc:
        raise ConfigError.of(exc.problems) from None
    if _tool_table(doc.data) is None:
        return ImplTables(str(path))
    section = doc.at(("tool", "sockspec"), name=partial(_field, "[tool.sockspec]"))
    problems = validate(section, validator(IMPLS_SCHEMA))
    impls = section.data.get("impls", {}) if not problems else {}
    tables = {name: section.at(("impls", name), name=partial(_field, _header(name))) for name in impls}
    problems.extend(
        table.problem((), RESERVED) for name, table in tables.items() if ":" in name or name == "all"
    )
    if problems:
        raise ConfigError.of(problems)
    servers: dict[str, ServerSpec] = {}
    wrong: dict[str, tuple[Problem, ...]] = {}
    for name, table in tables.items():
        found = validate(table, validator(IMPLS_SCHEMA, "impl"))
        server, more = (None, []) if found else _server(path, name, table)
        if server is not None:
            servers[name] = server
        else:
            wrong[name] = tuple(found or more)
    return ImplTables(str(path), servers, wrong)


def has_sockspec_table(path: Path) -> bool:
    """True when `path` is a readable pyproject.toml with a [tool.sockspec] table."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        return _tool_table(tomllib.loads(text)) is not None
    except (tomllib.TOMLDecodeError, RecursionError):
        return (
            "[tool.sockspec" in text
        )  # broken TOML that means to configure sockspec: load_pyproject says why


def find_pyproject(start: Path, rootdir: Path) -> Path | None:
    """The pyproject.toml whose [tool.sockspec] applies: the rootdir's, else the nearest above `start`."""
    candidates = [
        rootdir / "pyproject.toml",
        *(folder / "pyproject.toml" for folder in (start, *start.parents)),
    ]
    for candidate in candidates:
        if candidate.is_file() and has_sockspec_table(candidate):
            return candidate
    return None
