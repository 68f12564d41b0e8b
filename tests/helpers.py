"""Shared helpers for the project's tests: buggy submissions made from the reference, and grading shortcuts."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from autograder import spec as specs
from autograder.grading import grade
from autograder.paths import load_module
from autograder.report import Report


def mutate(source: str, old: str, new: str) -> str:
    """`source` with the one occurrence of `old` replaced by `new` (fails loudly when the reference changed)."""
    count = source.count(old)
    if count != 1:
        raise AssertionError(f"expected exactly one occurrence of {old!r} in the reference, found {count}")
    return source.replace(old, new)


def write_submission(tmp_path: Path, slug: str, source: str, name: str = "sub") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.py"
    path.write_text(source)
    return path


def reference_source(slug: str) -> str:
    return specs.load(slug).reference.read_text()


def load_reference(slug: str) -> ModuleType:
    """The reference solution of `slug`, imported afresh under a name of its own."""
    return load_module(specs.load(slug).reference, f"dlcourse_test_{slug}_reference")


def load_check_module(slug: str, name: str) -> ModuleType:
    """A module of `slug`'s checks folder (`_common`, `test_public`, ...), imported once per test process."""
    key = f"dlcourse_test_{slug}_{name}"
    if key not in sys.modules:
        load_module(specs.load(slug).check_dir / f"{name}.py", key, register=True)
    return sys.modules[key]


def grade_variant(tmp_path: Path, slug: str, old: str, new: str, select=None, seed: int = 7, name="bug") -> Report:
    """Grade the reference with one realistic bug planted in it."""
    path = write_submission(tmp_path, slug, mutate(reference_source(slug), old, new), name)
    return grade(slug, path, seed=seed, select=select)


def failed_targets(report: Report) -> set[str]:
    """The targets that lost points by their own checks (an end-to-end check withheld because another target's core
    check failed is that other target's loss, reported there)."""
    return {r.target for r in report.results
            if not r.passed and not (r.gated and r.blocked_by and r.blocked_by != r.target)}
