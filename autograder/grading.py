"""Grade one submission: the typed core behind `dlcourse check` and `dlcourse grade`.

`grade()` runs the assignment's check files with pytest in this (trusted) process, with `DLCoursePlugin`
providing the fixtures. The submission itself only ever runs in the sandbox worker that `GradingSession` starts
on first use; this process imports the reference solution (hidden checks) but never the submission.
"""

from __future__ import annotations

import gc
import io
import os
import secrets
import shutil
import time
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import feedback, forbidden, gating, notebook_source, spec as specs
from .paths import CHECKS, load_module
from .plugin import DLCoursePlugin
from .report import CheckResult, Report
from .sandbox import Limits, Sandbox
from .warm import readonly_paths as _readonly_paths, same_worker, sandbox_config  # noqa: F401  (tests use it)

INI = CHECKS / "pytest.ini"


class GradingError(Exception):
    """The grader could not run (unknown assignment, missing file, no CUDA...): not a verdict on the code."""


@dataclass
class GradingSession:
    spec: specs.Assignment
    submission: Path
    seed: int
    device: str
    select: list[str] | None = None
    isolation: str = "auto"
    limits: Limits = field(default_factory=Limits)
    extra_hidden: list[Path] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)
    collected: list = field(default_factory=list)
    prestarted: Sandbox | None = None  # a worker started earlier for this submission (autograder.warm)
    # One message per root cause (autograder.feedback): a module that cannot be graded blocks every check.
    module_problem: str = ""  # the panel shown once at the top
    blocked_reason: str = ""  # the one line each blocked check shows
    hung: dict = field(default_factory=dict)  # target -> the check in which a call to it ran out of time
    imported: bool = False
    import_output: str = ""  # what the module printed while importing
    skipped: int = 0  # checks left out by `select`
    no_match: bool = False  # `select` matched no check
    _sandbox: Sandbox | None = None
    _reference = None
    _static: dict | None = None
    _syntax_error: str | None = None

    def __post_init__(self):
        source = self.submission.read_text(encoding="utf-8", errors="replace")
        try:
            self._static = forbidden.scan(source, self.spec.forbidden, self.spec.targets)
        except SyntaxError as exc:
            self._syntax_error = (f"{self.spec.module_file} does not parse: line {exc.lineno}: {exc.msg}\n"
                                  f"    {(exc.text or '').rstrip()}")
        problem = feedback.static_problem(source, self.spec.module_file, self._static)
        if problem:
            self.module_problem, self.blocked_reason = problem

    def static_problems(self, target: str) -> list[str]:
        """The static scan's findings for one target (module-level ones are the session's `module_problem`)."""
        if self._syntax_error:
            return [self._syntax_error]
        return list((self._static or {}).get(target, []))

    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            config = sandbox_config(self.spec, self.submission, self.device, self.isolation, self.limits,
                                    self.extra_hidden)
            if self.prestarted is not None and same_worker(self.prestarted.config, config):
                self.prestarted.config.module_path = self.submission
                self._sandbox, self.prestarted = self.prestarted, None
            else:
                self._sandbox = Sandbox(config)
        return self._sandbox

    def reference_module(self):
        if self._reference is None:
            path = self.spec.reference
            if not path.is_file():
                raise GradingError(f"the reference solution {path} is missing (a student bundle cannot grade)")
            self._reference = load_module(path, f"dlcourse_reference_{self.spec.slug}")
        return self._reference

    def record(self, result: CheckResult) -> None:
        self.results.append(result)

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
        if self.prestarted is not None:  # started for this grading, but not for these settings
            self.prestarted.close()


def resolve_submission(spec: specs.Assignment, path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise GradingError(f"submission not found: {p}")
    if p.is_dir():
        candidate = p / spec.module_file
        notebook = p / f"{spec.slug}.ipynb"
        if not candidate.is_file() and notebook.is_file():
            candidate = notebook  # a notebook submission (autograder.notebook_source)
        if not candidate.is_file():
            found = sorted(x.name for x in p.glob("*.py")) + sorted(x.name for x in p.glob("*.ipynb"))
            raise GradingError(f"no {spec.module_file} or {spec.slug}.ipynb in {p} "
                               f"(found: {', '.join(found) or 'no .py or .ipynb files'})")
        p = candidate
    elif p.suffix not in (".py", ".ipynb"):
        raise GradingError(f"{p} is not a Python file or a notebook: give {spec.module_file}, {spec.slug}.ipynb or "
                           "the folder holding it")
    return p.resolve()


def check_device(device: str) -> str:
    if device not in ("cpu", "cuda"):
        raise GradingError(f"unknown device {device!r}: use cpu or cuda")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise GradingError("--device cuda was asked for, but CUDA is not available on this machine")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return device


def grade(slug: str, path: str | os.PathLike | None = None, *, mode: str = "grade", seed: int | None = None,
          device: str = "cpu", select: list[str] | None = None, isolation: str = "auto",
          limits: Limits | None = None, extra_hidden: list[Path] | None = None,
          allow_weak_isolation: bool = False, sandbox: Sandbox | None = None) -> Report:
    """Grade `path` (a module file or the folder holding it) for assignment `slug`.

    mode "check": public checks only (a student's self-check); "grade": public and hidden checks.
    Raises GradingError only when grading could not run; any verdict on the code is in the Report.
    In mode "grade" the submission runs only in the namespace sandbox: where it cannot start, grading is a
    GradingError, unless `allow_weak_isolation` accepts the process level (the submission can then read what the
    grader's user can read, and see its processes), which the report then says.
    `sandbox`: a worker already started for this assignment (`Sandbox.prestart`, autograder.warm), used when its
    settings are the ones this grading needs; this grading closes it in any case.
    """
    t0 = time.monotonic()
    scratch = None
    try:
        try:
            spec = specs.load(slug)
        except specs.UnknownAssignment as exc:
            raise GradingError(str(exc)) from None
        submission = resolve_submission(spec, path if path is not None else spec.skeleton)
        handed_in = submission
        try:
            submission, source_notes, scratch = notebook_source.materialize(submission, spec.slug, spec.module_file)
        except notebook_source.NotebookError as exc:
            raise GradingError(str(exc)) from None
        prestarted, sandbox = sandbox, None
        return _grade(spec, submission, handed_in, source_notes, t0, mode=mode, seed=seed, device=device,
                      select=select, isolation=isolation, limits=limits, extra_hidden=extra_hidden,
                      allow_weak_isolation=allow_weak_isolation, prestarted=prestarted)
    finally:
        if sandbox is not None:  # given, but grading stopped before it could use it
            sandbox.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _grade(spec, submission: Path, handed_in: Path, source_notes: list[str], t0: float, *, mode, seed, device,
           select, isolation, limits, extra_hidden, allow_weak_isolation, prestarted=None) -> Report:
    slug = spec.slug
    device = check_device(device)
    if mode not in ("check", "grade"):
        raise GradingError(f"unknown mode {mode!r}")
    files = [spec.public_checks]
    if mode == "grade":
        if not spec.hidden_checks.is_file():
            raise GradingError("the hidden checks are not part of this copy of the course (a student bundle): "
                               "use `dlcourse check` to run the public checks")
        files.append(spec.hidden_checks)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    isolation = _required_isolation(mode, isolation, allow_weak_isolation)
    session = GradingSession(spec=spec, submission=submission, seed=seed, device=device, select=select,
                             isolation=isolation, limits=limits or Limits(), extra_hidden=list(extra_hidden or []),
                             prestarted=prestarted)
    try:
        with single_threaded_torch():
            code, log = _run_pytest([str(f) for f in files], DLCoursePlugin(session))
        if session._sandbox is not None and session._sandbox.start_error:
            raise GradingError("the sandbox could not start, so nothing was graded (not the submission's fault): "
                               f"{session._sandbox.start_error}")
        if session.no_match:
            raise GradingError(no_match_message(spec, select, mode))
        if code not in (0, 1, 5):  # 5: nothing selected
            raise GradingError(f"the checks of {slug} could not run (pytest exit code {code}):\n{log[-3000:]}")
        gating.apply(session.results, gating.core_names(session.collected), gating.needs_of(session.collected))
        skeleton = feedback.skeleton_problem(session.results, spec.module_file, spec.targets, bool(select))
        if skeleton and not session.module_problem:
            session.module_problem = skeleton
            for r in session.results:
                if not r.output.startswith(feedback.NOT_IMPLEMENTED):
                    r.output, r.brief = f"not run: {spec.module_file} is still the skeleton", True
        sandbox = session._sandbox
        report = Report(
            slug=slug, title=spec.title, submission=str(handed_in), mode=mode, seed=seed, device=device,
            isolation=_isolation_label(sandbox), results=session.results,
            time_in_student=sandbox.time_in_student if sandbox else 0.0,
        )
        report.module_problem, report.import_output = session.module_problem, session.import_output
        report.skipped, report.partial = session.skipped, bool(select)
        report.notes.extend(source_notes)
        if sandbox and sandbox.isolation == "process" and mode == "grade":
            report.notes.append(WEAK_ISOLATION_NOTE)
        if sandbox and sandbox.restarts:
            report.notes.append("the sandbox was restarted after a timeout or a crash (the checks "
                                "concerned say which)")
        if sandbox and sandbox.gpu_watch is not None:
            report.gpu_memory = sandbox.gpu_watch.describe()
            if mode == "check":  # public checks only: nothing hidden could have steered it
                report.notes.append(report.gpu_memory)
        if mode == "check":
            report.hidden_pending = hidden_summary(spec)
    finally:
        session.close()
    report.execution_time = time.monotonic() - t0
    return report


@contextmanager
def single_threaded_torch():
    """Run the trusted side's torch work on one thread (checks compute on small tensors: several OpenMP threads
    only fight the sandbox worker, and each other on a busy machine). Grading always runs inside it."""
    import torch  # every assignment's checks use it (backprop's as the autograd oracle)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


WEAK_ISOLATION_NOTE = ("graded at the weak process isolation level (--allow-weak-isolation): the submission could "
                       "read every file the grader's user can read and see its processes")


def _required_isolation(mode: str, isolation: str, allow_weak: bool) -> str:
    """The level the sandbox must reach. Grading other people's code needs the namespaces unless the caller
    accepts the process level explicitly; a student's self-check falls back to it freely."""
    if isolation not in ("auto", "namespaces", "process"):
        raise GradingError(f"unknown isolation level {isolation!r}: use auto, namespaces or process")
    if mode != "grade" or allow_weak:
        return isolation
    if isolation == "process":
        raise GradingError("grading at the process isolation level lets a submission read the grader's files; "
                           "pass --allow-weak-isolation (grade(..., allow_weak_isolation=True)) to accept that")
    return "namespaces"


def _isolation_label(sandbox: Sandbox | None) -> str:
    if sandbox is None:
        return "not started"
    if sandbox.isolation == "process" and sandbox.isolation_reason:
        return f"process ({sandbox.isolation_reason})"
    return sandbox.isolation


# pytest's own plugins that check files never use (their setup is most of a re-check's cost in watch mode).
UNUSED_PLUGINS = ("debugging", "pastebin", "junitxml", "doctest", "setuponly", "setupplan", "stepwise", "legacypath",
                  "logging", "faulthandler", "subtests", "unittest")


def _run_pytest(args: list[str], plugin) -> tuple[int, str]:
    """Run the check files with only the plugins grading needs: no third-party plugin is auto-loaded (they are
    slow to import, and none of them has a say in a grade), pytest-timeout is loaded by name as the backstop."""
    import pytest_timeout  # the backstop, registered as a module: naming it (-p) would scan every entry point

    argv = [*args, "-c", str(INI), "--rootdir", str(CHECKS), "-q", "--no-header", "-p", "no:cacheprovider",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for name in UNUSED_PLUGINS:
        argv += ["-p", f"no:{name}"]
    buf = io.StringIO()
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    gc.freeze()  # what is already loaded (torch...) need not be scanned by every collection during the run
    try:
        with redirect_stdout(buf):
            code = pytest.main(argv, plugins=[plugin, pytest_timeout])
    finally:
        gc.unfreeze()
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    return int(code), buf.getvalue()


def collect(slug: str, visibility: str = "all") -> list[tuple[str, str, float]]:
    """The checks of an assignment without running them: [(name, visibility, points)]."""
    return [(info.name, vis, info.points) for info, vis in collect_infos(slug, visibility)]


def collect_infos(slug: str, visibility: str = "all", select: list[str] | None = None) -> list:
    """The checks of an assignment without running them: [(CheckInfo, visibility)], core flags included; with
    `select`, exactly the checks a grading with that selection runs (their targets' core checks added)."""
    spec = specs.load(slug)
    files = [spec.public_checks] + ([spec.hidden_checks] if visibility == "all" and spec.hidden_checks.is_file()
                                    else [])
    session = GradingSession(spec=spec, submission=spec.skeleton if spec.skeleton.is_file() else spec.public_checks,
                             seed=0, device="cpu", select=select)
    code, log = _run_pytest([str(f) for f in files] + ["--collect-only"], DLCoursePlugin(session))
    if code not in (0, 5):
        raise GradingError(f"the checks of {slug} could not be collected:\n{log[-3000:]}")
    return list(session.collected)


def no_match_message(spec: specs.Assignment, select, mode: str = "check") -> str:
    """`--only` matched nothing: say so, with the names that would have matched something."""
    given = ", ".join(repr(s) for s in select)
    return (f"--only {given} matches no {'public ' if mode == 'check' else ''}check of {spec.slug}: give the "
            f"beginning of a check's name (case does not matter), such as one of its functions: "
            f"{', '.join(spec.targets)} (`dlcourse list {spec.slug}` lists every check)")


_HIDDEN_COUNTS: dict = {}  # (path, mtime, size) -> (count, points): watch mode asks on every run


def hidden_summary(spec: specs.Assignment) -> tuple[int, float] | None:
    manifest = spec.read_hidden_manifest()
    if manifest is not None:
        return manifest
    try:
        st = spec.hidden_checks.stat()
        key = (str(spec.hidden_checks), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _HIDDEN_COUNTS:
        return _HIDDEN_COUNTS[key]
    counted = _count_checks(spec.hidden_checks) or _count_marked(spec.hidden_checks)
    if counted is not None:
        if key is not None:
            _HIDDEN_COUNTS[key] = counted
        return counted
    if spec.hidden_checks.is_file():
        hidden = [c for c in collect(spec.slug) if c[1] == "hidden"]
        return len(hidden), sum(c[2] for c in hidden)
    return None


def _count_checks(path: Path) -> tuple[int, float] | None:
    """(count, points) of the checks of a check file, read with `ast` (no import, no pytest run): `dlcourse check`
    announces the hidden checks without loading them. Counted: `@check(...)` on a `test_*` function, and
    `check(...)` calls in a module-level `for` loop over a literal tuple or list (checks made per activation, say).
    None where a check is made any other way or its points are not a literal: then the file is loaded."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None

    def is_check(node) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"

    def points(call) -> float | None:
        arg = call.args[1] if len(call.args) >= 2 else next((k.value for k in call.keywords if k.arg == "points"),
                                                            None)
        if arg is None:
            return 1.0
        if isinstance(arg, ast.Constant) and isinstance(arg.value, (int, float)) and not isinstance(arg.value, bool):
            return float(arg.value)
        return None

    counted: set[int] = set()
    count, total = 0, 0.0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            marks = [d for d in node.decorator_list if is_check(d)]
            if not marks:
                continue
            if len(marks) != 1 or not node.name.startswith("test") or "parametrize" in ast.dump(node):
                return None
            value = points(marks[0])
            if value is None:
                return None
            counted.add(id(marks[0]))
            count, total = count + 1, total + value
    for loop in tree.body:
        if not isinstance(loop, ast.For):
            continue
        calls = [n for n in ast.walk(loop) if is_check(n) and id(n) not in counted]
        if not calls:
            continue
        if not (isinstance(loop.iter, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant)
                                                                      for e in loop.iter.elts)):
            return None
        for call in calls:
            value = points(call)
            if value is None:
                return None
            counted.add(id(call))
            count, total = count + len(loop.iter.elts), total + value * len(loop.iter.elts)
    if any(is_check(n) and id(n) not in counted for n in ast.walk(tree)):
        return None  # a check made some other way: load the file
    return count, total


def _count_marked(path: Path) -> tuple[int, float] | None:
    """(count, points) of the checks a check file defines, from its module's functions (imported, not collected by
    pytest: for files that make checks in a loop). None when it cannot be loaded that way."""
    if not path.is_file():
        return None
    try:
        module = load_module(path, f"dlcourse_count_{path.parent.name}_{path.stem}")
    except Exception:  # noqa: BLE001  collected by pytest instead, which reports the problem
        return None
    count, points = 0, 0.0
    for name, value in vars(module).items():
        if not name.startswith("test") or not callable(value):
            continue
        marks = [m for m in getattr(value, "pytestmark", []) if getattr(m, "name", "") == "dlcourse_check"]
        if len(marks) != 1:
            return None
        count += 1
        points += marks[0].args[0].points
    return count, points
