"""Time to grade the LoRA reference end to end (public and hidden checks, sandbox included).

Usage: python benchmarks/bench_lora.py [--device cpu|cuda] [--seed N]
Target: within 30 s on a 2-core CPU machine.
"""

import argparse
import time

from autograder import spec as specs
from autograder.grading import grade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    report = grade("lora", specs.load("lora").reference, seed=args.seed, device=args.device)
    wall = time.perf_counter() - t0
    slowest = sorted(report.results, key=lambda r: r.duration, reverse=True)[:3]
    print(f"lora: graded the reference in {wall:.1f} s on {args.device} "
          f"(score {report.score:g}/{report.max_score:g}, {len(report.results)} checks, "
          f"{report.time_in_student:.1f} s in the sandbox)")
    for r in slowest:
        print(f"  {r.duration:6.2f} s  {r.name}")


if __name__ == "__main__":
    main()
