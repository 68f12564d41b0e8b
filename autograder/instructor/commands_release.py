"""CLI commands for the student bundle, exports and the course self-test (registered on the `dlcourse` group by autograder.cli).

`release`, `export gradescope`, `export github-classroom`, `export nbgrader` and `verify`: each parses its options,
calls one core function of autograder.instructor and prints. Exit codes follow autograder.cli: 0 when the command
did its job, 2 for a usage error or a core function that refused (with a one-line message), and for `verify
--strict`, 1 when verification found a problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ONLY = click.option("--only", "select", multiple=True,
                    help="Only checks whose name starts with this (repeatable), e.g. --only 'relu_backward'.")


def register(main) -> None:
    """Add this module's commands to the `dlcourse` click group."""
    from ..cli import ASSIGNMENT, _fail, console

    @main.command("release")
    @click.argument("assignments", nargs=-1)
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                  help="The folder to write the student bundle to (new or empty).")
    @click.option("--force", is_flag=True, help="Replace --out if it is not empty.")
    def release_cmd(assignments, out, force):
        """Write the student bundle: assignments, lectures and the engine with public checks only.

        No solution, hidden check or lecture answer goes in: the bundle is scanned for every reference function
        body before the command succeeds. Give assignment names to release only those.
        """
        from .release import ReleaseError, release

        try:
            summary = release(out, list(assignments) or None, force=force)
        except ReleaseError as exc:
            _fail(str(exc))
        for warning in summary.warnings:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        for slug in summary.assignments:
            hidden = summary.hidden.get(slug)
            note = f"{hidden[0]} hidden checks ({hidden[1]:g} points) withheld" if hidden else "no hidden checks"
            console.print(f"  {slug}: {note}", highlight=False)
        console.print(f"student bundle written to {summary.out} ({summary.files} files; no reference body found "
                      "in it). Students install it with `pip install -e .`", highlight=False)

    @main.group("export")
    def export():
        """Course staff: package an assignment for Gradescope, GitHub Classroom or nbgrader."""

    @export.command("gradescope")
    @ASSIGNMENT
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="The autograder zip to write (e.g. backprop-gradescope.zip).")
    @ONLY
    def export_gradescope_cmd(assignment, out, select):
        """A Gradescope autograder zip: setup.sh, run_autograder, the engine, reference and hidden checks."""
        from .gradescope import ExportError, export_gradescope

        try:
            result = export_gradescope(assignment, out, select=list(select) or None)
        except ExportError as exc:
            _fail(str(exc))
        console.print(f"Gradescope autograder for {assignment} written to {result.zip_path} "
                      f"({len(result.files)} files). Upload it as the assignment's autograder (Ubuntu base image).",
                      highlight=False)

    @export.command("github-classroom")
    @ASSIGNMENT
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                  help="The root of the template repository (usually a bundle made by `dlcourse release`).")
    def export_classroom_cmd(assignment, out):
        """GitHub Classroom autograding: a workflow and its tests (public checks, one test per function)."""
        from ..grading import GradingError
        from .classroom import ClassroomError, export_classroom

        try:
            result = export_classroom(assignment, out)
        except (ClassroomError, GradingError) as exc:
            _fail(str(exc))
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
        from ..grading import GradingError
        from .nbgrader_bridge import NbgraderExportError, export_nbgrader

        try:
            result = export_nbgrader(assignment, out, list(targets) or None, course_id=course_id)
        except (NbgraderExportError, GradingError) as exc:
            _fail(str(exc))
        total = sum(p for _, p in result.cells)
        console.print(f"nbgrader source notebook written to {result.notebook} ({len(result.cells)} test cells, "
                      f"{total:g} points). Next: cd {result.out} && nbgrader generate_assignment {assignment}",
                      highlight=False)

    @main.command("verify")
    @click.argument("assignments", nargs=-1)
    @ONLY
    @click.option("--device", "devices", multiple=True, type=click.Choice(["cpu", "cuda"]),
                  help="Devices for the reference (default: cpu, and cuda when available).")
    @click.option("--bug", "bug_names", multiple=True,
                  help="Only the known bugs whose name starts with this (repeatable).")
    @click.option("--seed", type=int, default=1234, show_default=True)
    @click.option("--strict", is_flag=True, help="Exit 1 on any problem, untested checks included.")
    def verify_cmd(assignments, select, devices, bug_names, seed, strict):
        """The course's self-test: reference full marks, skeleton zero, every check failed by a known bug."""
        from ..grading import GradingError
        from .verify import VerifyError, render, verify

        try:
            with console.status("verifying...") as status:
                results = verify(list(assignments) or None, devices=list(devices) or None,
                                 select=list(select) or None, bug_names=list(bug_names) or None, seed=seed,
                                 progress=lambda message: status.update(message))
        except (VerifyError, GradingError) as exc:
            _fail(str(exc))
        render(results, console)
        if strict and any(r.problems or r.untested for r in results):
            sys.exit(1)
