"""The `export` commands of the instructor side: gradescope, github-classroom, nbgrader, slurm and k8s.

Each parses its options, calls one core function and prints; every one refuses to replace an existing output
without `--force` (which keeps the old one, renamed `*.old-<time>`), and turns an unwritable path, an unknown
assignment or a bad option into one line (exit 2). `register(main)` adds them to the `export` group (created when
no other module made it).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_options import ASSIGNMENT, ONLY, console, failing_on, selection

FORCE = click.option("--force", is_flag=True,
                     help="Replace an existing output (the old one is kept, renamed *.old-<time>).")


def register(main) -> None:
    group = main.commands.get("export")
    if group is None:
        group = click.Group("export", help="Course staff: package an assignment for Gradescope, GitHub Classroom, "
                                           "nbgrader, Slurm or Kubernetes.")
        main.add_command(group)
    for command in (export_gradescope_cmd, export_classroom_cmd, export_nbgrader_cmd, export_slurm_cmd,
                    export_k8s_cmd):
        group.add_command(command)


@click.command("gradescope")
@ASSIGNMENT
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The autograder zip to write (e.g. <assignment>-gradescope.zip).")
@ONLY
@click.option("--seed", type=int, default=None,
              help="The one seed every submission is graded with (default: drawn now, kept in the zip).")
@click.option("--allow-weak-isolation", is_flag=True,
              help="Where the namespace sandbox cannot start on Gradescope, grade at the process level (the "
                   "submission runs as an unprivileged account) instead of refusing; the report says so.")
@FORCE
def export_gradescope_cmd(assignment, out, select, seed, allow_weak_isolation, force):
    """A Gradescope autograder zip: setup.sh (its own virtual environment), run_autograder, the engine, the
    reference and hidden checks. Submissions: <assignment>.py or the notebook <assignment>.ipynb."""
    from .gradescope import ExportError, export_gradescope

    with failing_on(ExportError):
        result = export_gradescope(assignment, out, select=selection(select), seed=seed,
                                   allow_weak_isolation=allow_weak_isolation, force=force)
    console.print(f"Gradescope autograder for {assignment} written to {result.zip_path} "
                  f"({len(result.files)} files; seed {result.seed}). Upload it as the assignment's autograder "
                  "(Ubuntu or Debian base image).", highlight=False)


@click.command("github-classroom")
@ASSIGNMENT
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The root of the template repository (usually a bundle made by `dlcourse release`).")
@click.option("--grading-out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the private grading copy (reference and hidden checks) here: push it to a private "
                   "repository the workflow reads (DLCOURSE_GRADING_REPO, DLCOURSE_GRADING_TOKEN).")
@ONLY
@click.option("--seed", type=int, default=None, help="The one seed every student is graded with (default: drawn now).")
@FORCE
def export_classroom_cmd(assignment, out, grading_out, select, seed, force):
    """GitHub Classroom autograding: a workflow and one test per check (partial credit per check), hidden checks
    included when the private grading copy is reachable."""
    from .classroom import ClassroomError, export_classroom

    with failing_on(ClassroomError):
        result = export_classroom(assignment, out, grading_out=grading_out, select=selection(select), seed=seed,
                                  force=force)
    for path in result.files:
        console.print(f"  {path}", highlight=False)
    total = sum(t.points for t in result.tests)
    hidden = sum(t.points for t in result.tests if t.visibility == "hidden")
    console.print(f"GitHub Classroom autograding for {assignment} written under {result.out}: {len(result.tests)} "
                  f"tests, {total:g} points ({hidden:g} from hidden checks; seed {result.seed})", highlight=False)
    if result.grading_out:
        console.print(f"private grading copy: {result.grading_out} (push it to a private repository)",
                      highlight=False)


@click.command("nbgrader")
@ASSIGNMENT
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The nbgrader course folder (created if needed).")
@click.option("--target", "targets", multiple=True, help="Only these functions or classes (repeatable).")
@click.option("--course-id", default="dlcourse", show_default=True)
@FORCE
def export_nbgrader_cmd(assignment, out, targets, course_id, force):
    """An nbgrader source notebook whose test cells call the engine (then run `nbgrader generate_assignment`)."""
    from ..grading import GradingError
    from .nbgrader_bridge import NbgraderExportError, export_nbgrader

    with failing_on(NbgraderExportError, GradingError):
        result = export_nbgrader(assignment, out, list(targets) or None, course_id=course_id, force=force)
    total = sum(p for _, p in result.cells)
    console.print(f"nbgrader source notebook written to {result.notebook} ({len(result.cells)} test cells, "
                  f"{total:g} points). Next: cd {result.out} && nbgrader generate_assignment {assignment}",
                  highlight=False)


def _scheduler_options(fn):
    options = [
        click.option("--submissions", required=True, help="The class folder, as the cluster sees it."),
        click.option("--outputs", required=True,
                     help="Where the shards' outputs (OUTPUTS/shard-I) and the merge (OUTPUTS/merged) go."),
        click.option("--shards", type=click.IntRange(min=1), default=4, show_default=True),
        click.option("--seed", type=int, default=None, help="The batch's seed (default: drawn now)."),
        click.option("--cpus", type=click.IntRange(min=1), default=4, show_default=True,
                     help="CPUs of each shard (its --workers)."),
        click.option("--mem", default="8G", show_default=True, help="Memory of each shard."),
        ONLY, FORCE,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _scheduler(kind, assignment, out, **kw):
    from .scheduler import SchedulerExportError, export_scheduler

    kw["select"] = selection(kw["select"])
    with failing_on(SchedulerExportError):
        result = export_scheduler(kind, assignment, out, **kw)
    how = f"bash {result.path}" if kind == "slurm" else f"kubectl apply -f {result.path}"
    console.print(f"{'Slurm job array' if kind == 'slurm' else 'Kubernetes indexed Job'} for {assignment} written "
                  f"to {result.path}: {result.shards} shards, seed {result.seed}, then `dlcourse merge`. Run: {how}",
                  highlight=False)


@click.command("slurm")
@ASSIGNMENT
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The batch script to write (e.g. grade-<assignment>.sh).")
@_scheduler_options
@click.option("--time", "time_limit", default="02:00:00", show_default=True, help="Time limit of each shard.")
def export_slurm_cmd(assignment, out, **kw):
    """A Slurm job-array script: one array task per shard (`grade-batch --shard`), then a job that merges them."""
    _scheduler("slurm", assignment, out, **kw)


@click.command("k8s")
@ASSIGNMENT
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The manifest to write (e.g. grade-<assignment>.yaml).")
@_scheduler_options
@click.option("--image", default="dlcourse:latest", show_default=True, help="An image with the course installed.")
@click.option("--claim", "claim_name", default="dlcourse-class", show_default=True,
              help="The PersistentVolumeClaim holding the class and the outputs.")
@click.option("--mount", default=None, help="Where the claim is mounted (default: the parent of --outputs).")
def export_k8s_cmd(assignment, out, **kw):
    """A Kubernetes indexed Job (one completion per shard) and a Job that merges the shards once all are done."""
    _scheduler("k8s", assignment, out, **kw)
