"""sockspec installed from a wheel into a fresh venv, and run as a new user runs it.

Rules of this file:
- one wheel is built from a copy of this clone's files (pip builds in the source
  folder, so the clone gets no build/ folder and parallel runs do not share one),
  and installed with its dependencies into one fresh venv, made once per run and
  shared by these tests (under pytest-xdist, by every worker, behind a file lock);
- the build needs no isolation when this environment has pyproject.toml's
  build requirements, and fetches them otherwise;
- every command the venv runs starts in a folder of its own outside the clone
  (empty, or holding only the user's spec file), with an environment free of
  the outer run's PYTEST_* and PYTHON* variables, so nothing of the clone can be
  imported or configured into it;
- the bundled corpus must come from the venv's site-packages, and must run
  there: the corpus on asyncio, a user's --spec beside it, and --spec-only;
- marked `install`: deselect with -m "not install".
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from sockspec.driving.connections import unavailable
from sockspec.language.corpus import digest
from sockspec.language.loader import load_file
from sockspec.language.model import Family, Model

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# What pip would not see in a fresh clone: git's folder, venvs, build output, caches.
NOT_SOURCE = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".benchmarks")
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)\b")

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
FAMILIES = [family.value for family in Family if unavailable(family) is None]
BUNDLED = [
    behaviour for path in sorted((ROOT / "spec").glob("*.yaml")) for behaviour in load_file(path).behaviours
]
ITEMS = sum(len(behaviour.families) for behaviour in BUNDLED)  # items of one impl
# asyncio runs the completion behaviours but those that need the kernel to complete, and the server ones.
ASYNCIO_PASSES = sum(
    len({family.value for family in behaviour.families} & set(FAMILIES))
    for behaviour in BUNDLED
    if behaviour.model in {Model.COMPLETION, Model.SERVER} and "kernel_completion" not in behaviour.requires
)


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the sockspec wheel installed, and its site-packages."""

    venv: Path
    site_packages: Path

    def run(self, command: list[str], cwd: Path) -> str:
        """Run a program of the venv in `cwd` (outside the clone) with the venv active, as a user would."""
        assert not cwd.resolve().is_relative_to(ROOT), f"{cwd} is inside the clone"
        return run([str(self.venv / "bin" / command[0]), *command[1:]], cwd, user_environment(self.venv))


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


def counts(text: str) -> dict[str, int]:
    """The outcome counts of pytest's last summary line."""
    last = [line for line in text.splitlines() if SUMMARY.search(line)][-1]
    return {kind: int(number) for number, kind in SUMMARY.findall(last)}


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


def install(work: Path) -> Installed:
    """Build the wheel from a copy of the clone and install it into a fresh venv under `work`."""
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheels = work / "wheels"
    isolation = ["--no-build-isolation"] if not build_isolation_needed() else []
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "--no-deps", *isolation, "-q", "-w", str(wheels), str(source)], work, env)
    (wheel,) = wheels.glob("sockspec-*.whl")
    run([sys.executable, "-m", "venv", str(work / "venv")], work, env)
    empty = work / "empty"
    empty.mkdir()
    venv = Installed(work / "venv", Path())
    venv.run(["python", "-m", "pip", "install", "-q", str(wheel)], empty)
    purelib = venv.run(["python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], empty)
    return Installed(venv.venv, Path(purelib.strip()))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """One install per run: made by the first xdist worker to get here, reused by the others."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return install(tmp_path_factory.mktemp("install"))
    shared = tmp_path_factory.getbasetemp().parent  # the run's base folder, above every worker's
    with (shared / "sockspec-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = shared / "sockspec-install.json"
            if done.exists():
                made = json.loads(done.read_text(encoding="utf-8"))
                return Installed(Path(made["venv"]), Path(made["site_packages"]))
            work = shared / "sockspec-install"
            shutil.rmtree(work, ignore_errors=True)  # what a failed attempt left
            work.mkdir()
            found = install(work)
            made = {"venv": str(found.venv), "site_packages": str(found.site_packages)}
            done.write_text(json.dumps(made), encoding="utf-8")
            return found
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
    assert not any(tmp_path.iterdir())
    text = installed.run(["pytest", "--impl=asyncio", "-q", "-p", "no:cacheprovider"], tmp_path)
    outcomes = counts(text)
    assert outcomes.keys() <= {"passed", "skipped", "deselected"}, text
    assert outcomes["passed"] + outcomes.get("skipped", 0) + outcomes.get("deselected", 0) == ITEMS, text
    assert outcomes["passed"] >= ASYNCIO_PASSES, text  # 52 with tcp4, tcp6 and unix
    assert "sockspec conformance" in text
    assert not any(tmp_path.iterdir()), "the run left files in the user's folder"


def test_a_user_spec_runs_beside_the_corpus(installed: Installed, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "extra.yaml").write_text(USER_SPEC, encoding="utf-8")
    command = ["pytest", "--impl=asyncio", "-v", "-p", "no:cacheprovider", "--spec", "mine"]
    text = installed.run([*command, "-k", f"{USER_ID} or {CORPUS_ID}"], tmp_path)
    assert f"sockspec corpus: {installed.site_packages / 'sockspec' / 'corpus_files'}" in text
    for family in FAMILIES:
        assert f"mine/extra.yaml::{USER_ID}[asyncio-{family}] PASSED" in text
        assert f"spec/completion.yaml::{CORPUS_ID}[asyncio-{family}] PASSED" in text
    outcomes = counts(text)
    assert outcomes.get("passed") == 2 * len(FAMILIES), text
    selected = next(behaviour for behaviour in BUNDLED if behaviour.id == CORPUS_ID)
    assert outcomes.get("deselected") == ITEMS - len(selected.families), "the whole corpus was collected"


def test_spec_only_runs_just_the_user_spec(installed: Installed, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "extra.yaml").write_text(USER_SPEC, encoding="utf-8")
    command = ["pytest", "--impl=asyncio", "-v", "-p", "no:cacheprovider", "--spec", "mine", "--spec-only"]
    text = installed.run(command, tmp_path)
    for family in FAMILIES:
        assert f"mine/extra.yaml::{USER_ID}[asyncio-{family}] PASSED" in text
    assert "spec/completion.yaml::" not in text and "spec/server.yaml::" not in text
    outcomes = counts(text)
    assert outcomes.keys() <= {"passed", "skipped"} and outcomes["passed"] == len(FAMILIES), text
