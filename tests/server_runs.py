"""Running `pytest --impl=NAME` as a user would: a fresh folder, a pyproject.toml naming a server.

Rules of this module:
- each run is a separate `python -m pytest` process in its own temporary folder
  (outside the clone), with the plugin active through its installed entry point;
- every server a run configures carries a unique SOCKSPEC_TEST_MARK in its
  environment, which its children inherit, so the process table can be searched
  after the run for anything it left behind;
- verdicts are read from the run's JSON report (`--sockspec-json`), and only
  from its items' id, impl, family, outcome and reason; the terminal is read
  only for what it alone shows a user (a failure's text, the summary lines);
- several runs may go at once (`Runs`), each waited for with a bound.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sockspec.reports.record import Outcome

from tests import waiting

RUN_LIMIT = 300.0
MARK = "SOCKSPEC_TEST_MARK"
#: The JSON report each run writes in its folder.
REPORT = "sockspec-report.json"
FAILURE_HEAD = re.compile(r"^_+ (?P<id>server\.[a-z0-9.-]+) on .+ over tcp4 _+$")


def toml_string(text: str) -> str:
    return json.dumps(text)


def pyproject(name: str, command: Sequence[str], mark: str, **settings: str) -> str:
    """A [tool.sockspec.impls.NAME] table for `command`, marked for the leftover search."""
    lines = [
        f"[tool.sockspec.impls.{toml_string(name)}]",
        "command = [" + ", ".join(toml_string(arg) for arg in command) + "]",
        *(f"{key} = {toml_string(value)}" for key, value in settings.items()),
        f"env = {{ {MARK} = {toml_string(mark)} }}",
    ]
    return "\n".join(lines) + "\n"


def marked_processes(mark: str) -> list[int]:
    """Processes whose environment holds SOCKSPEC_TEST_MARK=mark."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path("/proc", entry, "environ").read_bytes()
            state = Path("/proc", entry, "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state not in {"Z", "X"}:
            found.append(int(entry))
    return found


def wait_gone(mark: str, within: float = 3.0, what: str | None = None) -> None:
    """Wait until no process carries `mark` (the process table has no event to wait on)."""
    waiting.until(
        lambda: not marked_processes(mark),
        within=within,
        what=what or "every marked process to exit",
        explain=lambda: f"still running: {marked_processes(mark)}",
    )


def subprocess_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.pop(MARK, None)
    return env


@dataclass(frozen=True)
class Item:
    """One item of a run's JSON report, by the fields these tests read (and no others)."""

    id: str
    impl: str
    family: str
    outcome: Outcome
    reason: str | None


@dataclass(frozen=True)
class Run:
    """What one `pytest --impl=...` run printed and reported, how long it took, and what it left behind.

    report: the run's JSON report (--sockspec-json), None when the run wrote none.
    """

    name: str
    ret: int
    output: str
    duration: float
    leftovers: tuple[int, ...]
    report: dict[str, Any] | None

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    def items(self) -> list[Item]:
        """The run's items, from its JSON report."""
        assert self.report is not None, (
            f"{self.name} wrote no JSON report (exit code {self.ret}):\n{self.output[-3000:]}"
        )
        return [
            Item(item["id"], item["impl"], item["family"], Outcome(item["outcome"]), item["reason"])
            for item in self.report["items"]
        ]

    def outcomes(self, impl: str, family: str = "tcp4") -> dict[str, Outcome]:
        """Behaviour id -> outcome of every item of the run, each of which must be of `impl` over `family`."""
        found: dict[str, Outcome] = {}
        for item in self.items():
            assert (item.impl, item.family) == (impl, family), f"{self.name} ran {item} unasked"
            assert item.id not in found, f"{self.name} reports {item.id} twice"
            found[item.id] = item.outcome
        return found

    def reason(self, behaviour_id: str) -> str | None:
        """Why an item was not applicable (or what went wrong), from the JSON report."""
        (reason,) = {item.reason for item in self.items() if item.id == behaviour_id}
        return reason

    def failure(self, behaviour_id: str) -> str:
        """The text pytest printed for one failed behaviour (what the user reads of it)."""
        text: list[str] = []
        inside = False
        for line in self.lines:
            head = FAILURE_HEAD.match(line)
            if head or line.startswith("=" * 10):
                inside = bool(head) and head is not None and head["id"] == behaviour_id
                continue
            if inside:
                text.append(line)
        return "\n".join(text)


def run_pytest(folder: Path, args: Sequence[str], name: str, mark: str, limit: float = RUN_LIMIT) -> Run:
    """`python -m pytest ARGS` in `folder`, writing its JSON report there (REPORT)."""
    report = folder / REPORT
    report.unlink(missing_ok=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--sockspec-json={REPORT}", *args],
        cwd=folder,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )
    return Run(
        name,
        done.returncode,
        done.stdout + done.stderr,
        time.monotonic() - started,
        tuple(marked_processes(mark)),
        json.loads(report.read_text(encoding="utf-8")) if report.exists() else None,
    )


@dataclass(frozen=True)
class Case:
    """One run: the pyproject text to write and the pytest arguments."""

    name: str
    project: str
    args: tuple[str, ...]
    mark: str


def selected(items: Iterable[Any], param: str, cases: Mapping[str, Case]) -> Iterator[Case]:
    """The cases that the collected test `items` name by their parameter `param`."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get(param) if callspec is not None else None
        if isinstance(name, str) and name in cases:
            yield cases[name]


def new_mark() -> str:
    return uuid.uuid4().hex


class Runs:
    """Runs started together (a few at a time), each fetched by name when a test needs it."""

    def __init__(self, base: Path, workers: int) -> None:
        self.base = base
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sockspec-run")
        self.futures: dict[str, Future[Run]] = {}

    def submit(self, case: Case) -> None:
        if case.name in self.futures:
            return
        folder = self.base / case.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pyproject.toml").write_text(case.project, encoding="utf-8")
        self.futures[case.name] = self.pool.submit(run_pytest, folder, case.args, case.name, case.mark)

    def result(self, case: Case) -> Run:
        self.submit(case)
        return self.futures[case.name].result(timeout=RUN_LIMIT * 2)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
