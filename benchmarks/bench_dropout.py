"""Time to grade the dropout reference end to end (public and hidden checks), the way `dlcourse grade` does.

Run from the repository root: `python benchmarks/bench_dropout.py [--device cpu|cuda] [--repeat N]`.
Target: within 30 s on a 2-core CPU machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder import spec as specs  # noqa: E402
from autograder.grading import grade  # noqa: E402

SLUG = "dropout"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    for i in range(args.repeat):
        t0 = time.perf_counter()
        report = grade(SLUG, specs.load(SLUG).reference, seed=args.seed + i, device=args.device)
        wall = time.perf_counter() - t0
        slowest = sorted(report.results, key=lambda r: r.duration, reverse=True)[:3]
        print(f"{SLUG}: graded the reference in {wall:.1f} s on {args.device} "
              f"({report.score:g}/{report.max_score:g} points, {len(report.results)} checks, "
              f"{report.time_in_student:.1f} s in the sandbox, isolation: {report.isolation})")
        for r in slowest:
            print(f"  {r.duration:6.2f} s  {r.name}")
        if report.score != report.max_score:
            print("  FAILED:", ", ".join(r.name for r in report.results if not r.passed))
            sys.exit(1)


if __name__ == "__main__":
    main()
