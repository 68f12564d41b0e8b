"""`dlcourse author sync`: everything generated from the references, the checks and the specs, in one pass.

For each assignment: the student skeleton from the reference (`autograder.authoring.skeleton`) and the points table
of its README (`autograder.authoring.points`); then the course README's table of assignments
(`autograder.authoring.course_table`). A file without its markers, or an assignment that cannot be synced (a
half-built one), is a problem reported by name; the other assignments are synced all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SyncResult:
    changed: list[str] = field(default_factory=list)  # written, or with check_only, out of date
    problems: list[str] = field(default_factory=list)


def sync(slugs: list[str] | None = None, check_only: bool = False) -> SyncResult:
    """Sync the assignments named (default: all) and the course README's table."""
    from .. import spec as specs
    from ..grading import GradingError
    from . import course_table, points, skeleton
    from .markers import SyncError

    result = SyncResult()
    for slug in slugs or specs.all_slugs():
        try:
            specs.load(slug)
            result.changed += skeleton.sync(slug, check_only)
            result.changed += points.sync_readme(slug, check_only)
        except (specs.UnknownAssignment, SyncError, GradingError, skeleton.MarkerError, OSError) as exc:
            result.problems.append(f"{slug}: {exc}")
    try:
        result.changed += course_table.sync_course_readme(check_only)
    except SyncError as exc:
        result.problems.append(str(exc))
    return result
