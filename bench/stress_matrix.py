"""Benchmark: false verdicts of the reference matrix while every core is busy.

Prints figures; asserts nothing. Runs `pytest --impl=all -n WORKERS` RUNS times
while `stress-ng --cpu $(nproc)` loads every core (Debian package stress-ng),
reads each run's JSON report, and counts, per behaviour, the items that did not
pass: every reference implementation conforms, so each one is a false verdict.
Also prints the tolerance each run measured and how many items passed only on a
rerun (an item's `reruns` > 0 with outcome passed: noise the confirmation of
late verdicts absorbed, see sockspec.judging.confirm).

Usage: python bench/stress_matrix.py [--runs 20] [--workers 8] [--no-stress] [-- PYTEST ARGS]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(index: int, workers: int, extra: list[str], folder: Path) -> dict[str, object]:
    report = folder / f"run{index}.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--impl=all",
        f"-n{workers}",
        f"--sockspec-json={report}",
        *extra,
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)
    elapsed = time.monotonic() - started
    if not report.exists():
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(f"run {index}: pytest wrote no report (exit {done.returncode})")
    loaded: dict[str, object] = json.loads(report.read_text(encoding="utf-8"))
    loaded["_elapsed"] = elapsed
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--no-stress", action="store_true", help="do not start stress-ng")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args()

    stress = None
    if not args.no_stress:
        if shutil.which("stress-ng") is None:
            raise SystemExit("stress-ng is not installed (apt-get install stress-ng), or pass --no-stress")
        stress = subprocess.Popen(
            ["stress-ng", "--cpu", str(os.cpu_count() or 1), "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    false: collections.Counter[str] = collections.Counter()
    reran: collections.Counter[str] = collections.Counter()
    tolerances: list[float] = []
    notes: list[str] = []
    items = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for index in range(1, args.runs + 1):
                run = run_once(index, args.workers, args.pytest_args, Path(tmp))
                run_items = run["items"]
                assert isinstance(run_items, list)
                items += len(run_items)
                bad = [item for item in run_items if item["outcome"] not in {"passed", "n/a"}]
                for item in bad:
                    false[f"{item['id']} [{item['impl']}-{item['family']}] {item['outcome']}"] += 1
                passed_on_rerun = [
                    item for item in run_items if item.get("reruns") and item["outcome"] == "passed"
                ]
                for item in passed_on_rerun:
                    name = f"{item['id']} [{item['impl']}-{item['family']}]"
                    reran[name] += 1
                    notes.append(f"run {index}: {name}: {item['note']}")
                timing = run["timing"]
                assert isinstance(timing, dict)
                tolerances.append(timing["tolerance"])
                print(
                    f"run {index:2}: {len(run_items)} items, {len(bad)} false verdicts, "
                    f"{len(passed_on_rerun)} passed on rerun, tolerance {timing['tolerance'] * 1000:.1f} ms "
                    f"({timing.get('derivation', '?')}), {run['_elapsed']:.0f} s",
                    flush=True,
                )
    finally:
        if stress is not None:
            stress.terminate()
            stress.wait()
    load = "no stress-ng" if args.no_stress else f"stress-ng --cpu {os.cpu_count() or 1}"
    shown = ", ".join(f"{tolerance * 1000:.1f}" for tolerance in tolerances)
    print(
        f"\n{args.runs} runs of pytest --impl=all -n {args.workers} ({load}): {items} items, "
        f"{sum(false.values())} false verdicts, {sum(reran.values())} passed on rerun; "
        f"tolerances measured (ms): {shown}"
    )
    for name, count in false.most_common():
        print(f"  {count:3}  {name}")
    if reran:
        print(f"passed only on a rerun (noise absorbed): {sum(reran.values())}")
        for name, count in reran.most_common(20):
            print(f"  {count:3}  {name}")
        print("their notes (what the first run saw):")
        for note in notes[:40]:
            print(f"  {note}")


if __name__ == "__main__":
    main()
