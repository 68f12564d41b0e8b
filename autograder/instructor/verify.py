"""`dlcourse verify`: the instructor's self-test of the course.

For every assignment (or those named):

1. the reference gets full marks on every available device (cpu, and cuda when torch sees a GPU);
2. the untouched skeleton gets zero;
3. every check fails for at least one known-buggy submission. Known bugs are declared next to the checks, in
   ``autograder/checks/<slug>/bugs.py``::

       BUGS = [
           # (what the bug is, text of the reference, what it becomes)
           ("bias forgotten", "out = x @ W + b  # (N, M)", "out = x @ W  # (N, M)"),
       ]

   Each bug is the reference with one edit (``old`` must occur exactly once, so a bug that no longer applies
   after the reference changed is reported, not silently skipped). A check that no bug fails is reported as
   **untested**; a bug that no check catches is a problem. An assignment without ``bugs.py`` has all its checks
   untested.

``bugs.py`` stays out of the student bundle (`dlcourse release` copies only the public check files): its text is
made from the reference.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BUGS_FILE = "bugs.py"


class VerifyError(Exception):
    pass


@dataclass(frozen=True)
class Bug:
    name: str
    old: str
    new: str
    target: str = ""  # the function or class whose checks it must fail (the project's tests assert it)
    says: str = ""  # words its failure message must contain (a known mistake named), optional


@dataclass
class BugOutcome:
    bug: Bug
    failed: list[str] = field(default_factory=list)  # the checks it failed
    problem: str = ""


@dataclass
class AssignmentVerification:
    slug: str
    checks: list[str]  # names of the checks verified (after --only)
    reference: dict[str, tuple[float, float]] = field(default_factory=dict)  # device -> (score, max)
    reference_failed: dict[str, list[str]] = field(default_factory=dict)  # device -> failed checks
    skeleton: tuple[float, float] | None = None
    skeleton_passed: list[str] = field(default_factory=list)
    bugs: list[BugOutcome] = field(default_factory=list)
    has_bugs_file: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def caught_by(self) -> dict[str, list[str]]:
        out = {name: [] for name in self.checks}
        for outcome in self.bugs:
            for name in outcome.failed:
                out.setdefault(name, []).append(outcome.bug.name)
        return out

    @property
    def untested(self) -> list[str]:
        return [name for name, bugs in self.caught_by.items() if not bugs]

    @property
    def ok(self) -> bool:
        return not self.problems


def load_bugs(slug: str) -> list[Bug] | None:
    """The known bugs of an assignment, or None when it has no bugs.py."""
    from ..paths import CHECKS

    path = CHECKS / slug / BUGS_FILE
    if not path.is_file():
        return None
    mod_spec = importlib.util.spec_from_file_location(f"dlcourse_bugs_{slug}", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    raw = getattr(module, "BUGS", None)
    if not isinstance(raw, (list, tuple)):
        raise VerifyError(f"{path} must define BUGS = [(name, old, new[, target[, says]]), ...]")
    bugs = []
    for item in raw:
        if isinstance(item, Bug):
            bugs.append(item)
        elif isinstance(item, (list, tuple)) and 3 <= len(item) <= 5 and all(isinstance(x, str) for x in item):
            bugs.append(Bug(*item))
        else:
            raise VerifyError(f"{path}: each bug is (name, old, new[, target[, says]]), strings; got {item!r}")
    names = [b.name for b in bugs]
    if len(set(names)) != len(names):
        raise VerifyError(f"{path}: bug names must be unique")
    return bugs


def available_devices() -> list[str]:
    devices = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            devices.append("cuda")
    except ImportError:
        pass
    return devices


def verify_assignment(slug: str, *, devices: list[str] | None = None, select: list[str] | None = None,
                      bug_names: list[str] | None = None, seed: int = 1234, progress=None) -> AssignmentVerification:
    """Verify one assignment. `select` keeps the checks whose name starts with one of its prefixes, `bug_names` the
    known bugs whose name starts with one of its prefixes (both to go faster while working on one function)."""
    from .. import spec as specs
    from ..grading import GradingError, collect, grade

    say = progress or (lambda message: None)
    try:
        spec = specs.load(slug)
    except specs.UnknownAssignment as exc:
        raise VerifyError(str(exc)) from None
    if not spec.reference.is_file():
        raise VerifyError(f"{slug}: the reference {spec.reference} is missing (verify runs on the course itself)")
    if not spec.hidden_checks.is_file():
        raise VerifyError(f"{slug}: the hidden checks are missing (verify runs on the course itself)")
    names = [n for n, _v, _p in collect(slug) if not select or any(n.startswith(s) for s in select)]
    result = AssignmentVerification(slug=slug, checks=names)
    if not names:
        result.problems.append("no check selected")
        return result

    def run(path, device="cpu"):
        return grade(slug, path, mode="grade", seed=seed, device=device, select=select)

    for device in devices or available_devices():
        say(f"{slug}: reference on {device}")
        try:
            report = run(spec.reference, device)
        except GradingError as exc:
            result.problems.append(f"reference on {device}: the grader could not run: {exc}")
            continue
        result.reference[device] = (report.score, report.max_score)
        failed = report.failed_names()
        result.reference_failed[device] = failed
        if failed or report.score != report.max_score:
            result.problems.append(f"the reference loses points on {device}: " + "; ".join(failed))

    say(f"{slug}: skeleton")
    if not spec.skeleton.is_file():
        result.problems.append(f"the skeleton {spec.skeleton} is missing")
    else:
        report = run(spec.skeleton)
        result.skeleton = (report.score, report.max_score)
        result.skeleton_passed = [r.name for r in report.results if r.passed]
        if report.score != 0:
            result.problems.append("the untouched skeleton earns points on: " + "; ".join(result.skeleton_passed))

    bugs = load_bugs(slug)
    result.has_bugs_file = bugs is not None
    if bugs and bug_names:
        bugs = [b for b in bugs if any(b.name.startswith(p) for p in bug_names)]
        if not bugs:
            result.problems.append(f"no known bug of {slug} matches {list(bug_names)}")
    reference_source = spec.reference.read_text()
    work = Path(tempfile.mkdtemp(prefix=f"dlcourse-verify-{slug}-"))
    try:
        for k, bug in enumerate(bugs or []):
            outcome = BugOutcome(bug=bug)
            result.bugs.append(outcome)
            count = reference_source.count(bug.old)
            if count != 1:
                outcome.problem = (f"does not apply: its text occurs {count} times in the reference "
                                   "(exactly once expected)")
                result.problems.append(f"bug {bug.name!r} {outcome.problem}")
                continue
            say(f"{slug}: bug {bug.name}")
            folder = work / f"bug{k}"
            folder.mkdir()
            path = folder / spec.module_file
            path.write_text(reference_source.replace(bug.old, bug.new))
            report = run(path)
            outcome.failed = report.failed_names()
            if not outcome.failed and not select and not bug_names:
                outcome.problem = "no check fails for it"
                result.problems.append(f"bug {bug.name!r}: no check fails for it")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def verify(slugs: list[str] | None = None, *, devices: list[str] | None = None, select: list[str] | None = None,
           bug_names: list[str] | None = None, seed: int = 1234, progress=None) -> list[AssignmentVerification]:
    from .. import spec as specs

    return [verify_assignment(s, devices=devices, select=select, bug_names=bug_names, seed=seed, progress=progress)
            for s in (slugs or specs.all_slugs())]


def render(results: list[AssignmentVerification], console=None) -> None:
    """A table per assignment (reference, skeleton, each check and the bugs that fail it) and a summary."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    for res in results:
        table = Table(title=f"verify {res.slug}", title_justify="left")
        table.add_column("what")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for device, (score, max_score) in res.reference.items():
            good = score == max_score and not res.reference_failed.get(device)
            table.add_row(Text(f"reference ({device})"), Text("full marks" if good else "LOSES POINTS",
                                                        style="green" if good else "bold red"),
                          Text(f"{score:g}/{max_score:g}" + ("" if good else ": "
                                                             + "; ".join(res.reference_failed[device]))))
        if res.skeleton is not None:
            good = res.skeleton[0] == 0
            table.add_row("skeleton", Text("zero" if good else "EARNS POINTS", style="green" if good else "bold red"),
                          Text(f"{res.skeleton[0]:g}/{res.skeleton[1]:g}" + ("" if good else ": "
                                                                              + "; ".join(res.skeleton_passed))))
        for name, bugs in res.caught_by.items():
            if bugs:
                table.add_row(Text(name), Text("tested", style="green"), Text("failed by: " + ", ".join(bugs)))
            else:
                why = "no bug fails it" if res.has_bugs_file else f"no {BUGS_FILE} for this assignment"
                table.add_row(Text(name), Text("untested", style="yellow"), Text(why))
        for outcome in res.bugs:
            if outcome.problem:
                table.add_row(Text(f"bug: {outcome.bug.name}"), Text("PROBLEM", style="bold red"),
                              Text(outcome.problem))
        console.print(table)
        untested = len(res.untested)
        line = (f"{res.slug}: {len(res.checks)} checks, {len(res.checks) - untested} tested by "
                f"{len(res.bugs)} known bugs, {untested} untested; {len(res.problems)} problem(s)")
        console.print(Text(line, style="bold green" if res.ok and not untested else "bold"))
        for problem in res.problems:
            console.print(Text(f"  problem: {problem}", style="red"))
