"""Benchmark: grade the reference backprop end to end (target: within 15 s on a 2-core CPU machine), and one
round trip into the sandbox for a small array (target: within 5 ms). Prints the figures; asserts nothing.

    python benchmarks/bench_backprop.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from autograder import spec as specs
from autograder.grading import GradingSession, grade


def round_trip_ms(n: int = 500) -> tuple[float, float, str]:
    spec = specs.load("backprop")
    session = GradingSession(spec=spec, submission=spec.reference, seed=0, device="cpu")
    sandbox = session.sandbox()
    try:
        t0 = time.perf_counter()
        sandbox.start()
        start_ms = (time.perf_counter() - t0) * 1000
        small = np.ones((4, 4))
        times = []
        for _ in range(n):
            t = time.perf_counter()
            sandbox.echo(small)
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times), start_ms, sandbox.isolation
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ref = specs.load("backprop").reference
    grade_times = []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        report = grade("backprop", ref, seed=i)
        grade_times.append(time.perf_counter() - t0)
        assert report.score == report.max_score, report.failed_names()
    rt, start, isolation = round_trip_ms()
    print(f"grade backprop reference end to end: median {statistics.median(grade_times):.2f} s over "
          f"{args.repeats} runs (target <= 15 s); score {report.score:g}/{report.max_score:g}; "
          f"time in student code {report.time_in_student:.2f} s")
    print(f"sandbox start ({isolation}): {start:.0f} ms; round trip of a (4, 4) array: median {rt:.3f} ms "
          f"(target <= 5 ms)")


if __name__ == "__main__":
    main()
