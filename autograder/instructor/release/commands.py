"""The `release` command: parses its options, calls one core function and prints (exit codes:
autograder.cli_options). The `export` commands are in autograder.instructor.export_commands."""

from __future__ import annotations

from pathlib import Path

import click

from ...cli_options import ASSIGNMENTS, console, failing_on


def register(main) -> None:
    """Add `release` to the `dlcourse` click group."""
    main.add_command(release_cmd)


@click.command("release")
@ASSIGNMENTS
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The folder to write the student bundle to (new or empty).")
@click.option("--force", is_flag=True, help="Replace --out if it is not empty.")
@click.option("--withhold-hidden-titles", is_flag=True,
              help="Students' `dlcourse list` counts the hidden checks without their titles (by default it shows "
                   "each hidden check's title and points, never its inputs).")
def release_cmd(assignments, out, force, withhold_hidden_titles):
    """Write the student bundle: assignments, lectures and the engine with public checks only.

    No solution, hidden check or lecture answer goes in: the bundle is scanned for every reference function
    body, and every public check helper is run on the checks' inputs to prove it does not compute what a graded
    function computes, before the command succeeds. Give assignment names to release only those.
    """
    from .bundle import ReleaseError, release

    with failing_on(ReleaseError):
        summary = release(out, list(assignments) or None, force=force,
                          withhold_hidden_titles=withhold_hidden_titles)
    for line in release_lines(summary):
        console.print(line, highlight=False, soft_wrap=True)


def release_lines(summary) -> list[str]:
    """What `release` prints: warnings, each assignment's withheld checks, and how students install the bundle
    (`summary.install`, the very command of the bundle's README)."""
    from rich.markup import escape  # `".[notebooks]"` is not markup

    lines = [f"[yellow]warning:[/] {escape(warning)}" for warning in summary.warnings]
    titles = "titles listed" if summary.hidden_titles else "titles withheld"
    for slug in summary.assignments:
        hidden = summary.hidden.get(slug)
        note = (f"{hidden[0]} hidden checks ({hidden[1]:g} points) withheld, {titles}" if hidden
                else "no hidden checks")
        lines.append(escape(f"  {slug}: {note}"))
    lines.append(f"student bundle written to {escape(str(summary.out))} ({summary.files} files; no reference body "
                 "and no re-implemented function found in it).")
    lines.append("Students install it in its folder with the course's tested command (as its README says):")
    lines.append(f"  {escape(summary.install)}")
    return lines
