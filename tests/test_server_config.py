"""Server impls as configured: pyproject tables, ad hoc forms, and the errors a user sees.

Rules of this file:
- pyproject files are written to a temporary folder and read back; nothing is started;
- every error message is checked whole or by its leading words, so it keeps
  naming the file, the line, the table and the key.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sockspec.plugin.registry import REFERENCE_SERVERS, known_names, resolve
from sockspec.servers.config import (
    ConfigError,
    DeclaredModel,
    ServerSpec,
    find_pyproject,
    load_pyproject,
    parse_address,
    parse_adhoc,
)


def write(folder: Path, text: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def error_of(folder: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_pyproject(write(folder, text))
    return str(caught.value)


def test_load_pyproject_reads_every_key(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    path = write(
        tmp_path,
        """
        [tool.sockspec.impls.myserver]
        command = ["python", "server.py", "--port", "{port}"]
        protocol = "echo"
        model = "readiness"
        startup_timeout = "3s"
        stop_timeout = 1.5
        env = { DEBUG = "1" }
        cwd = "srv"
        """,
    )
    server = load_pyproject(path)["myserver"]
    assert server == ServerSpec(
        name="myserver",
        origin=f"{path} [tool.sockspec.impls.myserver]",
        command=("python", "server.py", "--port", "{port}"),
        model=DeclaredModel.READINESS,
        startup_timeout=3.0,
        stop_timeout=1.5,
        env=(("DEBUG", "1"),),
        cwd=str(tmp_path / "srv"),
    )
    assert server.argv(4000) == ["python", "server.py", "--port", "4000"]
    assert server.started_by_checker


def test_load_pyproject_command_as_a_string_is_split(tmp_path: Path) -> None:
    path = write(
        tmp_path, "[tool.sockspec.impls.s]\ncommand = \"./server --port {port} --name 'my server'\"\n"
    )
    assert load_pyproject(path)["s"].command == ("./server", "--port", "{port}", "--name", "my server")


def test_load_pyproject_address_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '[tool.sockspec.impls.running]\naddress = "localhost:9000"\n')
    server = load_pyproject(path)["running"]
    assert server.address == ("127.0.0.1", 9000)
    assert not server.started_by_checker
    assert (server.model, server.protocol, server.startup_timeout) == (None, "echo", 10.0)


def test_load_pyproject_without_a_sockspec_table_names_nothing(tmp_path: Path) -> None:
    assert load_pyproject(write(tmp_path, '[project]\nname = "x"\n')) == {}


def test_unknown_key_names_the_line_and_suggests(tmp_path: Path) -> None:
    text = error_of(tmp_path, '[tool.sockspec.impls.s]\ncommand = ["a", "{port}"]\nmodle = "threads"\n')
    assert text.startswith(
        f"{tmp_path}/pyproject.toml:3: [tool.sockspec.impls.s] modle: unknown key (did you mean 'model'?); "
        "the keys are: command ("
    )


def test_model_typo_lists_the_models(tmp_path: Path) -> None:
    text = error_of(tmp_path, '[tool.sockspec.impls.s]\ncommand = ["a", "{port}"]\nmodel = "thread"\n')
    assert text == (
        f"{tmp_path}/pyproject.toml:3: [tool.sockspec.impls.s] model: 'thread' is not one of: "
        "threads, processes, readiness, completion (did you mean 'threads'?)"
    )


def test_command_without_port_says_where_it_goes(tmp_path: Path) -> None:
    text = error_of(tmp_path, '[tool.sockspec.impls.s]\ncommand = ["python", "server.py"]\n')
    assert text == (
        f"{tmp_path}/pyproject.toml:2: [tool.sockspec.impls.s] command: the command has no {{port}}: "
        'put {port} where the server takes its port (e.g. command = ["python", "server.py", "{port}"], '
        "or give a fixed port = N)"
    )


def test_fixed_port_needs_no_placeholder(tmp_path: Path) -> None:
    server = load_pyproject(write(tmp_path, '[tool.sockspec.impls.s]\ncommand = ["./srv"]\nport = 9000\n'))[
        "s"
    ]
    assert (server.port, server.argv(9000)) == (9000, ["./srv"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'address = "127.0.0.1:1"\ncommand = ["a", "{port}"]',
            "give either command (sockspec starts it) or address",
        ),
        ('protocol = "echo"', "give a command (e.g. command = "),
        ('address = "10.1.2.3:80"', "address: 10.1.2.3 is not a loopback address"),
        ('address = "example.com:80"', "address: 'example.com' is not an IP address"),
        ('address = "127.0.0.1"', "address: '127.0.0.1' is not HOST:PORT"),
        ('command = ["a", "{port}"]\nenv = { N = 1 }', "env: expected a table of strings"),
        ('command = ["a", "{port}"]\nstartup_timeout = "10 s"', "startup_timeout: not a duration: '10 s'"),
        ('command = ["a", "{port}"]\nstartup_timeout = 0', "startup_timeout: must be more than 0"),
        ("command = [1, 2]", "command: expected a list of strings"),
        ('command = ["a", "{port}"]\nport = 70000', "port: expected a port number between 1 and 65535"),
    ],
)
def test_table_errors(tmp_path: Path, body: str, message: str) -> None:
    text = error_of(tmp_path, f"[tool.sockspec.impls.s]\n{body}\n")
    assert text.startswith(f"{tmp_path}/pyproject.toml:"), text
    assert message in text, text


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    text = error_of(tmp_path, "[tool.sockspec.impls.s]\ncommand = [\n")
    assert text.startswith(f"{tmp_path}/pyproject.toml: not valid TOML (")


def test_reserved_names_are_refused(tmp_path: Path) -> None:
    text = error_of(tmp_path, '[tool.sockspec.impls.all]\ncommand = ["a", "{port}"]\n')
    assert "this name is reserved" in text


def test_adhoc_command_is_split_like_a_shell() -> None:
    server = parse_adhoc("cmd:python 'my server.py' --port {port}")
    assert server is not None
    assert server.command == ("python", "my server.py", "--port", "{port}")
    assert server.origin == "--impl=cmd:python 'my server.py' --port {port}"


def test_adhoc_command_without_port_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^--impl=cmd:python s\.py: the command has no \{port\}"):
        parse_adhoc("cmd:python s.py")


def test_adhoc_address_forms() -> None:
    assert parse_address("tcp://[::1]:8080", "x") == ("::1", 8080)
    assert parse_address("127.0.0.5:1", "x") == ("127.0.0.5", 1)
    server = parse_adhoc("tcp://127.0.0.1:9000")
    assert server is not None and server.address == ("127.0.0.1", 9000)
    assert parse_adhoc("sockets") is None
    assert parse_adhoc("module:Class") is None


def test_find_pyproject_prefers_the_rootdir_then_the_nearest(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    write(tmp_path / "a", '[tool.sockspec.impls.s]\ncommand = ["x", "{port}"]\n')
    (inner / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    assert find_pyproject(inner, inner) == tmp_path / "a" / "pyproject.toml"
    assert find_pyproject(tmp_path, tmp_path) is None


def test_resolve_configured_server_and_reference_names() -> None:
    mine = ServerSpec(name="mine", origin="test", command=("x", "{port}"))
    impls = resolve(["mine", "sockets", "forking"], {"mine": mine})
    assert [(impl.name, impl.driver is not None, impl.server is not None) for impl in impls] == [
        ("mine", False, True),
        ("sockets", True, True),
        ("forking", False, True),
    ]
    assert impls[1].server is not None and impls[1].server.model is DeclaredModel.THREADS
    assert "mine" in known_names(["mine"])
    assert set(REFERENCE_SERVERS) <= set(known_names())


def test_resolve_unknown_name_lists_configured_servers() -> None:
    mine = ServerSpec(name="myserver", origin="test", command=("x", "{port}"))
    with pytest.raises(
        LookupError, match=r"^unknown impl 'myserve'\. Did you mean 'myserver'\? Known impls: "
    ):
        resolve(["myserve"], {"myserver": mine})
