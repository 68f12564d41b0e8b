"""Running the class: a fork server, one child process per student, each with a wall-clock cap.

Every submission is graded in its own child process, forked from a clean fork server that has torch and the engine
already imported (a child starts in a fraction of a second instead of re-importing torch). The child calls
`autograder.grading.grade()`, which runs the student's code in a sandbox worker with per-call limits; the child
itself gets a wall-clock cap: past it, the child and every process below it are killed and the student's checks
are all recorded as failed ("timed out"). A child that dies (a crash of the grader itself) gets the same treatment
with its exit status. So one submission can cost its own checks and nothing else: no other student's result and no
batch output is ever written by the child of another student.

Each child sets itself up for speed without changing a verdict: one BLAS/torch thread (N children share N cores),
no third-party pytest plugins but pytest-timeout, and `gc.freeze()` of what the fork server imported (pytest's
end-of-session garbage collections otherwise walk all of torch, seconds per submission).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ...report import write_atomic
from ...sandbox import Limits
from .discovery import locate_module, safe_extract
from .model import (KILL_GRACE, STATUS_CRASHED, STATUS_ERROR, STATUS_GRADED, STATUS_TIMEOUT, BatchResult, CheckSpec,
                    StudentOutcome, SubmissionRejected)
from .resume import expected_checks
from .results import failed_report, read_results, results_document


# -- the child: one student ------------------------------------------------------------------------------------
@dataclass
class _Job:
    slug: str
    title: str
    student: str
    submission: str
    kind: str
    results_path: str
    unpack_dir: str
    log_path: str
    device: str
    select: list[str] | None
    seed: int | None
    limits: dict
    hidden: list[str]
    checks: list[tuple[str, str, float]]
    digest: str
    token: str
    allow_weak_isolation: bool = False


_LIVE_SANDBOXES: list = []


def _track_sandboxes() -> None:
    """In the child: remember every sandbox started, so that SIGTERM can kill their workers before exiting."""
    from ...sandbox.client import Sandbox

    if getattr(Sandbox.start, "_dlcourse_tracked", False):
        return
    original = Sandbox.start

    def start(self):
        _LIVE_SANDBOXES.append(self)
        return original(self)

    start._dlcourse_tracked = True
    Sandbox.start = start


def _on_sigterm(signum, frame):
    for sandbox in list(_LIVE_SANDBOXES):
        try:
            sandbox.kill()
        except Exception:
            pass
    os._exit(128 + signum)


def _child_environment() -> None:
    """What every child of the fork server sets up before running pytest."""
    # The grader's own tensors use one thread: N children share N cores without oversubscribing them.
    # Only the pytest plugin the checks need is loaded (no third-party plugin found by entry points).
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                      PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTEST_PLUGINS="pytest_timeout")
    try:
        import torch

        torch.set_num_threads(1)
    except Exception:
        pass
    try:  # NumPy's BLAS was loaded by the fork server with a thread per core: one is enough here
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:
        pass
    # Everything imported so far (torch, the checks' modules) lives for the whole child: move it out of the
    # garbage collector's sight, or pytest's end-of-session gc.collect() calls walk it (seconds per submission).
    gc.freeze()


def _child_main(job: _Job) -> None:
    """Grade one student and write their results.json (runs in a fresh child process)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business: it stops the children
    log = os.open(job.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
    _child_environment()
    _track_sandboxes()
    from ...grading import GradingError, grade

    checks = [CheckSpec(*c) for c in job.checks]
    meta = _meta(job, STATUS_GRADED, "")
    t0 = time.monotonic()
    try:
        try:
            if job.kind == "zip":
                folder = safe_extract(Path(job.submission), Path(job.unpack_dir))
            else:
                folder = Path(job.submission)
            module = locate_module(folder, f"{job.slug}.py")
            report = grade(job.slug, module, mode="grade", seed=job.seed, device=job.device, select=job.select,
                           limits=Limits(**job.limits), extra_hidden=[Path(p) for p in job.hidden],
                           allow_weak_isolation=job.allow_weak_isolation)
            if module.suffix == ".ipynb":
                meta["source"] = "notebook"
        except (SubmissionRejected, GradingError) as exc:
            reason = f"this submission could not be graded: {exc}"
            meta.update(status=STATUS_ERROR, message=reason)
            report = failed_report(job.slug, job.title, checks, reason, device=job.device,
                                   submission=job.submission, seed=job.seed or 0)
            report.execution_time = time.monotonic() - t0
        except Exception as exc:  # a failure of the grader on this submission: recorded, never fatal to the batch
            import traceback

            traceback.print_exc()
            reason = f"the grader failed on this submission ({type(exc).__name__}: {exc}); ask the course staff"
            meta.update(status=STATUS_CRASHED, message=reason)
            report = failed_report(job.slug, job.title, checks, reason, device=job.device,
                                   submission=job.submission, seed=job.seed or 0)
            report.execution_time = time.monotonic() - t0
        write_atomic(Path(job.results_path), results_document(report, meta))
    finally:
        shutil.rmtree(job.unpack_dir, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()


def _meta(job: _Job, status: str, message: str) -> dict:
    """The batch's own record in a student's results.json (extra_data.batch)."""
    return {"student": job.student, "status": status, "message": message, "submission_sha256": job.digest,
            "select": job.select, "token": job.token, "seed": job.seed,
            "allow_weak_isolation": job.allow_weak_isolation}


# -- the parent: scheduling, time limits, outputs --------------------------------------------------------------
_CONTEXT = None


def fork_server(slug: str):
    """A fork server with torch, the engine and the checks' imports loaded once: each child is a cheap, clean fork
    of it (a fresh interpreter per child would spend seconds importing torch for every submission).

    The fork server is one per process and starts with the first batch; later batches of another assignment
    reuse it (their check files then import their own extras in each child, which is slower but still correct).
    """
    global _CONTEXT
    if _CONTEXT is None:
        methods = multiprocessing.get_all_start_methods()
        if "forkserver" in methods:
            ctx = multiprocessing.get_context("forkserver")
            # Modules that fail to import here are skipped by multiprocessing: the child imports them itself.
            ctx.set_forkserver_preload(["numpy", "torch", "pytest", "_pytest.python", "pytest_timeout",
                                        "autograder.grading", "autograder.instructor.batch.runner",
                                        f"autograder.checks.{slug}.test_public",
                                        f"autograder.checks.{slug}.test_hidden"])
        else:
            ctx = multiprocessing.get_context("spawn")
        _CONTEXT = ctx
    return _CONTEXT


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        stat_info = _proc_stat(int(entry))
        if stat_info:
            children.setdefault(stat_info[0], []).append(int(entry))
    return children


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of a live process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _descendants(pid: int) -> list[tuple[int, int]]:
    """Every process below `pid` (the sandbox worker runs in its own session): [(pid, start time)]."""
    children = _proc_children()
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        st = _proc_stat(p)
        if st:
            out.append((p, st[1]))
        todo.extend(children.get(p, []))
    return out


def _kill_tree(proc) -> None:
    """Stop a child: SIGTERM (it kills its sandbox), then SIGKILL it and anything still alive below it."""
    below = _descendants(proc.pid)
    try:
        proc.terminate()
    except (OSError, ValueError):
        pass
    proc.join(KILL_GRACE)
    if proc.exitcode is None:
        try:
            proc.kill()
        except (OSError, ValueError):
            pass
        proc.join(5)
    for pid, started in below:
        st = _proc_stat(pid)
        if st and st[1] == started:  # still the same process (no pid reuse)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def describe_exit(code: int | None) -> str:
    """A process's exit status in words: negative codes are signals (multiprocessing), and so are codes above 128
    (a shell or launcher reporting a signal)."""
    if code is None:
        return "no exit status"
    if code < 0 or code > 128:
        sig = -code if code < 0 else code - 128
        if sig == signal.SIGKILL:
            return "killed: out of memory or a resource limit"
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit code {code}"


@contextlib.contextmanager
def _main_module_importable():
    """A child re-imports the parent's __main__ by path; a __main__ read from stdin has none: hide it then."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or getattr(main, "__spec__", None) is not None or path is None or os.path.isfile(path):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


@dataclass
class _Running:
    job: _Job
    proc: object
    started: float




def run_jobs(jobs: list[_Job], result: BatchResult, options, ctx) -> None:
    """Keep `workers` children busy; collect each as it exits, kill it at its deadline."""
    from multiprocessing.connection import wait

    from rich.markup import escape
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    workers, submission_timeout, on_result = options.workers, options.submission_timeout, options.on_result
    console, progress = options.console, options.progress
    pending = list(jobs)
    running: list[_Running] = []
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    kwargs = {"console": console} if console is not None else {}
    with Progress(*columns, disable=not progress or not jobs, transient=False, **kwargs) as bar:
        task = bar.add_task(f"grading {result.slug}", total=len(jobs))
        try:
            while pending or running:
                while pending and len(running) < workers:
                    job = pending.pop(0)
                    Path(job.results_path).parent.mkdir(parents=True, exist_ok=True)
                    proc = ctx.Process(target=_child_main, args=(job,), name=f"dlcourse-grade-{job.student}")
                    with _main_module_importable():
                        proc.start()
                    running.append(_Running(job, proc, time.monotonic()))
                now = time.monotonic()
                next_deadline = min(r.started + submission_timeout for r in running)
                wait([r.proc.sentinel for r in running], timeout=max(0.0, min(1.0, next_deadline - now)))
                for r in list(running):
                    elapsed = time.monotonic() - r.started
                    if r.proc.exitcode is None and elapsed < submission_timeout:
                        continue
                    timed_out = r.proc.exitcode is None
                    if timed_out:
                        _kill_tree(r.proc)
                    else:
                        r.proc.join()
                    running.remove(r)
                    outcome = _finish(r, timed_out, time.monotonic() - r.started, submission_timeout)
                    result.outcomes.append(outcome)
                    if on_result:
                        on_result(outcome)
                    bar.update(task, advance=1, description=f"{result.slug}: {escape(outcome.student)} "
                                                            f"{outcome.score:g}/{outcome.max_score:g}")
        except BaseException:
            for r in running:
                _kill_tree(r.proc)
            raise


def _finish(r: _Running, timed_out: bool, wall: float, submission_timeout: float) -> StudentOutcome:
    job = r.job
    path = Path(job.results_path)
    shutil.rmtree(job.unpack_dir, ignore_errors=True)
    data = read_results(path)
    batch = ((data or {}).get("extra_data") or {}).get("batch") or {}
    if data is None or batch.get("token") != job.token:
        checks = [CheckSpec(*c) for c in job.checks]
        if timed_out:
            status = STATUS_TIMEOUT
            reason = (f"grading this submission took longer than {submission_timeout:g} s and was stopped "
                      "(timed out): every check is counted as failed")
        else:
            status = STATUS_CRASHED
            reason = (f"the grading process of this submission died ({describe_exit(r.proc.exitcode)}): every "
                      "check is counted as failed")
        report = failed_report(job.slug, job.title, checks, reason, device=job.device, submission=job.submission,
                               seed=job.seed or 0)
        report.execution_time = wall
        meta = _meta(job, status, reason)
        write_atomic(path, results_document(report, meta))
        data = read_results(path)
        batch = data["extra_data"]["batch"]
    extra = data.get("extra_data") or {}
    return StudentOutcome(
        student=job.student, status=batch.get("status", STATUS_GRADED), score=float(data["score"]),
        max_score=float(data["max_score"]), results_path=path, wall_seconds=wall,
        execution_time=float(data.get("execution_time") or 0.0),
        time_in_student=float(extra.get("time_in_student") or 0.0), message=batch.get("message", ""))


# -- collecting the checks in a child ---------------------------------------------------------------------
def _collect_child(slug: str, select: list[str] | None, path: str) -> None:
    _child_environment()
    checks = expected_checks(slug, select)
    write_atomic(Path(path), json.dumps([[c.name, c.visibility, c.points] for c in checks]))


def expected_checks_in_child(ctx, slug: str, select: list[str] | None, out_dir: Path) -> list[CheckSpec]:
    """`expected_checks`, run in a child of the fork server: this process then never imports torch or runs
    pytest, and the collection is fast there (everything is already imported). Falls back to collecting here,
    which also gives the error message when the checks cannot be collected."""
    path = out_dir / ".logs" / f".checks-{secrets.token_hex(4)}.json"
    try:
        proc = ctx.Process(target=_collect_child, args=(slug, select, str(path)), name="dlcourse-collect")
        with _main_module_importable():
            proc.start()
        proc.join(600)
        if proc.exitcode is None:
            _kill_tree(proc)
        if path.is_file():
            return [CheckSpec(n, v, float(p)) for n, v, p in json.loads(path.read_text())]
    except (OSError, ValueError):
        pass
    finally:
        path.unlink(missing_ok=True)
    return expected_checks(slug, select)
