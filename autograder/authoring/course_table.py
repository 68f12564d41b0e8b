"""The course README's table of assignments, generated from the specs (between two marker lines): order, a link
to the assignment's README, the milestone and the constraint it raised."""

from __future__ import annotations

from .markers import sync_file

BEGIN, END = "<!-- assignments:begin -->", "<!-- assignments:end -->"


def assignments_table(specs_in_order) -> str:
    rows = ["| # | assignment | milestone | constraint |", "| --- | --- | --- | --- |"]
    for k, spec in enumerate(specs_in_order, 1):
        rows.append(f"| {k} | [{spec.slug}](assignments/{spec.slug}/README.md) | {spec.milestone} | "
                    f"{spec.constraint} |")
    return "\n".join(rows)


def sync_course_readme(check_only: bool = False) -> list[str]:
    """Rewrite the table in the course README from every complete assignment's spec (in `Assignment.order`)."""
    from .. import spec as specs
    from ..paths import COURSE_README

    complete = [s.spec for s in specs.survey() if s.spec is not None and not s.problem]
    return sync_file(COURSE_README, BEGIN, END, assignments_table(complete), check_only)
