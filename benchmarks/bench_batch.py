"""Benchmark: batch grading. Grade N copies of one submission with --workers 1 and with --workers 2 (in two
halves, in the order 1, 2, 2, 1) and print both times and their ratio (target: at most 0.6 on a 2-core machine), then the per-submission cost split into the
engine's overhead (starting the grading process, pytest and the checks, the sandbox and its isolation, the
reports) and the time spent in the student's code (Report.time_in_student). Prints figures; asserts nothing.

    python benchmarks/bench_batch.py [--copies 40] [--only PREFIX ...] [--assignment backprop]
                                     [--submission PATH] [--device cpu|cuda]

By default the submission is the assignment's reference solution and every check runs. A warm-up batch of one
copy runs first, so that starting the fork server (it imports torch once) is not charged to either measurement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder import spec as specs  # noqa: E402
from autograder.instructor.batch import BatchResult, grade_batch  # noqa: E402


CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(a, b) -> float:
    """How many cores the machine kept busy between two `machine_cpu()` readings (nan when unknown)."""
    if a is None or b is None or b[1] == a[1]:
        return float("nan")
    return (b[0] - a[0]) / (b[1] - a[1]) * (os.cpu_count() or 1)


def make_class(root: Path, source: Path, module_file: str, copies: int) -> Path:
    subs = root / "submissions"
    for i in range(copies):
        folder = subs / f"student{i:03d}"
        folder.mkdir(parents=True)
        shutil.copyfile(source, folder / module_file)
    return subs


def run(slug: str, subs: Path, out: Path, workers: int, only: list[str] | None, device: str) -> BatchResult:
    t0, cpu0 = time.perf_counter(), machine_cpu()
    result = grade_batch(slug, subs, out, workers=workers, device=device, select=only, regrade=True,
                         progress=False)
    wall, cpu1 = time.perf_counter() - t0, machine_cpu()
    graded = [o for o in result.outcomes if o.status != "skipped"]
    bad = [o for o in graded if o.status != "graded" or o.score != o.max_score]
    print(f"  --workers {workers}: {len(graded):3d} submissions in {wall:6.1f} s "
          f"(grading {result.grading_time:.1f} s, setup and outputs {wall - result.grading_time:.1f} s); "
          f"machine: {busy_cores(cpu0, cpu1):.2f} of {CORES} cores busy (every process, ours and others)"
          + (f"; {len(bad)} not at full marks!" if bad else ""))
    return result


def overhead(result: BatchResult) -> None:
    graded = [o for o in result.outcomes if o.status == "graded"]
    if not graded:
        return
    wall = statistics.fmean(o.wall_seconds for o in graded)
    inside = statistics.fmean(o.execution_time for o in graded)
    student = statistics.fmean(o.time_in_student for o in graded)
    print(f"  per submission (mean of {len(graded)}, --workers 1): {wall:.2f} s in all")
    print(f"    engine overhead:             {wall - student:6.2f} s")
    print(f"      grading process start/end: {wall - inside:6.2f} s  (fork, results.json, exit)")
    print(f"      inside grade():            {inside - student:6.2f} s  (pytest and the checks, the sandbox's "
          "start and isolation, comparisons, the report)")
    print(f"    in the student's code:       {student:6.2f} s  (Report.time_in_student)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="backprop")
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--only", action="append", default=None, help="check-name prefix (repeatable)")
    parser.add_argument("--submission", type=Path, default=None, help="default: the reference solution")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()

    spec = specs.load(args.assignment)
    source = args.submission or spec.reference
    cores = CORES
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"batch grading of {args.assignment}: {args.copies} copies of {source}; checks: "
          f"{', '.join(args.only) if args.only else 'all'}; {cores} cores, load average {load:.1f}")
    with tempfile.TemporaryDirectory(prefix="dlcourse-bench-batch-") as tmp:
        root = Path(tmp)
        halves = [make_class(root / f"half{h}", source, spec.module_file, n)
                  for h, n in enumerate((args.copies - args.copies // 2, args.copies // 2))]
        warm = make_class(root / "warm", source, spec.module_file, 1)
        t0 = time.perf_counter()
        grade_batch(args.assignment, warm, root / "warm-out", workers=1, device=args.device, select=args.only,
                    progress=False)
        print(f"  warm-up (fork server start, one submission): {time.perf_counter() - t0:.1f} s")
        # Order 1, 2, 2, 1 over two halves of the copies: a drift in the machine's load during the benchmark
        # (other jobs starting or ending) then weighs on both settings alike.
        runs = {1: [], 2: []}
        for i, workers in enumerate((1, 2, 2, 1)):
            runs[workers].append(run(args.assignment, halves[i % 2], root / f"out{i}", workers, args.only,
                                     args.device))
    grading = {w: sum(r.grading_time for r in rs) for w, rs in runs.items()}
    total = {w: sum(r.elapsed for r in rs) for w, rs in runs.items()}
    print(f"  {args.copies} submissions: --workers 1 {total[1]:.1f} s, --workers 2 {total[2]:.1f} s")
    print(f"  ratio --workers 2 / --workers 1: {grading[2] / grading[1]:.2f} on the grading, "
          f"{total[2] / total[1]:.2f} in all (target <= 0.60 on 2 cores)")
    one = BatchResult(slug=args.assignment, out_dir=root, checks=[],
                      outcomes=[o for r in runs[1] for o in r.outcomes])
    overhead(one)


if __name__ == "__main__":
    main()
