"""Course staff's commands: `dlcourse author sync`, `dlcourse author new` and `dlcourse verify`.

Each parses its options, calls one core function of autograder.authoring and prints (exit codes:
autograder.cli_options).
"""

from __future__ import annotations

import sys

import click

from ..cli_options import ASSIGNMENTS, ONLY, console, fail, failing_on, selection


def register(main) -> None:
    """Add the author group and `verify` to the `dlcourse` click group."""
    main.add_command(author)
    main.add_command(verify_cmd)


@click.group()
def author():
    """Course staff: create assignments; keep skeletons and README tables in step with references, checks, specs."""


@author.command("sync")
@ASSIGNMENTS
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if anything is out of date.")
def author_sync(assignments, check_only):
    """Regenerate skeletons from solutions/, the points tables of the assignment READMEs and the course README's
    table of assignments (from the specs).

    Exit 2 when a file lacks its markers or an assignment cannot be synced (the others are synced all the same).
    """
    from .sync import sync

    result = sync(list(assignments) or None, check_only)
    for path in result.changed:
        console.print(("out of date: " if check_only else "updated: ") + path, highlight=False)
    for problem in result.problems:
        console.print(f"[bold red]error:[/] {problem}", highlight=False)
    if result.problems:
        sys.exit(2)
    if check_only and result.changed:
        sys.exit(1)
    if not result.changed:
        console.print("everything is up to date")


@author.command("new")
@click.argument("slug")
@click.option("--title", required=True, help='e.g. "Dropout (Srivastava, Hinton et al., 2014)".')
@click.option("--framework", type=click.Choice(["numpy", "torch"]), required=True,
              help="What the students' module is written with.")
@click.option("--constraint", default="to be chosen", show_default=True,
              help="Which of the seven constraints this milestone raised.")
@click.option("--milestone", default="Authors (year)", show_default=True, help="The paper behind it.")
@click.option("--lecture", default="lectures/README.md", show_default=True,
              help="The lecture section that tells its story: a path from the course root, with its #anchor.")
@click.option("--order", type=int, default=None, help="Its place in the course (default: after the last one).")
@click.option("--budget", "budget_s", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds to grade the reference on a 2-core CPU machine.")
def author_new(slug, title, framework, constraint, milestone, lecture, order, budget_s):
    """Write a complete new assignment: reference, spec, checks, bugs, README and notebook, then sync it."""
    from .new import NewAssignment, NewAssignmentError, create

    with failing_on(NewAssignmentError):
        written = create(NewAssignment(slug=slug, title=title, framework=framework, constraint=constraint,
                                       milestone=milestone, lecture=lecture, order=order, budget_s=budget_s))
    for path in written:
        console.print(f"  {path}", highlight=False)
    console.print(f"assignment {slug} written. Next: write the answer between the solution markers of "
                  f"solutions/{slug}/{slug}.py, replace the example with your own functions, checks and bugs, "
                  f"then run `dlcourse author sync {slug}` and `dlcourse verify {slug}`.", highlight=False)


@click.command("verify")
@ASSIGNMENTS
@ONLY
@click.option("--device", "devices", multiple=True, type=click.Choice(["cpu", "cuda"]),
              help="Devices for the reference (default: cpu, and cuda when available).")
@click.option("--bug", "bug_names", multiple=True, help="Only the known bugs whose name starts with this (repeatable).")
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on any problem, untested checks included.")
def verify_cmd(assignments, select, devices, bug_names, seed, strict):
    """The course's self-test: reference full marks; skeleton and hollow code zero; a core check per function;
    every check failed by a known bug of its own function; every documented parameter varied by some check.

    A half-built assignment is reported as a problem of its own; the others are verified all the same. Exit 0 when
    verification ran (whatever it found), 1 with --strict when it found a problem or an untested check, 2 when an
    assignment named does not exist.
    """
    from ..grading import GradingError
    from ..sandbox import spawn
    from . import verify as core

    spawn.enable()  # hundreds of sandboxes, one after another: forked from a zygote, not exec'd each time
    options = core.VerifyOptions(devices=list(devices) or None, select=selection(select),
                                 bug_names=list(bug_names) or None, seed=seed)
    try:
        with console.status("verifying...") as status:
            results = core.verify(list(assignments) or None, options, progress=lambda message: status.update(message))
    except (core.VerifyError, GradingError) as exc:
        fail(str(exc))
    core.render(results, console)
    if strict and any(r.problems or r.untested for r in results):
        sys.exit(1)
