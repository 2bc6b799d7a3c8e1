"""The HTML report: a run's record as one page a person reads in a browser.

Rules of this module:
- pure: `render` takes a `RunRecord` and returns the page as text; no I/O, no
  pytest; writing the file is the caller's;
- self-contained: inline CSS and inline SVG, no script, no external resource
  (no font, image, stylesheet or link out of the page), so the file opens
  offline, from a CI artifact, years later;
- every text from the record goes through `html.escape`, in attributes too:
  rules, payloads, reasons and driver descriptions are text, never markup;
- each outcome has one CSS class, one colour and one mark (`OUTCOMES`), and
  the mark or the word is always there beside the colour, so the page reads
  without colour and without JS;
- a timeline draws time to scale: x is ms on the behaviour's own clock, one
  lane per actor, a bar from each call to its return (the wait), the failing
  step's events in red; the same events follow as a table.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sockspec.reports.record import EventRecord, ItemRecord, Outcome, RunRecord, ServerRecord, checked_nothing

# -- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How an outcome looks: its CSS class, its mark in the matrix, and its meaning in words."""

    css: str
    mark: str
    words: str


OUTCOMES: dict[Outcome, Style] = {
    Outcome.PASSED: Style("outcome-passed", "✓", "the rule held"),
    Outcome.FAILED: Style("outcome-failed", "✗", "the rule was broken (fails the run)"),
    Outcome.WARNED: Style("outcome-warned", "!", "a SHOULD rule was broken (a warning outside strict mode)"),
    Outcome.EXPECTED_FAIL: Style("outcome-expected-fail", "xf", "broken, as the baseline expects"),
    Outcome.UNEXPECTED_PASS: Style(
        "outcome-unexpected-pass", "xp", "held, but the baseline lists it as broken (fails the run)"
    ),
    Outcome.NOT_APPLICABLE: Style("outcome-na", "-", "not applicable (the reason is in the tooltip)"),
    Outcome.ERROR: Style("outcome-error", "E", "the checker could not judge it (fails the run)"),
}
#: From the mildest to the worst: a matrix cell takes the worst outcome of its families.
SEVERITY: tuple[Outcome, ...] = (
    Outcome.NOT_APPLICABLE,
    Outcome.PASSED,
    Outcome.EXPECTED_FAIL,
    Outcome.WARNED,
    Outcome.UNEXPECTED_PASS,
    Outcome.FAILED,
    Outcome.ERROR,
)
#: Outcomes that get a section of their own, linked from the matrix.
DETAILED: frozenset[Outcome] = frozenset(
    {Outcome.FAILED, Outcome.WARNED, Outcome.EXPECTED_FAIL, Outcome.UNEXPECTED_PASS, Outcome.ERROR}
)
MODELS: dict[str, str] = {
    "blocking": "Blocking",
    "nonblocking": "Non-blocking",
    "readiness": "Readiness notification (select, poll, epoll)",
    "completion": "Completion notification",
    "server": "Servers over the wire",
}
FAMILIES: tuple[str, ...] = ("tcp4", "tcp6", "unix")
#: Timeline lanes, top to bottom, and each actor's colour.
ACTORS: dict[str, str] = {
    "impl": "#0969da",
    "peer": "#1b7c83",
    "checker": "#6e7781",
    "client": "#8250df",
    "server": "#9a6700",
}
OTHER_ACTOR = "#57606a"
FAILING = "#cf222e"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em;
  color: #1f2328; background: #ffffff; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.6em; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; margin: 0.5em 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.verdict { display: inline-block; font-weight: 700; font-size: 1.3em; padding: 0.15em 0.7em;
  border-radius: 0.3em; }
.verdict.gate-pass { background: #1a7f37; color: #ffffff; }
.verdict.gate-fail { background: #cf222e; color: #ffffff; }
.count { display: inline-block; margin: 0.2em 0.3em 0.2em 0; padding: 0.1em 0.5em; border-radius: 0.3em;
  border: 1px solid; }
.mark { display: inline-block; padding: 0 0.25em; margin: 0 0.1em; border-radius: 0.2em; border: 1px solid;
  font-size: 0.85em; text-decoration: none; }
a.mark { text-decoration: underline; }
.outcome-passed { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.outcome-failed { background: #ffebe9; color: #a40e26; border-color: #ff8182; }
.outcome-warned { background: #fff8c5; color: #7d4e00; border-color: #d4a72c; }
.outcome-expected-fail { background: #fbefff; color: #6639ba; border-color: #c297ff; }
.outcome-unexpected-pass { background: #fff1e5; color: #953800; border-color: #fb8f44; }
.outcome-na { background: #f6f8fa; color: #57606a; border-color: #d0d7de; }
.outcome-error { background: #82071e; color: #ffffff; border-color: #82071e; }
table.matrix th.impl { max-width: 12em; word-break: break-all; font-weight: 600; }
table.matrix tr.model-heading th { background: #ffffff; border: none; padding: 1.2em 0 0.2em; }
table.matrix tr.model-heading h3 { margin: 0; }
table.matrix td.behaviour { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9em; }
table.matrix td.cell { white-space: nowrap; text-align: center; }
table.matrix td.cell.empty { background: #ffffff; color: #8c959f; }
.level { font-size: 0.8em; font-weight: 700; letter-spacing: 0.03em; }
.level-must { color: #a40e26; } .level-should { color: #7d4e00; }
table.legend td { border: none; padding: 0.1em 0.5em; }
section.item { border: 1px solid #d0d7de; border-left-width: 6px; border-radius: 0.3em;
  padding: 0.3em 1em 1em; margin: 1.2em 0; }
section.item[data-outcome="failed"], section.item[data-outcome="error"] { border-left-color: #cf222e; }
section.item[data-outcome="warned"] { border-left-color: #d4a72c; }
section.item[data-outcome="expected-fail"] { border-left-color: #8250df; }
section.item[data-outcome="unexpected-pass"] { border-left-color: #fb8f44; }
section.item h3 { margin: 0.4em 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
ul.observed li { color: #a40e26; }
.timeline { overflow-x: auto; margin: 0.6em 0; }
table.events td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.85em;
  padding: 0.1em 0.5em; }
table.events td.at { text-align: right; }
table.events tr.failing-step td { background: #ffebe9; color: #a40e26; font-weight: 600; }
.note { color: #57606a; font-size: 0.9em; }
.stopped { color: #a40e26; font-weight: 600; }
.match-yes { color: #116329; font-weight: 700; } .match-no { color: #a40e26; font-weight: 700; }
"""

# -- the timeline's geometry (px) ----------------------------------------------------------------

GUTTER = 70  # the lane names
PLOT = 1000  # the time axis
RIGHT = 30
ROW = 16  # one label row
BAR_ROW = 12  # one bar track
LANE_PAD = 8
AXIS = 34
CHAR = 6.7  # the width of one character at 11px monospace
LABEL_CHARS = 46
MAX_ROWS = 14
MIN_BAR = 2.0

_CALL = re.compile(r"^(?P<label>\[[^\]]*\] )?(?:submit )?(?P<who>[\w.#-]+: )?(?P<op>[a-z_]+)")
_RETURN = re.compile(r" (?:->|completed) ")
_CONNECTED = re.compile(r"^(?P<who>[\w.#-]+: )(?:\d+ of \d+ )?connected$")


# -- the page ------------------------------------------------------------------------------------


def render(record: RunRecord) -> str:
    """The whole report as one HTML document."""
    anchors = _anchors(record.items)
    body = [
        *_header(record),
        *_servers(record.servers),
        *_matrix(record, anchors),
        *_details(record.items, anchors),
    ]
    title = f"sockspec report: {record.gate}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _took(seconds: float) -> str:
    """A wait: to a hundredth of a ms below 1 ms, where calls that return at once are."""
    return f"{seconds * 1000:.2f} ms" if seconds < 0.001 else _ms(seconds)


def _duration(seconds: float) -> str:
    return f"{seconds:g} s" if seconds >= 1 else _ms(seconds)


def _style(outcome: Outcome) -> Style:
    return OUTCOMES[outcome]


def _level(level: str) -> str:
    return f'<span class="level level-{_e(level.lower())}">{_e(level.upper())}</span>'


def _anchors(items: Sequence[ItemRecord]) -> dict[int, str]:
    """The id of each detailed item's section (by the item's index), readable and unique."""
    found: dict[int, str] = {}
    used: set[str] = set()
    for index, item in enumerate(items):
        if item.outcome not in DETAILED:
            continue
        base = "item-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{item.id}--{item.impl}--{item.family}")
        anchor, number = base, 1
        while anchor in used:
            number += 1
            anchor = f"{base}-{number}"
        used.add(anchor)
        found[index] = anchor
    return found


def _header(record: RunRecord) -> list[str]:
    timing = record.timing
    gate = "pass" if record.gate == "pass" else "fail"
    lines = [
        "<header>",
        "<h1>sockspec conformance report</h1>",
        f'<p><span class="verdict gate-{gate}" id="gate">gate: {_e(record.gate.upper())}</span> '
        f'<span class="note">{_e(_gate_words(record))}</span></p>',
        *([f'<p class="stopped" id="stopped">run {_e(record.stopped)}</p>'] if record.stopped else []),
        '<p class="counts">',
    ]
    for outcome in Outcome:
        style = _style(outcome)
        count = record.counts.get(outcome.value, 0)
        lines.append(
            f'<span class="count {style.css}" data-outcome="{_e(outcome.value)}">'
            f"{_e(style.mark)} {_e(outcome.value)}: <b>{count}</b></span>"
        )
    lines.append("</p>")
    lines.append('<dl class="facts">')
    facts: list[tuple[str, str]] = [
        ("sockspec", record.corpus.sockspec),
        ("corpus digest", record.corpus.digest),
        ("spec files", ", ".join(record.corpus.files) or "none"),
        ("started", record.started),
        ("duration", f"{record.duration:.1f} s"),
        (
            "timing",
            f"tolerance {_duration(timing.tolerance)}, step limit {_duration(timing.step_limit)}, "
            f"item limit {_duration(timing.item_limit)}",
        ),
        ("strict", "on: SHOULD failures fail the run" if record.strict else "off: SHOULD failures warn"),
        ("baseline", record.baseline if record.baseline is not None else "none"),
    ]
    for name, value in facts:
        lines.append(f'<dt>{_e(name)}</dt><dd class="mono">{_e(value)}</dd>')
    lines.append("</dl>")
    lines.append('<table class="impls"><thead><tr><th>impl</th><th>what it is</th></tr></thead><tbody>')
    for impl in record.impls:
        lines.append(f'<tr><td class="mono">{_e(impl.name)}</td><td>{_e(impl.description)}</td></tr>')
    lines.append("</tbody></table>")
    lines.append("</header>")
    return lines


def _gate_words(record: RunRecord) -> str:
    if record.stopped:
        return "the run stopped before every item ran"
    if checked_nothing(record.items):
        return "nothing was checked: no behaviour applied to the impls run"
    if record.gate == "pass":
        return "no item failed, errored or passed unexpectedly"
    return "at least one item failed, errored or passed unexpectedly"


def _servers(servers: Sequence[ServerRecord]) -> list[str]:
    if not servers:
        return []
    lines = [
        '<section class="servers"><h2>Servers: declared and observed model</h2>',
        '<table class="servers"><thead><tr><th>server</th><th>declared</th><th>observed</th>'
        "<th>matches</th><th>because</th><th>evidence</th></tr></thead><tbody>",
    ]
    for server in servers:
        observed = server.observed
        if server.matches is None:
            matches = '<span class="note">not compared</span>'
        elif server.matches:
            matches = '<span class="match-yes">yes</span>'
        else:
            matches = '<span class="match-no">NO</span>'
        if observed is None:
            seen, reason, evidence = '<span class="note">not observed</span>', "", ""
        else:
            kind = (
                f' <span class="note">({_e(observed.kind)})</span>' if observed.kind != observed.model else ""
            )
            seen = f"{_e(observed.model)}{kind}"
            reason = _e(observed.reason)
            evidence = "<br>".join(_e(line) for line in observed.evidence)
        declared = _e(server.declared) if server.declared is not None else '<span class="note">none</span>'
        lines.append(
            f'<tr data-server="{_e(server.impl)}"><td class="mono">{_e(server.impl)}</td><td>{declared}</td>'
            f"<td>{seen}</td><td>{matches}</td><td>{reason}</td>"
            f'<td class="mono">{evidence}</td></tr>'
        )
    lines.append("</tbody></table></section>")
    return lines


# -- the matrix ----------------------------------------------------------------------------------


def _impl_names(record: RunRecord) -> list[str]:
    names = [impl.name for impl in record.impls]
    for item in record.items:
        if item.impl not in names:
            names.append(item.impl)
    return names


def _models(items: Iterable[ItemRecord]) -> list[str]:
    present = list(dict.fromkeys(item.model for item in items))
    return [model for model in MODELS if model in present] + [
        model for model in present if model not in MODELS
    ]


def _matrix(record: RunRecord, anchors: dict[int, str]) -> list[str]:
    """One table, so the columns line up: a heading and a column header per model, a row per behaviour."""
    impls = _impl_names(record)
    header = "".join(f'<th class="impl" data-impl="{_e(name)}">{_e(name)}</th>' for name in impls)
    lines = [
        '<section class="matrix"><h2>Behaviours by implementation</h2>',
        *_legend(),
        '<table class="matrix">',
    ]
    for model in _models(record.items):
        rows: dict[str, list[tuple[int, ItemRecord]]] = {}
        for index, item in enumerate(record.items):
            if item.model == model:
                rows.setdefault(item.id, []).append((index, item))
        lines.append(f'<tbody class="model" data-model="{_e(model)}">')
        lines.append(
            f'<tr class="model-heading"><th colspan="{len(impls) + 2}">'
            f'<h3 id="model-{_e(model)}">{_e(MODELS.get(model, model))}</h3></th></tr>'
        )
        lines.append(f'<tr class="columns"><th>behaviour</th><th>level</th>{header}</tr>')
        for behaviour, entries in rows.items():
            first = entries[0][1]
            lines.append(
                f'<tr class="behaviour" data-behaviour="{_e(behaviour)}">'
                f'<td class="behaviour" title="{_e(first.rule)}">{_e(behaviour)}</td>'
                f"<td>{_level(first.level)}</td>"
            )
            for name in impls:
                lines.append(_cell(name, [(i, item) for i, item in entries if item.impl == name], anchors))
            lines.append("</tr>")
        lines.append("</tbody>")
    lines.append("</table></section>")
    return lines


def _legend() -> list[str]:
    lines = ['<table class="legend"><tbody>']
    for outcome, style in OUTCOMES.items():
        lines.append(
            f'<tr><td><span class="mark {style.css}">{_e(style.mark)}</span></td>'
            f"<td><b>{_e(outcome.value)}</b></td><td>{_e(style.words)}</td></tr>"
        )
    lines.append("</tbody></table>")
    lines.append(
        '<p class="note">A cell shows one mark per family (tcp4 = TCP on 127.0.0.1, tcp6 = TCP on ::1, '
        "unix = AF_UNIX stream) and takes the colour of the worst one; hover for details, "
        "follow a linked mark to its failure.</p>"
    )
    return lines


def _family_order(family: str) -> tuple[int, str]:
    return (FAMILIES.index(family) if family in FAMILIES else len(FAMILIES), family)


def _cell(impl: str, entries: list[tuple[int, ItemRecord]], anchors: dict[int, str]) -> str:
    if not entries:
        return f'<td class="cell empty" data-impl="{_e(impl)}" title="not run">·</td>'
    entries = sorted(entries, key=lambda entry: _family_order(entry[1].family))
    worst = max((item.outcome for _i, item in entries), key=SEVERITY.index)
    tips = []
    marks = []
    for index, item in entries:
        style = _style(item.outcome)
        tip = f"{item.family}: {item.outcome.value}"
        if item.reason:
            tip += f" ({item.reason})"
        tips.append(tip)
        content = f"{_e(item.family)}&nbsp;{_e(style.mark)}"
        attrs = f'class="mark {style.css}" data-family="{_e(item.family)}" title="{_e(tip)}"'
        if index in anchors:
            marks.append(f'<a {attrs} href="#{_e(anchors[index])}">{content}</a>')
        else:
            marks.append(f"<span {attrs}>{content}</span>")
    return (
        f'<td class="cell {_style(worst).css}" data-impl="{_e(impl)}" data-outcome="{_e(worst.value)}" '
        f'title="{_e("; ".join(tips))}">{"".join(marks)}</td>'
    )


# -- the failures --------------------------------------------------------------------------------


def _details(items: Sequence[ItemRecord], anchors: dict[int, str]) -> list[str]:
    if not anchors:
        return [
            '<section class="details"><h2>Failures, warnings and surprises</h2>',
            "<p>None: every item passed or was not applicable.</p></section>",
        ]
    order = {model: number for number, model in enumerate(_models(items))}
    chosen = sorted(anchors, key=lambda index: (order[items[index].model], index))
    lines = ['<section class="details"><h2>Failures, warnings and surprises</h2>']
    for index in chosen:
        lines.extend(_detail(items[index], anchors[index]))
    lines.append("</section>")
    return lines


def _detail(item: ItemRecord, anchor: str) -> list[str]:
    style = _style(item.outcome)
    lines = [
        f'<section class="item" id="{_e(anchor)}" data-behaviour="{_e(item.id)}" '
        f'data-impl="{_e(item.impl)}" data-family="{_e(item.family)}" '
        f'data-outcome="{_e(item.outcome.value)}">',
        f"<h3>{_e(item.id)}</h3>",
        f'<p><span class="mark {style.css}">{_e(style.mark)} {_e(item.outcome.value)}</span> '
        f'on <b class="mono">{_e(item.impl)}</b> over <b>{_e(item.family)}</b> '
        f"({_e(item.model)}, {_level(item.level)})</p>",
        '<dl class="facts">',
        f"<dt>rule</dt><dd>{_e(item.rule)}</dd>",
        f"<dt>source</dt><dd>{_e(item.source)}</dd>",
    ]
    failure = item.failure
    if failure is not None:
        lines.append(f'<dt>where</dt><dd class="mono">{_e(failure.where)}: {_e(failure.title)}</dd>')
        if failure.expected is not None:
            lines.append(f'<dt>expected</dt><dd class="mono">{_e(failure.expected)}</dd>')
        if failure.observed:
            observed = "".join(f"<li>{_e(line)}</li>" for line in failure.observed)
            lines.append(f'<dt>observed</dt><dd><ul class="observed">{observed}</ul></dd>')
    if item.reason:
        lines.append(f"<dt>reason</dt><dd>{_e(item.reason)}</dd>")
    lines.append(f"<dt>duration</dt><dd>{_e(_ms(item.duration))}</dd>")
    lines.append("</dl>")
    if item.trace:
        step = failure.step if failure is not None else None
        events = sorted(item.trace, key=lambda event: event.at)
        lines.append(
            "<h4>Timeline</h4>"
            '<p class="note">ms since the behaviour started; one lane per actor; a bar runs from a call '
            "to its return (the time it waited); red marks the failing step.</p>"
        )
        lines.append(f'<div class="timeline">{_timeline(events, step)}</div>')
        lines.extend(_event_table(events, step))
    else:
        lines.append('<p class="note">No trace: nothing ran, or the item failed before its first step.</p>')
    if item.text:
        lines.append(
            f"<details><summary>as the terminal shows it</summary><pre>{_e(item.text)}</pre></details>"
        )
    lines.append("</section>")
    return lines


def _event_table(events: Sequence[EventRecord], step: int | None) -> list[str]:
    lines = [
        '<table class="events"><thead><tr><th>at</th><th>actor</th><th>step</th><th>what</th></tr></thead>',
        "<tbody>",
    ]
    for event in events:
        failing = step is not None and event.step == step
        row = ' class="failing-step"' if failing else ""
        shown = f"step {event.step}" if event.step is not None else "setup"
        lines.append(
            f'<tr{row} data-actor="{_e(event.actor)}"><td class="at">{_e(_ms(event.at))}</td>'
            f"<td>{_e(event.actor)}</td><td>{_e(shown)}{' &lt;' if failing else ''}</td>"
            f"<td>{_e(event.what)}</td></tr>"
        )
    lines.append("</tbody></table>")
    return lines


# -- the timeline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    """A call from its start event to its return (`end` None: it had not returned when the trace ended)."""

    start: EventRecord
    end: EventRecord | None


def _call_key(event: EventRecord) -> tuple[str, str, str, str] | None:
    connected = _CONNECTED.match(event.what)
    if connected is not None:
        return (event.actor, "", connected["who"], "connect")
    match = _CALL.match(event.what)
    if match is None:
        return None
    return (event.actor, match["label"] or "", match["who"] or "", match["op"])


def _is_return(event: EventRecord) -> bool:
    return bool(_RETURN.search(event.what) or _CONNECTED.match(event.what))


def waits(events: Sequence[EventRecord]) -> list[Wait]:
    """Each call paired with its return, in time order.

    A call is "<op>(...) called" or "submit <op>(...)" (a driver call), or an actor's action
    ("read 1024", "first: read", "first: connect"); its return is the next event of the same actor,
    label and operation saying "<op> -> ...", "<op> completed ..." or "connected". A driver call or
    submission with no return is a Wait with no end; other unanswered actions are not waits.
    """
    found: list[Wait] = []
    open_calls: dict[tuple[str, str, str, str], list[EventRecord]] = {}
    for event in sorted(events, key=lambda event: event.at):
        key = _call_key(event)
        if key is None:
            continue
        if _is_return(event):
            starts = open_calls.get(key)
            if starts:
                found.append(Wait(starts.pop(0), event))
            continue
        open_calls.setdefault(key, []).append(event)
    for starts in open_calls.values():
        found.extend(
            Wait(start, None)
            for start in starts
            if start.what.endswith(" called") or re.match(r"^(\[[^\]]*\] )?submit ", start.what)
        )
    return sorted(found, key=lambda wait: wait.start.at)


def _ticks(span_ms: float) -> tuple[float, list[float]]:
    """A round end for the axis (ms) and its ticks: 1, 2, 2.5 or 5 times a power of ten apart."""
    span_ms = max(span_ms, 0.1)
    rough = span_ms / 10
    power = 10 ** math.floor(math.log10(rough))
    step = next(factor * power for factor in (1, 2, 2.5, 5, 10) if factor * power >= rough)
    end = math.ceil(span_ms / step - 1e-9) * step
    count = round(end / step)
    return end, [round(number * step, 6) for number in range(count + 1)]


def _tick_label(value: float) -> str:
    return f"{value:g} ms"


def _truncate(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


class _Rows:
    """Rows of horizontal intervals: each new interval takes the first row where it overlaps nothing."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rows: list[list[tuple[float, float]]] = []

    def place(self, left: float, right: float) -> int | None:
        for number, row in enumerate(self.rows):
            if all(right + 4 <= start or left >= end + 4 for start, end in row):
                row.append((left, right))
                return number
        if len(self.rows) >= self.limit:
            return None
        self.rows.append([(left, right)])
        return len(self.rows) - 1


def _label_span(x: float, text: str) -> tuple[float, float, str]:
    """Where a label of `text` beside a point at x goes: (left, right, text-anchor)."""
    width = len(text) * CHAR
    if x + 6 + width <= GUTTER + PLOT + RIGHT:
        return x + 6, x + 6 + width, "start"
    return x - 6 - width, x - 6, "end"


@dataclass(frozen=True)
class _Scale:
    """Seconds on the behaviour's clock to x in px; `end_ms` is the axis' round end."""

    end_ms: float

    def x(self, seconds: float) -> float:
        return GUTTER + max(0.0, seconds * 1000) / self.end_ms * PLOT


def _timeline(events: Sequence[EventRecord], step: int | None) -> str:
    """The events as an inline SVG: a lane per actor, x to scale in ms, bars for waits."""
    end_ms, ticks = _ticks(max(event.at for event in events) * 1000)
    scale = _Scale(end_ms)
    actors = [actor for actor in ACTORS if any(event.actor == actor for event in events)]
    actors += list(dict.fromkeys(event.actor for event in events if event.actor not in ACTORS))
    every_wait = waits(events)
    shades: list[str] = []
    lanes: list[str] = []
    y = 4.0
    for number, actor in enumerate(actors):
        drawn, height = _lane(
            actor,
            [event for event in events if event.actor == actor],
            [wait for wait in every_wait if wait.start.actor == actor],
            step,
            scale,
            y,
        )
        shade = "#f6f8fa" if number % 2 == 0 else "#ffffff"
        shades.append(
            f'<rect x="0" y="{y:.1f}" width="{GUTTER + PLOT + RIGHT}" height="{height:.1f}" fill="{shade}"/>'
        )
        lanes.append(drawn)
        y += height
    back = shades + _failing_band(events, step, scale, y) + _grid(ticks, scale, y)
    width = GUTTER + PLOT + RIGHT
    total = y + AXIS
    return (
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total:.0f}" '
        f'viewBox="0 0 {width} {total:.0f}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
        f'font-size="11" role="img" aria-label="timeline of the behaviour, in ms">'
        f"{''.join(back)}{''.join(lanes)}{_axis(ticks, scale, y)}</svg>"
    )


def _lane(
    actor: str,
    events: Sequence[EventRecord],
    lane_waits: Sequence[Wait],
    step: int | None,
    scale: _Scale,
    top: float,
) -> tuple[str, float]:
    """One actor's lane from `top`: bar tracks for its waits, then a row per label; (svg, height)."""
    colour = ACTORS.get(actor, OTHER_ACTOR)
    tracks = _Rows(limit=4)
    bars: list[tuple[Wait, int, float, float, str]] = []
    for wait in lane_waits:
        left = scale.x(wait.start.at)
        right = scale.x(wait.end.at) if wait.end is not None else GUTTER + PLOT
        right = max(right, left + MIN_BAR)
        label = _wait_label(wait)
        room = right if right - left >= len(label) * CHAR + 8 else right + 6 + len(label) * CHAR
        track = tracks.place(left, room)
        if track is not None:
            bars.append((wait, track, left, right, label))
    labels = _Rows(limit=MAX_ROWS)
    points: list[tuple[EventRecord, int | None, float]] = []
    for event in events:
        x = scale.x(event.at)
        left, right, _anchor = _label_span(x, _truncate(event.what))
        points.append((event, labels.place(min(left, x - 4), max(right, x + 4)), x))
    bar_height = len(tracks.rows) * BAR_ROW
    height = LANE_PAD + bar_height + max(1, len(labels.rows)) * ROW + LANE_PAD
    parts = [
        f'<g class="lane" data-actor="{_e(actor)}">',
        f'<text x="6" y="{top + LANE_PAD + 11:.1f}" font-weight="700" fill="{colour}">{_e(actor)}</text>',
    ]
    for wait, track, left, right, label in bars:
        failing = step is not None and wait.start.step == step
        parts.append(
            _bar(wait, label, left, right, top + LANE_PAD + track * BAR_ROW, FAILING if failing else colour)
        )
    for event, row, x in points:
        event_y = top + LANE_PAD + bar_height + (row if row is not None else 0) * ROW + ROW / 2
        parts.append(_point(event, row is not None, x, top, event_y, step, colour))
    parts.append("</g>")
    return "".join(parts), height


def _wait_label(wait: Wait) -> str:
    match = _CALL.match(wait.start.what)
    name = match["op"] if match is not None else "call"
    if wait.end is None:
        return f"{name}: no return within the trace"
    return f"{name}: waited {_took(wait.end.at - wait.start.at)}"


def _bar(wait: Wait, label: str, left: float, right: float, y: float, colour: str) -> str:
    """A call's wait: a filled bar to its return, or a dashed outline to the axis' end."""
    if wait.end is not None:
        tip = f"{wait.start.what} at {_ms(wait.start.at)}; {wait.end.what} at {_ms(wait.end.at)}"
        classes, look = "wait", f'fill="{colour}" fill-opacity="0.35" stroke="{colour}"'
    else:
        tip = f"{wait.start.what} at {_ms(wait.start.at)}; no return in the trace"
        classes, look = "wait open", f'fill="none" stroke="{colour}" stroke-dasharray="4 3"'
    inside = right - left >= len(label) * CHAR + 8
    text_x = left + 4 if inside else right + 6
    return (
        f'<g class="{classes}"><title>{_e(tip)}</title>'
        f'<rect x="{left:.1f}" y="{y + 1:.1f}" width="{right - left:.1f}" height="{BAR_ROW - 2}" '
        f'rx="2" {look}/>'
        f'<text x="{text_x:.1f}" y="{y + BAR_ROW - 3:.1f}" font-size="9" fill="#1f2328">'
        f"{_e(label)}</text></g>"
    )


def _point(
    event: EventRecord, labelled: bool, x: float, top: float, y: float, step: int | None, colour: str
) -> str:
    """An event: a dot at its time (a thin line up to its lane's top), its words beside it."""
    failing = step is not None and event.step == step
    fill = FAILING if failing else colour
    shown = f"step {event.step}" if event.step is not None else "setup"
    tip = f"{_ms(event.at)}  {event.actor}  {shown}: {event.what}"
    parts = [
        f'<g class="{"event failing" if failing else "event"}" data-actor="{_e(event.actor)}" '
        f'data-step="{event.step if event.step is not None else ""}"><title>{_e(tip)}</title>'
        f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{fill}" stroke-opacity="0.35"/>'
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{4.5 if failing else 3.5}" fill="{fill}"/>'
    ]
    if labelled:
        text = _truncate(event.what)
        _left, _right, anchor = _label_span(x, text)
        text_x = x + 6 if anchor == "start" else x - 6
        weight = ' font-weight="700"' if failing else ""
        parts.append(
            f'<text x="{text_x:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}" '
            f'fill="{FAILING if failing else "#1f2328"}"{weight}>{_e(text)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _failing_band(events: Sequence[EventRecord], step: int | None, scale: _Scale, bottom: float) -> list[str]:
    """A light red band behind the failing step, from its first event to its last."""
    marked = [event.at for event in events if step is not None and event.step == step]
    if not marked:
        return []
    left = scale.x(min(marked)) - 3
    right = max(scale.x(max(marked)) + 3, left + 6)
    return [
        f'<rect class="failing-band" x="{left:.1f}" y="0" width="{right - left:.1f}" '
        f'height="{bottom:.1f}" fill="{FAILING}" fill-opacity="0.08"/>'
    ]


def _grid(ticks: Sequence[float], scale: _Scale, bottom: float) -> list[str]:
    return [
        f'<line x1="{scale.x(tick / 1000):.1f}" y1="0" x2="{scale.x(tick / 1000):.1f}" y2="{bottom:.1f}" '
        f'stroke="#d0d7de"/>'
        for tick in ticks
    ]


def _axis(ticks: Sequence[float], scale: _Scale, y: float) -> str:
    parts = [
        f'<g class="axis"><line x1="{GUTTER}" y1="{y:.1f}" x2="{GUTTER + PLOT}" y2="{y:.1f}" '
        f'stroke="#57606a"/>'
    ]
    for tick in ticks:
        x = scale.x(tick / 1000)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 5:.1f}" stroke="#57606a"/>'
            f'<text x="{x:.1f}" y="{y + 17:.1f}" text-anchor="middle" fill="#57606a">'
            f"{_e(_tick_label(tick))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)
