"""What an assignment is, for the engine and for the course: the one record of each assignment.

Each assignment declares a `SPEC = Assignment(...)` in `autograder/checks/<slug>/spec.py`; `load` and `all_specs`
find them, `all_slugs` lists them in the course's order (there is no other list of assignments anywhere), and
`survey` reports the half-built ones without failing on them. The checks themselves are pytest files next to the
spec (`test_public.py`, `test_hidden.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .paths import ASSIGNMENTS, SOLUTIONS, load_module


class UnknownAssignment(LookupError):
    """No such assignment, or its spec.py is broken (the message says which, and where)."""


class BrokenSpec(UnknownAssignment):
    """The spec.py exists but does not load or does not define a valid SPEC."""


@dataclass(frozen=True)
class Forbidden:
    """A forbidden API: a dotted name (fnmatch wildcards allowed); a module name forbids importing it."""

    pattern: str
    why: str


@dataclass(frozen=True)
class Assignment:
    slug: str
    title: str
    constraint: str
    framework: str  # "numpy" or "torch"
    targets: tuple[str, ...]
    forbidden: tuple[Forbidden, ...] = ()
    summary: str = ""
    # The course's one record of where this assignment sits: its place in the reading order (README table, lecture
    # index, site navigation, syllabus), the milestone it implements (authors, year), the lecture section that tells
    # its story (a path from the repository root, with its anchor) and the grading-time budget of the reference on
    # a 2-core CPU machine (benchmarks/bench_grade.py reads it).
    order: int = 1000
    milestone: str = ""
    lecture: str = ""
    budget_s: float = 30.0
    extra: dict = field(default_factory=dict)

    @property
    def module_file(self) -> str:
        return f"{self.slug}.py"

    @property
    def check_dir(self) -> Path:
        return paths.CHECKS / self.slug

    @property
    def public_checks(self) -> Path:
        return self.check_dir / "test_public.py"

    @property
    def hidden_checks(self) -> Path:
        return self.check_dir / "test_hidden.py"

    @property
    def hidden_manifest(self) -> Path:
        """Written by `dlcourse release` in place of the hidden checks: how many there are, and their points."""
        return self.check_dir / "hidden.json"

    @property
    def skeleton(self) -> Path:
        return ASSIGNMENTS / self.slug / self.module_file

    @property
    def reference(self) -> Path:
        return SOLUTIONS / self.slug / self.module_file

    @property
    def readme(self) -> Path:
        return ASSIGNMENTS / self.slug / "README.md"

    @property
    def notebook(self) -> Path:
        return ASSIGNMENTS / self.slug / f"{self.slug}.ipynb"

    def read_hidden_manifest(self) -> tuple[int, float] | None:
        """(count, points) from the manifest of a student bundle, else None. Callers want
        `autograder.grading.hidden_summary`, which falls back to counting the hidden checks."""
        if self.hidden_manifest.exists():
            data = json.loads(self.hidden_manifest.read_text())
            return int(data["count"]), float(data["points"])
        return None

    def missing(self) -> list[str]:
        """What a complete assignment has and this one lacks (paths from the course root): empty when complete.
        A student bundle (no solutions/ folder) has no reference and no hidden checks: they are not asked for there."""
        wanted = [self.public_checks, self.skeleton, self.readme]
        if paths.SOLUTIONS.is_dir():
            wanted += [self.hidden_checks, self.reference]
        return [_rel(p) for p in wanted if not p.is_file()]


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(paths.REPO_ROOT))
    except ValueError:
        return str(path)


def all_slugs() -> list[str]:
    """Every assignment that has a spec, in the course's order (`Assignment.order`, then the slug)."""
    found = sorted(p.parent.name for p in paths.CHECKS.glob("*/spec.py"))
    keyed = []
    for slug in found:
        try:
            keyed.append((load(slug).order, slug))
        except UnknownAssignment:  # a broken spec sorts last; `load` and `survey` report it where it is used
            keyed.append((10**9, slug))
    return [slug for _, slug in sorted(keyed)]


def load(slug: str) -> Assignment:
    """The spec of `slug`; UnknownAssignment when there is none, BrokenSpec when its spec.py does not load."""
    path = paths.CHECKS / slug / "spec.py"
    if not path.is_file():
        known = ", ".join(all_slugs()) or "none"
        raise UnknownAssignment(f"unknown assignment {slug!r} (known: {known})")
    try:
        module = load_module(path, f"dlcourse_spec_{slug}")
    except Exception as exc:
        raise BrokenSpec(f"{_rel(path)} does not load: {type(exc).__name__}: {exc}") from None
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, Assignment) or spec.slug != slug:
        raise BrokenSpec(f"{_rel(path)} does not define SPEC = Assignment(slug={slug!r}, ...)")
    return spec


def all_specs() -> list[Assignment]:
    """Every assignment's spec, in order; raises BrokenSpec on the first broken one (`survey` reports them all)."""
    return [load(s) for s in all_slugs()]


@dataclass(frozen=True)
class Survey:
    """One assignment as `dlcourse list` and `verify` find it: its spec, or why it cannot be used yet."""

    slug: str
    spec: Assignment | None
    problem: str = ""  # "" for a complete assignment


def survey() -> list[Survey]:
    """Every assignment folder with a spec.py, complete or not: a broken spec or a missing part is reported here
    instead of stopping the commands that go over the whole course."""
    out = []
    for slug in all_slugs():
        try:
            spec = load(slug)
        except UnknownAssignment as exc:
            out.append(Survey(slug, None, str(exc)))
            continue
        missing = spec.missing()
        out.append(Survey(slug, spec, f"half-built: missing {', '.join(missing)}" if missing else ""))
    return out
