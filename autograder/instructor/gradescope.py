"""A Gradescope autograder for one assignment: the zip (`export_gradescope`) and what runs inside it (`main`).

The zip holds, at its top level (Gradescope unpacks it into /autograder/source):

- ``setup.sh``: run once when Gradescope builds the image; creates a virtual environment of its own
  (``/autograder/dlcourse-venv``: PEP 668 base images such as Debian 12 and Ubuntu 24.04 refuse installs into the
  system Python), installs the course into it from the copy in ``course/`` (editable, so the engine finds the
  reference and the hidden checks next to it), and creates the unprivileged account ``dlcourse-student``;
- ``run_autograder``: run for every submission, with that environment's Python; grades /autograder/submission
  (``<slug>.py``, or the notebook ``<slug>.ipynb``) with the full grader (public and hidden checks), writes
  /autograder/results/results.json, and keeps the run's log in /autograder/results/stdout;
- ``course/``: the engine, this assignment's checks (hidden ones included), its reference solution and skeleton,
  ``pyproject.toml`` and ``dlcourse-gradescope.json`` (which assignment, which checks, the seed, the isolation).

Fair grading: the export draws one seed (or takes ``--seed``) and every submission, and every regrade, is graded
with it: identical code gets the identical grade.

Who protects what when Gradescope runs ``run_autograder`` as root (the default isolation, ``namespaces``):

1. The grader (this module, pytest, the checks, the reference) runs as root. Before grading, it takes read access
   to the reference (``course/solutions``), the checks (``course/autograder/checks``) and the results folder away
   from everyone but root.
2. The submission only ever runs in the sandbox worker, which enters new mount, PID, network, IPC, UTS and cgroup
   namespaces as root, builds a file system holding only the interpreter and its libraries (no /autograder: no
   reference, no checks, no results), and then drops to an unprivileged uid of its own with no capabilities
   (setresuid; autograder/sandbox/isolation.py) before the submission is imported. No launcher is needed: dropping
   root *before* the sandbox starts would force the sandbox onto unprivileged user namespaces, which Ubuntu 24.04
   (AppArmor) and many container runtimes refuse, and grading would stop there.
3. What the submission printed is read back without following links (`Sandbox.output_tail`), so the submission
   cannot turn its output file into a link to a file only the grader may read.

Where the namespaces cannot start, nothing is graded (results.json says why), unless the instructor chose weak
isolation explicitly: ``dlcourse export gradescope --allow-weak-isolation`` (config ``"isolation": "auto"``: the
namespaces first, the process level if they fail) or ``DLCOURSE_GRADESCOPE_ISOLATION=process``. At the process
level the worker is started through a small launcher (`install_privilege_drop`) that drops every group, the gid and
the uid to the unprivileged account before executing Python, so the code still never runs as root; every report
says the level it was graded at. Before that, ``preflight`` checks that the account can start this Python (the
virtual environment's own, never the base interpreter it links to) and import NumPy.

Environment: ``DLCOURSE_AUTOGRADER_ROOT`` replaces /autograder (the tests use it); ``DLCOURSE_PYTHON`` chooses the
interpreter (default: the environment setup.sh made); ``DLCOURSE_GRADESCOPE_ISOLATION`` (namespaces, auto, process)
overrides the configured level; ``DLCOURSE_GRADESCOPE_RUN_AS_ROOT=1`` skips the launcher at the process level (for a
local test only; never on Gradescope).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import stat
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..paths import CHECKS, PACKAGE, REPO_ROOT, SOLUTIONS
from .release.steps import (Bundle, build, copy_assignment_folders, copy_course_library, copy_engine,
                            copy_references,
                            copy_top_level_files)

CONFIG_NAME = "dlcourse-gradescope.json"
DEFAULT_USER = "dlcourse-student"
FALLBACK_USERS = ("nobody",)
TEMPLATES = Path(__file__).with_name("templates")


class ExportError(Exception):
    pass


@dataclass
class GradescopeExport:
    zip_path: Path
    slug: str
    files: list[str]
    seed: int = 0


# ------------------------------------------------------------------------------------------------ the zip

ISOLATIONS = ("namespaces", "auto", "process")


def export_gradescope(slug: str, out: str | Path, select: list[str] | None = None, user: str = DEFAULT_USER, *,
                      seed: int | None = None, allow_weak_isolation: bool = False,
                      force: bool = False) -> GradescopeExport:
    """Write the Gradescope autograder zip for assignment `slug` to `out` (a .zip file).

    `seed`: the one seed every submission is graded with (drawn now when None). `allow_weak_isolation`: where the
    namespace sandbox cannot start on Gradescope, grade at the process level (the report says so) instead of
    refusing. An existing `out` is refused unless `force` (then it is kept as `<name>.old-<time>`)."""
    from .. import spec as specs
    from ..grading import GradingError, collect_infos, no_match_message
    from .outputs import OutputError, claim, writable_file

    try:
        spec = specs.load(slug)
    except specs.UnknownAssignment as exc:
        raise ExportError(str(exc)) from None
    out = Path(out)
    if out.suffix != ".zip":
        raise ExportError(f"--out {out} must name a .zip file")
    if not spec.reference.is_file():
        raise ExportError(f"the reference {spec.reference} is missing: a Gradescope autograder needs it")
    if not spec.hidden_checks.is_file():
        raise ExportError(f"{spec.hidden_checks} is missing: this copy of the course cannot grade {slug}")
    if select:
        try:
            chosen = collect_infos(slug, "all", list(select))
        except GradingError as exc:
            raise ExportError(str(exc).splitlines()[0]) from None
        if not chosen:
            raise ExportError(no_match_message(spec, list(select), "grade"))
    try:
        writable_file(out)
        claim([out], force, what="export gradescope")
    except OutputError as exc:
        raise ExportError(str(exc)) from None
    seed = secrets.randbelow(2**31) if seed is None else int(seed)

    with tempfile.TemporaryDirectory(prefix="dlcourse-gradescope-") as tmp:
        stage = Path(tmp)
        build(Bundle(out=stage / "course", specs=[spec], checks="grading"), GRADESCOPE_STEPS)
        config = {"assignment": slug, "select": list(select) if select else None, "user": user, "seed": seed,
                  "isolation": "auto" if allow_weak_isolation else "namespaces",
                  "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (stage / "course" / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        write_scripts(stage, slug, user)
        try:
            files = _write_zip(stage, out)
        except OSError as exc:
            raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from None
    return GradescopeExport(zip_path=out.resolve(), slug=slug, files=files, seed=seed)


def ensure_install_files(b: Bundle) -> None:
    """setup.sh pip-installs the course copy: it needs a README and a constraints file, even empty."""
    if not (b.out / "README.md").is_file():
        (b.out / "README.md").write_text(f"Gradescope autograder for {b.specs[0].slug}: {b.specs[0].title}\n")
    if not (b.out / "constraints.txt").is_file():
        (b.out / "constraints.txt").write_text("")


GRADESCOPE_STEPS = [copy_engine, copy_course_library, copy_references, copy_assignment_folders, copy_top_level_files,
                    ensure_install_files]


def write_scripts(stage: Path, slug: str, user: str) -> None:
    """setup.sh and run_autograder at the top of the zip, from the templates."""
    for name in ("setup.sh", "run_autograder"):
        template = TEMPLATES / f"gradescope_{name}{'' if name.endswith('.sh') else '.sh'}"
        text = template.read_text().replace("@ASSIGNMENT@", slug)
        (stage / name).write_text(text.replace("@USER@", user))
        (stage / name).chmod(0o755)


def _write_zip(stage: Path, out: Path) -> list[str]:
    names = []
    tmp = out.with_name(f".{out.name}.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stage.rglob("*")):
            if path.is_dir():
                continue
            arc = str(path.relative_to(stage))
            info = zipfile.ZipInfo(arc, date_time=time.gmtime(path.stat().st_mtime)[:6])
            info.external_attr = (stat.S_IFREG | (0o755 if os.access(path, os.X_OK) else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
            names.append(arc)
    os.replace(tmp, out)
    return names


# ------------------------------------------------------------------------------------------------ inside Gradescope

def autograder_root() -> Path:
    return Path(os.environ.get("DLCOURSE_AUTOGRADER_ROOT", "/autograder"))


def find_submission(submission_dir: Path, module_file: str) -> tuple[Path | None, list[str]]:
    """The student's module: at the top of the submission, else the shallowest file with that name; where there is
    none, the notebook `<slug>.ipynb` found the same way (graded like the module). Links are never followed."""
    seen = sorted(str(p.relative_to(submission_dir)) for p in submission_dir.rglob("*") if p.is_file())
    names = [module_file] + ([module_file[:-3] + ".ipynb"] if module_file.endswith(".py") else [])
    for name in names:
        direct = submission_dir / name
        if direct.is_file() and not direct.is_symlink():
            return direct, []
        found = sorted((p for p in submission_dir.rglob(name)
                        if p.is_file() and not p.is_symlink() and "__MACOSX" not in p.parts
                        and not p.name.startswith("._")),
                       key=lambda p: (len(p.parts), str(p)))
        if found:
            return found[0], []
    return None, seen


def sandbox_account(name: str) -> tuple[str, int, int]:
    """(name, uid, gid) of the unprivileged account the student's code runs as (never root)."""
    for candidate in (name, *FALLBACK_USERS):
        try:
            entry = pwd.getpwnam(candidate)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry.pw_name, entry.pw_uid, entry.pw_gid
    return "uid 65534", 65534, 65534


_LAUNCHER = '''#!{python} -I
# Written by autograder/instructor/gradescope.py: starts the sandbox worker without root privileges.
import os, stat, sys
workdir = os.getcwd()
st = os.lstat(workdir)
if not (os.path.basename(workdir).startswith("dlcourse-sbx-") and stat.S_ISDIR(st.st_mode) and st.st_uid == 0):
    sys.stderr.write("refusing to start the sandbox outside its private working folder: " + workdir + "\\n")
    os._exit(70)
for name in os.listdir(workdir) + ["."]:
    os.lchown(os.path.join(workdir, name), {uid}, {gid})
os.setgroups([])
os.setgid({gid})
os.setuid({uid})
if os.getuid() == 0 or os.geteuid() == 0:
    os._exit(71)
os.execv({python!r}, [{python!r}] + sys.argv[1:])
'''


def install_privilege_drop(uid: int, gid: int, where: Path) -> Path:
    """Make the sandbox start its worker through a launcher that drops root first; returns the launcher.

    The engine starts the worker as ``[sys.executable, ...]`` (autograder/sandbox/client.py), so pointing
    `sys.executable` of this grading process at the launcher is enough; nothing else here uses it.
    """
    launcher = where / "python-as-student"
    launcher.write_text(_LAUNCHER.format(python=interpreter(), uid=uid, gid=gid))
    launcher.chmod(0o755)
    sys.executable = str(launcher)
    return launcher


def interpreter() -> str:
    """This grader's Python as a path that keeps its environment: a virtual environment's bin/python links to the
    base interpreter, and resolving that link would lose the environment's site-packages (and NumPy with it)."""
    return os.path.abspath(sys.executable)


def preflight(uid: int, gid: int) -> str:
    """'' when the unprivileged account can run this interpreter and import NumPy, else what went wrong."""
    import subprocess

    try:
        proc = subprocess.run([interpreter(), "-I", "-c", "import numpy"], user=uid, group=gid,
                              extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return ""


def protect_secrets(root: Path) -> list[str]:
    """Only root may read the reference, the checks, the results and the submission's metadata (run as root,
    before grading)."""
    done = []
    for path in (SOLUTIONS, CHECKS, root / "results", root / "submission_metadata.json"):
        if path.exists():
            path.chmod(0o700 if path.is_dir() else 0o600)
            done.append(str(path))
    return done


def log(message: str) -> None:
    """One line of the run's log (run_autograder keeps it in results/stdout)."""
    print(f"dlcourse: {message}", flush=True)


def run(root: Path | None = None) -> int:
    """Grade /autograder/submission; write /autograder/results/results.json. Returns the exit code."""
    from ..grading import GradingError, grade
    from ..report import write_atomic

    root = root or autograder_root()
    results = root / "results" / "results.json"
    t0 = time.monotonic()
    config = json.loads((REPO_ROOT / CONFIG_NAME).read_text())
    slug = config["assignment"]
    isolation = os.environ.get("DLCOURSE_GRADESCOPE_ISOLATION") or config.get("isolation", "namespaces")
    seed = config.get("seed")
    seed = int(seed) if seed is not None else secrets.randbelow(2**31)
    module_file = f"{slug}.py"
    extra = {"assignment": slug, "engine": str(PACKAGE), "seed": seed}
    launcher_dir = None

    def fail(message: str, code: int) -> int:
        log(message)
        write_atomic(results, json.dumps({
            "score": 0.0, "execution_time": round(time.monotonic() - t0, 3), "output": message,
            "visibility": "visible", "tests": [], "extra_data": extra}, indent=2))
        return code

    def weak(root_user: bool) -> dict:
        """The process level, chosen explicitly: the launcher drops root before the worker starts."""
        nonlocal launcher_dir
        if root_user and os.environ.get("DLCOURSE_GRADESCOPE_RUN_AS_ROOT") == "1":
            extra["sandbox_user"] = {"name": "root", "uid": 0, "gid": 0}
            return {}
        if root_user:
            name, uid, gid = sandbox_account(config.get("user", DEFAULT_USER))
            problem = preflight(uid, gid)
            if problem:
                raise _SetupProblem(f"The autograder is not set up right (not your code's fault): the unprivileged "
                                    f"account {name} that runs submissions cannot start {interpreter()}: {problem}. "
                                    "Install the course where every user can read it (setup.sh does).")
            launcher_dir = Path(tempfile.mkdtemp(prefix="dlcourse-launcher-"))
            launcher_dir.chmod(0o755)
            install_privilege_drop(uid, gid, launcher_dir)
            extra["sandbox_user"] = {"name": name, "uid": uid, "gid": gid}
        else:
            extra["sandbox_user"] = {"name": pwd.getpwuid(os.geteuid()).pw_name, "uid": os.geteuid(),
                                     "gid": os.getegid()}
        return {}

    try:
        if isolation not in ISOLATIONS:
            return fail(f"The autograder is not set up right: unknown isolation {isolation!r} (use "
                        f"{', '.join(ISOLATIONS)}).", 1)
        submission, seen = find_submission(root / "submission", module_file)
        if submission is None:
            listing = ", ".join(seen[:20]) or "no files"
            return fail(f"No {module_file} (or {slug}.ipynb) was found in your submission (it holds: {listing}). "
                        f"Upload your {module_file}, with that exact name.", 0)
        root_user = os.geteuid() == 0
        if root_user:
            protect_secrets(root)
        log(f"grading {submission.relative_to(root)} for {slug} (seed {seed}, isolation {isolation}, "
            f"python {interpreter()})")
        common = dict(mode="grade", seed=seed, device="cpu", select=config.get("select"))
        report = None
        if isolation in ("namespaces", "auto"):
            try:
                report = grade(slug, submission, isolation="namespaces", **common)
                extra["sandbox_user"] = {"name": "the sandbox's own unprivileged uid", "uid": None, "gid": None}
            except GradingError as exc:
                if isolation == "namespaces" or "sandbox could not start" not in str(exc):
                    raise
                log(f"the namespace sandbox could not start ({str(exc).splitlines()[0]}); grading at the "
                    "process level, as this autograder was exported with --allow-weak-isolation")
        if report is None:
            weak(root_user)
            report = grade(slug, submission, isolation="process", allow_weak_isolation=True, **common)
    except _SetupProblem as exc:
        return fail(str(exc), 1)
    except GradingError as exc:
        return fail(f"The autograder could not grade this submission (not your code's fault): {exc}", 1)
    except Exception:  # a bug of the grader: say so, keep the traceback for the staff
        extra["traceback"] = traceback.format_exc()[-4000:]
        log(extra["traceback"])
        return fail("The autograder itself failed (not your code's fault): please tell the course staff.", 1)
    finally:
        if launcher_dir is not None:
            shutil.rmtree(launcher_dir, ignore_errors=True)
    data = report.to_gradescope()
    data["execution_time"] = round(time.monotonic() - t0, 3)
    data["extra_data"].update(extra)
    u = extra.get("sandbox_user") or {}
    if u.get("uid") is not None:
        data["output"] += f"\nyour code ran as user {u['name']} (uid {u['uid']})"
    else:
        data["output"] += "\nyour code ran as an unprivileged user in the sandbox, with no access to the grader's files"
    write_atomic(results, json.dumps(data, indent=2))
    log(f"{report.summary_line()}")
    return 0


class _SetupProblem(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a Gradescope submission (called by run_autograder).")
    parser.add_argument("--root", type=Path, default=None, help="default: $DLCOURSE_AUTOGRADER_ROOT or /autograder")
    args = parser.parse_args(argv)
    return run(args.root)


if __name__ == "__main__":
    sys.exit(main())
