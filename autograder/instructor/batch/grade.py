"""`grade_batch`: the typed core behind `dlcourse grade-batch`, with its options built once (`BatchOptions`)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from ...sandbox import Limits
from .discovery import discover
from .manifest import Manifest, checks_version, reconcile, write_manifest
from .model import DEFAULT_SUBMISSION_TIMEOUT, STATUS_SKIPPED, BatchError, BatchResult, StudentOutcome
from .results import read_results, write_grades_csv
from .resume import is_finished, submission_digest
from .runner import _Job, expected_checks_in_child, fork_server, run_jobs


@dataclass(frozen=True)
class BatchOptions:
    """How to grade a class (the command line builds one; `grade_batch(..., **changes)` overrides fields)."""

    workers: int = 1  # submissions graded at the same time, each in its own process
    device: str = "cpu"
    regrade: bool = False  # grade everyone again, even students with a finished result
    students: list[str] | None = None  # grade (again) only these students
    select: list[str] | None = None  # check-name prefixes, as `dlcourse grade --only`
    seed: int | None = None  # the batch's one seed (None: the one OUT/batch.json records, else a new one)
    limits: Limits | None = None  # the sandbox limits of each submission (None: the defaults)
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT  # wall-clock cap of one student's whole grading
    progress: bool = True  # show a progress bar
    console: object = None  # the rich console for the progress bar
    write_report: bool = True  # write OUT/report.html
    on_result: Callable[[StudentOutcome], None] | None = None  # called as each student finishes
    force: bool = False  # grade into an OUT holding another batch, moving its results aside first
    shard: tuple[int, int] | None = None  # (I, N): grade only the I-th of N deterministic slices (needs seed)
    allow_weak_isolation: bool = False  # accept the process level where the namespace sandbox cannot start


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' (1 <= I <= N) as (I, N); BatchError otherwise."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise BatchError(f"--shard {text!r}: give I/N, e.g. 2/4 (the second of four shards)") from None
    if not 1 <= i <= n:
        raise BatchError(f"--shard {text}: I must be between 1 and N")
    return i, n


def shard_of(students: list[str], shard: tuple[int, int] | None) -> list[str]:
    """The students of shard (I, N): every N-th of the sorted class, starting at the I-th (deterministic, and
    balanced within one student)."""
    if shard is None:
        return list(students)
    i, n = shard
    return sorted(students)[i - 1::n]


def grade_batch(slug: str, submissions_dir: str | os.PathLike, out_dir: str | os.PathLike,
                options: BatchOptions | None = None, **changes) -> BatchResult:
    """Grade every submission in `submissions_dir` for assignment `slug` into `out_dir`.

    Raises BatchError when the batch cannot start (including an OUT holding another batch, see
    autograder.instructor.batch.manifest); any problem with one submission ends up in that student's results.json
    instead. Layout of a class and outputs: autograder.instructor.batch.
    """
    from ... import spec as specs
    from ...grading import GradingError, check_device
    from ..outputs import OutputError, writable_dir

    opts = replace(options or BatchOptions(), **changes)
    t_start = time.monotonic()
    try:
        spec = specs.load(slug)
        check_device(opts.device)
    except (specs.UnknownAssignment, GradingError) as exc:
        raise BatchError(str(exc)) from None
    if opts.workers < 1:
        raise BatchError("--workers must be at least 1")
    if opts.shard is not None:
        parse_shard(f"{opts.shard[0]}/{opts.shard[1]}")
        if opts.seed is None:
            raise BatchError("--shard needs --seed: every shard of a batch must grade with the batch's one seed")
    submissions_dir = Path(submissions_dir).resolve()
    out_dir = Path(out_dir).resolve()
    not_submissions: list[tuple[str, str]] = []
    subs = discover(submissions_dir, out_dir, not_submissions)
    if opts.shard is not None:
        keep = set(shard_of([s.student for s in subs], opts.shard))
        subs = [s for s in subs if s.student in keep]
    try:
        writable_dir(out_dir)
    except OutputError as exc:
        raise BatchError(str(exc)) from None
    students = opts.students
    if students:
        known = {s.student for s in subs}
        missing = [n for n in students if n not in known]
        if missing:
            where = f" (shard {opts.shard[0]}/{opts.shard[1]})" if opts.shard else ""
            raise BatchError(f"no submission named {', '.join(missing)} in {submissions_dir}{where}")
        subs_to_consider = [s for s in subs if s.student in set(students)]
    else:
        subs_to_consider = subs
    ctx = fork_server(slug)
    logs = out_dir / ".logs"
    try:
        logs.mkdir(exist_ok=True)
    except OSError as exc:
        raise BatchError(f"cannot write into --out {out_dir}: {exc.strerror or exc}") from None
    checks = expected_checks_in_child(ctx, slug, opts.select, out_dir)
    if not checks:
        raise BatchError(f"no check of {slug} matches {opts.select}")
    wanted = Manifest(assignment=slug, seed=opts.seed if opts.seed is not None else secrets.randbelow(2**31),
                      select=list(opts.select) if opts.select else None,
                      checks_version=checks_version(slug, [(c.name, c.visibility, c.points) for c in checks]),
                      checks=[c.name for c in checks],
                      isolation="process" if opts.allow_weak_isolation else "namespaces",
                      shard=f"{opts.shard[0]}/{opts.shard[1]}" if opts.shard else None)
    manifest, aside = reconcile(out_dir, wanted, seed_given=opts.seed is not None, force=opts.force)
    logs.mkdir(exist_ok=True)  # --force may have moved the old one aside
    write_manifest(out_dir, manifest)
    seed = manifest.seed
    limits = opts.limits or Limits()
    result = BatchResult(slug=slug, out_dir=out_dir, checks=checks, seed=seed, isolation=manifest.isolation,
                         shard=manifest.shard, not_submissions=not_submissions, set_aside=aside)

    jobs: list[_Job] = []
    for sub in subs_to_consider:
        results_path = out_dir / sub.student / "results.json"
        digest = submission_digest(sub, spec.module_file)
        if not opts.regrade and not students and is_finished(results_path, slug, checks, digest, seed):
            data = read_results(results_path)
            result.outcomes.append(StudentOutcome(
                student=sub.student, status=STATUS_SKIPPED, score=float(data["score"]),
                max_score=float(data["max_score"]), results_path=results_path,
                message="finished in an earlier run"))
            continue
        jobs.append(_Job(
            slug=slug, title=spec.title, student=sub.student, submission=str(sub.path), kind=sub.kind,
            results_path=str(results_path),
            unpack_dir=str(out_dir / ".unpack" / f"{sub.student}-{secrets.token_hex(4)}"),
            log_path=str(logs / f"{sub.student}.log"), device=opts.device,
            select=list(opts.select) if opts.select else None, seed=seed, limits=asdict(limits),
            # The sandbox hides the whole class and the outputs: no student can read another's code or grades.
            hidden=[str(submissions_dir), str(out_dir)],
            checks=[(c.name, c.visibility, c.points) for c in checks], digest=digest, token=secrets.token_hex(8),
            allow_weak_isolation=opts.allow_weak_isolation))

    t_grading = time.monotonic()
    run_jobs(jobs, result, opts, ctx)
    result.grading_time = time.monotonic() - t_grading
    shutil.rmtree(out_dir / ".unpack", ignore_errors=True)
    result.outcomes.sort(key=lambda o: o.student)
    all_students = [s.student for s in subs]
    write_outputs(result, out_dir, slug=slug, title=spec.title, students=all_students, checks=checks,
                  manifest=manifest, report=opts.write_report)
    result.elapsed = time.monotonic() - t_start
    return result


def write_outputs(result: BatchResult, out_dir: Path, *, slug: str, title: str, students: list[str], checks,
                  manifest: Manifest, report: bool = True) -> None:
    """grades.csv, the LMS CSVs and report.html of `out_dir`, from the students' results.json files."""
    from .lms import write_lms_csvs

    result.grades_csv = write_grades_csv(out_dir, students, checks)
    result.lms_csv = write_lms_csvs(out_dir, students, title=title, slug=slug)
    if report:
        from .classreport import write_class_report

        result.report_html = write_class_report(out_dir, slug=slug, title=title, students=students, checks=checks,
                                                manifest=manifest)
