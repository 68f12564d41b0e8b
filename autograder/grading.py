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
import site
import sys
import time
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import forbidden, gating, notebook_source, spec as specs
from .paths import CHECKS, REPO_ROOT, load_module, secret_paths
from .plugin import DLCoursePlugin
from .report import CheckResult, Report
from .sandbox import Limits, Sandbox, SandboxConfig

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

    def static_problems(self, target: str) -> list[str]:
        if self._syntax_error:
            return [self._syntax_error]
        return (self._static or {}).get("*", []) + (self._static or {}).get(target, [])

    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = Sandbox(SandboxConfig(
                module_path=self.submission, module_file=self.spec.module_file, framework=self.spec.framework,
                device=self.device, forbidden=[(f.pattern, f.why) for f in self.spec.forbidden],
                hidden=[*secret_paths(), *self.extra_hidden], readonly=_readonly_paths(),
                isolation=self.isolation, limits=self.limits,
            ))
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


def _readonly_paths() -> list[str]:
    paths = [str(REPO_ROOT), sys.prefix, sys.base_prefix, "/usr", "/etc", "/opt", "/root", "/home"]
    paths += [p for p in site.getsitepackages() + [site.getusersitepackages()] if p]
    return paths


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
          allow_weak_isolation: bool = False) -> Report:
    """Grade `path` (a module file or the folder holding it) for assignment `slug`.

    mode "check": public checks only (a student's self-check); "grade": public and hidden checks.
    Raises GradingError only when grading could not run; any verdict on the code is in the Report.
    In mode "grade" the submission runs only in the namespace sandbox: where it cannot start, grading is a
    GradingError, unless `allow_weak_isolation` accepts the process level (the submission can then read what the
    grader's user can read, and see its processes), which the report then says.
    """
    t0 = time.monotonic()
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
    try:
        return _grade(spec, submission, handed_in, source_notes, t0, mode=mode, seed=seed, device=device,
                      select=select, isolation=isolation, limits=limits, extra_hidden=extra_hidden,
                      allow_weak_isolation=allow_weak_isolation)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _grade(spec, submission: Path, handed_in: Path, source_notes: list[str], t0: float, *, mode, seed, device,
           select, isolation, limits, extra_hidden, allow_weak_isolation) -> Report:
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
                             isolation=isolation, limits=limits or Limits(), extra_hidden=list(extra_hidden or []))
    try:
        with single_threaded_torch():
            code, log = _run_pytest([str(f) for f in files], DLCoursePlugin(session))
        if session._sandbox is not None and session._sandbox.start_error:
            raise GradingError("the sandbox could not start, so nothing was graded (not the submission's fault): "
                               f"{session._sandbox.start_error}")
        if code not in (0, 1, 5):  # 5: nothing selected
            raise GradingError(f"the checks of {slug} could not run (pytest exit code {code}):\n{log[-3000:]}")
        gating.apply(session.results, gating.core_names(session.collected), gating.needs_of(session.collected))
        sandbox = session._sandbox
        report = Report(
            slug=slug, title=spec.title, submission=str(handed_in), mode=mode, seed=seed, device=device,
            isolation=_isolation_label(sandbox), results=session.results,
            time_in_student=sandbox.time_in_student if sandbox else 0.0,
        )
        report.notes.extend(source_notes)
        if sandbox and sandbox.isolation == "process" and mode == "grade":
            report.notes.append(WEAK_ISOLATION_NOTE)
        if sandbox and sandbox.restarts:
            report.notes.append(f"the sandbox was restarted {sandbox.restarts} time(s) after a timeout or a crash")
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


def _run_pytest(args: list[str], plugin) -> tuple[int, str]:
    """Run the check files with only the plugins grading needs: no third-party plugin is auto-loaded (they are
    slow to import, and none of them has a say in a grade), pytest-timeout is loaded by name as the backstop."""
    argv = [*args, "-c", str(INI), "--rootdir", str(CHECKS), "-q", "--no-header", "-p", "no:cacheprovider",
            "-p", "pytest_timeout", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    buf = io.StringIO()
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    gc.freeze()  # what is already loaded (torch...) need not be scanned by every collection during the run
    try:
        with redirect_stdout(buf):
            code = pytest.main(argv, plugins=[plugin])
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


def hidden_summary(spec: specs.Assignment) -> tuple[int, float] | None:
    manifest = spec.read_hidden_manifest()
    if manifest is not None:
        return manifest
    if spec.hidden_checks.is_file():
        hidden = [c for c in collect(spec.slug) if c[1] == "hidden"]
        return len(hidden), sum(c[2] for c in hidden)
    return None
