"""How long a student waits for a check, against a bare `python -c "import torch, numpy"` timed in the same run.

    python benchmarks/bench_check.py [--slug backprop] [--only linear_forward] [--repeat 5] [--saves 5]

Prints three figures (asserts none):

- bare: `python -c "import torch, numpy"`, the floor of any check (the median of --repeat runs);
- cold: `dlcourse check <slug> --only <function>` on a copy of the reference, as a student types it, run
  alternately with the bare import so that both see the same load; its ratio to the bare import (target: at most
  1.3x). The same command without the early start of the worker (DLCOURSE_NO_EARLY_START=1) is timed too;
- warm: a re-check in watch mode (`dlcourse check --watch`, driven in this process through
  `autograder.watch.Watcher`): from the detection of a save to the printed changes, against the checks' own work
  (the sum of their durations); the overhead is the difference (target: within 0.3 s). The next run's worker has
  booted before each save, as it has while a student edits.

The load average is printed with the figures: on a busy machine every figure grows, the ratios less so.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from autograder import spec as specs
from autograder.watch import Watcher, render_changes

BARE = [sys.executable, "-c", "import torch, numpy"]


def _dlcourse() -> list[str]:
    script = Path(sys.executable).with_name("dlcourse")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "autograder.cli"]


def timed(cmd: list[str], env: dict | None = None, cwd=None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return wall


def describe(name: str, values: list[float]) -> float:
    med = statistics.median(values)
    print(f"{name}: median {med:.2f} s over {len(values)} runs ({', '.join(f'{v:.2f}' for v in values)})")
    return med


def cold(slug: str, only: str, repeat: int, folder: Path) -> None:
    sub = folder / f"{slug}.py"
    check = [*_dlcourse(), "check", slug, "--submission", str(sub), "--only", only]
    env = {**os.environ, "COLUMNS": "120"}
    no_early = {**env, "DLCOURSE_NO_EARLY_START": "1"}
    timed(BARE)  # the page cache, for both
    timed(check, env, folder)
    bare, early, late = [], [], []
    for _ in range(repeat):
        bare.append(timed(BARE))
        early.append(timed(check, env, folder))
        late.append(timed(check, no_early, folder))
    b = describe('bare `python -c "import torch, numpy"`', bare)
    e = describe(f"cold `dlcourse check {slug} --only {only}`", early)
    n = describe("  the same without the early start of the worker", late)
    print(f"cold check / bare import: {e / b:.2f}x (target <= 1.3x); without the early start: {n / b:.2f}x")


def warm(slug: str, only: str, saves: int, folder: Path) -> None:
    sub = folder / f"{slug}.py"
    reference = sub.read_text()
    watcher = Watcher(slug, sub, select=[only])
    sink = Console(file=io.StringIO(), width=120)
    try:
        report = watcher.run()  # the first run: imports of this process, collection caches
        watcher.prepare(wait=True)
        watcher.changed()
        totals, works = [], []
        for i in range(saves):
            sub.write_text(reference + f"\n# save {i}\n")
            t0 = time.perf_counter()
            if not watcher.changed():
                raise SystemExit("the save was not seen")
            new = watcher.run()
            render_changes(report, new, sink)
            total = time.perf_counter() - t0
            report = new
            works.append(sum(r.duration for r in new.results))
            totals.append(total)
            watcher.prepare(wait=True)  # the student edits meanwhile: the next worker is ready
        t = describe(f"warm re-check (--watch), {saves} saves, in all", totals)
        w = describe("  of which the checks' own work", works)
        over = [a - b for a, b in zip(totals, works)]
        o = describe("  overhead (in all minus the checks' own work)", over)
        print(f"warm re-check: {t:.2f} s, checks' own work {w:.2f} s, overhead {o:.2f} s (target <= 0.3 s); "
              f"score {report.score:g}/{report.max_score:g}")
    finally:
        watcher.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", default="backprop")
    parser.add_argument("--only", default="linear_forward")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--saves", type=int, default=5)
    args = parser.parse_args()
    spec = specs.load(args.slug)
    folder = Path(tempfile.mkdtemp(prefix="bench-check-"))
    try:
        shutil.copy(spec.reference, folder / spec.module_file)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
        cold(args.slug, args.only, args.repeat, folder)
        warm(args.slug, args.only, args.saves, folder)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
