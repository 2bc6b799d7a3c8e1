"""The HTML report: rendered from a hand-built record, and from a real run opened in headless Chromium.

Rules of this file:
- `render` is checked on a small record built here, without a browser: escaping,
  the matrix, the failure sections and their timelines, no external resource;
- the page of a real run is written by the plugin (--sockspec-html) in a
  pytester subprocess run, as a user runs sockspec; the faulty driver is the
  module tests/faulty.py copied into that directory and named with
  --impl=faulty:Class, beside the reference impl `sockets`;
- Chromium is the system's (Debian's `chromium`), run as a subprocess with a
  private profile, no network, no extensions, and every call bounded; without
  it that test is skipped, saying how to install it;
- the page is read with the stdlib's html.parser (a small tree below), never
  with patterns over markup;
- what the page must show comes from pytest's own per-item lines and the
  faulty driver's `breaks`, not from the page itself.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sockspec.judging.events import Kind, What, describe
from sockspec.language.model import Level
from sockspec.reports.html import render
from sockspec.reports.html.timeline import spans
from sockspec.reports.record import (
    FORMAT,
    CorpusRecord,
    EventRecord,
    FailureRecord,
    ImplRecord,
    ItemRecord,
    NotApplicableRecord,
    ObservedModel,
    Outcome,
    RunRecord,
    ServerRecord,
    TimingRecord,
    counts,
    gate,
)

from tests.bundled import BEHAVIOURS
from tests.faulty import PollingRecv

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RUN_LIMIT = 120.0  # seconds for the sockspec run; it takes about 5 s
BROWSER_LIMIT = 90.0  # seconds for the Chromium call; it takes 1-3 s
ITEM = re.compile(
    r"^spec/[a-z]+\.yaml::(?P<id>[a-z0-9.-]+)\[(?P<impl>.+)-(?P<family>[a-z0-9]+)\] (?P<result>[A-Z]+)"
)
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


# -- a small DOM ----------------------------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        """Descendants (self included) with this tag, this class and these attributes (data_x is data-x)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            node
            for node in self.walk()
            if (tag is None or node.tag == tag)
            and (cls is None or cls in node.classes)
            and all(node.attrs.get(name) == value for name, value in wanted.items())
        ]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one <{tag} class={cls} {attrs}>, found {len(found)}"
        return found[0]

    def text(self) -> str:
        return "".join(self.texts) + "".join(child.text() for child in self.children)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].texts.append(data)


def parse(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    builder.close()
    return builder.root


# -- render, without a browser --------------------------------------------------------------------

RULE = "A recv <script>alert('rule')</script> waits & returns."


def _record() -> RunRecord:
    events = (
        EventRecord(
            0.0001, "impl", None, What(Kind.SET_UP, "set_blocking", args="True", note="blocking mode")
        ),
        EventRecord(0.0002, "impl", 1, What(Kind.CALL, "recv", "r", args="1024")),
        EventRecord(0.0005, "impl", 1, What(Kind.RETURN, "recv", "r", outcome="EOF (b'')", count=0)),
        EventRecord(0.1008, "peer", 2, What(Kind.PEER, "send", args="b'<b>hello</b>'")),
        EventRecord(0.1011, "checker", 3, What(Kind.AWAIT, "await", "r")),
    )
    failure = FailureRecord(
        3,
        "spec/blocking.yaml:18",
        "step 3 (await r: recv(1024) from step 1)",
        "data b'hello', not before 'send'",
        ("expected data b'hello', observed EOF (b'')",),
    )

    def item(impl: str, family: str, outcome: Outcome) -> ItemRecord:
        return ItemRecord(
            nodeid=f"spec/blocking.yaml::blocking.recv.waits-for-peer[{impl}-{family}]",
            id="blocking.recv.waits-for-peer",
            model="blocking",
            level="must",
            impl=impl,
            family=family,
            outcome=outcome,
            duration=0.1,
            rule=RULE,
            source="recv(2)",
        )

    items = (
        item("sockets", "tcp4", Outcome.PASSED),
        item("sockets", "unix", Outcome.PASSED),
        replace(
            item("broken<1>", "tcp4", Outcome.FAILED), failure=failure, trace=events, text="failed <text>"
        ),
        replace(item("broken<1>", "unix", Outcome.NOT_APPLICABLE), reason="no <unix> here"),
        ItemRecord(
            "spec/server.yaml::server.echo.small[srv-tcp4]",
            "server.echo.small",
            "server",
            "must",
            "srv",
            "tcp4",
            Outcome.ERROR,
            0.0,
            "The server echoes.",
            "RFC 862",
            reason="the server exited (exit code 1)",
        ),
    )
    return RunRecord(
        format=FORMAT,
        started="2025-01-01T00:00:00+00:00",
        duration=1.5,
        corpus=CorpusRecord("0.1.0", "0123456789ab", ("spec/blocking.yaml",)),
        impls=(
            ImplRecord("sockets", "Python's socket module"),
            ImplRecord("broken<1>", "polls & <returns>"),
            ImplRecord("srv", "a server"),
        ),
        timing=TimingRecord(0.25, 2.0, 15.0),
        strict=False,
        baseline=None,
        servers=(
            ServerRecord(
                "srv",
                "readiness",
                ObservedModel(
                    "thread per client", "thread-per-client", "20 <new> threads", ("threads 1 -> 21",)
                ),
                False,
                restarts=2,
                restart_causes={"after a failure <x>": 2},
            ),
        ),
        items=items,
        counts=counts(items),
        stopped="interrupted (Ctrl-C) <early>",
        gate=gate(items, "interrupted (Ctrl-C) <early>"),
        not_applicable=(
            NotApplicableRecord(
                "srv",
                "srv is a server <over the wire>",
                {"blocking": 3, "readiness": 1},
                ("blocking.recv.waits-for-peer", "readiness.select.data"),
            ),
        ),
    )


def test_render_escapes_every_text_and_loads_nothing() -> None:
    page = render(_record())
    assert "<script" not in page
    assert "run interrupted (Ctrl-C) &lt;early&gt;" in page
    assert "&lt;script&gt;alert(&#x27;rule&#x27;)&lt;/script&gt;" in page
    for raw in ("<b>hello</b>", "broken<1>", "<returns>", "<unix>", "<new>", "<text>"):
        assert raw not in page
    assert "broken&lt;1&gt;" in page
    assert not re.search(r"\b(src|srcset)=|@import|url\(|https?://(?!www\.w3\.org/2000/svg)", page)
    assert parse(page).all("td", "behaviour")[0].attrs["title"] == RULE


def test_render_matrix_sections_and_timeline() -> None:
    document = parse(render(_record()))
    assert "FAIL" in document.one("span", "verdict").text()
    assert {node.attrs["data-model"] for node in document.all("tbody", "model")} == {"blocking", "server"}
    row = document.one("tr", "behaviour", data_behaviour="blocking.recv.waits-for-peer")
    cells = {cell.attrs["data-impl"]: cell for cell in row.all("td", "cell")}
    assert set(cells) == {"sockets", "broken<1>", "srv"}
    assert "outcome-passed" in cells["sockets"].classes
    assert "outcome-failed" in cells["broken<1>"].classes
    assert "empty" in cells["srv"].classes
    marks = {mark.attrs["data-family"]: mark for mark in cells["broken<1>"].all(cls="mark")}
    assert "outcome-na" in marks["unix"].classes
    assert "no <unix> here" in marks["unix"].attrs["title"]
    link = marks["tcp4"]
    assert link.tag == "a"
    section = document.one("section", "item", id=link.attrs["href"].removeprefix("#"))
    assert section.attrs["data-impl"] == "broken<1>"
    assert "step 3 (await r: recv(1024) from step 1)" in section.text()
    assert "expected data b'hello', observed EOF (b'')" in section.text()
    svg = section.one("svg", "timeline")
    lanes = [lane.attrs["data-actor"] for lane in svg.all("g", "lane")]
    assert lanes == ["impl", "peer", "checker"]
    failing = svg.all("g", "failing")
    assert [node.attrs["data-actor"] for node in failing] == ["checker"]
    assert len(svg.all("g", "wait")) == 1  # recv called -> returned
    table = section.one("table", "events")
    assert len(table.all("tr", data_actor="impl")) == 3
    assert "[r] recv -> EOF (b'')" in table.one("tr", data_kind="return").text()
    error = document.one("section", "item", data_behaviour="server.echo.small")
    assert not error.all("svg")
    assert "the server exited (exit code 1)" in error.text()
    server = document.one("tr", data_server="srv")
    assert "NO" in server.text()
    assert "20 <new> threads" in server.text()
    assert "after a failure <x>: 2" in server.text() and server.one("span", "restarts").text() == "2"
    left_out = document.one("section", "not-applicable").one("tr", data_impl="srv").text()
    assert "blocking (3), readiness (1)" in left_out
    assert "srv is a server <over the wire>" in left_out
    assert "2 behaviours" in left_out and "readiness.select.data" in left_out


def test_spans_pair_each_call_with_its_return() -> None:
    connected = What(Kind.RETURN, "connect", client="first", outcome="connected", count=1, total=1)
    events = [
        EventRecord(0.001, "impl", 1, What(Kind.CALL, "recv", "r", args="1024")),
        EventRecord(0.002, "peer", 2, What(Kind.PEER, "send", args="b'hi'")),
        EventRecord(0.003, "impl", 1, What(Kind.RETURN, "recv", "r", outcome="b'hi'", count=2)),
        EventRecord(0.004, "peer", 3, What(Kind.PEER, "read", args="5")),
        EventRecord(0.005, "peer", 3, What(Kind.RETURN, "read", outcome="b'hello'", count=5)),
        EventRecord(0.006, "client", 4, What(Kind.CLIENT, "connect", client="first")),
        EventRecord(0.007, "client", 4, connected),
        EventRecord(0.008, "impl", 5, What(Kind.SUBMIT, "recv", "h", args="5")),
    ]
    found = [
        (describe(span.start.what), describe(span.end.what) if span.end else None) for span in spans(events)
    ]
    assert found == [
        ("[r] recv(1024) called", "[r] recv -> b'hi'"),
        ("read 5", "read -> b'hello'"),
        ("first: connect", "first: connected"),
        ("[h] submit recv(5)", None),
    ]


# -- a real run, in a real browser ----------------------------------------------------------------


def _chromium(profile: Path, *arguments: str) -> str:
    """Run headless Chromium once (in its own session, killed whole if it overruns); its stdout."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-extensions",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            out, err = process.communicate(timeout=BROWSER_LIMIT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"chromium did not finish within {BROWSER_LIMIT:.0f} s: {' '.join(command)}")
    assert process.returncode == 0, f"chromium exited with {process.returncode}:\n{err[-2000:]}"
    return out


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH (Debian: apt-get install chromium): the report is not opened in a browser",
)
def test_report_of_a_real_run_in_headless_chromium(pytester: pytest.Pytester, tmp_path: Path) -> None:
    faulty = "faulty:PollingRecv"
    must = {behaviour.id for behaviour in BEHAVIOURS if behaviour.level is Level.MUST}
    broken = sorted(set(PollingRecv.breaks) & must)[:2]  # a `should` one would be reported as WARNED
    pytester.makepyfile(faulty=(ROOT / "tests" / "faulty.py").read_text(encoding="utf-8"))
    report = pytester.path / "report.html"
    result = pytester.runpytest_subprocess(
        "--impl=sockets",
        f"--impl={faulty}",
        "-k",
        " or ".join(broken),
        "-v",
        f"--sockspec-html={report}",
        timeout=RUN_LIMIT,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, "\n".join(result.outlines + result.errlines)
    ran = [match.groupdict() for line in result.outlines if (match := ITEM.match(line))]
    assert {item["result"] for item in ran if item["impl"] == "sockets"} == {"PASSED"}
    assert {item["result"] for item in ran if item["impl"] == faulty} == {"FAILED"}
    behaviours = {item["id"] for item in ran}
    assert set(broken) <= behaviours
    assert report.is_file()

    screenshot = tmp_path / "report.png"
    dom = _chromium(
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        "--window-size=1400,2000",
        "--dump-dom",
        report.as_uri(),
    )
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1400, 2000)
    assert len(png) > 30_000, f"the screenshot is nearly blank ({len(png)} bytes)"

    document = parse(dom)
    assert {node.attrs["data-impl"] for node in document.all("th", "impl")} == {"sockets", faulty}
    rows = {row.attrs["data-behaviour"]: row for row in document.all("tr", "behaviour")}
    assert set(rows) == behaviours
    for behaviour, row in rows.items():
        cells = {cell.attrs["data-impl"]: cell for cell in row.all("td", "cell")}
        assert set(cells) == {"sockets", faulty}, behaviour
        if behaviour in broken:
            assert "outcome-failed" in cells[faulty].classes, behaviour
            assert "outcome-passed" in cells["sockets"].classes, behaviour
    first = broken[0]
    link = rows[first].one("td", data_impl=faulty).all("a", "mark")[0]
    section = document.one("section", "item", id=link.attrs["href"].removeprefix("#"))
    assert (section.attrs["data-behaviour"], section.attrs["data-impl"]) == (first, faulty)
    phrase = PollingRecv.breaks[first]
    assert any(one in section.text() for one in ((phrase,) if isinstance(phrase, str) else phrase))
    svg = section.one("svg", "timeline")
    actors = {event.attrs["data-actor"] for event in svg.all("g", "event")}
    assert {"impl", "peer", "checker"} <= actors
    assert svg.all("g", "failing")
    assert svg.all("g", "wait")
    assert "ms" in svg.one("g", "axis").text()
