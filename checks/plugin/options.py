"""The plugin's command-line options and ini settings, and what they come to for one run.

Rules of this module:
- every option and ini name is a constant here; `add_options` declares them all,
  in sockspec's own group of `pytest --help`;
- `settings` reads them into a frozen `Settings`, checking everything before
  anything runs: a bad value is a `pytest.UsageError` that names the option and
  says what to write (never a traceback, never a failure after the whole run);
- no run state here: what a run records lives in sockspec.plugin.state;
- the tolerance, unless the user sets it, is measured once per run, in the
  process that reads the settings first (sockspec.driving.calibration); with
  pytest-xdist that is the controller, which hands it to every worker in its
  `workerinput` (`worker_input`), so the whole run judges with one value, the
  one the header and the reports show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sockspec.driving.calibration import CEILING, FLOOR, calibrate
from sockspec.language.corpus import CORPUS
from sockspec.language.model import Level, Model
from sockspec.language.server_steps import parse_levels
from sockspec.language.timing import Timing, format_duration, parse_duration
from sockspec.plugin.registry import Impl, known_names, resolve
from sockspec.reports import baseline as baselines
from sockspec.servers.config import ConfigError, ImplTables, find_pyproject, load_pyproject

GROUP = "sockspec"

IMPL = "--impl"
TRACEBACK = "--sockspec-traceback"
SPEC = "--spec"
SPEC_ONLY = "--spec-only"
STRICT = "--sockspec-strict"
BASELINE = "--sockspec-baseline"
WRITE_BASELINE = "--sockspec-write-baseline"
JSON = "--sockspec-json"
HTML = "--sockspec-html"
SCALE_LEVELS = "--sockspec-scale-levels"

INI_IMPLS = "sockspec_impls"
INI_SPECS = "sockspec_specs"
INI_STRICT = "sockspec_strict"
INI_BASELINE = "sockspec_baseline"
INI_SCALE_LEVELS = "sockspec_scale_levels"

# Timing settings: command-line option, ini name, Timing field.
TIMING_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("--sockspec-tolerance", "sockspec_tolerance", "tolerance"),
    ("--sockspec-step-limit", "sockspec_step_limit", "step_limit"),
    ("--sockspec-item-limit", "sockspec_item_limit", "item_limit"),
)
# What each timing setting is when not set, for --help.
TIMING_DEFAULTS: dict[str, str] = {
    "tolerance": (
        f"measured at the start of the run, within [{format_duration(FLOOR)}, {format_duration(CEILING)}]"
    ),
    "step_limit": f"{Timing().step_limit:g} s",
    "item_limit": f"{Timing().item_limit:g} s",
}
#: The key of `workerinput` under which a pytest-xdist worker gets the controller's tolerance.
WORKER_TOLERANCE = "sockspec_tolerance"

# Files a run writes: option -> what it is.
OUTPUTS: dict[str, str] = {
    JSON: "JSON report",
    HTML: "HTML report",
    WRITE_BASELINE: "baseline",
}

MODEL_MARKERS: dict[Model, str] = {
    Model.BLOCKING: "blocking: behaviours of the blocking model",
    Model.NONBLOCKING: "nonblocking: behaviours of the non-blocking model",
    Model.READINESS: "readiness: behaviours of readiness notification (select, poll, epoll)",
    Model.COMPLETION: "completion: behaviours of completion notification",
    Model.SERVER: "server: behaviours of a server over the wire",
}
#: The marker of scale behaviours, which run only when -m names it (see `scale_selected`).
SCALE = "scale"
SCALE_MARKER = (
    f"{SCALE}: scale behaviours, a server measured at many clients (opt-in: they run only with -m {SCALE})"
)
LEVEL_MARKERS: dict[Level, str] = {
    Level.MUST: "must: behaviours every conforming implementation has",
    Level.SHOULD: "should: behaviours recommended, not required",
}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "sockspec: socket I/O model conformance")
    group.addoption(
        IMPL,
        action="append",
        default=[],
        metavar="NAME",
        help=(
            f"implementation to check (repeatable): {', '.join(known_names())}, module:Class (a driver), "
            "a server named in pyproject.toml [tool.sockspec.impls.NAME], cmd:COMMAND {port}, "
            "or tcp://127.0.0.1:PORT"
        ),
    )
    for option, ini, attr in TIMING_SETTINGS:
        group.addoption(
            option,
            default=None,
            metavar="DURATION",
            help=f"e.g. 250ms (default: {TIMING_DEFAULTS[attr]}; ini: {ini})",
        )
        parser.addini(ini, f"sockspec {attr.replace('_', ' ')} (e.g. 250ms)", default=None)
    group.addoption(
        TRACEBACK,
        action="store_true",
        help="show the checker's traceback under a failed behaviour (also with -vv)",
    )
    group.addoption(
        SPEC,
        action="append",
        default=[],
        metavar="PATH",
        help="also run the spec files in PATH (a .yaml file or a folder of them; repeatable)",
    )
    group.addoption(
        SPEC_ONLY,
        action="store_true",
        help="run only the --spec files, not the corpus bundled with sockspec",
    )
    group.addoption(
        STRICT,
        action="store_true",
        default=None,
        help=f"failed SHOULD behaviours fail the run too (default: they are warnings; ini: {INI_STRICT})",
    )
    parser.addini(INI_STRICT, "failed SHOULD behaviours fail the run (true/false)", type="bool")
    group.addoption(
        BASELINE,
        metavar="PATH",
        help="YAML file of known failures: they are expected failures, and fail the run when they pass "
        f"(ini: {INI_BASELINE})",
    )
    parser.addini(INI_BASELINE, "file of known failures (relative to the rootdir)", type="paths")
    group.addoption(
        WRITE_BASELINE,
        metavar="PATH",
        help="write a baseline listing every behaviour that failed in this run",
    )
    for option in (JSON, HTML):
        group.addoption(
            option,
            metavar="PATH",
            help=f"write the run's {OUTPUTS[option]} to PATH",
        )
    group.addoption(
        SCALE_LEVELS,
        metavar="LEVELS",
        help="the clients connected at once at each level of the scale behaviours (-m scale), "
        f"e.g. 10,100,1000 (default: each behaviour's own levels; ini: {INI_SCALE_LEVELS})",
    )
    parser.addini(INI_SCALE_LEVELS, "levels of the scale behaviours, e.g. 10,100,1000", default=None)
    parser.addini(INI_IMPLS, "impls to check when --impl is not given", type="args", default=[])
    parser.addini(INI_SPECS, "extra spec files or folders, relative to the rootdir", type="paths", default=[])


@dataclass(frozen=True)
class Settings:
    """What the options and ini settings say for one run.

    files: (path, name shown in node ids) of every spec file to run, the bundled corpus first;
    spec_only: the bundled corpus is left out (--spec-only);
    scale_levels: the levels every scale behaviour runs at (None: each behaviour's own).
    """

    impls: tuple[Impl, ...]
    timing: Timing
    traceback: bool
    strict: bool
    baseline: baselines.Baseline | None
    files: tuple[tuple[Path, str], ...]
    spec_only: bool
    scale_levels: tuple[int, ...] | None = None


def wanted(config: pytest.Config) -> bool:
    """Whether this run checks impls at all (without them the plugin adds nothing)."""
    return bool(config.getoption(IMPL) or config.getini(INI_IMPLS))


def settings(config: pytest.Config) -> Settings:
    names = config.getoption(IMPL) or config.getini(INI_IMPLS)
    try:
        impls = resolve(list(names), _configured_servers(config), config.invocation_params.dir)
    except (LookupError, ConfigError) as exc:
        raise pytest.UsageError(str(exc)) from None
    strict = config.getoption(STRICT)
    if strict is None:
        try:
            strict = config.getini(INI_STRICT)
        except (ValueError, pytest.UsageError) as exc:  # pytest 9 raises UsageError, 8 ValueError
            raise pytest.UsageError(f"{INI_STRICT}: {exc} (write true or false)") from None
    return Settings(
        impls=tuple(impls),
        timing=_timing(config),
        traceback=bool(config.getoption(TRACEBACK)) or config.get_verbosity() >= 2,
        strict=bool(strict),
        baseline=_baseline(config),
        files=_spec_files(config),
        spec_only=bool(config.getoption(SPEC_ONLY)),
        scale_levels=_scale_levels(config),
    )


def _scale_levels(config: pytest.Config) -> tuple[int, ...] | None:
    given = config.getoption(SCALE_LEVELS)
    text = given or config.getini(INI_SCALE_LEVELS)
    if not text:
        return None
    try:
        return parse_levels(str(text))
    except ValueError as exc:
        raise pytest.UsageError(f"{SCALE_LEVELS} / {INI_SCALE_LEVELS}: {exc}") from None


_WORD_SCALE = re.compile(rf"\b{SCALE}\b")


def scale_selected(config: pytest.Config) -> bool:
    """Whether this run asks for the scale behaviours: its -m expression names the marker (then
    pytest's own -m decides which of them run, so -m 'not scale' still leaves them out)."""
    return bool(_WORD_SCALE.search(str(config.getoption("markexpr", "") or "")))


def outputs(config: pytest.Config) -> dict[str, Path]:
    """Each output the user asked for, checked before anything runs: its folder is made, and a
    path that is a folder is a usage error (not a crash after the whole run)."""
    found = {}
    for option, what in OUTPUTS.items():
        given = config.getoption(option)
        if not given:
            continue
        path = config.invocation_params.dir / given
        if path.is_dir():
            raise pytest.UsageError(f"{option}={given}: {path} is a folder; name the {what} file to write")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(
                f"{option}={given}: cannot make the folder {path.parent} for the {what}: {exc.strerror}"
            ) from None
        found[option] = path
    return found


def _timing(config: pytest.Config) -> Timing:
    values: dict[str, float] = {}
    derivation = ""
    for option, ini, attr in TIMING_SETTINGS:
        given = config.getoption(option)
        text = given or config.getini(ini)
        if text:
            try:
                values[attr] = parse_duration(str(text))
            except ValueError as exc:
                raise pytest.UsageError(f"{option} / {ini}: {exc}") from None
            if attr == "tolerance":
                derivation = f"set by {option}" if given else f"set by {ini} in the ini file"
    if "tolerance" not in values:
        values["tolerance"], derivation = _measured(config)
    return Timing(**values, derivation=derivation)


def _measured(config: pytest.Config) -> tuple[float, str]:
    """The tolerance measured on this machine, and how: by this process, or, in a pytest-xdist
    worker, by the controller (see `worker_input`)."""
    handed = getattr(config, "workerinput", {}).get(WORKER_TOLERANCE)
    if handed is not None:
        tolerance, derivation = handed
        return float(tolerance), str(derivation)
    measured = calibrate()
    return measured.tolerance, measured.describe()


def worker_input(timing: Timing) -> dict[str, object]:
    """What a pytest-xdist worker gets from the controller: its tolerance and how it came to be."""
    return {WORKER_TOLERANCE: [timing.tolerance, timing.derivation]}


def _baseline(config: pytest.Config) -> baselines.Baseline | None:
    """The baseline named by --sockspec-baseline (relative to the current directory) or the ini."""
    given = config.getoption(BASELINE)
    configured = config.getini(INI_BASELINE)
    if given:
        path = config.invocation_params.dir / given
    elif configured:
        path = Path(configured[0])
    else:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise pytest.UsageError(f"sockspec cannot read the baseline {path}: {exc.strerror}") from None
    try:
        return baselines.parse(text, str(path))
    except baselines.BaselineError as exc:
        raise pytest.UsageError(f"sockspec cannot use the baseline {path}:\n{exc}") from None


def _configured_servers(config: pytest.Config) -> ImplTables:
    """The servers named in the user's pyproject.toml ([tool.sockspec.impls.NAME])."""
    path = find_pyproject(config.invocation_params.dir, config.rootpath)
    return load_pyproject(path) if path is not None else ImplTables()


def _spec_files(config: pytest.Config) -> tuple[tuple[Path, str], ...]:
    """(path, name shown in node ids) of every spec file to run, bundled corpus first; a --spec
    path that is not there is a usage error."""
    files: list[tuple[Path, str]] = []
    if not config.getoption(SPEC_ONLY):
        files.extend((path, f"spec/{path.name}") for path in sorted(CORPUS.glob("*.yaml")))
    extra = [Path(text) for text in config.getoption(SPEC)] + list(config.getini(INI_SPECS))
    for given in extra:
        path = given if given.is_absolute() else config.invocation_params.dir / given
        if not path.exists():
            raise pytest.UsageError(f"--spec {given}: no such file or folder")
        found_here = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
        if not found_here:
            raise pytest.UsageError(f"--spec {given}: no .yaml spec files in {path}")
        for found in found_here:
            try:
                shown = found.resolve().relative_to(config.rootpath).as_posix()
            except ValueError:
                shown = found.resolve().as_posix()
            files.append((found, shown))
    return tuple(files)


#: The option of pytest-xdist that sets its workers (-n); None when it is not given.
XDIST_WORKERS = "numprocesses"


def speed_hints(config: pytest.Config, settings: Settings) -> list[str]:
    """Header lines on how the run could go faster, or measure more truly: pytest-xdist for a
    run of several impls (its items mostly wait on sockets, servers and timers, so workers
    beyond the cores pay off), and a note when scale levels are measured beside other workers."""
    xdist = config.pluginmanager.hasplugin("xdist")
    workers = config.getoption(XDIST_WORKERS, None) if xdist else None
    lines = []
    several = len(settings.impls) > 1 and not scale_selected(config)  # measures want the machine alone
    if several and workers is None and not hasattr(config, "workerinput"):
        how = "add -n 8" if xdist else "install pytest-xdist (pip install 'sockspec[parallel]') and add -n 8"
        lines.append(
            "sockspec speed: items mostly wait (on sockets, servers and timers), so more pytest-xdist "
            f"workers than cores run them faster: {how} (README: Faster runs)"
        )
    if workers and scale_selected(config):
        lines.append(
            f"sockspec scale: levels are measured while other workers run items (-n {workers}); "
            f"for figures of the server alone, run -m {SCALE} without -n"
        )
    return lines
