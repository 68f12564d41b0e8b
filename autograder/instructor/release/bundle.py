"""The student bundle: everything a student needs to work and self-check, and nothing that gives an answer away.

`release(out)` copies, from this course:

- ``assignments/`` (skeletons, READMEs, notebooks) and ``lectures/``;
- the engine (``autograder/``) with, for each assignment, only ``spec.py``, ``test_public.py`` and the ``_*.py``
  helpers the public checks load; every ``test_hidden.py`` (and anything else, such as ``bugs.py``, whose text is
  made from the reference) is left out and replaced by ``hidden.json`` = ``{"count": N, "points": P}``, so that
  ``dlcourse check`` can tell the student how many hidden checks will run at grading;
- ``README.md``, ``pyproject.toml`` (and ``constraints.txt``, ``LICENSE`` when present), so that the bundle
  installs on its own with ``pip install -e``.

Never copied: ``solutions/`` (references and lecture exercise answers), ``tests/``, ``benchmarks/``, ``.git`` and
every other hidden folder, build leftovers.

Before it returns, `release` scans the bundle it wrote with `find_leaks`: the body of every function of every
reference (the lines between its solution markers), every answer under ``solutions/lectures/`` and every file of
``solutions/`` byte for byte. A bundle with a leak is deleted and `ReleaseError` names what leaked and where.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ...authoring.skeleton import make_skeleton
from ...paths import ASSIGNMENTS, LECTURES, PACKAGE, REPO_ROOT, SOLUTIONS
from .leaks import find_leaks
from .steps import (Bundle, build, copy_assignment_folders, copy_engine, copy_lectures, copy_top_level_files, rel)


class ReleaseError(Exception):
    """The bundle could not be made, or it would have given an answer away."""


@dataclass
class ReleaseSummary:
    out: Path
    assignments: list[str]
    hidden: dict[str, tuple[int, float]]  # slug -> (count, points) written to hidden.json
    files: int = 0
    dropped: list[str] = field(default_factory=list)  # engine files left out (relative to the course root)
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- release's own steps

def check_skeletons(b: Bundle) -> None:
    """Each skeleton exists (else ReleaseError) and is what `author sync` makes of its reference (else a warning)."""
    for spec in b.specs:
        if not spec.skeleton.is_file():
            raise ReleaseError(f"{rel(spec.skeleton)} is missing: run `dlcourse author sync {spec.slug}`")
        if spec.reference.is_file() and make_skeleton(spec.reference.read_text()) != spec.skeleton.read_text():
            b.warnings.append(f"{rel(spec.skeleton)} is out of date with its reference: "
                              f"run `dlcourse author sync {spec.slug}`")


def write_student_readme(b: Bundle) -> None:
    """The course README is written for staff (grading the references, CI): students get their own."""
    (b.out / "README.md").write_text(_student_readme(b.specs))


def write_hidden_manifests(b: Bundle) -> None:
    """hidden.json = {"count": N, "points": P} in place of each withheld test_hidden.py."""
    from ...grading import GradingError, hidden_summary

    for spec in b.specs:
        try:
            counted = hidden_summary(spec)
        except GradingError as exc:
            raise ReleaseError(f"could not count the hidden checks of {spec.slug}: {exc}") from None
        if counted and counted[0] > 0:
            b.hidden[spec.slug] = counted
            manifest = b.out / "autograder" / "checks" / spec.slug / "hidden.json"
            manifest.write_text(json.dumps({"count": counted[0], "points": counted[1]}, indent=2) + "\n")


def refuse_leaks(b: Bundle) -> None:
    problems = [str(leak) for leak in find_leaks(b.out)] + _forbidden_paths(b.out)
    if problems:
        raise ReleaseError("the bundle would give answers away; nothing was released:\n  " + "\n  ".join(problems))


RELEASE_STEPS = [check_skeletons, copy_assignment_folders, copy_lectures, copy_engine, copy_top_level_files,
                 write_student_readme, write_hidden_manifests, refuse_leaks]


def release(out: str | Path, slugs: list[str] | None = None, *, force: bool = False) -> ReleaseSummary:
    """Write the student bundle to `out` (every complete assignment, or the `slugs` given) and prove it has no
    answers. Without `slugs`, a half-built assignment is left out with a warning; named, it is an error."""
    from ... import spec as specs

    out = Path(out).resolve()
    _check_destination(out, force)
    skipped = []
    try:
        if slugs:
            chosen = [specs.load(s) for s in slugs]
        else:  # the whole course: the complete assignments; a half-built one is named and left out
            surveyed = specs.survey()
            chosen = [s.spec for s in surveyed if s.spec is not None and not s.problem]
            skipped = [f"{s.slug} left out: {s.problem}" for s in surveyed if s.spec is None or s.problem]
    except specs.UnknownAssignment as exc:
        raise ReleaseError(str(exc)) from None
    bundle = Bundle(out=out, specs=chosen, checks="public", warnings=skipped)
    try:
        build(bundle, RELEASE_STEPS)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return ReleaseSummary(out=out, assignments=[s.slug for s in chosen], hidden=bundle.hidden,
                          files=sum(1 for p in out.rglob("*") if p.is_file()), dropped=bundle.dropped,
                          warnings=bundle.warnings)


def _check_destination(out: Path, force: bool) -> None:
    root = REPO_ROOT.resolve()
    if out == root or out in root.parents:
        raise ReleaseError(f"--out {out} would overwrite the course itself: choose a new folder")
    for secret in (SOLUTIONS, PACKAGE, ASSIGNMENTS, LECTURES):
        s = secret.resolve()
        if out == s or s in out.parents:
            raise ReleaseError(f"--out {out} is inside the course's {s.name}/ folder: choose a folder elsewhere")
    if out.exists():
        if not out.is_dir():
            raise ReleaseError(f"--out {out} exists and is not a folder")
        if any(out.iterdir()):
            if not force:
                raise ReleaseError(f"--out {out} is not empty (use --force to replace it)")
            if not ((out / "autograder").is_dir() and (out / "assignments").is_dir()):
                raise ReleaseError(f"--out {out} does not hold a previous bundle: --force only replaces one")
            shutil.rmtree(out)


def _forbidden_paths(out: Path) -> list[str]:
    bad = []
    for path in out.rglob("*"):
        r = path.relative_to(out)
        if path.name == "test_hidden.py" or r.parts[0] in ("solutions", "tests", ".git", "benchmarks"):
            bad.append(f"{r} must not be in a student bundle")
    return bad


def _student_readme(chosen) -> str:
    lines = ["# Deep learning through seven constraints: student copy", "",
             "Install once, in this folder (Python 3.10+; everything runs offline on a CPU):", "",
             "```bash", 'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[notebooks]"', "```", "",
             "Then, for each assignment:", "",
             "1. read `assignments/<name>/README.md` and work in `assignments/<name>/<name>.py`;",
             "2. walk through `assignments/<name>/<name>.ipynb` in JupyterLab (`jupyter lab`);",
             "3. self-check with `dlcourse check <name>` (public checks only: hidden checks run at grading, so "
             "passing these is not the final score).", "",
             "The lectures start at [lectures/README.md](lectures/README.md).", "", "Assignments:", ""]
    lines += [f"- [`{s.slug}`](assignments/{s.slug}/README.md): {s.title}" for s in chosen]
    return "\n".join(lines) + "\n"
