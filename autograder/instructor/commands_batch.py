"""CLI commands for batch grading (registered on the `dlcourse` group by autograder.cli)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def register(main) -> None:
    """Add this module's commands to the `dlcourse` click group."""
    from .. import cli  # the shared options (defined once there) and the console

    @main.command("grade-batch")
    @cli.ASSIGNMENT
    @click.argument("submissions", type=click.Path(path_type=Path, file_okay=False))
    @click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
                  help="Where OUT/<student>/results.json, OUT/grades.csv and OUT/report.html go.")
    @click.option("--workers", type=click.IntRange(min=1), default=_default_workers, show_default="the CPU count",
                  help="Submissions graded at the same time, each in its own process.")
    @cli.DEVICE
    @click.option("--regrade", is_flag=True, help="Grade everyone again, even students with a finished result.")
    @click.option("--student", "students", multiple=True,
                  help="Grade (again) only this student, by folder or zip name (repeatable).")
    @click.option("--timeout", "submission_timeout", type=click.FloatRange(min=1), default=900.0,
                  show_default=True, help="Wall-clock seconds for one submission; past it, its checks all fail.")
    @cli.SEED
    @cli.SELECT
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def grade_batch_cmd(assignment, submissions, out_dir, workers, device, regrade, students, submission_timeout,
                        seed, select, quiet):
        """Grade a folder of submissions (one subfolder or zip file per student) in parallel.

        Exit 0 when the batch completed, even when some submissions crashed or timed out (their checks fail);
        2 when the batch could not start.
        """
        from rich.markup import escape
        from rich.table import Table

        from .batch import BatchError, grade_batch

        # SIGTERM stops the batch like Ctrl-C: the running submissions are killed, the finished ones are kept
        # (an interrupted batch resumes where it stopped).
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            result = grade_batch(assignment, submissions, out_dir, workers=workers, device=device, regrade=regrade,
                                 students=list(students) or None, select=list(select) or None, seed=seed,
                                 submission_timeout=submission_timeout, progress=not quiet, console=cli.console)
        except BatchError as exc:
            cli._fail(str(exc))
        except KeyboardInterrupt:
            cli.console.print("[bold red]interrupted:[/] the finished submissions are kept; run the same command "
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
        cli.console.print(table)
        for o in result.outcomes:
            if o.status in ("error", "timeout", "crashed"):
                first = o.message.splitlines()[0] if o.message else ""
                cli.console.print(f"[yellow]{escape(o.student)}[/]: {o.status}: {escape(first)}", highlight=False)
        cli.console.print(f"grades: {result.grades_csv}", highlight=False)
        if result.report_html:
            cli.console.print(f"class report: {result.report_html}", highlight=False)
        cli.console.print(f"done in {result.elapsed:.1f} s", highlight=False)
