"""sockspec installed into a fresh venv, from a wheel and editable, and run as a new user runs it.

Rules of this file:
- one copy of this clone's files is made per run (pip builds in the source
  folder, so the clone gets no build/ folder and parallel runs do not share one);
  one wheel is built from it and installed with its dependencies into a fresh
  venv, and the copy is installed editable (pip install -e) into another; each
  is made once per run and shared by these tests (under pytest-xdist, by every
  worker, behind a file lock);
- the wheel's build needs no isolation when this environment has pyproject.toml's
  build requirements, and fetches them otherwise; the editable install builds
  as pip does by default, in isolation;
- every command the venv runs starts in a folder of its own outside the clone
  (empty, or holding only the user's files), with an environment free of the
  outer run's PYTEST_* and PYTHON* variables, so nothing of the clone can be
  imported or configured into it; a run's JSON report is written beside that
  folder, not in it;
- the wheel's sockspec and bundled corpus must come from the venv's
  site-packages, and must run there: the corpus on asyncio, a user's --spec
  beside it, and --spec-only;
- a user's folder may hold modules named like the clone's folders (checks.py,
  reference_impls.py, spec.py) and a tests/ package: in both venvs,
  `python -m pytest`, which puts that folder first on sys.path, runs a driver
  impl and the server its pyproject.toml names, and imports none of them;
- counts come from the bundled corpus (tests/bundled.py), verdicts of runs from
  their JSON report;
- marked `install`: deselect with -m "not install".
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from sockspec.driving.connections import unavailable
from sockspec.language.corpus import digest
from sockspec.language.loader import load_text
from sockspec.language.model import Behaviour, Family, Model

from tests.bundled import BEHAVIOURS, by_id, item_count

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# What pip would not see in a fresh clone: git's folder, venvs, build output, caches.
NOT_SOURCE = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".benchmarks")

USER_SPEC = """\
model: completion
source: my notes
behaviours:
  - id: completion.mine.recv-gets-late-bytes
    level: must
    rule: A submitted recv completes with the bytes the peer sends later, not before it sends them.
    source: my notes; recv(2)
    steps:
      - call: recv
        size: 64
        as: r
      - peer: send
        data: mine
        after: 50ms
        name: send
      - await: r
        expect: {data: mine, not_before: send}
"""
USER_ID = "completion.mine.recv-gets-late-bytes"
CORPUS_ID = "completion.recv.pending-at-once"
# The families this machine has (without ::1, tcp6 items are not applicable).
FAMILIES = [family for family in Family if unavailable(family) is None]
ITEMS = item_count(BEHAVIOURS)  # items of one impl
# asyncio runs the completion behaviours but those that need the kernel to complete or write flow
# control (asyncio streams), and the server ones but the scale behaviours (opt-in: -m scale).
ASYNCIO_LACKS = {"kernel_completion", "kernel_send_all", "write_flow_control"}
ASYNCIO_RUNS = [
    behaviour
    for behaviour in BEHAVIOURS
    if behaviour.model in {Model.COMPLETION, Model.SERVER}
    and not behaviour.requires & ASYNCIO_LACKS
    and behaviour.scale is None
]
USER_BEHAVIOUR = load_text(USER_SPEC, "mine/extra.yaml").behaviours[0]


@dataclass(frozen=True)
class Installed:
    """A fresh venv with sockspec installed (from the wheel, or editable), and its site-packages."""

    venv: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, command: list[str], cwd: Path) -> str:
        """Run a program of the venv in `cwd` (outside the clone) with the venv active, as a user would."""
        assert not cwd.resolve().is_relative_to(ROOT), f"{cwd} is inside the clone"
        return run([str(self.venv / "bin" / command[0]), *command[1:]], cwd, user_environment(self.venv))

    def pytest(self, args: list[str], cwd: Path, report: Path) -> tuple[str, list[dict[str, object]]]:
        """`python -m pytest ARGS` in `cwd` (which puts `cwd` first on sys.path, as users often run it):
        what it printed, and the items of its JSON report (written to `report`, outside `cwd`)."""
        assert not report.is_relative_to(cwd), f"{report} would be left in the user's folder"
        text = self.run(
            ["python", "-m", "pytest", "-p", "no:cacheprovider", f"--sockspec-json={report}", *args], cwd
        )
        items: list[dict[str, object]] = json.loads(report.read_text(encoding="utf-8"))["items"]
        return text, items

    def saved(self) -> dict[str, str]:
        return {"venv": str(self.venv), "site_packages": str(self.site_packages)}

    @classmethod
    def made(cls, saved: dict[str, str]) -> Installed:
        return cls(Path(saved["venv"]), Path(saved["site_packages"]))


def user_environment(venv: Path) -> dict[str, str]:
    """This process's environment less what the outer pytest and Python set, with the venv active."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_", "PYTHON", "COV_CORE_")) and name != "VIRTUAL_ENV"
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", os.defpath)])
    return env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """The standard output of a command that must succeed; all its output in the failure when not."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, (
        f"`{shlex.join(command)}` in {cwd} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    return done.stdout


def outcomes(items: list[dict[str, object]]) -> dict[str, int]:
    """How many of a JSON report's items came to each outcome (only those that occur)."""
    found: dict[str, int] = {}
    for item in items:
        outcome = str(item["outcome"])
        found[outcome] = found.get(outcome, 0) + 1
    return found


def expected(passing: list[Behaviour], items: int | None = None) -> dict[str, int]:
    """The outcomes of a run whose items (all those of `passing`, unless `items` says how many) pass
    where this machine has the family, and are not applicable elsewhere."""
    passed = item_count(passing, FAMILIES)
    not_applicable = (item_count(passing) if items is None else items) - passed
    return {"passed": passed, "n/a": not_applicable} if not_applicable else {"passed": passed}


def build_isolation_needed() -> bool:
    """True unless this environment already has every build requirement of pyproject.toml."""
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            found = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return True
        if not requirement.specifier.contains(found, prereleases=True):
            return True
    return False


def outer_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}


def copy_source(work: Path) -> dict[str, str]:
    """A copy of the clone's files, as a fresh clone would have them."""
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    return {"source": str(source)}


def new_venv(work: Path, *install: str) -> Installed:
    """A fresh venv under `work` with `pip install ARGS` done in it, from an empty folder."""
    run([sys.executable, "-m", "venv", str(work / "venv")], work, outer_environment())
    empty = work / "empty"
    empty.mkdir()
    venv = Installed(work / "venv", Path())
    venv.run(["python", "-m", "pip", "install", "-q", *install], empty)
    purelib = venv.run(["python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], empty)
    return Installed(venv.venv, Path(purelib.strip()))


def install_wheel(source: Path, work: Path) -> Installed:
    """Build the wheel from the copy `source` and install it into a fresh venv under `work`."""
    wheels = work / "wheels"
    isolation = ["--no-build-isolation"] if not build_isolation_needed() else []
    pip = [sys.executable, "-m", "pip"]
    run(
        [*pip, "wheel", "--no-deps", *isolation, "-q", "-w", str(wheels), str(source)],
        work,
        outer_environment(),
    )
    (wheel,) = wheels.glob("sockspec-*.whl")
    return new_venv(work, str(wheel))


def once_per_run(
    factory: pytest.TempPathFactory, name: str, make: Callable[[Path], dict[str, str]]
) -> dict[str, str]:
    """What `make` made in a fresh folder: made once per run, by the first pytest-xdist worker to
    need it (behind a file lock), and read back by the others."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return make(factory.mktemp(name))
    shared = factory.getbasetemp().parent  # the run's base folder, above every worker's
    with (shared / f"sockspec-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = shared / f"sockspec-{name}.json"
            if done.exists():
                saved: dict[str, str] = json.loads(done.read_text(encoding="utf-8"))
                return saved
            work = shared / f"sockspec-{name}"
            shutil.rmtree(work, ignore_errors=True)  # what a failed attempt left
            work.mkdir()
            made = make(work)
            done.write_text(json.dumps(made), encoding="utf-8")
            return made
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The copy of the clone that the wheel is built from and the editable install points at."""
    return Path(once_per_run(tmp_path_factory, "source", copy_source)["source"])


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Installed:
    """The wheel, installed with its dependencies into a fresh venv."""
    saved = once_per_run(tmp_path_factory, "wheel", lambda work: install_wheel(source, work).saved())
    return Installed.made(saved)


@pytest.fixture(scope="session")
def editable(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Installed:
    """The copy of the clone, installed editable (pip install -e) into a fresh venv."""
    saved = once_per_run(tmp_path_factory, "editable", lambda work: new_venv(work, "-e", str(source)).saved())
    return Installed.made(saved)


def test_the_venv_imports_sockspec_from_site_packages(installed: Installed, tmp_path: Path) -> None:
    script = (
        "import json, sockspec, sockspec.language.corpus as c; "
        "print(json.dumps({'sockspec': sockspec.__file__, 'corpus': str(c.CORPUS), 'schema': str(c.SCHEMA), "
        "'version': c.version(), 'files': sorted(p.name for p in c.CORPUS.iterdir()), "
        "'digest': c.digest(sorted(c.CORPUS.glob('*.yaml')))}))"
    )
    seen = json.loads(installed.run(["python", "-c", script], tmp_path))
    site = installed.site_packages
    assert site.is_relative_to(installed.venv)
    assert Path(seen["sockspec"]) == site / "sockspec" / "__init__.py"
    assert Path(seen["corpus"]) == site / "sockspec" / "corpus_files"
    assert Path(seen["schema"]) == site / "sockspec" / "corpus_files" / "schema.json"
    assert seen["version"] == PYPROJECT["project"]["version"]
    clone = sorted((ROOT / "spec").glob("*.yaml"))
    assert {path.name for path in clone} | {"schema.json", "README.md"} <= set(seen["files"])
    assert seen["digest"] == digest(clone), "the installed spec files differ from the clone's"


def test_the_bundled_corpus_runs(installed: Installed, tmp_path: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    text, items = installed.pytest(["--impl=asyncio", "-q"], folder, tmp_path / "report.json")
    # The behaviours of models asyncio does not declare are deselected, not among the items.
    assert outcomes(items) == expected(ASYNCIO_RUNS), text
    assert "sockspec conformance" in text
    assert not any(folder.iterdir()), "the run left files in the user's folder"


def test_a_user_spec_runs_beside_the_corpus(installed: Installed, tmp_path: Path) -> None:
    folder = tmp_path / "user"
    (folder / "mine").mkdir(parents=True)
    (folder / "mine" / "extra.yaml").write_text(USER_SPEC, encoding="utf-8")
    args = ["--impl=asyncio", "-v", "--spec", "mine", "-k", f"{USER_ID} or {CORPUS_ID}"]
    text, items = installed.pytest(args, folder, tmp_path / "report.json")
    assert f"sockspec corpus: {installed.site_packages / 'sockspec' / 'corpus_files'}" in text
    for family in FAMILIES:
        assert f"mine/extra.yaml::{USER_ID}[asyncio-{family.value}] PASSED" in text
        assert f"spec/completion.yaml::{CORPUS_ID}[asyncio-{family.value}] PASSED" in text
    assert {(item["id"], item["outcome"]) for item in items} == {(USER_ID, "passed"), (CORPUS_ID, "passed")}
    assert outcomes(items) == expected([USER_BEHAVIOUR, by_id(CORPUS_ID)]), text
    deselected = ITEMS - len(by_id(CORPUS_ID).families)
    assert f"{deselected} deselected" in text, "the whole corpus was not collected"


def test_spec_only_runs_just_the_user_spec(installed: Installed, tmp_path: Path) -> None:
    folder = tmp_path / "user"
    (folder / "mine").mkdir(parents=True)
    (folder / "mine" / "extra.yaml").write_text(USER_SPEC, encoding="utf-8")
    args = ["--impl=asyncio", "-v", "--spec", "mine", "--spec-only"]
    text, items = installed.pytest(args, folder, tmp_path / "report.json")
    for family in FAMILIES:
        assert f"mine/extra.yaml::{USER_ID}[asyncio-{family.value}] PASSED" in text
    assert "spec/completion.yaml::" not in text and "spec/server.yaml::" not in text
    assert {str(item["id"]) for item in items} == {USER_ID}
    assert outcomes(items) == expected([USER_BEHAVIOUR]), text


# A user's own modules named like the clone's folders (the repository's checks/ was the import
# name `checks` before everything installed as `sockspec`), each logging that it was imported.
USER_MODULE = """\
from pathlib import Path

with Path(__file__).with_name("imported.txt").open("a", encoding="utf-8") as log:
    log.write(__name__ + "\\n")
MINE = __name__
"""
USER_MODULES = ("checks", "reference_impls", "spec")
USER_TEST = """\
def test_my_own_modules_are_mine():
    import checks, reference_impls, spec

    assert (checks.MINE, reference_impls.MINE, spec.MINE) == ("checks", "reference_impls", "spec")
"""
SERVER_ID = "server.echo.small"


def user_folder(folder: Path, python: Path) -> Path:
    """A user's project folder: modules named like the clone's folders, a tests/ package with a
    test of its own, and a pyproject.toml naming a server (a reference server, run by `python`)."""
    (folder / "tests").mkdir(parents=True)
    for name in USER_MODULES:
        (folder / f"{name}.py").write_text(USER_MODULE, encoding="utf-8")
    (folder / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (folder / "tests" / "test_mine.py").write_text(USER_TEST, encoding="utf-8")
    command = [str(python), "-m", "sockspec.reference_impls.threads_server", "--port", "{port}"]
    (folder / "pyproject.toml").write_text(
        f'[tool.sockspec.impls.myserver]\ncommand = {json.dumps(command)}\nmodel = "threads"\n',
        encoding="utf-8",
    )
    return folder


@pytest.mark.parametrize("kind", ["wheel", "editable"])
def test_a_users_own_checks_module_does_not_shadow_sockspec(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    venv: Installed = request.getfixturevalue({"wheel": "installed", "editable": "editable"}[kind])
    folder = user_folder(tmp_path / "user", venv.python)
    imported = folder / "imported.txt"
    where = json.loads(
        venv.run(["python", "-c", "import json, sockspec; print(json.dumps(sockspec.__file__))"], tmp_path)
    )
    home = venv.site_packages if kind == "wheel" else request.getfixturevalue("source") / "checks"
    assert Path(where).is_relative_to(home), f"{kind}: sockspec is imported from {where}"

    driver = "blocking.recv.waits-for-peer"
    text, items = venv.pytest(["--impl=sockets", "-k", "waits-for-peer"], folder, tmp_path / "driver.json")
    assert {(item["id"], item["impl"]) for item in items} == {(driver, "sockets")}, text
    assert outcomes(items) == expected([by_id(driver)]), text

    text, items = venv.pytest(["--impl=myserver", "-k", SERVER_ID], folder, tmp_path / "server.json")
    assert [(item["id"], item["impl"], item["family"], item["outcome"]) for item in items] == [
        (SERVER_ID, "myserver", "tcp4", "passed")
    ], text
    assert not imported.exists(), f"sockspec imported the user's own modules: {imported.read_text()}"

    text = venv.run(["python", "-m", "pytest", "-p", "no:cacheprovider", "-q"], folder)
    assert "1 passed" in text, text
    assert sorted(imported.read_text(encoding="utf-8").split()) == sorted(USER_MODULES)
