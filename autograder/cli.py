"""`dlcourse`: the thin command line over the typed core functions (grading, authoring, instructor tools).

Options are defined once (the decorators below) and each command only parses, calls one core function and prints.
Exit codes: 0 when the command did its job (whatever the score), 2 for a usage error or a grader that could not
run (unknown assignment, missing file, no CUDA...), with a one-line message naming the problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__

console = Console()

ASSIGNMENT = click.argument("assignment")
DEVICE = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
                      help="Where torch-based checks run.")
SEED = click.option("--seed", type=int, default=None, help="Reproduce a grading run exactly (hidden inputs).")
JSON_OUT = click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Write Gradescope's results.json here.")
SELECT = click.option("--only", "select", multiple=True,
                      help="Run only checks whose name starts with this (repeatable), e.g. --only 'relu_backward'.")


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(2)


def _grade(assignment, path, mode, seed, device, json_path, select):
    from .grading import GradingError, grade
    from .report import render

    try:
        report = grade(assignment, path, mode=mode, seed=seed, device=device, select=list(select) or None)
    except GradingError as exc:
        _fail(str(exc))
    render(report, console)
    if json_path:
        try:
            report.write_json(json_path)
        except OSError as exc:
            _fail(f"could not write {json_path}: {exc.strerror or exc} (the report above is complete)")
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
    """The assignments, their checks and points."""
    from . import spec as specs
    from .authoring.points import points_table
    from .grading import GradingError, collect

    try:
        chosen = [specs.load(assignment)] if assignment else specs.all_specs()
    except specs.UnknownAssignment as exc:
        _fail(str(exc))
    for spec in chosen:
        try:
            checks = collect(spec.slug)
        except GradingError as exc:
            _fail(str(exc))
        hidden = spec.hidden_summary()
        if markdown:
            click.echo(points_table(checks, hidden))
            continue
        table = Table(title=f"{spec.slug}: {spec.title}", title_justify="left")
        table.add_column("check")
        table.add_column("visibility")
        table.add_column("points", justify="right")
        for name, vis, pts in checks:
            table.add_row(Text(name), vis, f"{pts:g}")
        if hidden:
            table.add_row(f"({hidden[0]} hidden checks, run at grading)", "hidden", f"{hidden[1]:g}")
        total = sum(c[2] for c in checks) + (hidden[1] if hidden else 0)
        table.caption = f"constraint: {spec.constraint}; total {total:g} points"
        console.print(table)


@main.command()
@ASSIGNMENT
@click.option("--submission", type=click.Path(path_type=Path), default=None,
              help="Your module or its folder (default: the file under assignments/).")
@DEVICE
@SELECT
@JSON_OUT
def check(assignment, submission, device, select, json_path):
    """Self-check your working copy against the public checks."""
    _grade(assignment, submission, "check", None, device, json_path, select)


@main.command()
@ASSIGNMENT
@click.argument("path", type=click.Path(path_type=Path))
@JSON_OUT
@SEED
@DEVICE
@SELECT
def grade(assignment, path, json_path, seed, device, select):
    """Grade a submission (public and hidden checks). Exit 0 whenever grading completed."""
    _grade(assignment, path, "grade", seed, device, json_path, select)


@main.group()
def author():
    """Course staff: keep skeletons and READMEs in step with the references and checks."""


@author.command("sync")
@click.argument("assignments", nargs=-1)
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if anything is out of date.")
def author_sync(assignments, check_only):
    """Regenerate skeletons from solutions/ and the points tables of the assignment READMEs."""
    from . import spec as specs
    from .authoring.points import sync_readme
    from .authoring.skeleton import sync

    slugs = assignments or specs.all_slugs()
    stale = []
    for slug in slugs:
        stale += sync(slug, check_only) + sync_readme(slug, check_only)
    for path in stale:
        console.print(("out of date: " if check_only else "updated: ") + path, highlight=False)
    if check_only and stale:
        sys.exit(1)
    if not stale:
        console.print("everything is up to date")


def _register_instructor_commands() -> None:
    from .instructor import commands_batch, commands_release

    commands_batch.register(main)
    commands_release.register(main)


_register_instructor_commands()

if __name__ == "__main__":
    main()
