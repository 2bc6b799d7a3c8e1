"""sockspec: conformance specs for socket I/O models, run by pytest.

Public names: the spec model, the loader, the runner and the driver contract.
The pytest plugin (checks.plugin) is loaded by pytest's entry point; nothing
here imports it.
"""

from checks.drivers import Completion, CompletionDriver, Driver, ReadinessDriver, SocketDriver
from checks.loader import SpecError, load_file, load_text
from checks.model import Behaviour, Family, Level, Model
from checks.runner import Verdict, run_behaviour
from checks.timing import Timing

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
