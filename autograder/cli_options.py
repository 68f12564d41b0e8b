"""What every `dlcourse` command shares: its options (each defined once), the console and the error helpers.

A leaf module: it imports only click and rich, so `autograder.cli` and the command modules of each verb
(`autograder.authoring.commands`, `autograder.instructor.batch.commands`, `autograder.instructor.release.commands`)
all import it and never each other.

Exit codes of every command: 0 when the command did its job (whatever the score), 1 where a command's `--check` or
`--strict` found something out of date or wrong, 2 for a usage error or a core function that refused (unknown
assignment, missing file, no CUDA...), with a one-line message naming the problem; 130 after an interrupt.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from rich.console import Console

console = Console()

ASSIGNMENT = click.argument("assignment")
ASSIGNMENTS = click.argument("assignments", nargs=-1)
DEVICE = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
                      help="Where torch-based checks run.")
SEED = click.option("--seed", type=int, default=None, help="Reproduce a grading run exactly (hidden inputs).")
JSON_OUT = click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Write Gradescope's results.json here.")
ONLY = click.option("--only", "select", multiple=True,
                    help="Run only checks whose name starts with this (repeatable), e.g. --only 'relu_backward'.")


def fail(message: str, code: int = 2) -> None:
    """Print `error: message` and exit (2: the command could not do its job)."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


@contextlib.contextmanager
def failing_on(*errors: type[BaseException]):
    """Turn the core function's refusals (`errors`) into `fail(str(exc))`: one line, exit code 2."""
    try:
        yield
    except errors as exc:
        fail(str(exc))


def selection(select) -> list[str] | None:
    """The `--only` prefixes as the core functions take them (None: every check)."""
    return list(select) or None
