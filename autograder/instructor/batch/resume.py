"""Resuming a batch: which students already have a finished result for this assignment, these checks and these
submission bytes (a result is reused only when all three match)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .discovery import locate_module
from .model import (STATUS_CRASHED, STATUS_ERROR, STATUS_GRADED, STATUS_TIMEOUT, BatchError, CheckSpec, Submission,
                    SubmissionRejected)
from .results import read_results


def submission_digest(sub: Submission, module_file: str) -> str:
    """sha256 of what is graded: the zip's bytes, or the folder's module file (the listing when it has none)."""
    h = hashlib.sha256()
    if sub.kind == "zip":
        with open(sub.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    try:
        h.update(locate_module(sub.path, module_file).read_bytes())
    except (SubmissionRejected, OSError):
        for p in sorted(sub.path.rglob("*")):
            h.update(p.relative_to(sub.path).as_posix().encode() + b"\n")
    return h.hexdigest()


def expected_checks(slug: str, select: list[str] | None = None) -> list[CheckSpec]:
    """The checks `grade(slug, mode="grade", select=select)` will run, in order, without running them."""
    from ...grading import GradingError, collect_infos

    try:
        return [CheckSpec(info.name, vis, float(info.points)) for info, vis in collect_infos(slug, "all", select)]
    except GradingError as exc:
        raise BatchError(str(exc)) from None


def is_finished(results_path: Path, slug: str, checks: list[CheckSpec], digest: str | None = None,
                seed: int | None = None) -> bool:
    """True when `results_path` holds a complete result of this assignment, these checks and this submission
    (graded with `seed`, when given)."""
    data = read_results(results_path)
    if data is None:
        return False
    extra = data.get("extra_data") or {}
    batch = extra.get("batch") or {}
    if extra.get("assignment") != slug or batch.get("status") not in (STATUS_GRADED, STATUS_ERROR, STATUS_TIMEOUT,
                                                                      STATUS_CRASHED):
        return False
    if [t["name"] for t in data["tests"]] != [c.name for c in checks]:
        return False  # graded with another selection of checks: stale
    if seed is not None and batch.get("seed", extra.get("seed")) != seed:
        return False  # graded with another seed: not this batch's grade
    return digest is None or batch.get("submission_sha256") == digest
