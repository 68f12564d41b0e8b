"""`dlcourse verify`: the course's self-test, assignment by assignment.

1. The reference gets full marks on every available device (cpu, and cuda when torch sees a GPU).
2. The untouched skeleton gets zero, and so do the three hollow submissions generated from the reference
   (`autograder.authoring.hollow`: zeros, its input, its base layer).
3. Every target has at least one core check (`@check(..., core=True)`): without one, its property checks are not
   gated and do-nothing code can earn them.
4. Every check is failed by a known bug *of its own target* (`bugs.py`, see `autograder.authoring.bugfile`); each
   bug is graded on its target's checks only (or its `SELECT` entry). A check that no such bug fails is **untested**; a
   bug that no check catches, or whose text no longer occurs once in the reference, is a problem.
5. Every documented parameter of every target (a parameter with a default in the reference's signatures) is
   varied by some check (`autograder.authoring.coverage`); one that no check varies is a problem.

A half-built assignment (a broken spec, missing checks or files) is reported as a problem of that assignment; the
others are verified all the same. Only `--only` / `--bug` (working on one function) skip the parts that need every
check: the parameter coverage and the "no check fails for it" problem.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import bugfile as bugs_mod
from .bugfile import BUGS_FILE, Bug


class VerifyError(Exception):
    """Verification cannot start (an assignment named that does not exist)."""


@dataclass(frozen=True)
class VerifyOptions:
    """What `dlcourse verify` was asked for, built once by the command line."""

    devices: list[str] | None = None  # None: cpu, and cuda when available
    select: list[str] | None = None  # check-name prefixes (--only)
    bug_names: list[str] | None = None  # bug-name prefixes (--bug)
    seed: int = 1234
    progress: Callable[[str], None] | None = None

    @property
    def narrowed(self) -> bool:
        return bool(self.select or self.bug_names)


@dataclass
class BugOutcome:
    bug: Bug
    failed: list[str] = field(default_factory=list)  # the checks of its own target that it failed
    problem: str = ""


@dataclass
class AssignmentVerification:
    slug: str
    checks: list[str]  # names of the checks verified (after --only)
    reference: dict[str, tuple[float, float]] = field(default_factory=dict)  # device -> (score, max)
    reference_failed: dict[str, list[str]] = field(default_factory=dict)  # device -> failed checks
    skeleton: tuple[float, float] | None = None
    skeleton_passed: list[str] = field(default_factory=list)
    hollow: dict[str, tuple[float, float, list[str]]] = field(default_factory=dict)  # mode -> (score, max, passed)
    targets_without_core: list[str] = field(default_factory=list)
    unvaried: dict[str, list[str]] = field(default_factory=dict)  # target -> parameters no check varies
    bugs: list[BugOutcome] = field(default_factory=list)
    has_bugs_file: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def caught_by(self) -> dict[str, list[str]]:
        """{check: [the bugs of its own target that fail it]}."""
        out = {name: [] for name in self.checks}
        for outcome in self.bugs:
            for name in outcome.failed:
                if name in out and _target(name) == outcome.bug.target:
                    out[name].append(outcome.bug.name)
        return out

    @property
    def untested(self) -> list[str]:
        return [name for name, bugs in self.caught_by.items() if not bugs]

    @property
    def ok(self) -> bool:
        return not self.problems


def _target(check_name: str) -> str:
    from ..checking import NAME_RE

    m = NAME_RE.match(check_name)
    return m.group("target") if m else check_name.split(":", 1)[0]


def available_devices() -> list[str]:
    devices = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            devices.append("cuda")
    except ImportError:
        pass
    return devices


def verify_assignment(slug: str, options: VerifyOptions | None = None, **changes) -> AssignmentVerification:
    """Verify one assignment (see the module docstring). Keyword `changes` override fields of `options`."""
    from dataclasses import replace

    from .. import spec as specs
    from ..grading import GradingError, collect_infos, grade

    opts = replace(options or VerifyOptions(), **changes)
    say = opts.progress or (lambda message: None)
    try:
        spec = specs.load(slug)
    except specs.BrokenSpec as exc:
        return AssignmentVerification(slug=slug, checks=[], problems=[str(exc)])
    except specs.UnknownAssignment as exc:
        raise VerifyError(str(exc)) from None
    missing = spec.missing()
    if missing:
        return AssignmentVerification(slug=slug, checks=[], problems=[f"half-built: missing {', '.join(missing)}"])
    try:
        infos = collect_infos(slug)
    except GradingError as exc:
        return AssignmentVerification(slug=slug, checks=[], problems=[f"the checks do not collect: {exc}"])

    names = ([info.name for info, _vis in collect_infos(slug, select=opts.select)] if opts.select
             else [info.name for info, _vis in infos])
    result = AssignmentVerification(slug=slug, checks=names)
    if not names:
        result.problems.append("no check selected")
        return result
    cores = {info.target for info, _vis in infos if info.core}
    result.targets_without_core = [t for t in spec.targets if t not in cores]
    for target in result.targets_without_core:
        result.problems.append(f"{target} has no core check (@check(..., core=True)): its property checks are "
                               "not gated, so do-nothing code can earn them")

    def run(path, device="cpu", select=opts.select):
        return grade(slug, path, mode="grade", seed=opts.seed, device=device, select=select)

    reference_source = spec.reference.read_text()
    work = Path(tempfile.mkdtemp(prefix=f"dlcourse-verify-{slug}-"))
    try:
        _verify_reference(result, spec, opts, run, work, reference_source, say)
        _verify_hollow_code(result, spec, run, work, reference_source, say)
        _verify_bugs(result, spec, opts, run, work, reference_source, names, say)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _write(work: Path, folder: str, module_file: str, source: str) -> Path:
    path = work / folder / module_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def _verify_reference(result, spec, opts, run, work, reference_source, say) -> None:
    from ..grading import GradingError
    from . import coverage

    parameters = coverage.documented_parameters(reference_source, spec.targets)
    for device in opts.devices or available_devices():
        say(f"{spec.slug}: reference on {device}")
        measured = device == "cpu" and not opts.narrowed and parameters
        try:
            if measured:  # the cpu run grades the instrumented reference and records the parameters varied
                path = _write(work, "instrumented", spec.module_file,
                              coverage.instrumented_source(reference_source, spec.targets))
                with coverage.recording() as seen:
                    report = run(path, device)
                if report.score != report.max_score:  # the recorder itself in the way: grade the plain reference
                    measured = False
                    report = run(spec.reference, device)
            else:
                report = run(spec.reference, device)
        except GradingError as exc:
            result.problems.append(f"reference on {device}: the grader could not run: {exc}")
            continue
        result.reference[device] = (report.score, report.max_score)
        failed = report.failed_names()
        result.reference_failed[device] = failed
        if failed or report.score != report.max_score:
            result.problems.append(f"the reference loses points on {device}: " + "; ".join(failed))
        if measured:
            unvaried = coverage.unvaried(parameters, seen)
            result.unvaried = {t: [str(p) for p in ps] for t, ps in unvaried.items()}
            for target, params in result.unvaried.items():
                result.problems.append(f"{target}: no check varies the documented parameter(s) "
                                       f"{', '.join(params)}")

    say(f"{spec.slug}: skeleton")
    report = run(spec.skeleton)
    result.skeleton = (report.score, report.max_score)
    result.skeleton_passed = [r.name for r in report.results if r.passed]
    if report.score != 0:
        result.problems.append("the untouched skeleton earns points on: " + "; ".join(result.skeleton_passed))


def _verify_hollow_code(result, spec, run, work, reference_source, say) -> None:
    from .hollow import MODES, hollow_source

    for mode in MODES:
        say(f"{spec.slug}: hollow code ({mode})")
        path = _write(work, f"hollow-{mode}", spec.module_file, hollow_source(reference_source, spec.targets, mode))
        report = run(path)
        passed = [r.name for r in report.results if r.score > 0]
        result.hollow[mode] = (report.score, report.max_score, passed)
        if report.score != 0:
            result.problems.append(f"a hollow submission ({mode}) earns points on: " + "; ".join(passed))


def _verify_bugs(result, spec, opts, run, work, reference_source, names, say) -> None:
    try:
        bugs = bugs_mod.load_bugs(spec.slug)
    except bugs_mod.BugsError as exc:
        result.problems.append(str(exc))
        return
    result.has_bugs_file = bugs is not None
    if bugs and opts.bug_names:
        bugs = [b for b in bugs if any(b.name.startswith(p) for p in opts.bug_names)]
        if not bugs:
            result.problems.append(f"no known bug of {spec.slug} matches {list(opts.bug_names)}")
    for k, bug in enumerate(bugs or []):
        outcome = BugOutcome(bug=bug)
        if bug.target not in spec.targets:
            outcome.problem = f"its target {bug.target!r} is not one of {list(spec.targets)}"
            result.bugs.append(outcome)
            result.problems.append(f"bug {bug.name!r}: {outcome.problem}")
            continue
        prefixes = bugs_mod.bug_selection(spec.slug, bug)
        own = [n for n in names if _target(n) == bug.target and any(n.startswith(p) for p in prefixes)]
        if not own:  # --only left none of this bug's checks
            continue
        result.bugs.append(outcome)
        try:
            source = bug.apply(reference_source)
        except bugs_mod.BugsError as exc:
            outcome.problem = str(exc)
            result.problems.append(f"bug {bug.name!r} {outcome.problem}")
            continue
        say(f"{spec.slug}: bug {bug.name}")
        report = run(_write(work, f"bug{k}", spec.module_file, source), select=own)
        outcome.failed = [n for n in report.failed_names() if _target(n) == bug.target]
        if not outcome.failed and not opts.narrowed:
            outcome.problem = "no check fails for it"
            result.problems.append(f"bug {bug.name!r}: no check fails for it")


def verify(slugs: list[str] | None = None, options: VerifyOptions | None = None,
           **changes) -> list[AssignmentVerification]:
    """Verify the assignments named (default: every assignment with a spec, half-built ones included)."""
    from .. import spec as specs

    return [verify_assignment(s, options, **changes) for s in (slugs or specs.all_slugs())]


def render(results: list[AssignmentVerification], console=None) -> None:
    """A table per assignment (reference, skeleton, hollow code, each check and the bugs that fail it) and a
    summary line with its problems."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()

    def verdict(good: bool, yes: str, no: str) -> Text:
        return Text(yes if good else no, style="green" if good else "bold red")

    for res in results:
        table = Table(title=f"verify {res.slug}", title_justify="left")
        table.add_column("what")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for device, (score, max_score) in res.reference.items():
            good = score == max_score and not res.reference_failed.get(device)
            table.add_row(Text(f"reference ({device})"), verdict(good, "full marks", "LOSES POINTS"),
                          Text(f"{score:g}/{max_score:g}" + ("" if good else ": "
                                                             + "; ".join(res.reference_failed[device]))))
        if res.skeleton is not None:
            good = res.skeleton[0] == 0
            table.add_row("skeleton", verdict(good, "zero", "EARNS POINTS"),
                          Text(f"{res.skeleton[0]:g}/{res.skeleton[1]:g}" + ("" if good else ": "
                                                                              + "; ".join(res.skeleton_passed))))
        for mode, (score, max_score, passed) in res.hollow.items():
            table.add_row(Text(f"hollow code ({mode})"), verdict(score == 0, "zero", "EARNS POINTS"),
                          Text(f"{score:g}/{max_score:g}" + (": " + "; ".join(passed) if passed else "")))
        for target in res.targets_without_core:
            table.add_row(Text(target), Text("NO CORE CHECK", style="bold red"),
                          Text("mark a check of its values against an oracle with core=True"))
        for target, params in res.unvaried.items():
            table.add_row(Text(target), Text("PARAMETERS NOT VARIED", style="bold red"), Text(", ".join(params)))
        for name, bugs in res.caught_by.items():
            if bugs:
                table.add_row(Text(name), Text("tested", style="green"), Text("failed by: " + ", ".join(bugs)))
            else:
                why = ("no bug of its target fails it" if res.has_bugs_file
                       else f"no {BUGS_FILE} for this assignment")
                table.add_row(Text(name), Text("untested", style="yellow"), Text(why))
        for outcome in res.bugs:
            if outcome.problem:
                table.add_row(Text(f"bug: {outcome.bug.name}"), Text("PROBLEM", style="bold red"),
                              Text(outcome.problem))
        if res.checks:
            console.print(table)
        untested = len(res.untested)
        line = (f"{res.slug}: {len(res.checks)} checks, {len(res.checks) - untested} tested by "
                f"{len(res.bugs)} known bugs, {untested} untested; {len(res.problems)} problem(s)")
        console.print(Text(line, style="bold green" if res.ok and not untested else "bold"))
        for problem in res.problems:
            console.print(Text(f"  problem: {problem}", style="red"))
