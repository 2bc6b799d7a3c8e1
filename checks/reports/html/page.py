"""The report's page: the gate, the servers' models, the matrix, and each failure with its timeline.

Rules of this module:
- `render` returns the whole document: a <style> from style.css (package
  data, read once), then the header, servers, matrix and failure sections;
  no script, no external resource;
- each outcome has one CSS class, one colour and one mark (`OUTCOMES`), and
  the mark or the word is always there beside the colour, so the page reads
  without colour and without JS;
- a failure's events are drawn by `timeline` and follow as a table, in the
  words of sockspec.judging.events (`describe`); every text is escaped;
- the tolerance says where it came from, and the items run again because
  their verdict failed only on time are listed with their notes.
- a behaviour not reached is shown apart from a broken rule (its own mark and
  dashed frame), with the set-up that failed and a link to the behaviour that
  tests it; the causes of failure follow the servers, as the terminal says them;
- where a stuck server was (a failure's `stuck`) is shown beside the timeline: its
  sentence, then its threads' stacks folded, in an open <details>;
- scale items get a section after the causes: one figure for every server
  (sockspec.reports.html.scaleplot) and a table of each item's levels, in the
  cells the terminal shows (sockspec.reports.scale_text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from sockspec.judging.events import describe
from sockspec.judging.scale import LevelOutcome
from sockspec.reports import causes, scale_text
from sockspec.reports.html import scaleplot, timeline
from sockspec.reports.html.markup import escape as _e
from sockspec.reports.html.markup import ms as _ms
from sockspec.reports.html.markup import step_shown
from sockspec.reports.record import (
    EventRecord,
    FailureRecord,
    ItemRecord,
    NotApplicableRecord,
    Outcome,
    RunRecord,
    ServerRecord,
    checked_nothing,
)

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
    Outcome.NOT_REACHED: Style(
        "outcome-not-reached",
        "nr",
        "not reached: a set-up step failed, so the rule was neither held nor broken (fails the run)",
    ),
}
#: From the mildest to the worst: a matrix cell takes the worst outcome of its families.
SEVERITY: tuple[Outcome, ...] = (
    Outcome.NOT_APPLICABLE,
    Outcome.PASSED,
    Outcome.EXPECTED_FAIL,
    Outcome.WARNED,
    Outcome.UNEXPECTED_PASS,
    Outcome.NOT_REACHED,
    Outcome.FAILED,
    Outcome.ERROR,
)
#: Outcomes that get a section of their own, linked from the matrix.
DETAILED: frozenset[Outcome] = frozenset(
    {
        Outcome.FAILED,
        Outcome.NOT_REACHED,
        Outcome.WARNED,
        Outcome.EXPECTED_FAIL,
        Outcome.UNEXPECTED_PASS,
        Outcome.ERROR,
    }
)
MODELS: dict[str, str] = {
    "blocking": "Blocking",
    "nonblocking": "Non-blocking",
    "readiness": "Readiness notification (select, poll, epoll)",
    "completion": "Completion notification",
    "server": "Servers over the wire",
}
FAMILIES: tuple[str, ...] = ("tcp4", "tcp6", "unix")


@functools.cache
def stylesheet() -> str:
    """The page's CSS (style.css beside this module)."""
    return resources.files("sockspec.reports.html").joinpath("style.css").read_text(encoding="utf-8")


# -- the page ------------------------------------------------------------------------------------


def render(record: RunRecord) -> str:
    """The whole report as one HTML document."""
    anchors = _anchors(record.items)
    body = [
        *_header(record),
        *_servers(record.servers),
        *_causes(record),
        *_scale(record.items),
        *_matrix(record, anchors),
        *_not_applicable(record.not_applicable),
        *_reruns(record, anchors),
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
            f"<style>\n{stylesheet()}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


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
        ("tolerance", timing.derivation or "not recorded"),
        (
            "reruns",
            f"a verdict that fails only on an upper time bound is run up to {timing.confirm_runs} times; "
            f"{record.reruns.rerun} run again: {record.reruns.passed} passed on rerun, "
            f"{record.reruns.confirmed} confirmed",
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
    return "at least one item failed, was not reached, errored or passed unexpectedly"


def _servers(servers: Sequence[ServerRecord]) -> list[str]:
    if not servers:
        return []
    lines = [
        '<section class="servers"><h2>Servers: declared and observed model</h2>',
        '<table class="servers"><thead><tr><th>server</th><th>declared</th><th>observed</th>'
        "<th>matches</th><th>because</th><th>evidence</th><th>restarts</th></tr></thead><tbody>",
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
            f'<td class="mono">{evidence}</td><td>{_restarts(server)}</td></tr>'
        )
    lines.append("</tbody></table></section>")
    return lines


def _restarts(server: ServerRecord) -> str:
    """How often the server was restarted between behaviours, and why (cause: count)."""
    if not server.restarts:
        return '<span class="note">none</span>'
    causes = "<br>".join(f"{_e(cause)}: {count}" for cause, count in server.restart_causes.items())
    return f'<span class="restarts">{server.restarts}</span><br><span class="note">{causes}</span>'


def _not_applicable(left_out: Sequence[NotApplicableRecord]) -> list[str]:
    """What was not run because it cannot apply: per impl and reason, the models and the ids."""
    if not left_out:
        return []
    lines = [
        '<section class="not-applicable"><h2>Not applicable (not run)</h2>',
        '<table class="not-applicable"><thead><tr><th>impl</th><th>models (items)</th><th>why</th>'
        "<th>behaviours</th></tr></thead><tbody>",
    ]
    for entry in left_out:
        models = ", ".join(f"{_e(model)} ({count})" for model, count in entry.models.items())
        ids = "<br>".join(_e(behaviour) for behaviour in entry.behaviours)
        lines.append(
            f'<tr data-impl="{_e(entry.impl)}"><td class="mono">{_e(entry.impl)}</td><td>{models}</td>'
            f"<td>{_e(entry.reason)}</td><td><details><summary>{len(entry.behaviours)} behaviours</summary>"
            f'<div class="mono">{ids}</div></details></td></tr>'
        )
    lines.append("</tbody></table></section>")
    return lines


def _causes(record: RunRecord) -> list[str]:
    lines = causes.render(record.causes, record.items)
    if not lines:
        return []
    listed = "".join(f'<li class="mono">{_e(line.strip())}</li>' for line in lines)
    return [
        '<section class="causes"><h2>Causes of failure</h2>',
        '<p class="note">Failures of one impl that share a cause, said once.</p>',
        f'<ul class="causes">{listed}</ul></section>',
    ]


# -- scale ---------------------------------------------------------------------------------------


def _scale(items: Sequence[ItemRecord]) -> list[str]:
    """The scale items: one figure with a line per server (and behaviour, when there are several),
    then each item's figures per level as a table."""
    scaled = [item for item in items if item.scale]
    if not scaled:
        return []
    several = len({item.id for item in scaled}) > 1
    series = [
        scaleplot.Series(f"{item.impl} ({item.id})" if several else item.impl, item.scale) for item in scaled
    ]
    lines = [
        '<section class="scale" id="scale"><h2>Scale: costs by clients connected at once</h2>',
        '<p class="note">Figures, not verdicts (the verdict is in the matrix): with every client of a '
        "level connected and echoed once, the threads of the server's tree, its memory (PSS: shared "
        "pages counted once), the p99 echo latency and the context switches per echo; both axes "
        "logarithmic, so a thread or process per client is a line of slope 1 and a loop is flat.</p>",
        f'<div class="scale-figure">{scaleplot.figure(series)}</div>',
    ]
    headings = "".join(f"<th>{_e(name.lstrip('| '))}</th>" for name, _width in scale_text.COLUMNS)
    for item in scaled:
        lines.append(
            f'<h3 class="mono">{_e(item.id)} on {_e(item.impl)} over {_e(item.family)}: '
            f"{_e(item.outcome.value)}</h3>"
        )
        lines.append(
            f'<table class="scale" data-impl="{_e(item.impl)}"><thead><tr>{headings}</tr></thead><tbody>'
        )
        for level in item.scale:
            cells = "".join(f"<td>{_e(cell)}</td>" for cell in scale_text.row(level))
            lines.append(
                f'<tr data-clients="{level.clients}" data-outcome="{_e(level.outcome.value)}">{cells}</tr>'
            )
        lines.append("</tbody></table>")
        notes = [
            f"<li>{level.clients} clients: {_e(level.outcome.value)}: {_e(level.reason or '')}</li>"
            for level in item.scale
            if level.outcome is not LevelOutcome.MEASURED
        ]
        models = "; ".join(f"{level.clients}: {level.model}" for level in item.scale if level.model)
        if models:
            notes.append(f"<li>model seen at each level: {_e(models)}</li>")
        if notes:
            lines.append(f'<ul class="note">{"".join(notes)}</ul>')
    lines.append("</section>")
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
        if item.note:
            tip += f"; {item.note}"
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


# -- the reruns ----------------------------------------------------------------------------------


def _reruns(record: RunRecord, anchors: dict[int, str]) -> list[str]:
    """The items run again because their verdict failed only on time, each with its note."""
    again = [(index, item) for index, item in enumerate(record.items) if item.reruns]
    if not again:
        return []
    lines = [
        '<section class="reruns" id="reruns"><h2>Run again: verdicts that failed only on time</h2>',
        f'<p class="note">A verdict that fails only on an upper time bound is run again, up to '
        f"{record.timing.confirm_runs} runs in all: a real stall fails every time, noise does not.</p>",
        "<ul>",
    ]
    for index, item in again:
        runs = item.reruns + 1
        said = item.note or f"{item.outcome.value}, confirmed in {runs} of {runs} runs"
        name = f'<span class="mono">{_e(item.id)}</span>'
        if index in anchors:
            name = f'<a href="#{_e(anchors[index])}">{name}</a>'
        lines.append(
            f'<li data-behaviour="{_e(item.id)}" data-impl="{_e(item.impl)}" data-family="{_e(item.family)}" '
            f'data-outcome="{_e(item.outcome.value)}">{name} on <b class="mono">{_e(item.impl)}</b> over '
            f"<b>{_e(item.family)}</b>: {_e(said)}</li>"
        )
    lines.append("</ul></section>")
    return lines


# -- the failures --------------------------------------------------------------------------------


def _details(items: Sequence[ItemRecord], anchors: dict[int, str]) -> list[str]:
    if not anchors:
        return [
            '<section class="details"><h2>Failures, warnings and surprises</h2>',
            "<p>None: every item passed or was not applicable.</p></section>",
        ]
    order = {model: number for number, model in enumerate(_models(items))}
    chosen = sorted(anchors, key=lambda index: (order[items[index].model], index))
    places = {
        (item.id, item.impl, item.family): anchors[index]
        for index, item in enumerate(items)
        if index in anchors
    }
    lines = ['<section class="details"><h2>Failures, warnings and surprises</h2>']
    for index in chosen:
        lines.extend(_detail(items[index], anchors[index], places))
    lines.append("</section>")
    return lines


def _not_reached(item: ItemRecord, places: dict[tuple[str, str, str], str]) -> list[str]:
    """What failed before the rule could be judged, linked to the behaviour that tests it."""
    failure = item.failure
    if failure is None or failure.see is None:
        return []
    place = places.get((failure.see, item.impl, item.family))
    see = (
        f'<a href="#{_e(place)}">{_e(failure.see)}</a>'
        if place
        else f'<span class="mono">{_e(failure.see)}</span>'
    )
    return [f"<dt>not reached</dt><dd>{_e(failure.title)} failed, so the rule was not judged; see {see}</dd>"]


def _detail(item: ItemRecord, anchor: str, places: dict[tuple[str, str, str], str]) -> list[str]:
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
    lines.extend(_not_reached(item, places))
    if failure is not None:
        lines.append(f'<dt>where</dt><dd class="mono">{_e(failure.where)}: {_e(failure.title)}</dd>')
        if failure.expected is not None:
            lines.append(f'<dt>expected</dt><dd class="mono">{_e(failure.expected)}</dd>')
        if failure.observed:
            observed = "".join(f"<li>{_e(line)}</li>" for line in failure.observed)
            lines.append(f'<dt>observed</dt><dd><ul class="observed">{observed}</ul></dd>')
    if item.reason:
        lines.append(f"<dt>reason</dt><dd>{_e(item.reason)}</dd>")
    if item.reruns:
        runs = item.reruns + 1
        said = item.note or f"failed only on time at first; confirmed in {runs} of {runs} runs"
        lines.append(f"<dt>runs</dt><dd>{_e(said)}</dd>")
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
        lines.append(f'<div class="timeline">{timeline.draw(events, step)}</div>')
        lines.extend(_stuck(failure))
        lines.extend(_event_table(events, step))
    else:
        lines.append('<p class="note">No trace: nothing ran, or the item failed before its first step.</p>')
        lines.extend(_stuck(failure))
    if item.text:
        lines.append(
            f"<details><summary>as the terminal shows it</summary><pre>{_e(item.text)}</pre></details>"
        )
    lines.append("</section>")
    return lines


def _stuck(failure: FailureRecord | None) -> list[str]:
    """Where the server was when the client's wait ran out: the sentence, then the stacks folded."""
    if failure is None or not failure.stuck:
        return []
    first, *rest = failure.stuck.splitlines() or [""]
    lines = ['<div class="stuck"><h4>Where the server was</h4>', f'<p class="mono">{_e(first)}</p>']
    if rest:
        shown = "\n".join(rest)
        lines.append(f"<details open><summary>its threads' stacks</summary><pre>{_e(shown)}</pre></details>")
    lines.append("</div>")
    return lines


def _event_table(events: Sequence[EventRecord], step: int | None) -> list[str]:
    lines = [
        '<table class="events"><thead><tr><th>at</th><th>actor</th><th>step</th><th>what</th></tr></thead>',
        "<tbody>",
    ]
    for event in events:
        failing = step is not None and event.step == step
        row = ' class="failing-step"' if failing else ""
        shown = step_shown(event.step)
        lines.append(
            f'<tr{row} data-actor="{_e(event.actor)}" data-kind="{_e(event.what.kind.value)}">'
            f'<td class="at">{_e(_ms(event.at))}</td>'
            f"<td>{_e(event.actor)}</td><td>{_e(shown)}{' &lt;' if failing else ''}</td>"
            f"<td>{_e(describe(event.what))}</td></tr>"
        )
    lines.append("</tbody></table>")
    return lines
