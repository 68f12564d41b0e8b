"""Check cells for the assignment notebooks: run the public checks of the function just written, in the notebook.

A notebook sits next to the student's module (`assignments/<slug>/<slug>.ipynb` beside `<slug>.py`), so

    from autograder.notebook_check import check
    check("dropout", "dropout")          # the public checks of `dropout`, rendered below the cell

grades that module exactly as `dlcourse check dropout --only dropout` does (same sandbox, same messages) and shows
the table and the messages in the notebook (rich renders to HTML there). With the environment variable
DLCOURSE_FAST=1 (the project's tests, which run every notebook against the reference) the cell only says what it
would check, since the checks themselves are tested on their own.
"""

from __future__ import annotations

import os
from pathlib import Path


def check(slug: str, *functions: str, folder: str | os.PathLike | None = None):
    """Run the public checks of `functions` (all of the assignment's when none is named) on `<slug>.py` in
    `folder` (default: the notebook's working folder) and render the report. Returns the Report (None in fast
    mode)."""
    from . import spec as specs
    from .grading import GradingError, grade
    from .report import render

    spec = specs.load(slug)
    unknown = [f for f in functions if f not in spec.targets]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a function or class of {slug} (one of {', '.join(spec.targets)})")
    path = Path(folder or os.getcwd()) / spec.module_file
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the notebook from the folder that holds {spec.module_file}")
    what = ", ".join(functions) or "all functions"
    if os.environ.get("DLCOURSE_FAST") == "1":
        print(f"(DLCOURSE_FAST=1: would run the public checks of {what} on {path})")
        return None
    try:
        report = grade(slug, path, mode="check", select=[f"{f}:" for f in functions] or None)
    except GradingError as exc:
        print(f"could not check {path.name}: {exc}")
        return None
    render(report)
    return report
