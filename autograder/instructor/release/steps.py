"""The bundle steps: small functions that each put one part of the course into a folder being built.

Like nbgrader's preprocessors, an output is a list of steps run in order on one `Bundle`
(`build(bundle, steps)`): `dlcourse release` (autograder.instructor.release.bundle) and `dlcourse export gradescope`
(autograder.instructor.gradescope) are two lists of the same steps, so what is copied, what is left out
(`IGNORE`) and which check files of an assignment go where (`check_files`) are decided once, here.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...paths import ASSIGNMENTS, CHECKS, LECTURES, PACKAGE, REPO_ROOT, SOLUTIONS

TOP_LEVEL_FILES = ("README.md", "pyproject.toml", "constraints.txt", "LICENSE", "LICENSE.md", ".gitignore")
PUBLIC_CHECK_FILES = ("spec.py", "test_public.py")
AUTHORING_ONLY_FILES = ("bugs.py",)  # made from the reference: never in any bundle
DATA_SUFFIXES = (".npz", ".json")  # a public check's stored expected values (shipped when a public file names them)
STORED_VALUES = "expected_values.py"  # generates them from the reference: FILE and write(reference, path)
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".ipynb_checkpoints", ".pytest_cache",
                                "*.egg-info", ".engine-ready", ".DS_Store")


@dataclass
class Bundle:
    """A folder being built, and what the steps learn on the way."""

    out: Path  # the course copy being written
    specs: list  # the assignments it holds (autograder.spec.Assignment)
    checks: str = "public"  # "public": spec, public checks and the helpers they load; "grading": all but bugs.py
    hidden: dict[str, tuple[int, float]] = field(default_factory=dict)  # slug -> (count, points) withheld
    dropped: list[str] = field(default_factory=list)  # check files left out (relative to the course root)
    warnings: list[str] = field(default_factory=list)
    withhold_hidden_titles: bool = False  # a student bundle's hidden.json counts the hidden checks without titles

    @property
    def slugs(self) -> set[str]:
        return {s.slug for s in self.specs}


Step = Callable[[Bundle], None]


def build(bundle: Bundle, steps: list[Step]) -> Bundle:
    bundle.out.mkdir(parents=True, exist_ok=True)
    for step in steps:
        step(bundle)
    return bundle


def rel(path: Path) -> str:
    """`path` relative to the course root (as given when it lies elsewhere)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


# -------------------------------------------------------------------------------------------------- the steps

def copy_assignment_folders(b: Bundle) -> None:
    """assignments/<slug>/ of each assignment: skeleton, README, notebook."""
    for spec in b.specs:
        shutil.copytree(ASSIGNMENTS / spec.slug, b.out / "assignments" / spec.slug, ignore=IGNORE)


def copy_lectures(b: Bundle) -> None:
    if LECTURES.is_dir():
        shutil.copytree(LECTURES, b.out / "lectures", ignore=IGNORE)


def copy_references(b: Bundle) -> None:
    """solutions/<slug>/ of each assignment (a grader's bundle only)."""
    for spec in b.specs:
        shutil.copytree(SOLUTIONS / spec.slug, b.out / "solutions" / spec.slug, ignore=IGNORE)


def copy_top_level_files(b: Bundle) -> None:
    """README.md, pyproject.toml and the like, so that the bundle installs on its own with `pip install -e`."""
    for name in TOP_LEVEL_FILES:
        if (REPO_ROOT / name).is_file():
            shutil.copy2(REPO_ROOT / name, b.out / name)


def copy_engine(b: Bundle) -> None:
    """The engine without checks/, then the engine's own files of checks/ (pytest.ini) and, for each assignment,
    its check files (`check_files`)."""
    engine = b.out / "autograder"

    def ignore(directory, names):
        skip = set(IGNORE(directory, names))
        if Path(directory).resolve() == PACKAGE.resolve():
            skip.add("checks")
        return skip

    shutil.copytree(PACKAGE, engine, ignore=ignore)
    (engine / "checks").mkdir()
    for item in CHECKS.iterdir():
        if item.is_file():
            shutil.copy2(item, engine / "checks" / item.name)
    for spec in b.specs:
        folder = CHECKS / spec.slug
        keep = check_files(folder, b.checks)
        (engine / "checks" / spec.slug).mkdir()
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            if path in keep:
                target = engine / "checks" / spec.slug / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            else:
                b.dropped.append(rel(path))


def copy_course_library(b: Bundle) -> None:
    """The course's own library (`dlcourse/`: the offline data sets and text the notebooks and checks load)."""
    library = REPO_ROOT / "dlcourse"
    if library.is_dir():
        shutil.copytree(library, b.out / "dlcourse", ignore=IGNORE)


def check_files(folder: Path, which: str) -> set[Path]:
    """The check files of one assignment that a bundle holds: "public" (spec.py, test_public.py, the `_*.py`
    helpers they load, directly or through another helper, and the data files they name) or "grading" (all of them
    but bugs.py)."""
    if which == "grading":
        return {p for p in folder.rglob("*") if p.is_file() and p.name not in AUTHORING_ONLY_FILES}
    keep = {folder / n for n in PUBLIC_CHECK_FILES if (folder / n).is_file()}
    helpers = {p.stem: p for p in folder.glob("_*.py") if p.name != "__init__.py"}
    data = [p for p in folder.iterdir() if p.suffix in DATA_SUFFIXES and p.name != "hidden.json"]
    todo = list(keep)
    while todo:
        text = todo.pop().read_text(encoding="utf-8", errors="replace")
        for stem, path in helpers.items():
            if path not in keep and re.search(rf"(?<![\w]){re.escape(stem)}(?![\w])", text):
                keep.add(path)
                todo.append(path)
        keep.update(p for p in data if p.name in text)  # expected values stored as data, named by a public file
    return keep


def public_check_files(folder: Path) -> set[Path]:
    return check_files(folder, "public")
