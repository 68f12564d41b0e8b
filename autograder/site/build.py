"""Build the course website, offline, with Sphinx, MyST-Parser and the Furo theme.

`build()` stages the student-facing pages into `<out>/../site-src` — the lectures (with their figures and the
scripts that make them), the syllabus, and each assignment that has a spec (its README, skeleton and notebook, which
the pages link to as downloads) — with the same relative layout as the repository, so every link that works on
GitHub works on the site. It applies the generated blocks of `course.sync` to the staged copy (so the site is
current even when the committed Markdown is not), writes the landing page from `site/index.md` with the navigation
in the reading order, and runs `sphinx-build -W` (any broken link, missing anchor or formula that cannot be rendered
fails the build). Nothing is fetched: the theme, the search index and the MathML are all produced from installed
packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..paths import REPO_ROOT
from . import course as course_mod

SITE_CONFIG = REPO_ROOT / "site"
DEFAULT_OUT = REPO_ROOT / "build" / "site"
TOCTREE_PLACEHOLDER = "<!-- site:toctree -->"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "hidden.json")


class SiteError(RuntimeError):
    pass


@dataclass(frozen=True)
class BuildResult:
    out: Path
    source: Path
    pages: int
    seconds: float
    log: str


def _toctree(entries: list[str], caption: str | None = None, hidden: bool = False, maxdepth: int = 2) -> str:
    opts = [f":maxdepth: {maxdepth}"]
    if caption:
        opts.append(f":caption: {caption}")
    if hidden:
        opts.append(":hidden:")
    return "```{toctree}\n" + "\n".join(opts) + "\n\n" + "\n".join(entries) + "\n```\n"


def stage(dest: Path, repo: Path = REPO_ROOT) -> course_mod.Course:
    """Copy the site's sources into `dest` (emptied first) and generate what is generated; return the course."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copytree(repo / "lectures", dest / "lectures", ignore=_IGNORE)
    course = course_mod.course(repo, repo)
    for spec in course.specs:
        folder = repo / "assignments" / spec.slug
        if folder.is_dir():
            shutil.copytree(folder, dest / "assignments" / spec.slug, ignore=_IGNORE)
    _, problems = course_mod.sync(dest, repo=repo)
    if problems:
        raise SiteError("; ".join(problems))
    course = course_mod.course(dest, repo)
    for lec in course.order:  # each lecture's assignments hang under it in the navigation
        specs = course.assignments(lec)
        if specs:
            path = dest / "lectures" / lec.name
            entries = [f"/assignments/{s.slug}/README" for s in specs]
            path.write_text(path.read_text(encoding="utf-8") + "\n" + _toctree(entries, hidden=True), encoding="utf-8")
    template = (SITE_CONFIG / "index.md").read_text(encoding="utf-8")
    nav = (_toctree(["lectures/syllabus", "lectures/README"], caption="Start here", maxdepth=1) + "\n"
           + _toctree([f"lectures/{lec.name[:-3]}" for lec in course.order],
                      caption="Lectures and assignments, in reading order"))
    if TOCTREE_PLACEHOLDER not in template:
        raise SiteError(f"{SITE_CONFIG / 'index.md'} has no {TOCTREE_PLACEHOLDER} line")
    (dest / "index.md").write_text(template.replace(TOCTREE_PLACEHOLDER, nav), encoding="utf-8")
    return course


def build(out: Path = DEFAULT_OUT, strict: bool = True, repo: Path = REPO_ROOT) -> BuildResult:
    """Stage the sources next to `out` and build the HTML site into `out`. Raises SiteError with Sphinx's
    messages when the build fails (with `strict`, on any warning: a broken link, a missing anchor, a formula)."""
    try:
        import furo  # noqa: F401
        import latex2mathml  # noqa: F401
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
    except ImportError as exc:
        raise SiteError(f"the site needs the 'site' extra: pip install -e '.[site]' ({exc.name} is missing)") from exc
    start = time.perf_counter()
    out = Path(out).resolve()
    source = out.parent / f"{out.name}-src"
    doctrees = out.parent / f"{out.name}-doctrees"
    stage(source, repo)
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(SITE_CONFIG), "-d", str(doctrees), "-q",
           "-E", str(source), str(out)]
    if strict:
        cmd[5:5] = ["-W", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=repo)
    log = (proc.stdout + proc.stderr).replace(str(source) + "/", "")
    if proc.returncode != 0:
        raise SiteError(f"sphinx-build failed (exit {proc.returncode}):\n{log.strip()}")
    pages = len(list(out.rglob("*.html")))
    return BuildResult(out, source, pages, time.perf_counter() - start, log)
