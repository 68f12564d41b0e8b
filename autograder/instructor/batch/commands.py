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
    """Add `grade-batch` and `merge` to the `dlcourse` click group."""
    main.add_command(grade_batch_cmd)
    main.add_command(merge_cmd)


def _shard(ctx, param, value):
    if value is None:
        return None
    from .grade import parse_shard
    from .model import BatchError

    try:
        return parse_shard(value)
    except BatchError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None


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
@click.option("--force", is_flag=True,
              help="Grade into an --out that holds another batch (another assignment, --only, checks or seed): its "
                   "results are moved aside into OUT/.replaced-<time>/ first, nothing is deleted.")
@click.option("--shard", callback=_shard, default=None, metavar="I/N",
              help="Grade only the I-th of N deterministic slices of the class (needs --seed: the batch's seed); "
                   "combine the shards' outputs with `dlcourse merge`.")
@click.option("--allow-weak-isolation", is_flag=True,
              help="Where the namespace sandbox cannot start, grade at the process level anyway (each submission "
                   "can then read what your user can read). Recorded in grades.csv and the report.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def grade_batch_cmd(assignment, submissions, out_dir, workers, device, regrade, students, submission_timeout,
                    seed, select, force, shard, allow_weak_isolation, quiet):
    """Grade a folder of submissions (one subfolder, zip file or notebook folder per student) in parallel.

    Every student is graded with the batch's one seed (drawn once, kept in OUT/batch.json; --student regrades
    reuse it). An --out holding another batch is refused unless --force. Exit 0 when the batch completed, even
    when some submissions crashed or timed out (their checks fail); 2 when the batch could not start.
    """
    from .grade import BatchOptions, grade_batch
    from .model import BatchError

    options = BatchOptions(workers=workers, device=device, regrade=regrade, students=list(students) or None,
                           select=selection(select), seed=seed, submission_timeout=submission_timeout,
                           progress=not quiet, console=console, force=force, shard=shard,
                           allow_weak_isolation=allow_weak_isolation)
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
    _print_batch(result)


def _print_batch(result) -> None:
    from rich.markup import escape
    from rich.table import Table

    for name, why in result.not_submissions:
        console.print(f"[yellow]skipped[/] {escape(name)}: {escape(why)}", highlight=False)
    if result.set_aside is not None:
        console.print(f"the earlier results were moved aside to {result.set_aside}", highlight=False)
    shard = f", shard {result.shard}" if result.shard else ""
    table = Table(title=f"{result.slug}: {len(result.outcomes)} submissions (seed {result.seed}, isolation "
                        f"{result.isolation}{shard})", title_justify="left")
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
    if result.lms_csv:
        console.print(f"LMS gradebooks: {', '.join(str(p) for p in result.lms_csv)}", highlight=False)
    if result.report_html:
        console.print(f"class report: {result.report_html}", highlight=False)
    if result.elapsed:
        console.print(f"done in {result.elapsed:.1f} s", highlight=False)


@click.command("merge")
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Where the merged grades.csv, report.html, canvas.csv and moodle.csv go.")
@click.option("--force", is_flag=True, help="Merge into an --out holding another batch (moved aside first).")
def merge_cmd(shards, out_dir, force):
    """Combine the outputs of `grade-batch --shard I/N` runs into one batch output.

    Refuses shards of different assignments, selections, check versions or seeds, a missing or repeated shard,
    and a student graded in two shards.
    """
    from .merge import merge
    from .model import BatchError

    with failing_on(BatchError):
        merged = merge(list(shards), out_dir, force=force)
    result = merged.batch
    console.print(f"merged {len(merged.shards)} shards of {result.slug} (seed {result.seed}): "
                  f"{len(merged.students)} students", highlight=False)
    _print_batch(result)
