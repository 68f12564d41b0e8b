"""Grade a whole class: the typed core behind `dlcourse grade-batch`.

Layout of a class: `SUBMISSIONS/<student>/` (a folder holding `<slug>.py`, possibly one level deeper) or
`SUBMISSIONS/<student>.zip`. Outputs: `OUT/<student>/results.json` (Gradescope's format, written atomically as
each student finishes), `OUT/grades.csv` and the class report `OUT/report.html`.

Isolation between students: every submission is graded in its own child process, forked from a clean fork
server that has torch and the engine already imported (so a child starts in a fraction of a second instead of
re-importing torch). The child calls `autograder.grading.grade()`, which itself runs the student's code in a
sandbox worker with per-call time and memory limits. On top of that the batch gives each child a wall-clock cap:
past it, the child and every process below it are killed and the student's checks are all recorded as failed
("timed out"). A child that dies (a crash of the grader itself) gets the same treatment with its exit status.
So one submission can cost its own checks and nothing else: no other student's result and no batch output is
ever written by the child of another student. The sandbox is also told to hide the submissions folder and the
output folder, so a submission cannot read another student's code or grades.

Each child sets itself up for speed without changing a verdict: one BLAS/torch thread (N children share N
cores), no third-party pytest plugins but pytest-timeout, and `gc.freeze()` of what the fork server imported
(pytest's end-of-session garbage collections otherwise walk all of torch, seconds per submission).

Resuming: a student whose `results.json` is valid (same assignment, same checks, same submission bytes) is
skipped unless `regrade` is set; `students=[...]` regrades just those.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import stat
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from ..report import CheckResult, Report, write_atomic
from ..sandbox import Limits

# Caps on a zipped submission (checked while streaming the bytes, never trusting the zip's own headers).
ZIP_MAX_MEMBERS = 2000
ZIP_MAX_MEMBER_BYTES = 32 * 1024**2
ZIP_MAX_TOTAL_BYTES = 128 * 1024**2

DEFAULT_SUBMISSION_TIMEOUT = 900.0  # seconds of wall clock for one student's whole grading
KILL_GRACE = 3.0
RESERVED_NAMES = ("grades.csv", "report.html")  # seconds between asking a child to stop (SIGTERM) and killing it

STATUS_GRADED = "graded"  # grading ran; the score is the verdict on the code
STATUS_ERROR = "error"  # grading could not run (no module file, bad zip...): score 0 with the reason
STATUS_TIMEOUT = "timeout"  # the whole submission ran past the wall-clock cap
STATUS_CRASHED = "crashed"  # the grading process itself died or failed
STATUS_SKIPPED = "skipped"  # finished in an earlier run (resume): not graded again


class BatchError(Exception):
    """The batch cannot start (no such folder, unknown assignment...): raised before anything is graded."""


class SubmissionRejected(Exception):
    """A submission that cannot be graded at all (unsafe or oversized zip, module file missing...)."""


@dataclass(frozen=True)
class CheckSpec:
    """A check as the batch knows it before anything runs (from collecting the check files)."""

    name: str
    visibility: str
    points: float

    @property
    def target(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path  # a folder or a .zip file
    kind: str  # "dir" | "zip"


@dataclass
class StudentOutcome:
    student: str
    status: str  # graded | error | timeout | crashed | skipped
    score: float
    max_score: float
    results_path: Path
    wall_seconds: float = 0.0  # from starting the child to its exit (0 when skipped)
    execution_time: float = 0.0  # inside grade()
    time_in_student: float = 0.0  # spent running the student's code in the sandbox
    message: str = ""


@dataclass
class BatchResult:
    slug: str
    out_dir: Path
    checks: list[CheckSpec]
    outcomes: list[StudentOutcome] = field(default_factory=list)
    grades_csv: Path | None = None
    report_html: Path | None = None
    elapsed: float = 0.0  # the whole call
    grading_time: float = 0.0  # from the first child started to the last one finished (no setup, no outputs)

    def by_student(self) -> dict[str, StudentOutcome]:
        return {o.student: o for o in self.outcomes}

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


# -- discovering the class -------------------------------------------------------------------------------------
def discover(submissions_dir: Path, out_dir: Path | None = None) -> list[Submission]:
    """One submission per subfolder or per .zip file of `submissions_dir`, sorted by student name.

    Hidden entries (starting with '.'), macOS metadata (__MACOSX) and the output folder (when it lies inside the
    submissions folder) are left out. A folder and a zip with the same name keep the folder's name for the folder
    and the full file name for the zip, so neither overwrites the other's results.
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise BatchError(f"submissions folder not found: {submissions_dir}")
    out_resolved = Path(out_dir).resolve() if out_dir is not None else None
    found: list[Submission] = []
    for entry in sorted(submissions_dir.iterdir()):
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        if out_resolved is not None and entry.resolve() == out_resolved:
            continue
        if entry.is_dir():
            found.append(Submission(entry.name, entry, "dir"))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            found.append(Submission(entry.stem, entry, "zip"))
    names = [s.student for s in found]
    unique = []
    for s in found:
        if s.kind == "zip" and names.count(s.student) > 1:
            s = Submission(s.path.name, s.path, "zip")
        if s.student in RESERVED_NAMES:  # OUT/<student>/ must not take the place of a batch output
            s = Submission(f"{s.student}_", s.path, s.kind)
        unique.append(s)
    return sorted(unique, key=lambda s: s.student)


def safe_extract(zip_path: Path, dest: Path, *, max_members: int = ZIP_MAX_MEMBERS,
                 max_member_bytes: int = ZIP_MAX_MEMBER_BYTES, max_total_bytes: int = ZIP_MAX_TOTAL_BYTES) -> Path:
    """Unpack a student's zip into `dest`, refusing anything that could write outside it or fill the disk.

    Refused: absolute names, drive letters, '..' components, symbolic links and other special files, more than
    `max_members` entries, a member larger than `max_member_bytes`, more than `max_total_bytes` in all. Sizes are
    counted on the decompressed stream, so a zip that lies about its sizes (a zip bomb) is caught too.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionRejected(f"{zip_path.name} is not a readable zip file ({exc})") from None
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    with zf:
        members = zf.infolist()
        if len(members) > max_members:
            raise SubmissionRejected(f"{zip_path.name} has {len(members)} entries (at most {max_members} allowed)")
        for info in members:
            rel = _safe_member_name(info.filename, zip_path.name)
            kind = stat.S_IFMT((info.external_attr >> 16) & 0xFFFF)
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise SubmissionRejected(f"{zip_path.name}: {info.filename!r} is a link or a special file")
            if rel is None:  # the archive's root folder entry
                continue
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while True:
                        chunk = src.read(1 << 16)
                        if not chunk:
                            break
                        written += len(chunk)
                        total += len(chunk)
                        if written > max_member_bytes:
                            raise SubmissionRejected(f"{zip_path.name}: {info.filename!r} is larger than "
                                                     f"{max_member_bytes // 1024**2} MiB once unpacked")
                        if total > max_total_bytes:
                            raise SubmissionRejected(f"{zip_path.name} is larger than "
                                                     f"{max_total_bytes // 1024**2} MiB once unpacked")
                        out.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
                    OSError) as exc:
                raise SubmissionRejected(f"{zip_path.name}: {info.filename!r} cannot be unpacked ({exc})") from None
    return dest


def _safe_member_name(name: str, archive: str) -> PurePosixPath | None:
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or "\x00" in clean:
        raise SubmissionRejected(f"{archive}: entry {name!r} has an absolute path")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise SubmissionRejected(f"{archive}: entry {name!r} points outside the archive ('..')")
    return PurePosixPath(*parts) if parts else None


def locate_module(folder: Path, module_file: str) -> Path:
    """The submission's module: `folder/<module_file>`, or the only one found deeper (a zip with a top folder)."""
    direct = folder / module_file
    if direct.is_symlink():
        raise SubmissionRejected(f"{module_file} in the submission is a symbolic link, not a file")
    if direct.is_file():
        return direct
    found = [p for p in folder.rglob(module_file)
             if p.is_file() and not any(part.startswith(".") or part == "__MACOSX"
                                        for part in p.relative_to(folder).parts)]
    if not found:
        pys = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.py"))[:10]
        raise SubmissionRejected(f"no {module_file} in the submission (found: {', '.join(pys) or 'no .py files'})")
    depth = min(len(p.relative_to(folder).parts) for p in found)
    shallowest = [p for p in found if len(p.relative_to(folder).parts) == depth]
    if len(shallowest) > 1:
        where = ", ".join(sorted(p.relative_to(folder).as_posix() for p in shallowest))
        raise SubmissionRejected(f"several {module_file} files in the submission ({where}): keep only one")
    if shallowest[0].is_symlink():
        raise SubmissionRejected(f"{module_file} in the submission is a symbolic link, not a file")
    return shallowest[0]


def submission_digest(sub: Submission, module_file: str) -> str:
    """sha256 of what is graded: the zip's bytes, or the folder's module file (the listing when it has none)."""
    h = hashlib.sha256()
    if sub.kind == "zip":
        with open(sub.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    try:
        h.update(locate_module(sub.path, module_file).read_bytes())
    except (SubmissionRejected, OSError):
        for p in sorted(sub.path.rglob("*")):
            h.update(p.relative_to(sub.path).as_posix().encode() + b"\n")
    return h.hexdigest()


# -- the checks of the run -------------------------------------------------------------------------------------
def expected_checks(slug: str, select: list[str] | None = None) -> list[CheckSpec]:
    """The checks `grade(slug, mode="grade", select=select)` will run, in order, without running them."""
    from ..grading import GradingError, collect

    try:
        checks = [CheckSpec(n, v, float(p)) for n, v, p in collect(slug, "all")]
    except GradingError as exc:
        raise BatchError(str(exc)) from None
    if select:
        checks = [c for c in checks if any(c.name.startswith(s) for s in select)]
    return checks


def _collect_child(slug: str, select: list[str] | None, path: str) -> None:
    _child_environment()
    checks = expected_checks(slug, select)
    write_atomic(Path(path), json.dumps([[c.name, c.visibility, c.points] for c in checks]))


def _expected_checks_in_child(ctx, slug: str, select: list[str] | None, out_dir: Path) -> list[CheckSpec]:
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


def failed_report(slug: str, title: str, checks: list[CheckSpec], reason: str, *, device: str,
                  submission: str = "") -> Report:
    """A report with every check failed with `reason`: what a submission gets when its grading cannot finish."""
    results = [CheckResult(name=c.name, target=c.target, visibility=c.visibility, max_score=c.points, score=0.0,
                           passed=False, output=reason) for c in checks]
    return Report(slug=slug, title=title, submission=submission, mode="grade", seed=0, device=device,
                  isolation="not started", results=results, notes=[reason])


def _results_document(report: Report, meta: dict) -> str:
    data = report.to_gradescope()
    data["extra_data"]["batch"] = meta
    return json.dumps(data, indent=2)


def read_results(path: Path) -> dict | None:
    """A student's results.json as a dict, or None when it is missing or not a complete results file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        return None
    if not isinstance(data.get("score"), (int, float)) or not isinstance(data.get("max_score"), (int, float)):
        return None
    if not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in data["tests"]):
        return None
    return data


def is_finished(results_path: Path, slug: str, checks: list[CheckSpec], digest: str | None = None) -> bool:
    """True when `results_path` holds a complete result of this assignment, these checks and this submission."""
    data = read_results(results_path)
    if data is None:
        return False
    extra = data.get("extra_data") or {}
    batch = extra.get("batch") or {}
    if extra.get("assignment") != slug or batch.get("status") not in (STATUS_GRADED, STATUS_ERROR, STATUS_TIMEOUT,
                                                                      STATUS_CRASHED):
        return False
    if [t["name"] for t in data["tests"]] != [c.name for c in checks]:
        return False  # graded with another selection of checks: stale
    return digest is None or batch.get("submission_sha256") == digest


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


_LIVE_SANDBOXES: list = []


def _track_sandboxes() -> None:
    """In the child: remember every sandbox started, so that SIGTERM can kill their workers before exiting."""
    from ..sandbox.client import Sandbox

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
    from ..grading import GradingError, grade

    checks = [CheckSpec(*c) for c in job.checks]
    meta = {"student": job.student, "status": STATUS_GRADED, "message": "", "submission_sha256": job.digest,
            "select": job.select, "token": job.token}
    t0 = time.monotonic()
    try:
        try:
            if job.kind == "zip":
                folder = safe_extract(Path(job.submission), Path(job.unpack_dir))
            else:
                folder = Path(job.submission)
            module = locate_module(folder, f"{job.slug}.py")
            report = grade(job.slug, module, mode="grade", seed=job.seed, device=job.device, select=job.select,
                           limits=Limits(**job.limits), extra_hidden=[Path(p) for p in job.hidden])
        except (SubmissionRejected, GradingError) as exc:
            reason = f"this submission could not be graded: {exc}"
            meta.update(status=STATUS_ERROR, message=reason)
            report = failed_report(job.slug, job.title, checks, reason, device=job.device,
                                   submission=job.submission)
            report.execution_time = time.monotonic() - t0
        except Exception as exc:  # a failure of the grader on this submission: recorded, never fatal to the batch
            import traceback

            traceback.print_exc()
            reason = f"the grader failed on this submission ({type(exc).__name__}: {exc}); ask the course staff"
            meta.update(status=STATUS_CRASHED, message=reason)
            report = failed_report(job.slug, job.title, checks, reason, device=job.device,
                                   submission=job.submission)
            report.execution_time = time.monotonic() - t0
        write_atomic(Path(job.results_path), _results_document(report, meta))
    finally:
        shutil.rmtree(job.unpack_dir, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()


# -- the parent: scheduling, time limits, outputs --------------------------------------------------------------
_CONTEXT = None


def _context(slug: str):
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
                                        "autograder.grading", "autograder.instructor.batch",
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


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        sig = -code
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


def grade_batch(slug: str, submissions_dir: str | os.PathLike, out_dir: str | os.PathLike, *, workers: int = 1,
                device: str = "cpu", regrade: bool = False, students: list[str] | None = None,
                select: list[str] | None = None, seed: int | None = None, limits: Limits | None = None,
                submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT, progress: bool = True, console=None,
                write_report: bool = True, on_result: Callable[[StudentOutcome], None] | None = None) -> BatchResult:
    """Grade every submission in `submissions_dir` for assignment `slug` into `out_dir`.

    `students`: grade only these (by name), regrading them even when finished. `regrade`: regrade everyone.
    `select`: check-name prefixes (as `dlcourse grade --only`). `limits`: the sandbox limits of each submission;
    `submission_timeout`: the wall-clock cap of one student's whole grading. Raises BatchError when the batch
    cannot start; any problem with one submission ends up in that student's results.json instead.
    """
    from .. import spec as specs
    from ..grading import GradingError, check_device

    t_start = time.monotonic()
    try:
        spec = specs.load(slug)
        check_device(device)
    except (specs.UnknownAssignment, GradingError) as exc:
        raise BatchError(str(exc)) from None
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    submissions_dir = Path(submissions_dir).resolve()
    out_dir = Path(out_dir).resolve()
    subs = discover(submissions_dir, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ".logs").mkdir(exist_ok=True)
    if students:
        known = {s.student for s in subs}
        missing = [n for n in students if n not in known]
        if missing:
            raise BatchError(f"no submission named {', '.join(missing)} in {submissions_dir}")
        subs_to_consider = [s for s in subs if s.student in set(students)]
    else:
        subs_to_consider = subs
    ctx = _context(slug)
    checks = _expected_checks_in_child(ctx, slug, select, out_dir)
    if not checks:
        raise BatchError(f"no check of {slug} matches {select}")
    limits = limits or Limits()
    result = BatchResult(slug=slug, out_dir=out_dir, checks=checks)

    jobs: list[_Job] = []
    for sub in subs_to_consider:
        results_path = out_dir / sub.student / "results.json"
        digest = submission_digest(sub, spec.module_file)
        if not regrade and not students and is_finished(results_path, slug, checks, digest):
            data = read_results(results_path)
            result.outcomes.append(StudentOutcome(
                student=sub.student, status=STATUS_SKIPPED, score=float(data["score"]),
                max_score=float(data["max_score"]), results_path=results_path,
                message="finished in an earlier run"))
            continue
        jobs.append(_Job(
            slug=slug, title=spec.title, student=sub.student, submission=str(sub.path), kind=sub.kind,
            results_path=str(results_path),
            unpack_dir=str(out_dir / ".unpack" / f"{sub.student}-{secrets.token_hex(4)}"),
            log_path=str(out_dir / ".logs" / f"{sub.student}.log"), device=device,
            select=list(select) if select else None, seed=seed, limits=asdict(limits),
            # The sandbox hides the whole class and the outputs: no student can read another's code or grades.
            hidden=[str(submissions_dir), str(out_dir)],
            checks=[(c.name, c.visibility, c.points) for c in checks], digest=digest, token=secrets.token_hex(8)))

    t_grading = time.monotonic()
    _run_jobs(jobs, result, workers=workers, submission_timeout=submission_timeout, progress=progress,
              console=console, on_result=on_result, ctx=ctx)
    result.grading_time = time.monotonic() - t_grading
    shutil.rmtree(out_dir / ".unpack", ignore_errors=True)
    result.outcomes.sort(key=lambda o: o.student)
    all_students = [s.student for s in subs]
    result.grades_csv = write_grades_csv(out_dir, all_students, checks)
    if write_report:
        from .classreport import write_class_report

        result.report_html = write_class_report(out_dir, slug=slug, title=spec.title, students=all_students,
                                                checks=checks)
    result.elapsed = time.monotonic() - t_start
    return result


def _run_jobs(jobs: list[_Job], result: BatchResult, *, workers: int, submission_timeout: float, progress: bool,
              console, on_result, ctx) -> None:
    """Keep `workers` children busy; collect each as it exits, kill it at its deadline."""
    from multiprocessing.connection import wait

    from rich.markup import escape
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

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
            reason = (f"the grading process of this submission died ({_describe_exit(r.proc.exitcode)}): every "
                      "check is counted as failed")
        report = failed_report(job.slug, job.title, checks, reason, device=job.device, submission=job.submission)
        report.execution_time = wall
        meta = {"student": job.student, "status": status, "message": reason, "submission_sha256": job.digest,
                "select": job.select, "token": job.token}
        write_atomic(path, _results_document(report, meta))
        data = read_results(path)
        batch = data["extra_data"]["batch"]
    extra = data.get("extra_data") or {}
    return StudentOutcome(
        student=job.student, status=batch.get("status", STATUS_GRADED), score=float(data["score"]),
        max_score=float(data["max_score"]), results_path=path, wall_seconds=wall,
        execution_time=float(data.get("execution_time") or 0.0),
        time_in_student=float(extra.get("time_in_student") or 0.0), message=batch.get("message", ""))


# -- grades.csv ------------------------------------------------------------------------------------------------
def _csv_cell(text: str) -> str:
    """A student-derived cell that a spreadsheet would run as a formula is prefixed with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_grades_csv(out_dir: Path, students: list[str], checks: list[CheckSpec]) -> Path:
    """OUT/grades.csv: student, score, max_score, then one column per check (that check's points).

    Every student with a results.json gets a row; a check missing from a student's results counts 0.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", *[c.name for c in checks]])
    for student in students:
        data = read_results(out_dir / student / "results.json")
        if data is None:
            continue
        per_check = {t["name"]: t.get("score", 0) for t in data["tests"]}
        writer.writerow([_csv_cell(student), f"{float(data['score']):g}", f"{float(data['max_score']):g}",
                         *[f"{float(per_check.get(c.name, 0) or 0):g}" for c in checks]])
    path = out_dir / "grades.csv"
    write_atomic(path, buf.getvalue())
    return path
