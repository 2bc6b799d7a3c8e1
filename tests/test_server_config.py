"""Server impls as configured: pyproject tables, ad hoc forms, and the errors a user sees.

Rules of this file:
- pyproject files are written to a temporary folder and read back; nothing is started;
- every error message is checked whole or by its leading words, so it keeps
  naming the file, the line, the table and the key;
- a wrong impl table is an error when that impl is named (`error_of`); a file
  that is wrong as a whole is an error when it is loaded (`file_error_of`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sockspec.language.validation import IMPLS_SCHEMA, load_schema
from sockspec.plugin.registry import REFERENCE_SERVERS, known_names, resolve
from sockspec.servers.config import (
    PROTOCOLS,
    ConfigError,
    DeclaredModel,
    ImplTables,
    Restart,
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


def error_of(folder: Path, text: str, name: str = "s") -> str:
    """The message of naming `name`, whose table in this pyproject is wrong."""
    tables = load_pyproject(write(folder, text))
    assert name not in tables
    with pytest.raises(ConfigError) as caught:
        tables.check(name)
    return str(caught.value)


def file_error_of(folder: Path, text: str) -> str:
    """The message of loading a pyproject that is wrong as a whole."""
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
    tables = load_pyproject(write(tmp_path, '[project]\nname = "x"\n'))
    assert tables == {}
    assert tables == ImplTables(str(tmp_path / "pyproject.toml"))


def test_unknown_key_names_the_line_and_suggests(tmp_path: Path) -> None:
    text = error_of(tmp_path, '[tool.sockspec.impls.s]\ncommand = ["a", "{port}"]\nmodle = "threads"\n')
    assert text.startswith(
        f"{tmp_path}/pyproject.toml:3: [tool.sockspec.impls.s] modle: unknown field 'modle' "
        "(did you mean 'model'?); allowed here: address (HOST:PORT of a server that is already running "
        "(loopback only)); command (the command that starts the server: "
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


@pytest.mark.parametrize(
    ("line", "restart"),
    [
        ("", Restart.AFTER_FAILURE),
        ('restart = "after-failure"', Restart.AFTER_FAILURE),
        ('restart = "each"', Restart.EACH),
        ('restart = "never"', Restart.NEVER),
    ],
)
def test_restart_policy(tmp_path: Path, line: str, restart: Restart) -> None:
    text = f'[tool.sockspec.impls.s]\ncommand = ["./srv", "{{port}}"]\n{line}\n'
    assert load_pyproject(write(tmp_path, text))["s"].restart is restart


def test_ad_hoc_and_reference_servers_restart_after_a_failure() -> None:
    server = parse_adhoc("cmd:./srv {port}")
    assert server is not None and server.restart is Restart.AFTER_FAILURE
    servers = [impl.server for impl in resolve(["all"]) if impl.server is not None]
    assert servers and all(server.restart is Restart.AFTER_FAILURE for server in servers)


def test_a_server_given_by_address_may_only_say_never(tmp_path: Path) -> None:
    text = '[tool.sockspec.impls.s]\naddress = "127.0.0.1:9000"\nrestart = "never"\n'
    assert load_pyproject(write(tmp_path, text))["s"].restart is Restart.NEVER


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
        ('command = ["a", "{port}"]\nenv = { N = 1 }', "env.N: 1 is not a string"),
        ('command = ["a", "{port}"]\nenv = 1', "env: 1 is not a table"),
        (
            'command = ["a", "{port}"]\nstartup_timeout = "10 s"',
            "startup_timeout: '10 s' is not a duration "
            '(write e.g. "10s" or "500ms", or a number of seconds)',
        ),
        ('command = ["a", "{port}"]\nstartup_timeout = 0', "startup_timeout: must be more than 0"),
        ('command = ["a", "{port}"]\nstop_timeout = "0ms"', "stop_timeout: must be more than 0"),
        ("command = [1, 2]", "command[0]: 1 is not a string"),
        ("command = 3", "command: 3 is not a command: a list of strings such as"),
        ('command = "a \'{port}"', "command: cannot split the command (No closing quotation)"),
        ("command = []", "command: the command is empty"),
        ('command = ["a", "{port}"]\nport = 70000', "port: 70000 is not a port number between 1 and 65535"),
        ('address = "127.0.0.1:1"\nport = 9', "port: port goes with a command; the address already has one"),
        ('command = ["a", "{port}"]\nprotocol = "http"', "protocol: 'http' is not one of: echo"),
        (
            'command = ["a", "{port}"]\nrestart = "always"',
            "3: [tool.sockspec.impls.s] restart: 'always' is not one of: after-failure, each, never",
        ),
        (
            'address = "127.0.0.1:1"\nrestart = "each"',
            "3: [tool.sockspec.impls.s] restart: sockspec cannot restart a server it did not start: "
            'give a command instead of the address, or leave restart out (or write restart = "never")',
        ),
    ],
)
def test_table_errors(tmp_path: Path, body: str, message: str) -> None:
    text = error_of(tmp_path, f"[tool.sockspec.impls.s]\n{body}\n")
    assert text.startswith(f"{tmp_path}/pyproject.toml:"), text
    assert message in text, text


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    text = file_error_of(tmp_path, '[tool.sockspec.impls.s]\ncommand = ["a"\nmodel = 1\n')
    assert text.startswith(f"{tmp_path}/pyproject.toml:3: not valid TOML: "), text


def test_reserved_names_are_refused(tmp_path: Path) -> None:
    text = file_error_of(tmp_path, '[tool.sockspec.impls.all]\ncommand = ["a", "{port}"]\n')
    assert text == (
        f"{tmp_path}/pyproject.toml:1: [tool.sockspec.impls.all]: "
        "this name is reserved (all, module:Class, cmd:, tcp://)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[tool.sockspec]\nimlps = 1\n",
            "2: [tool.sockspec] imlps: unknown field 'imlps' (did you mean 'impls'?); allowed here: impls (",
        ),
        ("[tool.sockspec]\nimpls = 1\n", "2: [tool.sockspec] impls: 1 is not a table"),
        ("[tool]\nsockspec = 1\n", "2: [tool.sockspec]: 1 is not a table"),
    ],
)
def test_a_wrong_sockspec_table_is_an_error_for_every_impl(tmp_path: Path, text: str, message: str) -> None:
    assert file_error_of(tmp_path, text).startswith(f"{tmp_path}/pyproject.toml:{message}")


BROKEN_BESIDE_GOOD = """
    [tool.sockspec.impls.good]
    command = ["python", "server.py", "{port}"]

    [tool.sockspec.impls."broken one"]
    command = ["python", "server.py", "{port}"]
    model = "thread"
    stop_timeout = "soon"
    """


def test_a_wrong_table_breaks_only_its_impl(tmp_path: Path) -> None:
    tables = load_pyproject(write(tmp_path, BROKEN_BESIDE_GOOD))
    assert list(tables) == ["good"]
    assert [impl.name for impl in resolve(["good", "sockets"], tables)] == ["good", "sockets"]
    with pytest.raises(ConfigError) as caught:
        resolve(["good", "broken one"], tables)
    assert str(caught.value) == (
        f'{tmp_path}/pyproject.toml:6: [tool.sockspec.impls."broken one"] model: '
        "'thread' is not one of: threads, processes, readiness, completion (did you mean 'threads'?)\n"
        f'{tmp_path}/pyproject.toml:7: [tool.sockspec.impls."broken one"] stop_timeout: '
        '\'soon\' is not a duration (write e.g. "10s" or "500ms", or a number of seconds)'
    )
    assert [str(problem) for problem in caught.value.problems] == str(caught.value).splitlines()


def test_a_near_name_suggests_a_wrong_table_too(tmp_path: Path) -> None:
    tables = load_pyproject(write(tmp_path, BROKEN_BESIDE_GOOD))
    with pytest.raises(LookupError, match=r"^unknown impl 'broken on'\. Did you mean 'broken one'\?"):
        resolve(["broken on"], tables)


def test_lines_are_found_in_inline_and_dotted_tables(tmp_path: Path) -> None:
    text = error_of(
        tmp_path,
        """
        [tool.sockspec]
        impls.t.command = [
            "b",
            3,
        ]
        impls.s = { command = ["a"] }
        """,
    )
    assert text.startswith(
        f"{tmp_path}/pyproject.toml:6: [tool.sockspec.impls.s] command: the command has no"
    )
    second = str(load_pyproject(tmp_path / "pyproject.toml").problems["t"][0])
    assert second == f"{tmp_path}/pyproject.toml:4: [tool.sockspec.impls.t] command[1]: 3 is not a string"


def test_the_impls_schema_follows_the_models_and_protocols() -> None:
    impl = load_schema(IMPLS_SCHEMA)["$defs"]["impl"]["properties"]
    assert impl["model"]["enum"] == [model.value for model in DeclaredModel]
    assert impl["protocol"]["enum"] == list(PROTOCOLS)
    assert impl["restart"]["enum"] == [restart.value for restart in Restart]


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
