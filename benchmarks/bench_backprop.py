"""Benchmark the foundation: grading the reference backprop end to end (target: within 15 s on a 2-core CPU
machine), and one round trip into the sandbox for a small array (target: within 5 ms). Prints; asserts nothing.

    python benchmarks/bench_backprop.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_grade import time_grading  # noqa: E402

from autograder import spec as specs  # noqa: E402
from autograder.grading import GradingSession  # noqa: E402


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ok = time_grading("backprop", repeat=args.repeat)
    rt, start, isolation = round_trip_ms()
    print(f"sandbox start ({isolation}): {start:.0f} ms; round trip of a (4, 4) array: median {rt:.3f} ms "
          f"(target <= 5 ms)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
