"""Server impls as the user configures them: pyproject tables and ad hoc forms -> `ServerSpec`.

Rules of this module:
- a server is named in the user's pyproject.toml, `[tool.sockspec.impls.NAME]`,
  read with tomllib; or ad hoc on the command line: `cmd:COMMAND {port}` (split
  like a shell would) and `tcp://HOST:PORT` (a server that is already running);
- every problem is a `ConfigError` that names the file, the line of the table
  when it can be found, the impl and the key, and says what to write instead:
  the user's to fix, found before anything runs;
- only loopback addresses are accepted (127.0.0.0/8, ::1, localhost): sockspec
  never connects anywhere else;
- values only: no process is started and no socket opened here.
"""

from __future__ import annotations

import difflib
import enum
import ipaddress
import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sockspec.language.timing import parse_duration

PORT = "{port}"
HOST = "{host}"
LOOPBACK_V4 = "127.0.0.1"
CMD_PREFIX = "cmd:"
TCP_PREFIX = "tcp://"
DEFAULT_STARTUP_TIMEOUT = 10.0
DEFAULT_STOP_TIMEOUT = 3.0


class DeclaredModel(enum.Enum):
    """The I/O model a user says their server uses (checked by server.model.declared)."""

    THREADS = "threads"
    PROCESSES = "processes"
    READINESS = "readiness"
    COMPLETION = "completion"


PROTOCOLS: dict[str, str] = {"echo": "RFC 862: every byte received is sent back"}

# Keys of a [tool.sockspec.impls.NAME] table, with what each means (shown when a key is unknown).
KEYS: dict[str, str] = {
    "command": "the command that starts the server: a list of arguments with {port} where the port goes",
    "address": "HOST:PORT of a server that is already running (loopback only)",
    "port": "a fixed port, for a command that cannot take {port}",
    "protocol": "what the server speaks: " + ", ".join(PROTOCOLS),
    "model": "the I/O model the server declares: " + ", ".join(model.value for model in DeclaredModel),
    "startup_timeout": "how long it may take to start listening, e.g. 10s",
    "stop_timeout": "how long it may take to exit after SIGTERM before it is killed, e.g. 3s",
    "env": "extra environment variables, a table of strings",
    "cwd": "the working directory, relative to the pyproject.toml",
}


class ConfigError(Exception):
    """A server impl is configured wrongly: the user's to fix. The message names the place."""


@dataclass(frozen=True)
class ServerSpec:
    """A server under test: a command the checker starts, or the address of a running server.

    origin: where it was configured, as messages show it (a file and table, or --impl=...);
    command: the argument list, with {port} (and optionally {host}) still in it;
    address: (host, port) of a running server, when there is no command;
    port: a fixed port for a command without {port}; None: the checker picks a free one;
    env: extra environment variables, added to the checker's own;
    cwd: the working directory of the command (None: the directory pytest was started in).
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


def _loopback(host: str, where: str) -> str:
    if host == "localhost":
        return LOOPBACK_V4
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"{where}: {host!r} is not an IP address; give a loopback address such as 127.0.0.1 or ::1"
        ) from None
    if not ip.is_loopback:
        raise ConfigError(
            f"{where}: {host} is not a loopback address; sockspec connects only to 127.0.0.1, ::1 "
            "or other loopback addresses"
        )
    return str(ip)


_ADDRESS = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>[0-9]{1,5})$")


def parse_address(text: str, where: str) -> tuple[str, int]:
    """'127.0.0.1:9000', '[::1]:9000', 'localhost:9000' (optionally after tcp://) -> (host, port)."""
    bare = text.removeprefix(TCP_PREFIX)
    match = _ADDRESS.match(bare)
    if match is None:
        raise ConfigError(f"{where}: {text!r} is not HOST:PORT (write e.g. 127.0.0.1:9000 or [::1]:9000)")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: port {port} is not between 1 and 65535")
    return _loopback(match["v6"] or match["host"], where), port


def _check_command(command: Sequence[str], has_port: bool, where: str, example: str) -> tuple[str, ...]:
    if not command:
        raise ConfigError(f"{where}: the command is empty")
    if not has_port and not any(PORT in arg for arg in command):
        raise ConfigError(
            f"{where}: the command has no {PORT}: put {PORT} where the server takes its port ({example})"
        )
    return tuple(command)


def parse_adhoc(text: str) -> ServerSpec | None:
    """The server of an ad hoc --impl form (cmd:..., tcp://...), or None for any other name."""
    where = f"--impl={text}"
    if text.startswith(CMD_PREFIX):
        try:
            command = shlex.split(text.removeprefix(CMD_PREFIX))
        except ValueError as exc:
            raise ConfigError(f"{where}: cannot split the command ({exc})") from None
        example = f'e.g. --impl="cmd:python server.py {PORT}"'
        return ServerSpec(name=text, origin=where, command=_check_command(command, False, where, example))
    if text.startswith(TCP_PREFIX):
        return ServerSpec(name=text, origin=where, address=parse_address(text, where))
    return None


def _line_of(text: str, name: str, key: str | None) -> int | None:
    """The line of `[tool.sockspec.impls.NAME]` (or of KEY inside it), when it can be found."""
    quoted = rf"(?:{re.escape(name)}|\"{re.escape(name)}\"|'{re.escape(name)}')"
    header = re.compile(rf"^\s*\[\s*tool\.sockspec\.impls\.{quoted}\s*\]")
    inline = re.compile(rf"^\s*{quoted}\s*=")
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if header.match(line):
            if key is None:
                return number
            for offset, inner in enumerate(lines[number:], start=number + 1):
                if inner.lstrip().startswith("["):
                    break
                if re.match(rf"^\s*{re.escape(key)}\s*=", inner):
                    return offset
            return number
        if inline.match(line):
            return number
    return None


class _Table:
    """One [tool.sockspec.impls.NAME] table being read, for messages that name the place."""

    def __init__(self, path: Path, text: str, name: str, raw: Mapping[str, Any]) -> None:
        self.path = path
        self.text = text
        self.name = name
        self.raw = raw

    def where(self, key: str | None = None) -> str:
        line = _line_of(self.text, self.name, key)
        place = f"{self.path}:{line}" if line is not None else str(self.path)
        table = f"[tool.sockspec.impls.{self.name}]"
        return f"{place}: {table} {key}" if key else f"{place}: {table}"

    def text_value(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self.where(key)}: expected a string, found {value!r}")
        return value

    def duration(self, key: str, default: float) -> float:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f'{self.where(key)}: expected a duration such as "10s", found {value!r}')
        if isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                raise ConfigError(f"{self.where(key)}: {exc}") from None
        else:
            seconds = float(value)
        if seconds <= 0:
            raise ConfigError(f"{self.where(key)}: must be more than 0")
        return seconds

    def choice(self, key: str, options: Sequence[str], default: str | None) -> str | None:
        value = self.text_value(key)
        if value is None:
            return default
        if value not in options:
            raise ConfigError(
                f"{self.where(key)}: {value!r} is not one of: {', '.join(options)}"
                f"{_did_you_mean(value, options)}"
            )
        return value


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _command(table: _Table, has_port: bool) -> tuple[str, ...]:
    raw = table.raw.get("command")
    if raw is None:
        return ()
    if isinstance(raw, str):
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            raise ConfigError(f"{table.where('command')}: cannot split the command ({exc})") from None
    elif isinstance(raw, list) and all(isinstance(word, str) for word in raw):
        words = list(raw)
    else:
        raise ConfigError(
            f"{table.where('command')}: expected a list of strings such as "
            f'["python", "server.py", "{PORT}"], found {raw!r}'
        )
    example = f'e.g. command = ["python", "server.py", "{PORT}"], or give a fixed port = N'
    return _check_command(words, has_port, table.where("command"), example)


def _env(table: _Table) -> tuple[tuple[str, str], ...]:
    raw = table.raw.get("env", {})
    if not isinstance(raw, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in raw.items()
    ):
        raise ConfigError(f'{table.where("env")}: expected a table of strings, e.g. env = {{ DEBUG = "1" }}')
    return tuple(sorted(raw.items()))


def _port(table: _Table) -> int | None:
    raw = table.raw.get("port")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 65536:
        raise ConfigError(f"{table.where('port')}: expected a port number between 1 and 65535, found {raw!r}")
    return raw


def _server(table: _Table) -> ServerSpec:
    unknown = sorted(set(table.raw) - set(KEYS))
    if unknown:
        key = unknown[0]
        raise ConfigError(
            f"{table.where(key)}: unknown key{_did_you_mean(key, list(KEYS))}; the keys are: "
            + "; ".join(f"{name} ({meaning})" for name, meaning in KEYS.items())
        )
    port = _port(table)
    command = _command(table, port is not None)
    address_text = table.text_value("address")
    if command and address_text is not None:
        raise ConfigError(f"{table.where()}: give either command (sockspec starts it) or address, not both")
    if not command and address_text is None:
        raise ConfigError(
            f'{table.where()}: give a command (e.g. command = ["python", "server.py", "{PORT}"]) '
            'or the address of a running server (e.g. address = "127.0.0.1:9000")'
        )
    address = parse_address(address_text, table.where("address")) if address_text is not None else None
    if address is not None and port is not None:
        raise ConfigError(f"{table.where('port')}: port goes with a command; the address already has one")
    model = table.choice("model", [model.value for model in DeclaredModel], None)
    cwd = table.text_value("cwd")
    base = table.path.parent
    return ServerSpec(
        name=table.name,
        origin=f"{table.path} [tool.sockspec.impls.{table.name}]",
        command=command,
        address=address,
        port=port,
        protocol=table.choice("protocol", list(PROTOCOLS), "echo") or "echo",
        model=DeclaredModel(model) if model is not None else None,
        startup_timeout=table.duration("startup_timeout", DEFAULT_STARTUP_TIMEOUT),
        stop_timeout=table.duration("stop_timeout", DEFAULT_STOP_TIMEOUT),
        env=_env(table),
        cwd=str((base / cwd).resolve()) if cwd is not None else str(base),
    )


def _tool_table(data: Mapping[str, Any]) -> Any:
    tool = data.get("tool")
    return tool.get("sockspec") if isinstance(tool, dict) else None


def load_pyproject(path: Path) -> dict[str, ServerSpec]:
    """The servers a pyproject.toml names under [tool.sockspec.impls], by name."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    sockspec = _tool_table(data)
    if sockspec is None:
        return {}
    if not isinstance(sockspec, dict):
        raise ConfigError(f"{path}: [tool.sockspec] must be a table")
    unknown = sorted(set(sockspec) - {"impls"})
    if unknown:
        raise ConfigError(
            f"{path}: [tool.sockspec] has an unknown key {unknown[0]!r}; it holds impls.NAME tables"
        )
    impls = sockspec.get("impls", {})
    if not isinstance(impls, dict):
        raise ConfigError(
            f"{path}: [tool.sockspec.impls] must be a table of [tool.sockspec.impls.NAME] tables"
        )
    servers: dict[str, ServerSpec] = {}
    for name, raw in impls.items():
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: tool.sockspec.impls.{name} must be a table")
        if ":" in name or name == "all":
            raise ConfigError(
                f"{path}: [tool.sockspec.impls.{name}]: this name is reserved (all, module:Class, cmd:, tcp://)"
            )
        servers[name] = _server(_Table(path, text, name, raw))
    return servers


def has_sockspec_table(path: Path) -> bool:
    """True when `path` is a readable pyproject.toml with a [tool.sockspec] table."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        return _tool_table(tomllib.loads(text)) is not None
    except tomllib.TOMLDecodeError:
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
