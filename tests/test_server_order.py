"""Server verdicts do not depend on the order the behaviours run in: every faulty server's server
corpus, run in reverse and in a shuffled order, gives each item the outcome it gets in the corpus's
order.

Rules of this file:
- each order is a separate `pytest --impl=NAME` run in its own folder (tests.server_runs), whose
  conftest.py reorders the collected items (`pytest_collection_modifyitems`); the verdicts are
  read from the run's JSON report (item id -> outcome);
- the corpus's order is what tests/test_server_corpus.py runs, and it pins those verdicts
  exactly: what a faulty server `breaks` fails, everything else passes. Here each other order
  must give exactly those verdicts, and the same as each other; what `may_break` lists fails or
  passes by how the kernel's buffers happen to fill, in any order, so it is left out; a
  behaviour during which the server died of its defect counts as failed whether it was failed
  or not reached (which step saw the death is timing: `verdicts`);
- one test runs every server, WORKERS runs at a time (most of a run is spent waiting on the
  corpus's limits), all reverse runs queued before all shuffled ones, so that a server never
  runs beside itself (busy_poll spins a core); being one test, it runs on one pytest-xdist
  worker, never on two at once;
- order does not matter because the server is restarted between behaviours when the one
  before failed or left it unsettled (sockspec.servers.live); tests/test_server_restart.py
  tests the restarts themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sockspec.language.loader import load_file

from tests.faulty_servers import FAULTY_SERVERS, FaultyServer
from tests.server_runs import Case, Runs, new_mark, pyproject

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
REPORT = "report.json"
SEED = 1010
ORDERS = ("reverse", f"shuffle:{SEED}")
FAULTY = {faulty.name: faulty for faulty in FAULTY_SERVERS}
CORPUS = [
    behaviour.id for behaviour in load_file(ROOT / "spec" / "server.yaml", "spec/server.yaml").behaviours
]
DECLARED = "server.model.declared"
#: The behaviours each server's run has, in the corpus's order (no model declared: not the
#: behaviour that checks one).
BEHAVIOURS = {
    name: [b for b in CORPUS if faulty.declares or b != DECLARED] for name, faulty in FAULTY.items()
}

#: The conftest.py of a run's folder: ORDER is "reverse" or "shuffle:SEED".
CONFTEST = """\
import random

ORDER = {order!r}


def pytest_collection_modifyitems(session, config, items):
    if ORDER == "reverse":
        items.reverse()
    elif ORDER.startswith("shuffle:"):
        random.Random(int(ORDER.split(":")[1])).shuffle(items)
"""


def order_case(name: str, order: str) -> Case:
    faulty = FAULTY[name]
    mark = new_mark()
    command = faulty.command if faulty.command[0] == sys.executable else (sys.executable, *faulty.command)
    settings = {"model": faulty.declares} if faulty.declares else {}
    return Case(
        f"order-{name}-{order.replace(':', '-')}",
        pyproject(name, command, mark, **settings),
        (f"--impl={name}", "-m", "server", "--sockspec-strict", f"--sockspec-json={REPORT}"),
        mark,
    )


CASES: dict[tuple[str, str], Case] = {
    (name, order): order_case(name, order) for name in FAULTY for order in ORDERS
}


#: The start of a failure's cause (the JSON report's `failure.cause`) when the server died
#: during the behaviour.
EXITED = "the server exited"


def verdicts(document: dict[str, Any]) -> dict[str, str]:
    """Behaviour id -> outcome, as the JSON report gives them (one family: tcp4). A behaviour
    during which the server exited is "failed" whether it was failed or not reached: which of
    its steps saw the death (a client's connect still queued by the kernel, or a later step) is
    the machine's timing, not the order's."""
    return {
        item["id"]: "failed"
        if item["outcome"] == "not-reached" and (item["failure"]["cause"] or "").startswith(EXITED)
        else item["outcome"]
        for item in document["items"]
    }


#: An outcome -> the corpus-order verdict it agrees with.
BROKEN: dict[str | None, str] = {"failed": "failed", "not-reached": "failed", "passed": "passed"}


def expected(faulty: FaultyServer, behaviours: list[str]) -> dict[str, str]:
    """The verdicts tests/test_server_corpus.py requires of the corpus's order, `may_break` left out."""
    return {
        behaviour: "failed" if behaviour in faulty.breaks else "passed"
        for behaviour in behaviours
        if behaviour not in faulty.may_break
    }


def test_faulty_server_verdicts_do_not_depend_on_the_order(tmp_path: Path) -> None:
    pool = Runs(tmp_path, WORKERS)
    try:
        for order in ORDERS:
            for name in FAULTY:
                case = CASES[name, order]
                folder = tmp_path / case.name
                folder.mkdir()
                (folder / "conftest.py").write_text(CONFTEST.format(order=order), encoding="utf-8")
                pool.submit(case)
        problems = [problem for name in FAULTY for problem in check(pool, FAULTY[name])]
    finally:
        pool.close()
    assert not problems, "\n".join(problems)


def check(pool: Runs, faulty: FaultyServer) -> list[str]:
    """What is wrong with the verdicts of `faulty` in each order."""
    problems = []
    found: dict[str, dict[str, str]] = {}
    for order in ORDERS:
        case = CASES[faulty.name, order]
        run = pool.result(case)
        path = pool.base / case.name / REPORT
        if not path.is_file():
            problems.append(f"{case.name} wrote no JSON report:\n{run.output[-3000:]}")
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        ran = [item["id"] for item in document["items"]]
        corpus = BEHAVIOURS[faulty.name]
        reordered = ran == corpus[::-1] if order == "reverse" else sorted(ran) == sorted(corpus) != ran
        if not reordered:
            problems.append(f"{case.name} ran {ran}, not the server corpus reordered")
        if run.leftovers:
            problems.append(f"{case.name} left processes behind: {run.leftovers}")
        found[order] = {
            behaviour: outcome
            for behaviour, outcome in verdicts(document).items()
            if behaviour not in faulty.may_break
        }
        want = expected(faulty, ran)
        # What the corpus order fails it may fail or not reach (test_server_corpus.py pins which);
        # the orders are compared with each other exactly below.
        wrong = {
            b: (found[order].get(b), want[b]) for b in want if BROKEN.get(found[order].get(b), "") != want[b]
        }
        if wrong:
            problems.append(
                f"{faulty.name} in {order} order: behaviour -> (outcome, the corpus order's): {wrong}\n"
                + "\n".join(item["text"] or "" for item in document["items"] if item["id"] in wrong)
            )
    if len(found) == len(ORDERS) and len({tuple(sorted(seen.items())) for seen in found.values()}) > 1:
        problems.append(f"{faulty.name}: verdicts differ between orders: {found}")
    return problems
