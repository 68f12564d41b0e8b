"""nbgrader: an nbgrader course folder whose autograded cells call this engine.

`export_nbgrader(slug, out)` writes an nbgrader course folder:

- ``nbgrader_config.py`` (course id, a cell time limit long enough for the engine);
- ``source/<slug>/<slug>.ipynb``, the instructor's version of the assignment:

  1. an introduction (markdown);
  2. one **autograded answer** cell holding the whole reference module behind ``%%writefile <slug>.py``, with its
     ``# BEGIN SOLUTION`` / ``# END SOLUTION`` markers: nbgrader's own ``generate_assignment`` replaces each
     solution region by ``raise NotImplementedError()``, and running the cell saves the student's module;
  3. one **autograder test** cell per function or class (points = its public and hidden checks), read-only,
     calling `run_checks`, with the hidden checks inside ``### BEGIN HIDDEN TESTS``, which nbgrader removes from
     the students' version and puts back when it autogrades.

`run_checks` grades the saved module with the engine (the student's code runs in the sandbox, as for
``dlcourse check``) and returns the points earned, which nbgrader records as the cell's partial credit; it raises
when no point was earned, so that nbgrader records a zero and the student sees why.

Limits: nbgrader runs every cell of a notebook in one kernel, the test cells included. The student's module itself
runs only in the engine's sandbox, but a student who adds a cell to the notebook runs code in that kernel, which
no notebook-based grader can stop. For untrusted classes, collect the saved ``<slug>.py`` files and grade them with
``dlcourse grade-batch`` or Gradescope.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

CONFIG = '''# nbgrader configuration written by `dlcourse export nbgrader`.
c = get_config()  # noqa: F821  (provided by nbgrader when it reads this file)
c.CourseDirectory.course_id = {course_id!r}
# Each test cell starts the engine's sandbox and may train a small model: allow more than nbgrader's 30 s.
c.Execute.timeout = {timeout}
'''


class NbgraderExportError(Exception):
    pass


class ChecksFailed(AssertionError):
    """No point earned by a test cell (nbgrader records an error as zero)."""


@dataclass
class NbgraderExport:
    out: Path
    notebook: Path
    cells: list[tuple[str, float]]  # (grade_id, points) of the test cells


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def target_points(slug: str) -> dict[str, tuple[float, float]]:
    """target -> (public points, hidden points)."""
    from ..checking import NAME_RE
    from ..grading import collect

    out: dict[str, list[float]] = {}
    for name, vis, pts in collect(slug):
        target = NAME_RE.match(name).group("target")
        out.setdefault(target, [0.0, 0.0])[0 if vis == "public" else 1] += pts
    return {t: (p[0], p[1]) for t, p in out.items()}


def build_notebook(slug: str, targets: list[str] | None = None) -> tuple[nbformat.NotebookNode, list]:
    from .. import spec as specs

    try:
        spec = specs.load(slug)
    except specs.UnknownAssignment as exc:
        raise NbgraderExportError(str(exc)) from None
    if not spec.reference.is_file():
        raise NbgraderExportError(f"the reference {spec.reference} is missing")
    reference = spec.reference.read_text()
    if "BEGIN SOLUTION" not in reference:
        raise NbgraderExportError(f"{spec.reference} has no solution markers")
    points = target_points(slug)
    chosen = [t for t in spec.targets if t in points and (not targets or t in targets)]
    unknown = sorted(set(targets or []) - set(spec.targets))
    if unknown:
        raise NbgraderExportError(f"unknown target(s) {unknown} for {slug}: use some of {list(spec.targets)}")
    if not chosen:
        raise NbgraderExportError(f"no checks to run for {slug}")

    cells = [nbformat.v4.new_markdown_cell(
        f"# {spec.title}\n\n{spec.summary}\n\n"
        f"Write your code in the next cell, where it says `# YOUR CODE HERE`, and run the cell: it saves your "
        f"module as `{spec.module_file}`. Then run each check cell below. A check cell shows the points your code "
        f"earns on the public checks; hidden checks of the same functions run when your notebook is graded.",
        metadata={"nbgrader": _meta("intro", solution=False, grade=False, locked=True)["nbgrader"]})]
    cells.append(nbformat.v4.new_code_cell(
        f"%%writefile {spec.module_file}\n{reference.rstrip()}\n",
        metadata=_meta("answer", solution=True, grade=False, locked=False)))
    test_cells = []
    for target in chosen:
        public, hidden = points[target]
        grade_id = f"checks_{target}"
        source = (f"# The checks of {target}: {public:g} points of public checks now, {hidden:g} points of hidden "
                  f"checks at grading.\n"
                  f"from autograder.instructor.nbgrader_bridge import run_checks\n\n"
                  f"visibility = \"public\"\n"
                  f"### BEGIN HIDDEN TESTS\n"
                  f"visibility = \"all\"\n"
                  f"### END HIDDEN TESTS\n"
                  f"run_checks({slug!r}, {target!r}, visibility)")
        cells.append(nbformat.v4.new_code_cell(
            source, metadata=_meta(grade_id, solution=False, grade=True, locked=True, points=public + hidden)))
        test_cells.append((grade_id, public + hidden))
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    return nb, test_cells


def export_nbgrader(slug: str, out: str | Path, targets: list[str] | None = None, course_id: str = "dlcourse",
                    timeout: int = 600, force: bool = False) -> NbgraderExport:
    """Write the nbgrader course folder's source notebook for `slug` (and nbgrader_config.py when there is none).
    An existing source notebook of this assignment is refused unless `force` (then kept as `<name>.old-<time>`)."""
    from .outputs import OutputError, claim, writable_dir

    out = Path(out)
    nb, test_cells = build_notebook(slug, targets)
    folder = out / "source" / slug
    notebook = folder / f"{slug}.ipynb"
    config = out / "nbgrader_config.py"
    try:
        writable_dir(out)
        claim([notebook], force, what="export nbgrader")
        writable_dir(folder, "the source folder")
        nbformat.validate(nb)
        nbformat.write(nb, str(notebook))
        if not config.exists():
            config.write_text(CONFIG.format(course_id=course_id, timeout=int(timeout)))
    except OutputError as exc:
        raise NbgraderExportError(str(exc)) from None
    except OSError as exc:
        raise NbgraderExportError(f"cannot write into {out}: {exc.strerror or exc}") from None
    return NbgraderExport(out=out.resolve(), notebook=notebook.resolve(), cells=test_cells)


def run_checks(slug: str, target: str, visibility: str = "public", path: str | os.PathLike | None = None,
               seed: int | None = None) -> float:
    """Grade the saved module's `target` (public checks, or all of them) and return the points earned.

    Called from the test cells of an exported nbgrader notebook. Prints one line per check and each failure's
    message; raises `ChecksFailed` when no point was earned. Nothing is written to stderr (nbgrader would count
    any stderr output as a failure).
    """
    from ..grading import GradingError, grade
    if visibility not in ("public", "all"):
        raise ValueError("visibility must be 'public' or 'all'")
    path = Path(path) if path is not None else Path.cwd() / f"{slug}.py"
    if not path.is_file():
        raise ChecksFailed(f"{path.name} was not found: run the cell with your code first (it saves {path.name})")
    errors = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(errors):
        warnings.simplefilter("ignore")
        try:
            report = grade(slug, path, mode="check" if visibility == "public" else "grade", seed=seed,
                           select=[f"{target}:"])
        except GradingError as exc:
            raise ChecksFailed(f"the checks could not run: {exc}") from None
    for r in report.results:
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.score:g}/{r.max_score:g}  {r.name}")
    for r in report.results:
        if not r.passed:
            print(f"\n--- {r.name}\n{r.output}")
    if report.max_score > 0 and report.score <= 0:
        raise ChecksFailed(f"{target}: 0/{report.max_score:g} points, {len(report.results)} checks failed "
                           "(the messages are printed above)")
    return float(report.score)


def gradebook_scores(course_dir: str | Path, assignment: str) -> dict[str, float]:
    """{student id: score} of an assignment, read from the course's nbgrader gradebook (nbgrader's API)."""
    from nbgrader.api import Gradebook

    db = Path(course_dir) / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:
        return {s.student.id: float(s.score) for s in gb.assignment_submissions(assignment)}


def notebook_answer(notebook: str | Path) -> str:
    """The answer cell's source of a notebook written by `export_nbgrader` (or by nbgrader from it)."""
    nb = json.loads(Path(notebook).read_text())
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "answer":
            return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    raise KeyError("no answer cell")
