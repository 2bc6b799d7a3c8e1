"""Scale figures in words: a table per scale item, a line per level.

Rules of this module:
- text only: functions of item records (their `scale` levels) returning lines; no I/O;
- the figures are measurements, said as such: a level that was not applicable, not run
  or failed says why on a line of its own under the table;
- units are chosen per value (us, ms, s; B, kB, MB, GB), so a column reads at a glance;
  the HTML report and bench/scale_figure.py use the same formatting (`duration`, `size`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sockspec.judging.scale import Level, LevelOutcome
from sockspec.reports.record import ItemRecord

NONE = "-"

#: The table's columns: heading, width.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("clients", 7),
    ("connect", 9),
    ("echo p50", 9),
    ("p99", 9),
    ("max", 9),
    ("procs", 6),
    ("threads", 7),
    ("RSS", 9),
    ("PSS", 9),
    ("CPU", 8),
    ("ctx sw", 7),
    ("| per client: threads", 21),
    ("PSS", 9),
    ("CPU", 8),
    ("ctx sw", 7),
)


def duration(seconds: float | None) -> str:
    """0.00047 -> '470 us', 0.0185 -> '18.5 ms', 2.79 -> '2.79 s', 11.05 -> '11.1 s', 100 -> '100 s'."""
    if seconds is None:
        return NONE
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:.0f} s"


def size(count: float | None) -> str:
    """Bytes: 410 -> '410 B', 9_700 -> '9.7 kB', 15_000_000 -> '15.0 MB', 4e9 -> '4.0 GB'."""
    if count is None:
        return NONE
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= factor:
            return f"{count / factor:.1f} {unit}"
    return f"{count:.0f} B"


def _number(value: float | None, digits: int = 2) -> str:
    return NONE if value is None else f"{value:.{digits}f}"


def row(level: Level) -> list[str]:
    """The level's figures as the table's cells."""
    latency = level.latency
    during = level.during
    work = level.work
    each = level.per_client
    return [
        f"{level.clients}",
        duration(level.connect),
        duration(latency.p50 if latency else None),
        duration(latency.p99 if latency else None),
        duration(latency.max if latency else None),
        f"{during.processes}" if during else NONE,
        f"{during.threads}" if during else NONE,
        size(during.rss if during else None),
        size(during.pss if during else None),
        duration(work.cpu) if work else NONE,
        f"{work.switches}" if work and work.switches is not None else NONE,
        _number(each.threads if each else None),
        size(each.pss if each else None),
        duration(each.cpu) if each else NONE,
        _number(each.switches if each else None),
    ]


def table(levels: Iterable[Level]) -> list[str]:
    """A heading, a line per level that has figures, then a line per level that says why it has
    none (or why it failed)."""
    levels = tuple(levels)
    lines = ["  " + " ".join(f"{name:>{width}}" for name, width in COLUMNS)]
    for level in levels:
        if level.during is not None or level.latency is not None or level.connect is not None:
            cells = row(level)
            lines.append(
                "  "
                + " ".join(f"{cell:>{width}}" for cell, (_name, width) in zip(cells, COLUMNS, strict=True))
            )
    for level in levels:
        if level.outcome is not LevelOutcome.MEASURED:
            lines.append(
                f"  {level.clients} clients: {level.outcome.value}: {level.reason or 'no reason given'}"
            )
    models = [f"{level.clients}: {level.model}" for level in levels if level.model]
    if models:
        lines.append(f"  model seen at each level: {'; '.join(models)}")
    return lines


def render(items: Iterable[ItemRecord]) -> list[str]:
    """Every scale item's table, under a line naming the behaviour, the impl and how it went."""
    lines: list[str] = []
    for item in items:
        if not item.scale:
            continue
        lines.append(f"{item.id} on {item.impl} over {item.family}: {item.outcome.value}")
        lines.extend(table(item.scale))
    if lines:
        lines.append(
            "(figures, not verdicts: threads and processes of the server's tree with every client "
            "connected; RSS and PSS summed over it; CPU and context switches from the level's "
            "baseline to its measure; per client: growth or use divided by the clients)"
        )
    return lines
