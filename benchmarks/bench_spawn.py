"""Sandboxes exec'd against sandboxes forked from a zygote (autograder/sandbox/spawn.py), measured in one run.

    python benchmarks/bench_spawn.py [--slug dropout] [--repeat 5]

Prints, for one assignment's reference (asserts nothing):

- start: the median wall time from a new Sandbox to its first answer (isolated, framework imported, submission
  imported, one call), exec'd and forked, and their ratio;
- grade: the median wall time of a whole grading of the reference, exec'd and forked, and their ratio.

The first forked sandbox also starts the zygote: it is timed apart ("zygote start") and left out of the medians,
as a process that grades many submissions pays it once. The load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from autograder import spec as specs
from autograder.grading import grade
from autograder.sandbox import Sandbox, spawn
from autograder.warm import sandbox_config


def _first_answer(spec) -> float:
    t0 = time.perf_counter()
    with Sandbox(sandbox_config(spec, spec.reference)) as sb:
        sb.echo(1)
    return time.perf_counter() - t0


def _grading(slug: str, spec) -> float:
    t0 = time.perf_counter()
    grade(slug, spec.reference, seed=1)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", default="dropout")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    spec = specs.load(args.slug)
    figures: dict[str, dict[str, float]] = {"start": {}, "grade": {}}
    spawn.enable()
    zygote_start = _first_answer(spec)
    for mode in ("exec", "zygote"):
        spawn.enable(mode == "zygote")
        figures["start"][mode] = statistics.median(_first_answer(spec) for _ in range(args.repeat))
        figures["grade"][mode] = statistics.median(_grading(args.slug, spec) for _ in range(max(1, args.repeat // 2)))
    print(f"{args.slug}: load average {os.getloadavg()[0]:.2f}; zygote start (once) {zygote_start:.2f} s")
    for what, got in figures.items():
        print(f"  {what:5s}  exec'd {got['exec']:6.2f} s   forked {got['zygote']:6.2f} s   "
              f"forked/exec'd {got['zygote'] / got['exec']:.2f}x")


if __name__ == "__main__":
    main()
