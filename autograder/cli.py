"""`dlcourse`: the thin command line over the typed core functions (grading, authoring, instructor tools).

This module holds the group and the students' commands (`list`, `check`, `grade`); each verb of the course staff
registers its own commands: `autograder.authoring.commands` (author sync/new, verify),
`autograder.instructor.batch.commands` (grade-batch), `autograder.instructor.release.commands` (release, export).
Options are defined once (autograder.cli_options) and each command only parses, calls one core function and prints.
In a student copy (written by `dlcourse release`, marked by `autograder/student_copy.json`) only `list` and `check`
are offered: `grade` is hidden (it explains that the hidden checks are not there) and the staff's verbs are absent.
Exit codes: 0 when the command did its job (whatever the score), 2 for a usage error or a grader that could not
run (unknown assignment, missing file, no CUDA...), with a one-line message naming the problem.
"""

from __future__ import annotations

from .warm import early_start

early_start()  # `dlcourse check`: the sandbox worker starts now, its imports overlapping ours (autograder.warm)

from pathlib import Path  # noqa: E402

import click  # noqa: E402
from rich.table import Table  # noqa: E402
from rich.text import Text  # noqa: E402

from . import __version__  # noqa: E402
from .cli_options import ASSIGNMENT, DEVICE, JSON_OUT, ONLY, SEED, console, fail, failing_on, selection  # noqa: E402


# `dlcourse release` writes this file into a student copy's engine: there `dlcourse` offers the students' commands
# only (`list`, `check`); grading and the staff's verbs are left out (autograder.instructor.release.bundle).
STUDENT_COPY = (Path(__file__).resolve().parent / "student_copy.json").is_file()


def _grade(assignment, path, mode, seed, device, json_path, select, allow_weak_isolation=False, verbose=False,
           sandbox=None):
    from .grading import GradingError, grade
    from .report import render

    with failing_on(GradingError):
        report = grade(assignment, path, mode=mode, seed=seed, device=device, select=selection(select),
                       allow_weak_isolation=allow_weak_isolation, sandbox=sandbox)
    render(report, console, verbose=verbose)
    import gc

    gc.freeze()  # the command is done: the interpreter's last collection need not walk torch's objects
    if json_path:
        try:
            report.write_json(json_path)
        except OSError as exc:
            fail(f"could not write {json_path}: {exc.strerror or exc} (the report above is complete)")
        console.print(f"results written to {json_path}", highlight=False)
    return report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlcourse")
def main():
    """Deep learning through seven constraints: assignments, self-checks and grading."""


@main.command("list")
@click.argument("assignment", required=False)
@click.option("--markdown", is_flag=True, help="Print the points table as Markdown (for READMEs).")
def list_cmd(assignment, markdown):
    """The assignments, their checks and points.

    A half-built assignment (a broken spec, missing checks or files) is named with what it lacks and the others are
    listed all the same (exit 0); asking for that one assignment by name exits 2.
    """
    from . import spec as specs
    from .authoring.points import points_table
    from .grading import GradingError, collect, hidden_summary

    if assignment:
        with failing_on(specs.UnknownAssignment):
            chosen = [specs.Survey(assignment, specs.load(assignment))]
    else:
        chosen = specs.survey()
    for entry in chosen:
        spec = entry.spec
        if spec is None or not spec.public_checks.is_file():
            problem = entry.problem or f"half-built: missing {', '.join(spec.missing())}"
            if assignment:
                fail(f"{entry.slug}: {problem}")
            console.print(f"[yellow]{entry.slug}[/]: {problem}", highlight=False)
            continue
        try:
            checks = collect(spec.slug)
        except (GradingError, OSError) as exc:
            if assignment:
                fail(str(exc))
            console.print(f"[yellow]{spec.slug}[/]: {entry.problem or 'its checks do not collect'}: "
                          f"{str(exc).splitlines()[0]}", highlight=False)
            continue
        # Hidden checks are listed when this copy has them; a student bundle has their titles (or, when the
        # instructor withheld them, only their count) in hidden.json.
        hidden = None if any(vis == "hidden" for _, vis, _ in checks) else hidden_summary(spec)
        if markdown:
            click.echo(points_table(checks, hidden))
            continue
        titles = _hidden_titles(spec) if hidden else []
        table = Table(title=f"{spec.slug}: {spec.title}", title_justify="left")
        table.add_column("check")
        table.add_column("visibility")
        table.add_column("points", justify="right")
        for name, vis, pts in checks:
            table.add_row(Text(name), vis, f"{pts:g}")
        for name, pts in titles:
            table.add_row(Text(name), "hidden (run at grading)", f"{pts:g}")
        if hidden and not titles:
            table.add_row(f"({hidden[0]} hidden checks, run at grading)", "hidden", f"{hidden[1]:g}")
        total = sum(c[2] for c in checks) + (hidden[1] if hidden else 0)
        table.caption = f"constraint: {spec.constraint}; total {total:g} points"
        console.print(table)
        if entry.problem:
            console.print(f"[yellow]{spec.slug}[/]: {entry.problem}", highlight=False)


def _hidden_titles(spec) -> list[tuple[str, float]]:
    """The hidden checks' titles and points a student bundle lists (hidden.json "checks"), or []."""
    import json

    try:
        data = json.loads(spec.hidden_manifest.read_text(encoding="utf-8"))
        return [(str(c["name"]), float(c["points"])) for c in data.get("checks", [])]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


@main.command()
@ASSIGNMENT
@click.option("--submission", type=click.Path(path_type=Path), default=None,
              help="Your module or its folder (default: the file under assignments/).")
@DEVICE
@ONLY
@JSON_OUT
@click.option("--watch", is_flag=True,
              help="Keep checking: run the checks again each time you save the file, and print what changed.")
@click.option("-v", "--verbose", is_flag=True, help="Show what your code printed during every check, not only "
                                                    "under the failed ones.")
def check(assignment, submission, device, select, json_path, watch, verbose):
    """Self-check your working copy against the public checks."""
    from .warm import take

    sandbox = take(assignment, device)
    if watch:
        from .grading import GradingError
        from .watch import watch as watch_loop

        with failing_on(GradingError):
            watch_loop(assignment, submission, device=device, select=selection(select), verbose=verbose,
                       json_path=json_path, console=console, sandbox=sandbox)
        return
    _grade(assignment, submission, "check", None, device, json_path, select, verbose=verbose, sandbox=sandbox)


@main.command(hidden=STUDENT_COPY)  # in a student copy it only says that grading needs the hidden checks
@ASSIGNMENT
@click.argument("path", type=click.Path(path_type=Path))
@JSON_OUT
@SEED
@DEVICE
@ONLY
@click.option("--allow-weak-isolation", is_flag=True,
              help="Where the namespace sandbox cannot start, grade at the process level anyway: the submission "
                   "can then read every file your user can read and see your processes. Said in the report.")
def grade(assignment, path, json_path, seed, device, select, allow_weak_isolation):
    """Grade a submission (public and hidden checks). Exit 0 whenever grading completed."""
    _grade(assignment, path, "grade", seed, device, json_path, select, allow_weak_isolation)


def _register_staff_commands() -> None:
    from .authoring import commands as authoring
    from .instructor import export_commands as exports
    from .instructor.batch import commands as batch
    from .instructor.release import commands as release
    from .site import commands as site

    # `exports` after `release`: it adds the export commands (slurm, k8s, and --force/--seed for the others) to
    # the `export` group.
    for verb in (authoring, batch, release, exports, site):
        verb.register(main)


if not STUDENT_COPY:
    _register_staff_commands()

if __name__ == "__main__":
    main()
