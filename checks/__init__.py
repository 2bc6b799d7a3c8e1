"""sockspec: conformance specs for socket I/O models, run by pytest.

The package is grouped in layers, each allowed to import only the layers below it
(import-linter contracts in pyproject.toml enforce it):

- plugin:    the pytest glue (options, items, the recorder, the impl registry);
- reports:   records of a run, the gate, the baseline, terminal / JSON / HTML text;
- servers:   server processes, the checker's clients, /proc observation and inference;
- driving:   the runner, the driver contracts, the peer, connections, operations;
- judging:   verdicts (expectations against what was observed), the trace's events,
             and the skeleton both runners share (the step loop, the item deadline);
- language:  the spec language: model values, loader, timing, error kinds, the corpus.

Public names are imported lazily, so `import sockspec` (and every reference server's
start-up) loads nothing it does not use. The pytest plugin (sockspec.plugin) is
loaded by pytest's entry point; nothing here imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sockspec.driving.drivers import Completion, CompletionDriver, Driver, ReadinessDriver, SocketDriver
    from sockspec.driving.runner import run_behaviour
    from sockspec.judging.verdict import Verdict
    from sockspec.language.loader import SpecError, load_file, load_text
    from sockspec.language.model import Behaviour, Family, Level, Model
    from sockspec.language.timing import Timing

# public name -> the module that defines it
PUBLIC: dict[str, str] = {
    "Behaviour": "sockspec.language.model",
    "Completion": "sockspec.driving.drivers",
    "CompletionDriver": "sockspec.driving.drivers",
    "Driver": "sockspec.driving.drivers",
    "Family": "sockspec.language.model",
    "Level": "sockspec.language.model",
    "Model": "sockspec.language.model",
    "ReadinessDriver": "sockspec.driving.drivers",
    "SocketDriver": "sockspec.driving.drivers",
    "SpecError": "sockspec.language.loader",
    "Timing": "sockspec.language.timing",
    "Verdict": "sockspec.judging.verdict",
    "load_file": "sockspec.language.loader",
    "load_text": "sockspec.language.loader",
    "run_behaviour": "sockspec.driving.runner",
}

__all__ = [
    "Behaviour",
    "Completion",
    "CompletionDriver",
    "Driver",
    "Family",
    "Level",
    "Model",
    "ReadinessDriver",
    "SocketDriver",
    "SpecError",
    "Timing",
    "Verdict",
    "load_file",
    "load_text",
    "run_behaviour",
]


def __getattr__(name: str) -> Any:
    module = PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'sockspec' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
