"""How long `dlcourse grade attention` takes on the reference solution, public and hidden checks together.

Usage, from the repository root: `python benchmarks/bench_attention.py [--device cpu|cuda] [--repeat N] [--seed S]`.
Target: within 30 s on a 2-core CPU machine. It also prints the three slowest checks (the end-to-end Transformer
check should lead) and how long the grader waited on the sandbox.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder import spec as specs  # noqa: E402
from autograder.grading import grade  # noqa: E402

SLUG = "attention"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    failed = False
    for i in range(args.repeat):
        wall0 = time.perf_counter()
        report = grade(SLUG, specs.load(SLUG).reference, seed=args.seed + i, device=args.device)
        wall = time.perf_counter() - wall0
        print(f"{SLUG} on {args.device}, seed {args.seed + i}: graded in {wall:.1f} s; "
              f"{report.score:g}/{report.max_score:g} points over {len(report.results)} checks; "
              f"{report.time_in_student:.1f} s waiting on the sandbox ({report.isolation})")
        for r in sorted(report.results, key=lambda r: r.duration, reverse=True)[:3]:
            print(f"    {r.duration:6.2f} s  {r.name}")
        if report.score != report.max_score:
            failed = True
            print("    not passed:", "; ".join(r.name for r in report.results if not r.passed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
