"""Time to grade the layernorm reference end to end (public and hidden checks), as `dlcourse grade` does.

Usage, from the repository root: `python benchmarks/bench_layernorm.py [--device cpu|cuda] [--repeat N] [--seed S]`.
Target: within 30 s on a 2-core CPU machine. The per-check lines show where the time goes (the first check also
pays for starting the sandbox worker and importing torch there).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder import spec as specs  # noqa: E402
from autograder.grading import grade  # noqa: E402

SLUG = "layernorm"
TARGET_SECONDS = 30.0


def bench(device: str, seed: int) -> bool:
    start = time.perf_counter()
    report = grade(SLUG, specs.load(SLUG).reference, seed=seed, device=device)
    wall = time.perf_counter() - start
    verdict = "within" if wall <= TARGET_SECONDS else "OVER"
    print(f"{SLUG} on {device} (seed {seed}): {wall:.1f} s wall, {verdict} the {TARGET_SECONDS:.0f} s target; "
          f"{report.score:g}/{report.max_score:g} points over {len(report.results)} checks; "
          f"{report.time_in_student:.1f} s in the sandbox; isolation {report.isolation}")
    for result in sorted(report.results, key=lambda r: -r.duration)[:5]:
        print(f"  {result.duration:6.2f} s  [{result.visibility}] {result.name}")
    failed = report.failed_names()
    if failed:
        print("  reference FAILED:", "; ".join(failed))
    return not failed


def main() -> None:
    parser = argparse.ArgumentParser(description="Time grading the layernorm reference.")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ok = all([bench(args.device, args.seed + i) for i in range(args.repeat)])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
