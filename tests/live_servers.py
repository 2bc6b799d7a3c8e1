"""Servers a test starts itself, the way the plugin starts them (sockspec.servers.live), for the
test's duration: the reference servers by module, the faulty ones by script.

Rules of this module:
- a command is a tuple with `{port}` where the plugin puts the port;
- `live` is a fixture's body: it yields the started server, then stops it and
  removes its output, whatever the test did.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

from sockspec.servers.config import DeclaredModel, ServerSpec
from sockspec.servers.live import LiveServer

from tests.faulty_servers import FOLDER


def reference(module: str) -> tuple[str, ...]:
    """The command of the reference server `module` of sockspec.reference_impls."""
    return (sys.executable, "-m", f"sockspec.reference_impls.{module}", "--port", "{port}")


def faulty(name: str) -> tuple[str, ...]:
    """The command of the faulty server tests/faulty_servers/`name`.py."""
    return (sys.executable, str(FOLDER / f"{name}.py"), "--port", "{port}")


def live(command: Sequence[str], model: str | None = None) -> Iterator[LiveServer]:
    """The server `command` runs, declaring `model` if given, started; stopped after."""
    spec = ServerSpec(
        name="srv", origin="test", command=tuple(command), model=DeclaredModel(model) if model else None
    )
    server = LiveServer(spec, FOLDER)
    try:
        server.ensure()
        yield server
    finally:
        server.stop()
        server.remove_output()
