"""The scale figure: servers' costs against clients connected at once, as one inline SVG.

Rules of this module:
- four panels (`PANELS`): threads of the server's tree, its memory, the p99 echo
  latency and the context switches per echo, each against the clients connected at
  once; both axes are logarithmic (a thread per client is a line of slope 1, a loop a
  flat line), with a gridline and a label per decade;
- a line per server (`Series`), in a colour of its own (`COLOURS`, in order), named
  in the legend with the levels it has no figures for and why in one word; each point
  carries a <title> with its values; the lines narrow from the first server to the
  last, so servers with equal figures (every loop has one thread) all stay visible;
- layout only, in the style of the timelines (sockspec.reports.html.timeline): the
  same font, greys and text sizes; every text goes through `markup.escape`; no script,
  no external resource: the HTML report inlines it, bench/scale_figure.py writes it
  to a file as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sockspec.judging.scale import Level, LevelOutcome
from sockspec.reports.html.markup import escape
from sockspec.reports.scale_text import duration, size

#: A colour per server, in order (after the last, they repeat).
COLOURS: tuple[str, ...] = ("#cf222e", "#9a6700", "#0969da", "#1a7f37", "#8250df", "#1b7c83", "#bf3989")
GRID = "#d0d7de"
AXIS = "#57606a"
TEXT = "#1f2328"

# -- geometry (px) -------------------------------------------------------------------------------

PANEL_WIDTH = 470
PANEL_HEIGHT = 270
LEFT = 58  # the y labels
BOTTOM = 38  # the x labels and the axis title
TOP = 26  # the panel's title
RIGHT = 16
GAP = 24
LEGEND_ROW = 18
CHAR = 6.7  # the width of one character at 11px monospace
WIDEST = 7.0  # the first server's line; the last one's is NARROWEST
NARROWEST = 2.0
COLUMNS = 2


@dataclass(frozen=True)
class Series:
    """One server's line: its name and its scale levels."""

    name: str
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class Panel:
    """What one panel plots: its title, each level's value (None: no point), a value in words
    (a point's tooltip) and a decade of its y axis as a label."""

    title: str
    value: Callable[[Level], float | None]
    shown: Callable[[float], str]
    tick: Callable[[int], str]


def _threads(level: Level) -> float | None:
    return float(level.during.threads) if level.during is not None else None


def _memory(level: Level) -> float | None:
    during = level.during
    if during is None:
        return None
    memory = during.pss if during.pss is not None else during.rss
    return float(memory) if memory is not None else None


def _p99(level: Level) -> float | None:
    return level.latency.p99 if level.latency is not None else None


def _switches(level: Level) -> float | None:
    return level.per_client.switches if level.per_client is not None else None


def decade_label(power: int) -> str:
    """10 ** power as an axis label: 0.01, 0.1, 1, 10, 100, 1k, 10k, 100k, 1M, ..."""
    if power < 0:
        return f"{10.0**power:g}"
    value = 10**power
    for suffix, factor in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if value >= factor:
            return f"{value // factor}{suffix}"
    return str(value)


#: The units of a duration's and a size's axis labels, largest first.
SECONDS = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6))
BYTES = (("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0))


def decade_in(units: Sequence[tuple[str, float]]) -> Callable[[int], str]:
    """10 ** power as a short axis label in the largest unit it reaches: 0.1 s -> '100 ms'
    (no decimals, so that a label fits left of its axis)."""

    def label(power: int) -> str:
        value = 10.0**power
        for unit, factor in units:
            if value >= factor * 0.999:
                return f"{value / factor:.0f} {unit}"
        unit, factor = units[-1]
        return f"{value / factor:g} {unit}"

    return label


PANELS: tuple[Panel, ...] = (
    Panel("threads in the server's tree", _threads, lambda v: f"{v:.0f} threads", decade_label),
    Panel("memory of the tree (PSS)", _memory, size, decade_in(BYTES)),
    Panel("p99 echo latency", _p99, duration, decade_in(SECONDS)),
    Panel("context switches per echo", _switches, lambda v: f"{v:.2f} per echo", decade_label),
)


def _decades(values: Sequence[float]) -> tuple[int, int]:
    """The decades (powers of ten) an axis spans to hold every value, at least one."""
    low = math.floor(math.log10(min(values)) + 1e-9)
    high = math.ceil(math.log10(max(values)) - 1e-9)
    return low, max(high, low + 1)


@dataclass(frozen=True)
class Axis:
    """A logarithmic axis from 10**low to 10**high onto `start`..`end` px."""

    low: int
    high: int
    start: float
    end: float

    def at(self, value: float) -> float:
        fraction = (math.log10(value) - self.low) / (self.high - self.low)
        return self.start + fraction * (self.end - self.start)


def _points(series: Series, panel: Panel) -> list[tuple[Level, float]]:
    found = []
    for level in series.levels:
        value = panel.value(level)
        if value is not None and value > 0:
            found.append((level, value))
    return found


def _legend_note(series: Series) -> str:
    """The levels without figures, e.g. '10000: n/a; 1000: failed'."""
    missing = [
        f"{level.clients}: {level.outcome.value}"
        for level in series.levels
        if level.outcome is not LevelOutcome.MEASURED
    ]
    return f" ({'; '.join(missing)})" if missing else ""


def _legend(series: Sequence[Series], top: float, width: float) -> tuple[list[str], float]:
    """A swatch and a name per server, side by side, on as many rows as they need; (svg, height)."""
    parts: list[str] = []
    x, y = 4.0, top
    for number, one in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        text = one.name + _legend_note(one)
        room = 36 + len(text) * CHAR + 18
        if x > 4.0 and x + room > width:
            x, y = 4.0, y + LEGEND_ROW
        parts.append(
            f'<g class="legend" data-server="{escape(one.name)}">'
            f'<line x1="{x:.1f}" y1="{y + 8:.1f}" x2="{x + 24:.1f}" y2="{y + 8:.1f}" stroke="{colour}" '
            f'stroke-width="{_width(number, len(series))}"/>'
            f'<circle cx="{x + 12:.1f}" cy="{y + 8:.1f}" r="3.5" fill="{colour}"/>'
            f'<text x="{x + 32:.1f}" y="{y + 12:.1f}" fill="{TEXT}">{escape(text)}</text></g>'
        )
        x += room
    return parts, (y - top + LEGEND_ROW) if series else 0.0


def _width(number: int, count: int) -> float:
    """The line width of the `number`th of `count` servers: the first widest, so that a line drawn
    later over the same points leaves the earlier ones showing at its sides."""
    return round(WIDEST - (WIDEST - NARROWEST) * number / max(1, count - 1), 1)


def figure(series: Sequence[Series], title: str = "") -> str:
    """The four panels for these servers, as one SVG element."""
    rows = math.ceil(len(PANELS) / COLUMNS)
    width = COLUMNS * PANEL_WIDTH + (COLUMNS - 1) * GAP
    head = LEGEND_ROW if title else 0.0
    legend, legend_rows = _legend(series, 4.0 + head, width)
    legend_height = 4.0 + head + legend_rows + 8
    height = round(legend_height + rows * PANEL_HEIGHT + (rows - 1) * GAP)
    clients = [level.clients for one in series for level in one.levels] or [1, 10]
    low, high = _decades(clients)
    parts = [
        f'<svg class="scale-figure" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
        f'font-size="11" role="img" aria-label="{escape(title or "scale figure")}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if title:
        parts.append(
            f'<text x="4" y="16" font-size="13" font-weight="700" fill="{TEXT}">{escape(title)}</text>'
        )
    parts.extend(legend)
    for index, panel in enumerate(PANELS):
        left = (index % COLUMNS) * (PANEL_WIDTH + GAP)
        top = legend_height + (index // COLUMNS) * (PANEL_HEIGHT + GAP)
        parts.append(_panel(panel, series, left, top, low, high))
    parts.append("</svg>")
    return "".join(parts)


def _panel(panel: Panel, series: Sequence[Series], left: float, top: float, low: int, high: int) -> str:
    x_axis = Axis(low, high, left + LEFT, left + PANEL_WIDTH - RIGHT)
    plotted = [(one, _points(one, panel)) for one in series]
    values = [value for _one, points in plotted for _level, value in points] or [1.0, 10.0]
    y_low, y_high = _decades(values)
    y_axis = Axis(y_low, y_high, top + PANEL_HEIGHT - BOTTOM, top + TOP)
    parts = [
        f'<g class="panel" data-panel="{escape(panel.title)}">',
        f'<text x="{left + LEFT:.1f}" y="{top + 16:.1f}" font-weight="700" fill="{TEXT}">'
        f"{escape(panel.title)}</text>",
    ]
    for power in range(low, high + 1):
        x = x_axis.at(10.0**power)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y_axis.end:.1f}" x2="{x:.1f}" y2="{y_axis.start:.1f}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{y_axis.start + 15:.1f}" text-anchor="middle" fill="{AXIS}">'
            f"{escape(decade_label(power))}</text>"
        )
    for power in range(y_low, y_high + 1):
        y = y_axis.at(10.0**power)
        parts.append(
            f'<line x1="{x_axis.start:.1f}" y1="{y:.1f}" x2="{x_axis.end:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{x_axis.start - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">'
            f"{escape(panel.tick(power))}</text>"
        )
    parts.append(
        f'<line x1="{x_axis.start:.1f}" y1="{y_axis.start:.1f}" '
        f'x2="{x_axis.end:.1f}" y2="{y_axis.start:.1f}" '
        f'stroke="{AXIS}"/>'
        f'<text x="{(x_axis.start + x_axis.end) / 2:.1f}" y="{y_axis.start + 31:.1f}" text-anchor="middle" '
        f'fill="{AXIS}">clients connected at once</text>'
    )
    for number, (one, points) in enumerate(plotted):
        colour = COLOURS[number % len(COLOURS)]
        xy = [(x_axis.at(level.clients), y_axis.at(value), level, value) for level, value in points]
        parts.append(f'<g class="series" data-server="{escape(one.name)}">')
        if len(xy) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _level, _value in xy)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" '
                f'stroke-width="{_width(number, len(series))}" stroke-linejoin="round"/>'
            )
        for x, y, level, value in xy:
            tip = f"{one.name}: {level.clients} clients: {panel.shown(value)}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</g>")
    return "".join(parts)
