"""The points table of an assignment README, generated from its checks (between two marker lines)."""

from __future__ import annotations

from .markers import sync_file

BEGIN, END = "<!-- points:begin -->", "<!-- points:end -->"


def points_table(checks: list[tuple[str, str, float]], hidden_summary: tuple[int, float] | None = None) -> str:
    """Markdown: one row per check (name, visibility, points), a row for the hidden checks when they are only
    counted (`hidden_summary` = (count, points)), and the total."""
    rows = ["| check | visibility | points |", "| --- | --- | ---: |"]
    rows += [f"| {name.replace('|', '/')} | {vis} | {pts:g} |" for name, vis, pts in checks]
    total = sum(c[2] for c in checks)
    if hidden_summary:
        rows.append(f"| ({hidden_summary[0]} hidden checks, run at grading) | hidden | {hidden_summary[1]:g} |")
        total += hidden_summary[1]
    rows.append(f"| **total** | | **{total:g}** |")
    return "\n".join(rows)


def readme_table(slug: str) -> str:
    """The table an assignment README carries: its public checks listed, its hidden checks only counted (the
    README ships to students)."""
    from ..grading import collect

    checks = collect(slug)
    public = [c for c in checks if c[1] == "public"]
    hidden = [c for c in checks if c[1] == "hidden"]
    return points_table(public, (len(hidden), sum(c[2] for c in hidden)) if hidden else None)


def sync_readme(slug: str, check_only: bool = False) -> list[str]:
    """Rewrite the points table of assignments/<slug>/README.md; SyncError when the README or its markers are
    missing."""
    from .. import spec as specs

    return sync_file(specs.load(slug).readme, BEGIN, END, readme_table(slug), check_only)
