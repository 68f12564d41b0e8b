"""The points table of an assignment README, generated from its checks (between two marker lines)."""

from __future__ import annotations

import re

BEGIN, END = "<!-- points:begin -->", "<!-- points:end -->"


def points_table(checks: list[tuple[str, str, float]], hidden_manifest: tuple[int, float] | None = None) -> str:
    """Markdown: one row per check (name, visibility, points) and the total."""
    rows = ["| check | visibility | points |", "| --- | --- | ---: |"]
    rows += [f"| {name.replace('|', '/')} | {vis} | {pts:g} |" for name, vis, pts in checks]
    total = sum(c[2] for c in checks)
    if hidden_manifest:
        rows.append(f"| ({hidden_manifest[0]} hidden checks, run at grading) | hidden | {hidden_manifest[1]:g} |")
        total += hidden_manifest[1]
    rows.append(f"| **total** | | **{total:g}** |")
    return "\n".join(rows)


def sync_readme(slug: str, check_only: bool = False) -> list[str]:
    from ..grading import collect
    from ..paths import ASSIGNMENTS

    readme = ASSIGNMENTS / slug / "README.md"
    if not readme.is_file():
        return []
    text = readme.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        return []
    checks = collect(slug)
    public = [c for c in checks if c[1] == "public"]
    hidden = [c for c in checks if c[1] == "hidden"]
    # Hidden checks are summarised, not listed: the README ships to students.
    table = points_table(public, (len(hidden), sum(c[2] for c in hidden)) if hidden else None)
    wanted = pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text)
    if wanted == text:
        return []
    if not check_only:
        readme.write_text(wanted)
    return [str(readme)]
