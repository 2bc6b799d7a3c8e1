"""A rule not reached: the `setup` mark of a step, the verdict it leads to, its outcome in every
report, and failures grouped by cause.

Rules of this file:
- specs are small YAML strings written here, or the bundled spec/server.yaml;
- verdicts and records are built by hand (no sockets, no processes), except the
  one pytester run that shows the outcome through pytest, JUnit and JSON, with a
  user's driver and a user's spec file, as a user runs sockspec;
- texts are checked as the user reads them, exactly where they are short.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from sockspec.judging.verdict import Failure, Verdict
from sockspec.language.loader import load_file, load_text
from sockspec.language.model import Behaviour, Call, Client, Family, Origin
from sockspec.language.server_steps import clients_at_once
from sockspec.reports import causes, jsonreport, results
from sockspec.reports.html import render
from sockspec.reports.record import (
    FORMAT,
    CorpusRecord,
    FailureRecord,
    ImplRecord,
    ItemRecord,
    ObservedModel,
    Outcome,
    RunRecord,
    ServerRecord,
    TimingRecord,
    counts,
    gate,
)
from sockspec.reports.terminal import render_failure, render_summary

from tests.test_plugin import DRIVERS  # the user's drivers module, `Broken` among them
from tests.test_server_loader import load_error, spec  # a server behaviour whose first step is on line 9

ROOT = Path(__file__).resolve().parent.parent
SERVER = {behaviour.id: behaviour for behaviour in load_file(ROOT / "spec" / "server.yaml").behaviours}
# -- the mark --------------------------------------------------------------------------------------


def test_a_setup_mark_loads_onto_the_step() -> None:
    loaded = load_text(
        spec(
            """\
            - {client: a, action: connect, setup: server.echo.small}
            - {client: a, action: send, data: "hi"}
            - {client: a, action: read, expect: {data: "hi"}}
            """
        ),
        "t.yaml",
    )
    steps = loaded.behaviours[0].steps
    assert steps[0] == Client(Origin("t.yaml", 9), "a", "connect", setup="server.echo.small")
    assert [step.setup for step in steps] == ["server.echo.small", None, None]


def test_a_driver_step_takes_the_mark_too() -> None:
    text = """\
model: blocking
source: recv(2)
behaviours:
  - id: blocking.x.y
    level: must
    rule: A recv returns.
    source: recv(2)
    steps:
      - {peer: send, data: hi, setup: blocking.recv.waits-for-peer}
      - {call: recv, size: 2, expect: {data: hi}, setup: blocking.recv.waits-for-peer}
      - {call: send, data: x}
"""
    steps = load_text(text, "t.yaml").behaviours[0].steps
    assert isinstance(steps[1], Call)
    assert [step.setup for step in steps] == ["blocking.recv.waits-for-peer"] * 2 + [None]


def test_a_setup_naming_its_own_behaviour_is_refused() -> None:
    message = load_error(
        spec(
            """\
            - {client: a, action: connect, setup: server.x.y}
            - {client: a, action: close}
            """
        )
    )
    assert message == (
        "t.yaml:9: behaviours[0].steps[0].setup (behaviour server.x.y): setup names the behaviour that "
        "tests this step directly: another behaviour, not this one (a step this behaviour judges has no "
        "setup)"
    )


def test_a_behaviour_that_is_all_setup_is_refused() -> None:
    message = load_error(
        spec(
            """\
            - {client: a, action: connect, setup: server.echo.small}
            - {client: a, action: close, setup: server.echo.small}
            """
        )
    )
    assert message == (
        "t.yaml:9: behaviours[0].steps (behaviour server.x.y): every step is marked setup, so nothing "
        "is left for the rule to judge: leave setup off the steps the rule is about"
    )


def test_a_setup_that_is_not_an_id_is_refused_by_the_schema() -> None:
    message = load_error(
        spec("- {client: a, action: connect, setup: Echo Small}\n- {client: a, action: close}\n")
    )
    assert message.startswith("t.yaml:9: behaviours[0].steps[0].setup (behaviour server.x.y): ")
    assert "an id: lower-case words joined by dots" in message


# -- the verdict -----------------------------------------------------------------------------------


def _verdict(behaviour: Behaviour, step: int | None, cause: str | None = None) -> Verdict:
    origin = behaviour.steps[step].origin if step is not None else behaviour.origin
    title = f"step {step + 1} (x)" if step is not None else "clean-up"
    failure = Failure(
        step, origin, title, ("expected success, observed nothing within 6.000 s",), cause=cause
    )
    return Verdict(behaviour, "srv", Family.TCP4, (), failure)


def test_a_failing_setup_step_means_not_reached_and_names_what_to_see() -> None:
    idle = SERVER["server.observe.idle-cpu"]
    connect = next(index for index, step in enumerate(idle.steps) if getattr(step, "client", None) == "idle")
    assert _verdict(idle, connect).not_reached == "server.concurrency.many-clients"
    assert _verdict(idle, len(idle.steps) - 1).not_reached is None  # the rule's own step
    assert _verdict(idle, None).not_reached is None  # clean-up
    assert Verdict(idle, "srv", Family.TCP4, ()).not_reached is None


def test_the_text_of_a_rule_not_reached() -> None:
    idle = SERVER["server.observe.idle-cpu"]
    connect = next(index for index, step in enumerate(idle.steps) if getattr(step, "client", None) == "idle")
    verdict = _verdict(idle, connect)
    assert verdict.failure is not None
    verdict = dataclasses.replace(
        verdict,
        failure=dataclasses.replace(verdict.failure, title=f"step {connect + 1} (idle: connect 50 clients)"),
    )
    lines = render_failure(verdict, "tiny").splitlines()
    assert lines[:4] == [
        "server.observe.idle-cpu not reached on tiny over tcp4 (server, MUST)",
        f"  rule:    {idle.rule}",
        f"  not reached: step {connect + 1} (idle: connect 50 clients) failed, so the rule was not judged; "
        "see server.concurrency.many-clients",
        "  problem: expected success, observed nothing within 6.000 s",
    ]
    assert results.failure(verdict) == FailureRecord(
        connect + 1,
        str(idle.steps[connect].origin),
        f"step {connect + 1} (idle: connect 50 clients)",
        None,
        ("expected success, observed nothing within 6.000 s",),
        see="server.concurrency.many-clients",
        clients_at_once=50,
    )


@pytest.mark.parametrize(
    ("behaviour", "client", "action", "at_once"),
    [
        ("server.concurrency.second-client", "second", "read", 2),
        ("server.concurrency.second-client", "first", "read", 1),
        ("server.concurrency.many-clients", "many", "connect", 200),
        ("server.observe.no-leak", "each", "cycle", 1),
        ("server.connections.churn", "c", "cycle", 1),
    ],
)
def test_clients_at_once_counts_what_a_step_has_connected(
    behaviour: str, client: str, action: str, at_once: int
) -> None:
    steps = SERVER[behaviour].steps
    index = next(
        index
        for index, step in enumerate(steps)
        if isinstance(step, Client) and step.client == client and step.action == action
    )
    assert clients_at_once(steps, index) == at_once


# -- causes ----------------------------------------------------------------------------------------


def _item(
    behaviour: str,
    outcome: Outcome,
    impl: str = "srv",
    see: str | None = None,
    cause: str | None = None,
    at_once: int | None = 1,
) -> ItemRecord:
    failure = None
    if outcome is not Outcome.PASSED:
        failure = FailureRecord(
            2, "spec/server.yaml:9", "step 2 (x)", None, ("observed nothing",), see, cause, at_once
        )
    return ItemRecord(
        nodeid=f"spec/server.yaml::{behaviour}[{impl}-tcp4]",
        id=behaviour,
        model="server",
        level="must",
        impl=impl,
        family="tcp4",
        outcome=outcome,
        duration=0.1,
        rule="r",
        source="s",
        failure=failure,
    )


def _server(impl: str, kind: str | None) -> ServerRecord:
    observed = ObservedModel(kind, kind, "because", ()) if kind is not None else None
    return ServerRecord(impl, None, observed, None)


def test_failures_of_a_server_seen_serving_one_client_at_a_time_share_that_cause() -> None:
    items = (
        _item("server.echo.small", Outcome.PASSED),
        _item("server.concurrency.second-client", Outcome.FAILED, at_once=2),
        _item("server.concurrency.many-clients", Outcome.FAILED, at_once=200),
        _item(
            "server.observe.idle-cpu", Outcome.NOT_REACHED, see="server.concurrency.many-clients", at_once=50
        ),
        _item("server.echo.large", Outcome.FAILED, at_once=1),
    )
    found = causes.group(items, [_server("srv", "one client at a time")])
    assert [(cause.kind, cause.cause, len(cause.items), cause.note) for cause in found] == [
        (
            "observed",
            "serves one client at a time (observed)",
            3,
            "2 of them need clients served at the same time; 1 of them not reached",
        ),
        ("rule", "server.echo.large breaks its rule", 1, None),
    ]
    assert causes.render(found, items) == [
        "srv: 3 failed, 1 not reached, 2 causes:",
        "  serves one client at a time (observed); 2 of them need clients served at the same time; "
        "1 of them not reached (3 failures: server.concurrency.second-client[tcp4], "
        "server.concurrency.many-clients[tcp4], server.observe.idle-cpu[tcp4])",
        "  server.echo.large breaks its rule (1 failure: server.echo.large[tcp4])",
    ]


def test_a_rule_not_reached_joins_the_cause_of_the_behaviour_it_names() -> None:
    items = (
        _item("server.concurrency.many-clients", Outcome.FAILED, at_once=200),
        _item("server.observe.idle-cpu", Outcome.NOT_REACHED, see="server.concurrency.many-clients"),
        _item("server.observe.no-leak", Outcome.NOT_REACHED, see="server.concurrency.many-clients"),
        _item("server.idle.stays-open", Outcome.NOT_REACHED, see="server.echo.small"),
        _item("server.connections.churn", Outcome.FAILED, cause="the server exited (exit code 1)"),
        _item("server.reset.survives", Outcome.NOT_REACHED, cause="the server is not available"),
    )
    found = causes.group(items, [_server("srv", "thread-per-client")])
    assert [(cause.kind, cause.cause, len(cause.items)) for cause in found] == [
        ("rule", "server.concurrency.many-clients breaks its rule", 3),
        ("setup", "a set-up that server.echo.small tests", 1),
        ("server", "the server exited (exit code 1)", 1),
        ("server", "the server is not available", 1),
    ]
    assert sorted(nodeid for cause in found for nodeid in cause.items) == sorted(
        item.nodeid for item in items
    )


def test_nothing_is_said_when_every_failure_is_its_own_rule() -> None:
    items = (_item("server.echo.small", Outcome.FAILED), _item("server.echo.large", Outcome.FAILED))
    found = causes.group(items, [])
    assert len(found) == 2
    assert causes.render(found, items) == []


def test_the_summary_counts_not_reached_apart_and_says_the_cause_once() -> None:
    items = (
        _item("server.concurrency.many-clients", Outcome.FAILED, at_once=200),
        _item("server.observe.idle-cpu", Outcome.NOT_REACHED, see="server.concurrency.many-clients"),
        _item("server.echo.small", Outcome.PASSED),
    )
    lines = render_summary(items, (), causes.group(items, []))
    assert lines == [
        "FAIL  srv  server          1 passed    1 failed    0 not applicable, 1 not reached",
        "srv: 1 failed, 1 not reached, 1 cause: server.concurrency.many-clients breaks its rule; "
        "1 of them not reached (server.concurrency.many-clients[tcp4], server.observe.idle-cpu[tcp4])",
    ]


# -- the reports -----------------------------------------------------------------------------------


def _record(items: tuple[ItemRecord, ...]) -> RunRecord:
    servers = (_server("srv", "thread-per-client"),)
    return RunRecord(
        format=FORMAT,
        started="2025-01-01T00:00:00+00:00",
        duration=1.0,
        corpus=CorpusRecord("0.1.0", "0123456789ab", ("spec/server.yaml",)),
        impls=(ImplRecord("srv", "a server"),),
        timing=TimingRecord(0.25, 2.0, 15.0),
        strict=False,
        baseline=None,
        servers=servers,
        items=items,
        counts=counts(items),
        stopped=None,
        gate=gate(items),
        causes=causes.group(items, servers),
    )


def test_not_reached_fails_the_gate_and_validates_in_the_json_report() -> None:
    items = (
        _item("server.concurrency.many-clients", Outcome.FAILED, at_once=200),
        _item("server.observe.idle-cpu", Outcome.NOT_REACHED, see="server.concurrency.many-clients"),
    )
    assert gate(items[1:]) == "fail"
    document = json.loads(jsonreport.render(_record(items)))
    jsonschema.validate(document, jsonreport.schema())
    assert document["counts"]["not-reached"] == 1
    assert document["items"][1]["outcome"] == "not-reached"
    assert document["items"][1]["failure"]["see"] == "server.concurrency.many-clients"
    assert document["causes"] == [
        {
            "impl": "srv",
            "cause": "server.concurrency.many-clients breaks its rule",
            "kind": "rule",
            "items": [item.nodeid for item in items],
            "note": "1 of them not reached",
        }
    ]


def test_the_html_report_shows_not_reached_apart_and_links_what_to_see() -> None:
    items = (
        _item("server.concurrency.many-clients", Outcome.FAILED, at_once=200),
        _item("server.observe.idle-cpu", Outcome.NOT_REACHED, see="server.concurrency.many-clients"),
    )
    page = render(_record(items))
    assert "<td><b>not-reached</b></td><td>not reached: a set-up step failed" in page
    assert 'class="cell outcome-not-reached" data-impl="srv" data-outcome="not-reached"' in page
    assert (
        "<dt>not reached</dt><dd>step 2 (x) failed, so the rule was not judged; see "
        '<a href="#item-server.concurrency.many-clients--srv--tcp4">server.concurrency.many-clients</a></dd>'
    ) in page
    assert '<section class="causes"><h2>Causes of failure</h2>' in page


# -- through pytest --------------------------------------------------------------------------------

COURSE = """\
model: blocking
source: recv(2)
families: [tcp4]
behaviours:
  - id: blocking.course.second-recv
    level: must
    rule: A send after a first recv returns the count of bytes it sent.
    source: send(2) "On success, these calls return the number of bytes sent."
    steps:
      - {call: recv, size: 5, as: r, setup: blocking.recv.waits-for-peer}
      - {peer: send, data: hello, after: 100ms}
      - {await: r, expect: {data: hello}, setup: blocking.recv.waits-for-peer}
      - {call: send, data: x, expect: {length: 1}}
"""


def test_a_rule_not_reached_through_pytest_junit_and_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    (pytester.path / "course.yaml").write_text(COURSE)
    junit = pytester.path / "junit.xml"
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "--impl=userdrivers:Broken",
        "--spec",
        "course.yaml",
        "--spec-only",
        "-v",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        f"--sockspec-json={report}",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "course.yaml::blocking.course.second-recv?userdrivers:Broken-tcp4? NOT REACHED*",
            "blocking.course.second-recv not reached on userdrivers:Broken over tcp4 (blocking, MUST)",
            "  not reached: step 3 * failed, so the rule was not judged; see blocking.recv.waits-for-peer",
            "FAIL  userdrivers:Broken  blocking * 0 passed * 0 failed * 0 not applicable, 1 not reached",
        ]
    )
    case = ElementTree.parse(junit).getroot().find(".//testcase")
    assert case is not None
    properties = {node.get("name"): node.get("value") for node in case.iter("property")}
    assert properties["sockspec_outcome"] == "not-reached"
    assert (properties["sockspec_not_reached"] or "").endswith("failed; see blocking.recv.waits-for-peer")
    failure = case.find("failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("blocking.course.second-recv not reached on")
    document = json.loads(report.read_text())
    assert [item["outcome"] for item in document["items"]] == ["not-reached"]
    assert document["gate"] == "fail"
