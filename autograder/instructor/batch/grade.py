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
    seed: int | None = None  # the hidden inputs' seed (None: drawn per student)
    limits: Limits | None = None  # the sandbox limits of each submission (None: the defaults)
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT  # wall-clock cap of one student's whole grading
    progress: bool = True  # show a progress bar
    console: object = None  # the rich console for the progress bar
    write_report: bool = True  # write OUT/report.html
    on_result: Callable[[StudentOutcome], None] | None = None  # called as each student finishes


def grade_batch(slug: str, submissions_dir: str | os.PathLike, out_dir: str | os.PathLike,
                options: BatchOptions | None = None, **changes) -> BatchResult:
    """Grade every submission in `submissions_dir` for assignment `slug` into `out_dir`.

    Raises BatchError when the batch cannot start; any problem with one submission ends up in that student's
    results.json instead. Layout of a class and outputs: autograder.instructor.batch.
    """
    from ... import spec as specs
    from ...grading import GradingError, check_device

    opts = replace(options or BatchOptions(), **changes)
    t_start = time.monotonic()
    try:
        spec = specs.load(slug)
        check_device(opts.device)
    except (specs.UnknownAssignment, GradingError) as exc:
        raise BatchError(str(exc)) from None
    if opts.workers < 1:
        raise BatchError("--workers must be at least 1")
    submissions_dir = Path(submissions_dir).resolve()
    out_dir = Path(out_dir).resolve()
    subs = discover(submissions_dir, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ".logs").mkdir(exist_ok=True)
    students = opts.students
    if students:
        known = {s.student for s in subs}
        missing = [n for n in students if n not in known]
        if missing:
            raise BatchError(f"no submission named {', '.join(missing)} in {submissions_dir}")
        subs_to_consider = [s for s in subs if s.student in set(students)]
    else:
        subs_to_consider = subs
    ctx = fork_server(slug)
    checks = expected_checks_in_child(ctx, slug, opts.select, out_dir)
    if not checks:
        raise BatchError(f"no check of {slug} matches {opts.select}")
    limits = opts.limits or Limits()
    result = BatchResult(slug=slug, out_dir=out_dir, checks=checks)

    jobs: list[_Job] = []
    for sub in subs_to_consider:
        results_path = out_dir / sub.student / "results.json"
        digest = submission_digest(sub, spec.module_file)
        if not opts.regrade and not students and is_finished(results_path, slug, checks, digest):
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
            log_path=str(out_dir / ".logs" / f"{sub.student}.log"), device=opts.device,
            select=list(opts.select) if opts.select else None, seed=opts.seed, limits=asdict(limits),
            # The sandbox hides the whole class and the outputs: no student can read another's code or grades.
            hidden=[str(submissions_dir), str(out_dir)],
            checks=[(c.name, c.visibility, c.points) for c in checks], digest=digest, token=secrets.token_hex(8)))

    t_grading = time.monotonic()
    run_jobs(jobs, result, opts, ctx)
    result.grading_time = time.monotonic() - t_grading
    shutil.rmtree(out_dir / ".unpack", ignore_errors=True)
    result.outcomes.sort(key=lambda o: o.student)
    all_students = [s.student for s in subs]
    result.grades_csv = write_grades_csv(out_dir, all_students, checks)
    if opts.write_report:
        from .classreport import write_class_report

        result.report_html = write_class_report(out_dir, slug=slug, title=spec.title, students=all_students,
                                                checks=checks)
    result.elapsed = time.monotonic() - t_start
    return result
