"""What an assignment is, for the engine: its slug, module, targets and forbidden APIs.

Each assignment declares a `SPEC = Assignment(...)` in `autograder/checks/<slug>/spec.py`; `load` and `all_specs`
find them. The checks themselves are pytest files next to it (`test_public.py`, `test_hidden.py`).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from .paths import ASSIGNMENTS, CHECKS, SOLUTIONS


class UnknownAssignment(LookupError):
    pass


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
        return CHECKS / self.slug

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

    def hidden_summary(self) -> tuple[int, float] | None:
        """(count, points) of the hidden checks, from the manifest in a student bundle, else None."""
        if self.hidden_manifest.exists():
            data = json.loads(self.hidden_manifest.read_text())
            return int(data["count"]), float(data["points"])
        return None


def all_slugs() -> list[str]:
    """Every assignment that has a spec, in the course's order (`Assignment.order`, then the slug)."""
    found = sorted(p.parent.name for p in CHECKS.glob("*/spec.py"))
    keyed = []
    for slug in found:
        try:
            keyed.append((load(slug).order, slug))
        except (UnknownAssignment, Exception):  # a broken spec sorts last; `load` reports it where it is used
            keyed.append((10**9, slug))
    return [slug for _, slug in sorted(keyed)]


def load(slug: str) -> Assignment:
    path = CHECKS / slug / "spec.py"
    if not path.is_file():
        known = ", ".join(all_slugs()) or "none"
        raise UnknownAssignment(f"unknown assignment {slug!r} (known: {known})")
    mod_spec = importlib.util.spec_from_file_location(f"dlcourse_spec_{slug}", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, Assignment) or spec.slug != slug:
        raise UnknownAssignment(f"{path} does not define SPEC = Assignment(slug={slug!r}, ...)")
    return spec


def all_specs() -> list[Assignment]:
    return [load(s) for s in all_slugs()]
