"""Benchmark: how long the corpus takes per implementation, and where the time goes.

Prints figures; asserts nothing (timed checks belong in specs, with bounds).
Usage: python bench/corpus_time.py [--impl NAME ...] [--runs N] [--top K]
Each behaviour runs over each family it lists, in-process through the runner,
exactly as the plugin runs it, with a fresh driver per run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

from sockspec.driving.connections import unavailable
from sockspec.driving.runner import run_behaviour
from sockspec.judging.applicability import not_applicable
from sockspec.language.loader import load_file
from sockspec.language.timing import Timing
from sockspec.plugin.profiles import profile
from sockspec.plugin.registry import REFERENCE_IMPLS, Impl, resolve

SPEC = Path(__file__).resolve().parent.parent / "spec"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--impl", action="append", default=[], help="impl name (default: every reference impl)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=5, help="how many of the slowest behaviours to list")
    args = parser.parse_args()
    behaviours = [b for path in sorted(SPEC.glob("*.yaml")) for b in load_file(path).behaviours]
    timing = Timing()
    for named in resolve(args.impl or list(REFERENCE_IMPLS)):
        if named.driver is None:
            print(f"{named.name}: a server, not timed here (it runs over the wire)")
            continue
        impl = Impl(named.name, named.driver)  # its driver only: server behaviours run over the wire
        applies = profile(impl)
        totals: list[float] = []
        per_item: dict[str, list[float]] = {}
        failures = 0
        for _run in range(args.runs):
            start = time.perf_counter()
            for behaviour in behaviours:
                if not_applicable(behaviour, applies) is not None:
                    continue
                for family in behaviour.families:
                    if unavailable(family):
                        continue
                    driver = named.driver()
                    began = time.perf_counter()
                    try:
                        verdict = run_behaviour(behaviour, driver, family, timing)
                    finally:
                        driver.release()
                    per_item.setdefault(f"{behaviour.id}[{family.value}]", []).append(
                        time.perf_counter() - began
                    )
                    failures += not verdict.passed
            totals.append(time.perf_counter() - start)
        slowest = sorted(per_item.items(), key=lambda kv: -statistics.median(kv[1]))[: args.top]
        print(f"{impl.name}: {len(per_item)} items, {args.runs} runs, failures {failures}")
        print(f"  corpus wall time: median {statistics.median(totals):.2f} s, max {max(totals):.2f} s")
        for name, times in slowest:
            print(f"  {statistics.median(times) * 1000:8.1f} ms  {name}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak resident memory: {peak / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
