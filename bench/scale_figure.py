"""The scale figure: every reference server at 10 to 10,000 clients, threads against loops.

Runs the corpus's scale behaviours (spec/scale.yaml; the same code as `pytest --impl=NAME -m scale`)
against each reference server in turn, one at a time, after raising RLIMIT_NOFILE's soft limit
to the hard one. Prints the machine's conditions, each server's table (the terminal report's)
and a summary per level; writes the figure (the HTML report's SVG) to --out, and the levels as
JSON to --json when asked. Asserts nothing: a level that fails or that this machine cannot reach
is printed and drawn with its reason.

Usage: python bench/scale_figure.py [--levels 10,100,1000,10000] [--servers sockets,forking,...]
                                    [--out docs/scale.svg] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from sockspec.judging.scale import Level
from sockspec.language.corpus import CORPUS
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Family
from sockspec.language.server_steps import parse_levels
from sockspec.language.timing import Timing
from sockspec.plugin.registry import REFERENCE_SERVERS, reference_server
from sockspec.reports import scale_text
from sockspec.reports.html import scaleplot
from sockspec.reports.plain import to_plain
from sockspec.servers.live import LiveServer
from sockspec.servers.scale import Unreachable, raise_descriptor_limit, run_scale_behaviour

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (7, 8, 9, 9, 9, 11)  # the summary's columns after the server's name


def scale_behaviours() -> list[Behaviour]:
    return [
        behaviour
        for path in sorted(CORPUS.glob("*.yaml"))
        for behaviour in load_file(path, f"spec/{path.name}").behaviours
        if behaviour.scale is not None
    ]


def conditions() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def run_one(name: str, behaviour: Behaviour, levels: tuple[int, ...] | None) -> tuple[str, tuple[Level, ...]]:
    server = LiveServer(reference_server(name), ROOT)
    started = time.monotonic()
    try:
        server.ensure()
        verdict = run_scale_behaviour(behaviour, server, Family.TCP4, Timing(), levels)
    except Unreachable as exc:
        print(f"{name}: not applicable: {exc}")
        return name, ()
    finally:
        server.stop()
        server.remove_output()
    said = "passed" if verdict.passed else f"FAILED: {verdict.failure.title if verdict.failure else ''}"
    print(f"{behaviour.id} on {name}: {said} ({time.monotonic() - started:.1f} s)")
    for line in scale_text.table(verdict.levels):
        print(line)
    return name, verdict.levels


def summary(results: list[tuple[str, tuple[Level, ...]]]) -> list[str]:
    """A line per server and level: what the figure draws."""
    heading = ("clients", "threads", "PSS", "RSS", "p99", "ctx sw/echo")
    words = " ".join(f"{word:>{width}}" for word, width in zip(heading, WIDTHS, strict=True))
    lines = [f"{'server':<10} {words}  model"]
    for name, levels in results:
        for level in levels:
            if level.during is None:
                lines.append(f"{name:<10} {level.clients:>7}  {level.outcome.value}: {level.reason}")
                continue
            each = level.per_client
            switches = f"{each.switches:.2f}" if each is not None and each.switches is not None else "-"
            cells = (
                str(level.clients),
                str(level.during.threads),
                scale_text.size(level.during.pss),
                scale_text.size(level.during.rss),
                scale_text.duration(level.latency.p99 if level.latency else None),
                switches,
            )
            shown = " ".join(f"{cell:>{width}}" for cell, width in zip(cells, WIDTHS, strict=True))
            lines.append(f"{name:<10} {shown}  {level.model or '-'}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=parse_levels, default=None, help="e.g. 10,100,1000,10000")
    parser.add_argument("--servers", default=",".join(REFERENCE_SERVERS), help="reference servers, in order")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "scale.svg")
    parser.add_argument("--json", type=Path, default=None, help="also write each server's levels as JSON")
    args = parser.parse_args()
    soft, hard = raise_descriptor_limit()
    print(conditions())
    print(f"RLIMIT_NOFILE soft {soft}, hard {hard}")
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    (behaviour, *others) = scale_behaviours()
    if others:
        print(f"drawing {behaviour.id}; also in the corpus: {', '.join(b.id for b in others)}")
    results = [run_one(name, behaviour, args.levels) for name in names]
    print()
    print("\n".join(summary(results)))
    print(conditions())
    title = f"{behaviour.id}: every reference server, {os.cpu_count()} cores ({time.strftime('%Y-%m-%d')})"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    svg = scaleplot.figure([scaleplot.Series(name, levels) for name, levels in results], title)
    args.out.write_text(svg + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    if args.json is not None:
        args.json.write_text(
            json.dumps({name: to_plain(levels) for name, levels in results}, indent=1) + "\n"
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
