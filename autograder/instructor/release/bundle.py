"""The student bundle: everything a student needs to work and self-check, and nothing that gives an answer away.

`release(out)` copies, from this course:

- ``assignments/`` (skeletons, READMEs, notebooks) and ``lectures/``;
- the engine (``autograder/``) with, for each assignment, only ``spec.py``, ``test_public.py``, the ``_*.py``
  helpers the public checks load and the data files they name (expected values stored as data, generated afresh
  from the reference where the check folder has an ``expected_values.py``); every ``test_hidden.py`` (and anything
  else, such as ``bugs.py``, whose text is made from the reference) is left out and replaced by ``hidden.json`` =
  ``{"count": N, "points": P, "checks": [...]}``, so that ``dlcourse check`` can tell the student how many hidden
  checks will run at grading;
- ``README.md`` (the students' own, whose install command is `install_command`: the course's tested one, with the
  constraints file and the notebooks extra), ``pyproject.toml`` (and ``constraints.txt``, ``LICENSE`` when present),
  so that the bundle installs on its own;
- ``autograder/student_copy.json`` (`STUDENT_COPY_MARKER`): in a student copy `dlcourse --help` shows only the
  students' commands (`list`, `check`).

``hidden.json`` also lists the hidden checks' titles (their names and points, never their inputs), which
`dlcourse list` shows; ``withhold_hidden_titles=True`` (``release --withhold-hidden-titles``) keeps only the count.

Never copied: ``solutions/`` (references and lecture exercise answers), ``tests/``, ``benchmarks/``, ``.git`` and
every other hidden folder, build leftovers.

Before it returns, `release` scans the bundle it wrote with `find_leaks`: the body of every function of every
reference (the lines between its solution markers), every answer under ``solutions/lectures/`` and every file of
``solutions/`` byte for byte; and with `find_reimplementations`: no function of a shipped check file may compute
what a graded function computes (run on the checks' own inputs, it must not give the reference's values). A bundle
with a leak is deleted and `ReleaseError` names what leaked and where.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ...authoring.skeleton import student_skeleton
from ...paths import ASSIGNMENTS, LECTURES, PACKAGE, REPO_ROOT, SOLUTIONS
from .leaks import find_leaks, find_reimplementations
from .steps import (STORED_VALUES, Bundle, build, copy_assignment_folders, copy_course_library, copy_engine,
                    copy_lectures, copy_top_level_files, rel)


STUDENT_COPY_MARKER = "student_copy.json"  # autograder/<this>: the engine knows it is a student copy (autograder.cli)
VENV = "python3 -m venv .venv && . .venv/bin/activate"


def install_command(constraints: bool = True) -> str:
    """How a student installs the bundle, in its folder: the course's tested command (the torch the course is tested
    with, from constraints.txt, and the notebooks' dependencies). The bundle's README and `release` both say this."""
    pip = 'pip install -e ".[notebooks]"' + (" -c constraints.txt" if constraints else "")
    return f"{VENV} && {pip}"


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
    install: str = ""  # the command the students install it with (as in its README)
    hidden_titles: bool = True  # whether `dlcourse list` there shows the hidden checks' titles


# ------------------------------------------------------------------------------------- release's own steps

def check_skeletons(b: Bundle) -> None:
    """Each skeleton exists (else ReleaseError) and is what `author sync` makes of its reference (else a warning)."""
    for spec in b.specs:
        if not spec.skeleton.is_file():
            raise ReleaseError(f"{rel(spec.skeleton)} is missing: run `dlcourse author sync {spec.slug}`")
        wanted = student_skeleton(spec.reference.read_text(), spec.slug) if spec.reference.is_file() else None
        if wanted is not None and wanted != spec.skeleton.read_text():
            b.warnings.append(f"{rel(spec.skeleton)} is out of date with its reference: "
                              f"run `dlcourse author sync {spec.slug}`")


def write_student_readme(b: Bundle) -> None:
    """The course README is written for staff (grading the references, CI): students get their own."""
    (b.out / "README.md").write_text(_student_readme(b.specs, (b.out / "constraints.txt").is_file(),
                                                     not b.withhold_hidden_titles))


def mark_student_copy(b: Bundle) -> None:
    """autograder/student_copy.json: `dlcourse` there offers the students' commands only."""
    from ... import __version__

    (b.out / "autograder" / STUDENT_COPY_MARKER).write_text(json.dumps(
        {"student_copy": True, "version": __version__, "hidden_titles": not b.withhold_hidden_titles},
        indent=2) + "\n")


def write_hidden_manifests(b: Bundle) -> None:
    """hidden.json = {"count": N, "points": P, "checks": [{"name", "points"}...]} in place of each withheld
    test_hidden.py (no "checks" with `withhold_hidden_titles`): titles and points, never inputs."""
    from ...grading import GradingError, collect

    for spec in b.specs:
        if not spec.hidden_checks.is_file():
            continue
        try:
            hidden = [(name, points) for name, vis, points in collect(spec.slug) if vis == "hidden"]
        except GradingError as exc:
            raise ReleaseError(f"could not collect the hidden checks of {spec.slug}: {exc}") from None
        if not hidden:
            continue
        counted = (len(hidden), float(sum(p for _, p in hidden)))
        b.hidden[spec.slug] = counted
        manifest = {"count": counted[0], "points": counted[1]}
        if not b.withhold_hidden_titles:
            manifest["checks"] = [{"name": name, "points": points} for name, points in hidden]
        path = b.out / "autograder" / "checks" / spec.slug / "hidden.json"
        path.write_text(json.dumps(manifest, indent=2) + "\n")


def write_stored_values(b: Bundle) -> None:
    """Public checks that judge with expected values stored as data get them freshly generated from the reference
    (the check folder's `expected_values.py`: `write(reference, path)` writes its `FILE`), so the bundle never
    ships values older than its reference."""
    from ...paths import load_module

    for spec in b.specs:
        generator = spec.check_dir / STORED_VALUES
        if not generator.is_file():
            continue
        try:
            module = load_module(generator, f"dlcourse_release_stored_{spec.slug}")
            reference = load_module(spec.reference, f"dlcourse_release_reference_{spec.slug}")
            module.write(reference, b.out / "autograder" / "checks" / spec.slug / module.FILE)
        except Exception as exc:  # noqa: BLE001 - any failure of the course's generator stops the release
            raise ReleaseError(f"could not generate the stored values of {spec.slug} ({rel(generator)}): "
                               f"{type(exc).__name__}: {exc}") from None


def refuse_leaks(b: Bundle) -> None:
    problems = [str(leak) for leak in find_leaks(b.out)] + _forbidden_paths(b.out)
    problems += [leak.what for leak in find_reimplementations(b.out, b.specs)]
    if problems:
        raise ReleaseError("the bundle would give answers away; nothing was released:\n  " + "\n  ".join(problems))


RELEASE_STEPS = [check_skeletons, copy_assignment_folders, copy_lectures, copy_engine, copy_course_library,
                 copy_top_level_files, write_student_readme, mark_student_copy, write_hidden_manifests,
                 write_stored_values, refuse_leaks]


def release(out: str | Path, slugs: list[str] | None = None, *, force: bool = False,
            withhold_hidden_titles: bool = False) -> ReleaseSummary:
    """Write the student bundle to `out` (every complete assignment, or the `slugs` given) and prove it has no
    answers. Without `slugs`, a half-built assignment is left out with a warning; named, it is an error.
    `withhold_hidden_titles`: the bundle counts the hidden checks without naming them."""
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
    bundle = Bundle(out=out, specs=chosen, checks="public", warnings=skipped,
                    withhold_hidden_titles=withhold_hidden_titles)
    try:
        build(bundle, RELEASE_STEPS)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return ReleaseSummary(out=out, assignments=[s.slug for s in chosen], hidden=bundle.hidden,
                          files=sum(1 for p in out.rglob("*") if p.is_file()), dropped=bundle.dropped,
                          warnings=bundle.warnings, install=install_command((out / "constraints.txt").is_file()),
                          hidden_titles=not withhold_hidden_titles)


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


def _student_readme(chosen, constraints: bool = True, hidden_titles: bool = True) -> str:
    listed = ("the checks, their points and the titles of the hidden checks" if hidden_titles
              else "the checks and their points (the hidden checks are only counted)")
    lines = ["# Deep learning through seven constraints: student copy", "",
             "Install once, in this folder (Python 3.10+; everything runs offline on a CPU):", "",
             "```bash", install_command(constraints), "```", "",
             "This is the install the course is tested with: `constraints.txt` pins the PyTorch release the checks "
             "were tested on (a CPU build is enough), and the `notebooks` extra brings JupyterLab and matplotlib "
             "for the walk-through notebooks.", "",
             "Then, for each assignment:", "",
             "1. read `assignments/<name>/README.md` and work in `assignments/<name>/<name>.py`;",
             "2. walk through `assignments/<name>/<name>.ipynb` in JupyterLab (`jupyter lab`);",
             "3. self-check with `dlcourse check <name>` (public checks only: hidden checks run at grading, so "
             "passing these is not the final score); `dlcourse check <name> --only <function>` checks one "
             "function, `--watch` checks again each time you save.", "",
             f"`dlcourse list <name>` shows {listed}.", "",
             "The lectures start at [lectures/README.md](lectures/README.md).", "", "Assignments:", ""]
    lines += [f"- [`{s.slug}`](assignments/{s.slug}/README.md): {s.title}" for s in chosen]
    return "\n".join(lines) + "\n"
