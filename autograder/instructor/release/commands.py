"""The `release` and `export gradescope | github-classroom | nbgrader` commands: each parses its options, calls one
core function and prints (exit codes: autograder.cli_options)."""

from __future__ import annotations

from pathlib import Path

import click

from ...cli_options import ASSIGNMENT, ASSIGNMENTS, ONLY, console, failing_on, selection


def register(main) -> None:
    """Add `release` and the `export` group to the `dlcourse` click group."""
    main.add_command(release_cmd)
    main.add_command(export)


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


@click.group("export")
def export():
    """Course staff: package an assignment for Gradescope, GitHub Classroom or nbgrader."""


@export.command("gradescope")
@ASSIGNMENT
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The autograder zip to write (e.g. <assignment>-gradescope.zip).")
@ONLY
def export_gradescope_cmd(assignment, out, select):
    """A Gradescope autograder zip: setup.sh, run_autograder, the engine, reference and hidden checks."""
    from ..gradescope import ExportError, export_gradescope

    with failing_on(ExportError):
        result = export_gradescope(assignment, out, select=selection(select))
    console.print(f"Gradescope autograder for {assignment} written to {result.zip_path} "
                  f"({len(result.files)} files). Upload it as the assignment's autograder (Ubuntu base image).",
                  highlight=False)


@export.command("github-classroom")
@ASSIGNMENT
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The root of the template repository (usually a bundle made by `dlcourse release`).")
def export_classroom_cmd(assignment, out):
    """GitHub Classroom autograding: a workflow and its tests (public checks, one test per function)."""
    from ...grading import GradingError
    from ..classroom import ClassroomError, export_classroom

    with failing_on(ClassroomError, GradingError):
        result = export_classroom(assignment, out)
    for path in result.files:
        console.print(f"  {path}", highlight=False)
    total = sum(t.points for t in result.tests)
    console.print(f"GitHub Classroom autograding for {assignment} written under {result.out}: "
                  f"{len(result.tests)} tests, {total:g} points", highlight=False)


@export.command("nbgrader")
@ASSIGNMENT
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The nbgrader course folder (created if needed).")
@click.option("--target", "targets", multiple=True, help="Only these functions or classes (repeatable).")
@click.option("--course-id", default="dlcourse", show_default=True)
def export_nbgrader_cmd(assignment, out, targets, course_id):
    """An nbgrader source notebook whose test cells call the engine (then run `nbgrader generate_assignment`)."""
    from ...grading import GradingError
    from ..nbgrader_bridge import NbgraderExportError, export_nbgrader

    with failing_on(NbgraderExportError, GradingError):
        result = export_nbgrader(assignment, out, list(targets) or None, course_id=course_id)
    total = sum(p for _, p in result.cells)
    console.print(f"nbgrader source notebook written to {result.notebook} ({len(result.cells)} test cells, "
                  f"{total:g} points). Next: cd {result.out} && nbgrader generate_assignment {assignment}",
                  highlight=False)
