"""One item's timeline as an inline SVG: its events drawn to scale, a lane per actor.

Rules of this module:
- x is ms on the behaviour's own clock, one lane per actor (`ACTORS` order and
  colours), a dot and its words for each event, a bar from each call to its
  return (a `Span`: the time it waited), the failing step's events in red;
- a call and its return are paired by their fields (sockspec.judging.events:
  the kinds that start and end a wait, and `pairing`), never by their words;
- layout only: the words come from `events.describe`, the escaping from
  `markup`; no script, no external resource.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sockspec.judging.events import CALLS, ENDS, STARTS, describe, pairing
from sockspec.reports.html.markup import escape, ms, step_shown
from sockspec.reports.record import EventRecord

#: Lanes, top to bottom, and each actor's colour.
ACTORS: dict[str, str] = {
    "impl": "#0969da",
    "peer": "#1b7c83",
    "checker": "#6e7781",
    "client": "#8250df",
    "server": "#9a6700",
}
OTHER_ACTOR = "#57606a"
FAILING = "#cf222e"

# -- geometry (px) -------------------------------------------------------------------------------

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


# -- spans: a call from its start to its return ------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A call from its start event to its return (`end` None: it had not returned when the trace ended)."""

    start: EventRecord
    end: EventRecord | None


def spans(events: Sequence[EventRecord]) -> list[Span]:
    """Each call or action paired with its return, in time order.

    A start (a driver's call or submission, a peer's or a client's action) ends at the next
    return or completion of the same actor, label, client and operation. A call or submission
    with no return is a Span with no end; other unanswered actions are not spans.
    """
    found: list[Span] = []
    open_starts: dict[tuple[str, str | None, str | None, str], list[EventRecord]] = {}
    for event in sorted(events, key=lambda event: event.at):
        key = pairing(event.actor, event.what)
        if event.what.kind in ENDS:
            starts = open_starts.get(key)
            if starts:
                found.append(Span(starts.pop(0), event))
        elif event.what.kind in STARTS:
            open_starts.setdefault(key, []).append(event)
    for starts in open_starts.values():
        found.extend(Span(start, None) for start in starts if start.what.kind in CALLS)
    return sorted(found, key=lambda span: span.start.at)


# -- layout --------------------------------------------------------------------------------------


def _took(seconds: float) -> str:
    """A wait: to a hundredth of a ms below 1 ms, where calls that return at once are."""
    return f"{seconds * 1000:.2f} ms" if seconds < 0.001 else ms(seconds)


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


def draw(events: Sequence[EventRecord], step: int | None) -> str:
    """The events as an inline SVG: a lane per actor, x to scale in ms, bars for spans; the events
    of step `step` (1-based) in red."""
    end_ms, ticks = _ticks(max(event.at for event in events) * 1000)
    scale = _Scale(end_ms)
    actors = [actor for actor in ACTORS if any(event.actor == actor for event in events)]
    actors += list(dict.fromkeys(event.actor for event in events if event.actor not in ACTORS))
    every_span = spans(events)
    shades: list[str] = []
    lanes: list[str] = []
    y = 4.0
    for number, actor in enumerate(actors):
        drawn, height = _lane(
            actor,
            [event for event in events if event.actor == actor],
            [span for span in every_span if span.start.actor == actor],
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
    lane_spans: Sequence[Span],
    step: int | None,
    scale: _Scale,
    top: float,
) -> tuple[str, float]:
    """One actor's lane from `top`: bar tracks for its spans, then a row per label; (svg, height)."""
    colour = ACTORS.get(actor, OTHER_ACTOR)
    tracks = _Rows(limit=4)
    bars: list[tuple[Span, int, float, float, str]] = []
    for span in lane_spans:
        left = scale.x(span.start.at)
        right = scale.x(span.end.at) if span.end is not None else GUTTER + PLOT
        right = max(right, left + MIN_BAR)
        label = _span_label(span)
        room = right if right - left >= len(label) * CHAR + 8 else right + 6 + len(label) * CHAR
        track = tracks.place(left, room)
        if track is not None:
            bars.append((span, track, left, right, label))
    labels = _Rows(limit=MAX_ROWS)
    points: list[tuple[EventRecord, int | None, float]] = []
    for event in events:
        x = scale.x(event.at)
        left, right, _anchor = _label_span(x, _truncate(describe(event.what)))
        points.append((event, labels.place(min(left, x - 4), max(right, x + 4)), x))
    bar_height = len(tracks.rows) * BAR_ROW
    height = LANE_PAD + bar_height + max(1, len(labels.rows)) * ROW + LANE_PAD
    parts = [
        f'<g class="lane" data-actor="{escape(actor)}">',
        f'<text x="6" y="{top + LANE_PAD + 11:.1f}" font-weight="700" fill="{colour}">{escape(actor)}</text>',
    ]
    for span, track, left, right, label in bars:
        failing = step is not None and span.start.step == step
        parts.append(
            _bar(span, label, left, right, top + LANE_PAD + track * BAR_ROW, FAILING if failing else colour)
        )
    for event, row, x in points:
        event_y = top + LANE_PAD + bar_height + (row if row is not None else 0) * ROW + ROW / 2
        parts.append(_point(event, row is not None, x, top, event_y, step, colour))
    parts.append("</g>")
    return "".join(parts), height


def _span_label(span: Span) -> str:
    name = span.start.what.op or "call"
    if span.end is None:
        return f"{name}: no return within the trace"
    return f"{name}: waited {_took(span.end.at - span.start.at)}"


def _bar(span: Span, label: str, left: float, right: float, y: float, colour: str) -> str:
    """A call's wait: a filled bar to its return, or a dashed outline to the axis' end."""
    start = f"{describe(span.start.what)} at {ms(span.start.at)}"
    if span.end is not None:
        tip = f"{start}; {describe(span.end.what)} at {ms(span.end.at)}"
        classes, look = "wait", f'fill="{colour}" fill-opacity="0.35" stroke="{colour}"'
    else:
        tip = f"{start}; no return in the trace"
        classes, look = "wait open", f'fill="none" stroke="{colour}" stroke-dasharray="4 3"'
    inside = right - left >= len(label) * CHAR + 8
    text_x = left + 4 if inside else right + 6
    return (
        f'<g class="{classes}" data-op="{escape(span.start.what.op)}"><title>{escape(tip)}</title>'
        f'<rect x="{left:.1f}" y="{y + 1:.1f}" width="{right - left:.1f}" height="{BAR_ROW - 2}" '
        f'rx="2" {look}/>'
        f'<text x="{text_x:.1f}" y="{y + BAR_ROW - 3:.1f}" font-size="9" fill="#1f2328">'
        f"{escape(label)}</text></g>"
    )


def _point(
    event: EventRecord, labelled: bool, x: float, top: float, y: float, step: int | None, colour: str
) -> str:
    """An event: a dot at its time (a thin line up to its lane's top), its words beside it."""
    failing = step is not None and event.step == step
    fill = FAILING if failing else colour
    words = describe(event.what)
    tip = f"{ms(event.at)}  {event.actor}  {step_shown(event.step)}: {words}"
    parts = [
        f'<g class="{"event failing" if failing else "event"}" data-actor="{escape(event.actor)}" '
        f'data-kind="{escape(event.what.kind.value)}" '
        f'data-step="{event.step if event.step is not None else ""}"><title>{escape(tip)}</title>'
        f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{fill}" stroke-opacity="0.35"/>'
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{4.5 if failing else 3.5}" fill="{fill}"/>'
    ]
    if labelled:
        text = _truncate(words)
        _left, _right, anchor = _label_span(x, text)
        text_x = x + 6 if anchor == "start" else x - 6
        weight = ' font-weight="700"' if failing else ""
        parts.append(
            f'<text x="{text_x:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}" '
            f'fill="{FAILING if failing else "#1f2328"}"{weight}>{escape(text)}</text>'
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
            f"{escape(_tick_label(tick))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)
