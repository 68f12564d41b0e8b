"""`dlcourse merge`: combine the outputs of `grade-batch --shard I/N` runs into one batch output.

Each shard's OUT holds its batch.json (autograder.instructor.batch.manifest). Shards are combined only when they are
parts of one batch: the same assignment, selection, version of the checks and seed, every shard 1..N present once,
and no student in two shards. The merged OUT gets every student's results.json (copied, never moved), one
grades.csv, the LMS CSVs and one report.html, and its own batch.json (no shard, the shards it came from). The merged
OUT obeys the same rule as any output: one holding something else is refused unless `force` (moved aside).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from .manifest import MANIFEST, Manifest, read_manifest, reconcile, write_manifest
from .model import BatchError, BatchResult, CheckSpec
from .results import read_results


@dataclass
class MergeResult:
    out_dir: Path
    manifest: Manifest
    students: list[str]
    batch: BatchResult
    shards: list[Path] = field(default_factory=list)


def merge(shard_dirs: list[str | os.PathLike], out_dir: str | os.PathLike, *, force: bool = False) -> MergeResult:
    from ... import spec as specs
    from ..outputs import OutputError, writable_dir
    from .grade import write_outputs

    if not shard_dirs:
        raise BatchError("give the output folders of the shards to merge")
    shards: list[tuple[Path, Manifest]] = []
    for d in shard_dirs:
        d = Path(d).resolve()
        if not d.is_dir():
            raise BatchError(f"shard folder not found: {d}")
        m = read_manifest(d)
        if m is None:
            raise BatchError(f"{d} holds no {MANIFEST}: not the output of `dlcourse grade-batch --shard`")
        shards.append((d, m))
    first_dir, first = shards[0]
    for d, m in shards[1:]:
        differs = first.same_batch(m)
        if differs:
            raise BatchError(f"{d} is not a shard of the same batch as {first_dir}: it has {differs}")
    counts = {m.shard.split("/")[1] if m.shard else "1" for _, m in shards}
    if len(counts) != 1:
        raise BatchError(f"the shards disagree on how many shards there are ({', '.join(sorted(counts))})")
    n = int(counts.pop())
    seen: dict[int, Path] = {}
    for d, m in shards:
        i = int(m.shard.split("/")[0]) if m.shard else 1
        if i in seen:
            raise BatchError(f"shard {i}/{n} is given twice ({seen[i]} and {d})")
        seen[i] = d
    missing = [f"{i}/{n}" for i in range(1, n + 1) if i not in seen]
    if missing:
        raise BatchError(f"missing shard(s) {', '.join(missing)}: merge every shard of the batch at once")
    owner: dict[str, Path] = {}
    for d, _m in shards:
        for results in sorted(d.glob("*/results.json")):
            student = results.parent.name
            if student.startswith("."):
                continue
            if student in owner:
                raise BatchError(f"student {student} was graded in two shards ({owner[student]} and {d})")
            owner[student] = d
    try:
        spec = specs.load(first.assignment)
    except specs.UnknownAssignment as exc:
        raise BatchError(str(exc)) from None
    out_dir = Path(out_dir).resolve()
    if out_dir in {d for d, _ in shards}:
        raise BatchError(f"--out {out_dir} is one of the shards: merge into a folder of its own")
    try:
        writable_dir(out_dir)
    except OutputError as exc:
        raise BatchError(str(exc)) from None
    in_order = [str(seen[i]) for i in sorted(seen)]
    wanted = replace(first, shard=None, merged_from=in_order, created="")
    manifest, aside = reconcile(out_dir, wanted, seed_given=True, force=force)
    manifest.merged_from = wanted.merged_from
    for student, d in owner.items():
        if read_results(d / student / "results.json") is None:
            raise BatchError(f"{d / student / 'results.json'} is not a complete result: grade that shard again")
    for student, d in sorted(owner.items()):
        target = out_dir / student
        target.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target, prefix=".results-")
        os.close(fd)
        shutil.copyfile(d / student / "results.json", tmp)
        os.replace(tmp, target / "results.json")
    write_manifest(out_dir, manifest)
    checks = _checks_of(owner, first)
    students = sorted(owner)
    result = BatchResult(slug=first.assignment, out_dir=out_dir, checks=checks, seed=manifest.seed,
                         isolation=manifest.isolation, set_aside=aside)
    from .model import StudentOutcome

    for student in students:
        data = read_results(out_dir / student / "results.json") or {}
        batch = (data.get("extra_data") or {}).get("batch") or {}
        result.outcomes.append(StudentOutcome(student=student, status=str(batch.get("status", "graded")),
                                              score=float(data.get("score", 0)), max_score=float(data.get("max_score", 0)),
                                              results_path=out_dir / student / "results.json",
                                              message=str(batch.get("message", ""))))
    write_outputs(result, out_dir, slug=first.assignment, title=spec.title, students=students, checks=checks,
                  manifest=manifest)
    return MergeResult(out_dir=out_dir, manifest=manifest, students=students, batch=result,
                       shards=[d for d, _ in shards])


def _checks_of(owner: dict[str, Path], manifest: Manifest) -> list[CheckSpec]:
    """The checks in the order of the batch, with their visibility and points (from any student's results)."""
    for student, d in sorted(owner.items()):
        data = read_results(d / student / "results.json")
        if data and [t["name"] for t in data["tests"]] == manifest.checks:
            vis = {"visible": "public", "after_due_date": "hidden"}
            return [CheckSpec(t["name"], vis.get(t.get("visibility"), "public"), float(t.get("max_score") or 0))
                    for t in data["tests"]]
    return [CheckSpec(name, "public", 0.0) for name in manifest.checks]
