"""`pytest` in a copy of the course runs the public checks, through the same sandbox, with the same messages.

Registered as a pytest plugin (entry point `pytest11: dlcourse`), so a student who types `pytest` at the root of
the course bundle, `pytest assignments/<slug>` or `pytest assignments/<slug>/<slug>.py` gets what
`dlcourse check <slug>` gives: one test per public check, named by the check, failing with the check's own message
and showing what the code printed ("Captured stdout"). `-m <slug>` selects one assignment, `-k` some checks.

It is inert unless one of the paths pytest was given is a course root (a folder holding `assignments/` and
`autograder/checks/`) or lies under its `assignments/` folder: the project's own test suite (`testpaths = tests`)
never activates it, and nothing heavy is imported until it does. When active, the course's engine folders are not
collected (their `test_public.py` files need the grader's fixtures and are run by it), the submission is never
imported by pytest itself, and each assignment is graded once, by `autograder.grading.grade`, the first time one
of its tests runs (only the checks pytest selected, plus the core checks they are gated on).
"""

from __future__ import annotations

from pathlib import Path

import pytest

_ACTIVE = pytest.StashKey["_Runner"]()


# ------------------------------------------------------------------------------------------- when it is active

def _is_course_root(path: Path) -> bool:
    return (path / "assignments").is_dir() and (path / "autograder" / "checks").is_dir()


def _claimed(config) -> list[Path]:
    """The course roots and assignment folders/files the command line names (empty: the plugin stays inert)."""
    out = []
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        text = str(arg).split("::")[0]
        if not text or text.startswith("-"):
            continue
        path = (base / text).resolve()
        if path.is_dir() and _is_course_root(path):
            out.append(path)
            continue
        for parent in path.parents:
            if parent.name == "assignments" and _is_course_root(parent.parent):
                out.append(path)
                break
    return out


def _course_root(path: Path) -> Path | None:
    for parent in [path, *path.parents]:
        if parent.name == "assignments" and _is_course_root(parent.parent):
            return parent.parent
    return None


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    claimed = _claimed(config)
    if not claimed:
        return
    from autograder import spec as specs

    slugs = specs.all_slugs()
    for slug in slugs:
        config.addinivalue_line("markers", f"{slug}: the public checks of the {slug} assignment (dlcourse check "
                                           f"{slug})")
    config.addinivalue_line("markers", "dlcourse: a public check of the course, run in the grader's sandbox")
    config.stash[_ACTIVE] = _Runner(config, claimed, set(slugs))


def _runner(config) -> "_Runner | None":
    return config.stash.get(_ACTIVE, None)


def pytest_ignore_collect(collection_path, config):
    """Inside a claimed course root, collect only its assignments (the engine's check files are the grader's)."""
    runner = _runner(config)
    if runner is None:
        return None
    path = Path(collection_path).resolve()
    for root in runner.roots:
        if path == root or not path.is_relative_to(root):
            continue
        if not path.is_relative_to(root / "assignments"):
            return True
    return None


def pytest_collect_file(file_path, parent):
    runner = _runner(parent.config)
    if runner is None:
        return None
    slug = runner.slug_of(Path(file_path))
    if slug is None:
        return None
    if file_path.suffix == ".py" and parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest's Python plugin asks pytest_pycollect_makemodule instead
    return AssignmentFile.from_parent(parent, path=Path(file_path), slug=slug)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    """`pytest assignments/<slug>/<slug>.py`: the module is the submission, never imported by pytest."""
    runner = _runner(parent.config)
    if runner is None:
        return None
    slug = runner.slug_of(Path(module_path))
    if slug is None:
        return None
    return AssignmentFile.from_parent(parent, path=Path(module_path), slug=slug)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    runner = _runner(config)
    if runner is None or not runner.reports:
        return
    terminalreporter.section("dlcourse: the public checks of each assignment (as `dlcourse check` runs them)")
    for (slug, _path), outcome in runner.reports.items():
        if isinstance(outcome, str):
            terminalreporter.write_line(f"{slug}: could not be checked: {outcome}")
            continue
        if outcome.module_problem:
            terminalreporter.write_line(outcome.module_problem)
        terminalreporter.write_line(outcome.summary_line())
    terminalreporter.write_line("Run one assignment with `dlcourse check <slug>` (add --watch to check on every "
                                "save), or `pytest -m <slug>`.")


# ------------------------------------------------------------------------------------------- collection and runs

class _Runner:
    """Grades each (assignment, file) once, for the checks pytest selected."""

    def __init__(self, config, claimed: list[Path], slugs: set[str]):
        self.config = config
        self.slugs = slugs
        self.claimed = claimed
        self.roots = sorted({p if _is_course_root(p) else _course_root(p) for p in claimed} - {None})
        self.reports: dict[tuple[str, Path], object] = {}
        self._infos: dict[str, list] = {}

    def slug_of(self, path: Path) -> str | None:
        """The assignment whose submission `path` is (assignments/<slug>/<slug>.py, or its notebook when there
        is no .py), when it lies in a claimed place; else None."""
        path = path.resolve()
        slug = path.parent.name
        if slug not in self.slugs or path.parent.parent.name != "assignments":
            return None
        if _course_root(path) is None or not any(path == c or path.is_relative_to(c) for c in
                                                 [*self.roots, *self.claimed]):
            return None
        if path.name == f"{slug}.py":
            return slug
        if path.name == f"{slug}.ipynb" and not path.with_name(f"{slug}.py").is_file():
            return slug
        return None

    def public_checks(self, slug: str) -> list:
        if slug not in self._infos:
            from autograder.grading import collect_infos

            self._infos[slug] = [info for info, vis in collect_infos(slug, "public") if vis == "public"]
        return self._infos[slug]

    def outcome(self, item: "CheckItem"):
        """The Report of the item's assignment and file (graded on first use), or the text of a GradingError."""
        key = (item.slug, item.path)
        if key not in self.reports:
            from autograder.grading import GradingError, grade

            session = item.session
            mine = [i.name for i in session.items if isinstance(i, CheckItem) and (i.slug, i.path) == key]
            every = [info.name for info in self.public_checks(item.slug)]
            select = None if set(mine) >= set(every) else mine
            try:
                self.reports[key] = grade(item.slug, item.path, mode="check", select=select)
            except GradingError as exc:
                self.reports[key] = str(exc)
        return self.reports[key]


class AssignmentFile(pytest.File):
    """assignments/<slug>/<slug>.py (or .ipynb): one test per public check of the assignment."""

    def __init__(self, *args, slug: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.slug = slug

    def collect(self):
        runner = _runner(self.config)
        for info in runner.public_checks(self.slug):
            item = CheckItem.from_parent(self, name=info.name, info=info, slug=self.slug)
            item.add_marker(self.slug)
            item.add_marker("dlcourse")
            yield item


class CheckFailed(Exception):
    """A public check did not pass: its message is the report's, shown without a traceback."""


class CheckItem(pytest.Item):
    def __init__(self, *args, info, slug: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.info = info
        self.slug = slug

    def runtest(self):
        outcome = _runner(self.config).outcome(self)
        if isinstance(outcome, str):
            raise CheckFailed(f"the checks of {self.slug} could not run: {outcome}")
        try:
            result = outcome.result(self.name)
        except KeyError:
            raise CheckFailed("this check was not run (it was not selected)") from None
        if result.stdout.strip():
            self.add_report_section("call", "stdout", result.stdout)
        if not result.passed:
            text = result.output or "failed"
            if outcome.module_problem and result.brief:
                first = next((r for r in outcome.results if r.brief), None)
                if first is result:
                    text += "\n\n" + outcome.module_problem
            raise CheckFailed(text)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.slug}: {self.name}"
