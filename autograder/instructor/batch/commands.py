"""The `dlcourse grade-batch` command: parses its options into a `BatchOptions`, calls `grade_batch`, prints."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from ...cli_options import ASSIGNMENT, DEVICE, ONLY, SEED, console, failing_on, selection


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def register(main) -> None:
    """Add `grade-batch` to the `dlcourse` click group."""
    main.add_command(grade_batch_cmd)


@click.command("grade-batch")
@ASSIGNMENT
@click.argument("submissions", type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Where OUT/<student>/results.json, OUT/grades.csv and OUT/report.html go.")
@click.option("--workers", type=click.IntRange(min=1), default=_default_workers, show_default="the CPU count",
              help="Submissions graded at the same time, each in its own process.")
@DEVICE
@click.option("--regrade", is_flag=True, help="Grade everyone again, even students with a finished result.")
@click.option("--student", "students", multiple=True,
              help="Grade (again) only this student, by folder or zip name (repeatable).")
@click.option("--timeout", "submission_timeout", type=click.FloatRange(min=1), default=900.0,
              show_default=True, help="Wall-clock seconds for one submission; past it, its checks all fail.")
@SEED
@ONLY
@click.option("--quiet", is_flag=True, help="No progress bar.")
def grade_batch_cmd(assignment, submissions, out_dir, workers, device, regrade, students, submission_timeout,
                    seed, select, quiet):
    """Grade a folder of submissions (one subfolder or zip file per student) in parallel.

    Exit 0 when the batch completed, even when some submissions crashed or timed out (their checks fail);
    2 when the batch could not start.
    """
    from rich.markup import escape
    from rich.table import Table

    from .grade import BatchOptions, grade_batch
    from .model import BatchError

    options = BatchOptions(workers=workers, device=device, regrade=regrade, students=list(students) or None,
                           select=selection(select), seed=seed, submission_timeout=submission_timeout,
                           progress=not quiet, console=console)
    # SIGTERM stops the batch like Ctrl-C: the running submissions are killed, the finished ones are kept
    # (an interrupted batch resumes where it stopped).
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with failing_on(BatchError):
            result = grade_batch(assignment, submissions, out_dir, options)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted:[/] the finished submissions are kept; run the same command "
                      "again to grade the rest", highlight=False)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    table = Table(title=f"{assignment}: {len(result.outcomes)} submissions", title_justify="left")
    for col in ("status", "students"):
        table.add_column(col)
    for status in ("graded", "skipped", "error", "timeout", "crashed"):
        n = result.count(status)
        if n:
            table.add_row(status, str(n))
    console.print(table)
    for o in result.outcomes:
        if o.status in ("error", "timeout", "crashed"):
            first = o.message.splitlines()[0] if o.message else ""
            console.print(f"[yellow]{escape(o.student)}[/]: {o.status}: {escape(first)}", highlight=False)
    console.print(f"grades: {result.grades_csv}", highlight=False)
    if result.report_html:
        console.print(f"class report: {result.report_html}", highlight=False)
    console.print(f"done in {result.elapsed:.1f} s", highlight=False)
