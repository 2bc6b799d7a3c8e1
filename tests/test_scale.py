"""Scale behaviours: the summaries, the loop's rule, real servers at small levels, the plugin's opt-in.

Rules of this file:
- the pure parts (percentiles, per-client costs, what the machine can reach, the levels
  option, the loop's rule, the figure and the table) are fed values written out here;
- real servers run the corpus's scale behaviours at small levels only (2 and 5 clients;
  5 and 20 for the faulty one), never the corpus's own levels, so the file stays fast;
- the faulty server tests/faulty_servers/threads_past_select.py declares readiness and
  grows a thread per client past 8 clients: every scale behaviour of the corpus fails it
  at 20 clients, with the loop's rule, and passes it at 5;
- the plugin is run as a user runs it (pytester subprocesses): scale items are
  deselected unless -m names `scale`, and then the terminal, the JSON report (valid
  against its schema, under pytest-xdist too) and the HTML report carry the figures.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from sockspec.judging.events import Kind
from sockspec.judging.scale import (
    Latency,
    Level,
    LevelOutcome,
    Machine,
    PerClient,
    Tree,
    Work,
    latency,
    level,
    per_client,
    percentile,
    unreachable,
)
from sockspec.language.loader import SpecError, load_text
from sockspec.language.model import Behaviour, Client, Family, Model
from sockspec.language.server_steps import at_level, parse_levels
from sockspec.language.timing import Timing
from sockspec.reports import html, jsonreport, scale_text
from sockspec.reports.html import scaleplot
from sockspec.reports.record import (
    FORMAT,
    CorpusRecord,
    ImplRecord,
    ItemRecord,
    Outcome,
    RunRecord,
    TimingRecord,
    counts,
    gate,
)
from sockspec.servers import infer, observe, scale
from sockspec.servers.config import DeclaredModel, ServerSpec
from sockspec.servers.live import LiveServer
from sockspec.servers.observe import Parked, Process, Snapshot, Stat, Thread, Wait
from sockspec.servers.scale import ScaleVerdict, Unreachable, run_scale_behaviour, work

from tests.bundled import BEHAVIOURS
from tests.live_servers import faulty, live, reference
from tests.server_runs import new_mark, pyproject

FAULTY = Path(__file__).resolve().parent / "faulty_servers"
PY = sys.executable
SCALE = [behaviour for behaviour in BEHAVIOURS if behaviour.scale is not None]
SMALL = (2, 5)
TIMING = Timing(step_limit=2.0, item_limit=30.0)


# -- summaries -------------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_latency_summarises_unsorted_values() -> None:
    assert latency([0.3, 0.1, 0.2]) == Latency(p50=0.2, p99=0.3, max=0.3, count=3)
    assert latency([]) is None


def tree(processes: int, threads: int, rss: int | None = 1000, pss: int | None = 600) -> Tree:
    return Tree(processes, threads, fds=10, rss=rss, pss=pss)


def test_per_client_counts_a_new_process_and_not_its_first_thread_twice() -> None:
    each = per_client(10, tree(1, 1, 1000, 600), tree(11, 11, 11000, 1600), Work(1.0, 0.5, 20, 5))
    assert each == PerClient(threads=0.0, processes=1.0, rss=1000.0, pss=100.0, cpu=0.05, switches=2.5)


def test_per_client_of_a_thread_per_client_server_is_one_thread() -> None:
    each = per_client(100, tree(1, 2), tree(1, 102), Work(1.0, 0.0, None, 3))
    assert each.threads == 1.0 and each.processes == 0.0 and each.switches is None


def test_a_level_without_both_observations_has_no_per_client_figures() -> None:
    found = level(10, LevelOutcome.FAILED, reason="step 2 failed", latencies=[0.001], before=tree(1, 1))
    assert found.per_client is None and found.latency == Latency(0.001, 0.001, 0.001, 1)


MACHINE = Machine(
    descriptors=19_000, ports=28_232, server_descriptors=20_000, memory=20 * 10**9, tasks=30_000
)


def measured(clients: int, pss: float, threads: float) -> Level:
    return Level(
        clients,
        LevelOutcome.MEASURED,
        per_client=PerClient(threads=threads, processes=0.0, rss=pss * 20, pss=pss, cpu=0.0, switches=1.0),
    )


@pytest.mark.parametrize(
    ("clients", "machine", "last", "reason"),
    [
        (10_000, MACHINE, None, None),
        (20_000, MACHINE, None, "RLIMIT_NOFILE hard limit leaves room for 19000"),
        (10_000, Machine(19_000, 5_000), None, "ip_local_port_range) has 5000"),
        (
            10_000,
            Machine(19_000, 28_232, server_descriptors=1024),
            None,
            "the server may open 1024 descriptors",
        ),
        # 10,000 x 400 kB = 4 GB fits in half of 20 GB; 10,000 x 4 MB = 40 GB does not (PSS, not RSS).
        (10_000, MACHINE, measured(1000, 400_000, 0.0), None),
        (10_000, MACHINE, measured(1000, 4_000_000, 0.0), "would take about 40.0 GB, more than 50%"),
        (10_000, MACHINE, measured(1000, 1000, 2.0), "would need about 20000, more than 50% of the 30000"),
    ],
)
def test_what_the_machine_cannot_reach_is_said(
    clients: int, machine: Machine, last: Level | None, reason: str | None
) -> None:
    said = unreachable(clients, machine, last)
    assert (said is None) == (reason is None), said
    if reason is not None:
        assert said is not None and reason in said


@pytest.mark.parametrize(
    ("text", "levels"),
    [("10,100,1000", (10, 100, 1000)), ("1_000 10, 10", (10, 1000)), (" 5 ", (5,))],
)
def test_levels_parse_sorted_and_without_repeats(text: str, levels: tuple[int, ...]) -> None:
    assert parse_levels(text) == levels


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no levels given"),
        ("10,ten", "'ten' is not a number"),
        ("0", "a level is 1 to 10000"),
        ("20000", "1 to"),
    ],
)
def test_levels_that_cannot_run_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_levels(text)


# -- the spec language --------------------------------------------------------------------------------

SPEC = """\
model: server
source: RFC 862 "any data received is sent back"
behaviours:
  - id: server.scale.sample
    level: must
    rule: Each of the clients gets its own echo at each level.
    source: RFC 862 "any data received is sent back"
    scale: {levels: [3, 30], measure: echoed, limit: 20s}
    steps:
      - {observe: before}
      - {client: many, action: connect, count: level}
      - {client: many, action: send, data: "hi {client}"}
      - {client: many, action: read, expect: {data: "hi {client}"}}
      - {observe: echoed, baseline: before, expect: {loop_flat: true}}
"""


def test_a_scale_behaviour_loads_with_its_largest_level_until_one_is_chosen() -> None:
    (behaviour,) = load_text(SPEC, "s.yaml").behaviours
    assert behaviour.scale is not None and behaviour.scale.levels == (3, 30) and behaviour.scale.limit == 20.0
    connect = behaviour.steps[1]
    assert isinstance(connect, Client) and connect.scaled and connect.count == 30
    at_three = at_level(behaviour, 3).steps[1]
    assert isinstance(at_three, Client) and at_three.count == 3 and at_three.scaled


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("measure: echoed", "measure: nowhere", "no observe step is named 'nowhere'"),
        ("levels: [3, 30]", "levels: [30, 3]", "levels run from the fewest clients up"),
        ("count: level}", "count: 3}", "connects one group of `count: level` clients (found 0)"),
        (
            "    scale: {levels: [3, 30], measure: echoed, limit: 20s}\n",
            "",
            "count: level needs a scale section",
        ),
        ("baseline: before, expect", "expect", "loop_flat needs baseline"),
        ("count: level}", "count: lots}", "count"),
    ],
)
def test_a_wrong_scale_behaviour_is_refused_with_its_place(old: str, new: str, message: str) -> None:
    assert old in SPEC
    with pytest.raises(SpecError, match=re.escape(message)):
        load_text(SPEC.replace(old, new), "s.yaml")


def test_the_corpus_has_scale_behaviours_of_servers_only() -> None:
    assert SCALE, "the corpus has no scale behaviour"
    assert all(behaviour.model is Model.SERVER for behaviour in SCALE)
    assert all(b.scale is not None and b.scale.levels == (10, 100, 1000, 10000) for b in SCALE)


# -- the loop's rule -------------------------------------------------------------------------------------


def evidence(clients: int, threads: int) -> infer.Evidence:
    return infer.Evidence(clients=clients, base=(1, 1, 5), loaded=(1, threads, 5 + clients))


def test_a_declared_loop_is_held_to_its_rule_and_a_threads_server_is_not() -> None:
    assert infer.loop_reason(DeclaredModel.READINESS, None) == "it declares readiness"
    assert infer.loop_reason(DeclaredModel.COMPLETION, None) == "it declares completion"
    assert infer.loop_reason(DeclaredModel.THREADS, None) is None
    first = infer.infer(
        infer.Evidence(clients=5, base=(1, 1, 5), loaded=(1, 1, 10), kinds={Wait.READINESS: 1})
    )
    assert (
        infer.loop_reason(None, first) == "it was observed as a single-thread readiness loop with 5 clients"
    )
    assert infer.loop_reason(DeclaredModel.THREADS, first) is None


def test_a_loop_that_grows_a_thread_per_client_breaks_the_rule() -> None:
    problems = infer.check_loop_flat("it declares readiness", evidence(20, 13))
    assert problems[0] == (
        "expected a readiness or completion loop (it declares readiness) to keep its threads and processes "
        "as clients come (at most 0.2 new per client), observed 12 new for 20 clients (0.60 per client)"
    )
    assert infer.check_loop_flat("it declares readiness", evidence(20, 3)) == []
    assert infer.check_loop_flat(None, evidence(20, 21)) == []


# -- /proc costs ------------------------------------------------------------------------------------------

TASK_STATUS = """\
Name:\tpython3
State:\tS (sleeping)
Threads:\t3
voluntary_ctxt_switches:\t1234
nonvoluntary_ctxt_switches:\t56
"""
SMAPS_ROLLUP = """\
55d0c0000000-7ffd00000000 ---p 00000000 00:00 0                          [rollup]
Rss:               15028 kB
Pss:                9658 kB
Pss_Anon:           4000 kB
"""
LIMITS = """\
Limit                     Soft Limit           Hard Limit           Units
Max processes             96364                96364                processes
Max open files            20000                20000                files
"""


def test_cost_parsers_read_captured_proc_files() -> None:
    assert observe.parse_switches(TASK_STATUS) == (1234, 56)
    assert observe.parse_switches("Name:\tx\n") is None
    assert observe.parse_pss(SMAPS_ROLLUP) == 9658 * 1024
    assert observe.parse_statm_rss("6800 3668 1900 1 0 2500 0", 4096) == 3668 * 4096
    assert observe.parse_open_files_limit(LIMITS) == 20000
    assert observe.parse_open_files_limit(LIMITS.replace("20000 ", "unlimited ", 1)) is None


def process(pid: int, start: int, cpu: int, threads: dict[int, tuple[int, int]], rss: int = 100) -> Process:
    stat = Stat(pid, "srv", "S", 1, pid, pid, cpu, 0, len(threads), start)
    return Process(
        stat,
        tuple(Thread(tid, Parked(Wait.READINESS, "epoll_wait"), counts) for tid, counts in threads.items()),
        4,
        rss,
        rss // 2,
    )


def test_work_counts_new_processes_whole_and_ended_ones_not_at_all() -> None:
    before = Snapshot(1.0, (process(10, 500, 7, {10: (100, 5)}), process(11, 600, 3, {11: (1, 1)})))
    during = Snapshot(
        3.5,
        (process(10, 500, 9, {10: (130, 6), 12: (4, 0)}), process(13, 700, 100, {13: (10, 2)})),
    )
    found = work(before, during, ticks=100)
    # cpu: (9 - 7) + 100 (new) = 102 ticks; switches: 30 + 4 + 10 voluntary, 1 + 0 + 2 nonvoluntary.
    assert found == Work(seconds=2.5, cpu=1.02, voluntary=44, nonvoluntary=3)
    assert during.rss == 200 and during.pss == 100


# -- the figure and the table --------------------------------------------------------------------------


def figures(clients: int, threads: int, outcome: LevelOutcome = LevelOutcome.MEASURED) -> Level:
    if outcome is not LevelOutcome.MEASURED:
        return level(clients, outcome, reason="the machine says no")
    return level(
        clients,
        outcome,
        connect=0.01 * clients,
        latencies=[0.001, 0.002],
        before=tree(1, 1, 10_000_000, 8_000_000),
        during=tree(1, threads, 10_000_000 + 1000 * clients, 8_000_000 + 500 * clients),
        work=Work(1.0, 0.1, clients, clients),
        model="thread-per-client" if threads > 1 else "single-thread readiness loop",
    )


SERIES = [
    scaleplot.Series("threads <&>", (figures(10, 11), figures(100, 101), figures(1000, 1001))),
    scaleplot.Series(
        "loop", (figures(10, 1), figures(100, 1), figures(1000, 1, LevelOutcome.NOT_APPLICABLE))
    ),
]


def test_the_figure_draws_four_log_panels_with_a_line_per_server() -> None:
    svg = scaleplot.figure(SERIES, "title & more")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg and "href" not in svg
    assert svg.count('class="panel"') == len(scaleplot.PANELS) == 4
    assert svg.count("<polyline") == 2 * 4  # each server has two points or more in each panel
    assert "threads &lt;&amp;&gt;" in svg and "title &amp; more" in svg
    assert "loop (1000: n/a)" in svg
    for label in (">10<", ">100<", ">1k<"):
        assert label in svg


def test_a_log_axis_puts_each_decade_an_equal_step_apart() -> None:
    axis = scaleplot.Axis(1, 3, 100.0, 300.0)
    assert axis.at(10) == 100.0 and axis.at(100) == 200.0 and axis.at(1000) == 300.0
    assert [scaleplot.decade_label(power) for power in (-1, 0, 3, 4, 6)] == ["0.1", "1", "1k", "10k", "1M"]
    # A duration's or size's decade is labelled without decimals, so "100 ms" fits left of its axis.
    assert [scaleplot.decade_in(scaleplot.SECONDS)(p) for p in (-7, -4, -1, 0, 2)] == [
        "0.1 us",
        "100 us",
        "100 ms",
        "1 s",
        "100 s",
    ]
    assert [scaleplot.decade_in(scaleplot.BYTES)(p) for p in (0, 4, 7, 9)] == [
        "1 B",
        "10 kB",
        "10 MB",
        "1 GB",
    ]


def test_the_table_gives_each_level_a_line_and_says_why_a_level_has_none() -> None:
    lines = scale_text.table(SERIES[1].levels)
    assert len(lines) == 1 + 2 + 1 + 1  # heading, two levels with figures, the n/a one, the models
    assert lines[1].split()[:3] == ["10", "100.0", "ms"]
    assert "  1000 clients: n/a: the machine says no" in lines
    assert scale_text.size(1500) == "1.5 kB" and scale_text.duration(0.00047) == "470 us"


def test_the_html_report_draws_the_scale_items_and_tables_their_levels() -> None:
    item = ItemRecord(
        nodeid="spec/scale.yaml::server.scale.clients[srv<1>-tcp4]",
        id="server.scale.clients",
        model="server",
        level="must",
        impl="srv<1>",
        family="tcp4",
        outcome=Outcome.PASSED,
        duration=3.0,
        rule="Each client gets its echo.",
        source="RFC 862",
        scale=SERIES[1].levels,
    )
    run = RunRecord(
        format=FORMAT,
        started="2025-01-01T00:00:00+00:00",
        duration=3.0,
        corpus=CorpusRecord("0.1.0", "0123456789ab", ("spec/scale.yaml",)),
        impls=(ImplRecord("srv<1>", "a server"),),
        timing=TimingRecord(0.02, 2.0, 15.0),
        strict=False,
        baseline=None,
        servers=(),
        items=(item,),
        counts=counts((item,)),
        stopped=None,
        gate=gate((item,)),
    )
    page = html.render(run)
    assert "<script" not in page and "srv<1>" not in page
    section = page[page.index('<section class="scale"') : page.index("</section>", page.index('id="scale"'))]
    assert section.count("<svg") == 1 and 'data-server="srv&lt;1&gt;"' in section
    assert [f'data-clients="{level.clients}"' in section for level in SERIES[1].levels] == [True] * 3
    assert "1000 clients: n/a: the machine says no" in section


# -- real servers at small levels -----------------------------------------------------------------------


@pytest.fixture
def selectors_server() -> Iterator[LiveServer]:
    yield from live(reference("selectors_server"), "readiness")


@pytest.fixture
def threads_server() -> Iterator[LiveServer]:
    yield from live(reference("threads_server"), "threads")


@pytest.fixture(params=["readiness", None], ids=["declared", "undeclared"])
def threads_past_select(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    yield from live(faulty("threads_past_select"), request.param)


def play(behaviour: Behaviour, server: LiveServer, levels: tuple[int, ...]) -> ScaleVerdict:
    return run_scale_behaviour(behaviour, server, Family.TCP4, TIMING, levels)


@pytest.mark.parametrize("behaviour", SCALE, ids=lambda b: b.id)
def test_a_readiness_loop_passes_each_level_with_one_thread(
    behaviour: Behaviour, selectors_server: LiveServer
) -> None:
    verdict = play(behaviour, selectors_server, SMALL)
    assert verdict.passed, verdict.failure
    assert [found.clients for found in verdict.levels] == list(SMALL)
    for found in verdict.levels:
        assert found.outcome is LevelOutcome.MEASURED and found.during is not None and found.per_client
        assert found.during.threads == 1 and found.per_client.threads == 0.0
        assert found.latency is not None and found.latency.count == found.clients
        assert found.connect is not None and found.work is not None and found.work.voluntary is not None
        assert found.model == "single-thread readiness loop"
    levels = [event.what.count for event in verdict.events if event.what.kind is Kind.LEVEL]
    assert levels == list(SMALL)


@pytest.mark.parametrize("behaviour", SCALE, ids=lambda b: b.id)
def test_a_thread_per_client_server_is_measured_not_judged(
    behaviour: Behaviour, threads_server: LiveServer
) -> None:
    verdict = play(behaviour, threads_server, SMALL)
    assert verdict.passed, verdict.failure
    top = verdict.levels[-1]
    assert top.per_client is not None and top.per_client.threads == 1.0
    assert top.model == "thread-per-client"


@pytest.mark.parametrize("behaviour", SCALE, ids=lambda b: b.id)
def test_a_loop_that_grows_threads_with_its_clients_fails_at_the_level_that_shows_it(
    behaviour: Behaviour, threads_past_select: LiveServer
) -> None:
    verdict = play(behaviour, threads_past_select, (5, 20))
    assert verdict.failure is not None, "the thread per client past 8 clients went unnoticed"
    assert verdict.failure.title.startswith("at 20 clients, step ")
    first = verdict.failure.mismatches[0]
    reason = (
        "it declares readiness"
        if threads_past_select.declared is not None
        else "it was observed as a single-thread readiness loop with 5 clients"
    )
    assert f"expected a readiness or completion loop ({reason}) to keep its threads" in first
    assert "observed 12 new for 20 clients (0.60 per client)" in first
    assert [found.outcome for found in verdict.levels] == [LevelOutcome.MEASURED, LevelOutcome.FAILED]
    assert verdict.levels[1].during is not None and verdict.levels[1].during.threads == 13
    assert [e.what.count for e in verdict.events if e.what.kind is Kind.LEVEL] == [20], (
        "its level's trace alone"
    )


class Cramped(LiveServer):
    """A live server that says it may open only `limit` descriptors."""

    limit = 40

    def open_files_limit(self) -> int | None:
        return self.limit


def test_a_level_past_the_servers_descriptors_is_not_applicable() -> None:
    (behaviour, *_rest) = SCALE
    spec = ServerSpec(name="srv", origin="test", command=tuple(reference("selectors_server")))
    server = Cramped(spec, FAULTY)
    try:
        server.ensure()
        verdict = play(behaviour, server, (2, 5, 50))
        assert verdict.passed, verdict.failure
        outcomes = [found.outcome for found in verdict.levels]
        assert outcomes == [LevelOutcome.MEASURED, LevelOutcome.MEASURED, LevelOutcome.NOT_APPLICABLE]
        assert "the server may open 40 descriptors (its RLIMIT_NOFILE)" in (verdict.levels[2].reason or "")
        server.limit = 10
        with pytest.raises(Unreachable, match="the fewest it runs at"):
            play(behaviour, server, (2, 5))
    finally:
        server.stop()
        server.remove_output()


# -- the plugin ------------------------------------------------------------------------------------------


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def test_scale_items_are_left_out_unless_minus_m_names_them(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--impl=selectors", "-m", "server", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    assert not any(line.startswith("spec/scale.yaml::") for line in result.outlines), output(result)
    ids = ", ".join(b.id for b in SCALE)
    result.stdout.fnmatch_lines(
        [f"opt-in, so deselected: {len(SCALE)} scale item* ({ids}): *run them with -m scale"]
    )
    chosen = pytester.runpytest_subprocess(
        "--impl=selectors", "-m", "scale", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    items = [line for line in chosen.outlines if "::" in line]
    assert items == [f"spec/scale.yaml::{b.id}[selectors-tcp4]" for b in SCALE], output(chosen)


def test_a_scale_run_reports_its_figures_under_xdist_too(pytester: pytest.Pytester) -> None:
    mark = new_mark()
    command = faulty("threads_past_select")
    pytester.makepyprojecttoml(pyproject("past", command, mark, model="readiness"))
    result = pytester.runpytest_subprocess(
        "--impl=selectors",
        "--impl=past",
        "-m",
        "scale",
        "-n",
        "2",
        "--sockspec-scale-levels=5,20",
        "--sockspec-json=run.json",
        "--sockspec-html=run.html",
        "-p",
        "no:cacheprovider",
    )
    text = output(result)
    result.assert_outcomes(passed=len(SCALE), failed=len(SCALE))
    assert "sockspec scale: levels are measured while other workers run items (-n 2)" in text
    document = json.loads((pytester.path / "run.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, jsonreport.schema())
    by_impl = {item["impl"]: item for item in document["items"]}
    assert [found["clients"] for found in by_impl["selectors"]["scale"]] == [5, 20]
    assert [found["outcome"] for found in by_impl["past"]["scale"]] == ["measured", "failed"]
    assert by_impl["past"]["scale"][1]["during"]["threads"] == 13
    page = (pytester.path / "run.html").read_text(encoding="utf-8")
    assert page.count('class="scale-figure"') == 2 and 'data-server="past"' in page and "<script" not in page
    assert "server.scale.clients on past over tcp4: failed" in text


def test_the_speed_hint_is_shown_for_several_impls_without_workers(pytester: pytest.Pytester) -> None:
    hint = "sockspec speed: items mostly wait"
    alone = pytester.runpytest_subprocess("--impl=sockets", "--impl=selectors", "--collect-only")
    assert hint in output(alone)
    chosen = pytester.runpytest_subprocess("--impl=sockets", "--impl=selectors", "--collect-only", "-n", "0")
    assert hint not in output(chosen)
    single = pytester.runpytest_subprocess("--impl=sockets", "--collect-only")
    assert hint not in output(single)
    measuring = pytester.runpytest_subprocess(
        "--impl=sockets", "--impl=selectors", "-m", "scale", "--collect-only"
    )
    assert hint not in output(measuring), "a scale run measures: it is not told to share the machine"


def test_levels_that_cannot_run_are_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--impl=selectors", "-m", "scale", "--sockspec-scale-levels=10,lots"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--sockspec-scale-levels / sockspec_scale_levels: 'lots' is not a number of clients" in output(
        result
    )


def test_one_scale_measure_at_a_time_on_the_machine(tmp_path: Path, selectors_server: LiveServer) -> None:
    # Whatever pytest-xdist does with the scale items, a measure waits for the one in progress
    # (another worker's, or another run's) and its trace says how long.
    lock = tmp_path / "scale.lock"
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with scale.measuring_alone(lock) as waited:
            assert waited is not None
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.3, release.set).start()
    verdict = run_scale_behaviour(SCALE[0], selectors_server, Family.TCP4, TIMING, (5,), lock=lock)
    holder.join(10)
    assert verdict.passed, verdict.failure
    first = verdict.events[0].what
    assert first.kind is Kind.SET_UP and first.op == "scale_lock", verdict.events[0]
    assert first.note.startswith("waited ") and "another scale measurement" in first.note
    # Nobody else measuring: no wait, nothing added to the trace.
    alone = run_scale_behaviour(SCALE[0], selectors_server, Family.TCP4, TIMING, (5,), lock=lock)
    assert all(event.what.op != "scale_lock" for event in alone.events)
