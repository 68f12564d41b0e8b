"""Time to grade each assignment's reference end to end (public and hidden checks), as `dlcourse grade` does.

    python benchmarks/bench_grade.py [SLUG ...] [--device cpu|cuda] [--repeat N] [--seed S]

Prints, per run, the wall time against the assignment's budget on a 2-core CPU machine (`budget_s` of its spec),
the time spent waiting on the sandbox, and the three slowest checks; exits 1 if a reference loses points. Asserts
no timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from autograder import spec as specs
from autograder.grading import grade

def time_grading(slug: str, device: str = "cpu", repeat: int = 1, seed: int = 0) -> bool:
    """Grade the reference `repeat` times and print the figures; False if it ever lost points."""
    walls, ok = [], True
    spec = specs.load(slug)
    for i in range(repeat):
        t0 = time.perf_counter()
        report = grade(slug, spec.reference, seed=seed + i, device=device)
        walls.append(time.perf_counter() - t0)
        print(f"{slug} on {device}, seed {seed + i}: graded the reference in {walls[-1]:.1f} s "
              f"(budget {spec.budget_s:g} s); {report.score:g}/{report.max_score:g} points over "
              f"{len(report.results)} checks; {report.time_in_student:.1f} s in the sandbox ({report.isolation})")
        for r in sorted(report.results, key=lambda r: r.duration, reverse=True)[:3]:
            print(f"  {r.duration:6.2f} s  {r.name}")
        if report.score != report.max_score:
            print("  FAILED:", ", ".join(report.failed_names()))
            ok = False
    if repeat > 1:
        print(f"{slug}: median {statistics.median(walls):.1f} s over {repeat} runs")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="assignments (default: all)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = [time_grading(s, args.device, args.repeat, args.seed) for s in args.slugs or specs.all_slugs()]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
