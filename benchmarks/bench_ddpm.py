"""Time to grade the ddpm reference end to end (public and hidden checks, both end-to-end trainings included).

    python benchmarks/bench_ddpm.py [--repeat N] [--device cpu|cuda]

Target: within 60 s on a 2-core CPU machine. Prints the total, the time spent in the sandbox, and the slowest checks.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder import spec as specs  # noqa: E402
from autograder.grading import grade  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reference = specs.load("ddpm").reference
    for i in range(args.repeat):
        t0 = time.perf_counter()
        report = grade("ddpm", reference, seed=args.seed + i, device=args.device)
        wall = time.perf_counter() - t0
        print(f"ddpm reference on {args.device}: {report.score:g}/{report.max_score:g} points in {wall:.1f} s "
              f"({report.time_in_student:.1f} s in the sandbox, {len(report.results)} checks, "
              f"isolation {report.isolation})")
        for r in sorted(report.results, key=lambda r: -r.duration)[:4]:
            print(f"  {r.duration:6.2f} s  {r.name}")
        if report.score != report.max_score:
            print("  FAILED:", [r.name for r in report.results if not r.passed])
            sys.exit(1)


if __name__ == "__main__":
    main()
