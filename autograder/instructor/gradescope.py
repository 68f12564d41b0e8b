"""A Gradescope autograder for one assignment: the zip (`export_gradescope`) and what runs inside it (`main`).

The zip holds, at its top level (Gradescope unpacks it into /autograder/source):

- ``setup.sh``: run once when Gradescope builds the image; pip-installs the course from the copy in ``course/``
  (editable, so the engine finds the reference and the hidden checks next to it) and creates the unprivileged
  account ``dlcourse-student``;
- ``run_autograder``: run for every submission; grades /autograder/submission with the full grader (public and
  hidden checks) and writes /autograder/results/results.json;
- ``course/``: the engine, this assignment's checks (hidden ones included), its reference solution and skeleton,
  ``pyproject.toml`` and ``dlcourse-gradescope.json`` (which assignment, which checks, which account).

Who protects what when Gradescope runs ``run_autograder`` as root:

1. The grader (this module, pytest, the checks, the reference) runs as root. Before grading, it takes read access
   to the reference (``course/solutions``), the checks (``course/autograder/checks``) and the results folder away
   from everyone but root.
2. The submission only ever runs in the sandbox worker, and that process is started through a small launcher
   (`install_privilege_drop`) that hands the worker's private working folder to the unprivileged account, drops
   every group, then the gid, then the uid, and only then executes Python. So the student's code never runs as
   root: it cannot read the reference or the hidden checks, cannot write results.json, and cannot undo the
   sandbox's mounts, even where the sandbox has to fall back to process isolation.
3. What the submission printed is read back without following links (`Sandbox.output_tail`), so the submission
   cannot turn its output file into a link to a file only the grader may read.
4. Where Linux namespaces are allowed, the worker (now unprivileged) also enters its own user, mount, network and
   PID namespaces, as everywhere else (see autograder/sandbox/isolation.py).

Before grading, ``run`` checks that the unprivileged account can start this Python and import NumPy; when it
cannot (an interpreter installed under /root, say), no submission runs at all and results.json says why.

Environment: ``DLCOURSE_AUTOGRADER_ROOT`` replaces /autograder (the tests use it); ``DLCOURSE_PYTHON`` chooses the
interpreter; ``DLCOURSE_GRADESCOPE_ISOLATION`` (auto, namespaces, process) overrides the sandbox level;
``DLCOURSE_GRADESCOPE_RUN_AS_ROOT=1`` skips step 2 (for a local test on a machine where the unprivileged account
cannot reach Python; never set it on Gradescope: the submission would run as root, held only by the sandbox).
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
from .release.steps import (Bundle, build, copy_assignment_folders, copy_engine, copy_references,
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


# ------------------------------------------------------------------------------------------------ the zip

def export_gradescope(slug: str, out: str | Path, select: list[str] | None = None,
                      user: str = DEFAULT_USER) -> GradescopeExport:
    """Write the Gradescope autograder zip for assignment `slug` to `out` (a .zip file)."""
    from .. import spec as specs

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

    with tempfile.TemporaryDirectory(prefix="dlcourse-gradescope-") as tmp:
        stage = Path(tmp)
        build(Bundle(out=stage / "course", specs=[spec], checks="grading"), GRADESCOPE_STEPS)
        config = {"assignment": slug, "select": list(select) if select else None, "user": user,
                  "isolation": "auto", "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (stage / "course" / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        write_scripts(stage, slug, user)
        out.parent.mkdir(parents=True, exist_ok=True)
        files = _write_zip(stage, out)
    return GradescopeExport(zip_path=out.resolve(), slug=slug, files=files)


def ensure_install_files(b: Bundle) -> None:
    """setup.sh pip-installs the course copy: it needs a README and a constraints file, even empty."""
    if not (b.out / "README.md").is_file():
        (b.out / "README.md").write_text(f"Gradescope autograder for {b.specs[0].slug}: {b.specs[0].title}\n")
    if not (b.out / "constraints.txt").is_file():
        (b.out / "constraints.txt").write_text("")


GRADESCOPE_STEPS = [copy_engine, copy_references, copy_assignment_folders, copy_top_level_files,
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
    """The student's module: at the top of the submission, else the shallowest file with that name."""
    direct = submission_dir / module_file
    if direct.is_file():
        return direct, []
    found = sorted((p for p in submission_dir.rglob(module_file)
                    if p.is_file() and "__MACOSX" not in p.parts and not p.name.startswith("._")),
                   key=lambda p: (len(p.parts), str(p)))
    seen = sorted(str(p.relative_to(submission_dir)) for p in submission_dir.rglob("*") if p.is_file())
    return (found[0] if found else None), seen


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
    launcher.write_text(_LAUNCHER.format(python=os.path.realpath(sys.executable), uid=uid, gid=gid))
    launcher.chmod(0o755)
    sys.executable = str(launcher)
    return launcher


def preflight(uid: int, gid: int) -> str:
    """'' when the unprivileged account can run this interpreter and import NumPy, else what went wrong."""
    import subprocess

    try:
        proc = subprocess.run([os.path.realpath(sys.executable), "-I", "-c", "import numpy"], user=uid, group=gid,
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


def run(root: Path | None = None) -> int:
    """Grade /autograder/submission; write /autograder/results/results.json. Returns the exit code."""
    from ..grading import GradingError, grade
    from ..report import write_atomic

    root = root or autograder_root()
    results = root / "results" / "results.json"
    t0 = time.monotonic()
    config = json.loads((REPO_ROOT / CONFIG_NAME).read_text())
    slug = config["assignment"]
    isolation = os.environ.get("DLCOURSE_GRADESCOPE_ISOLATION", config.get("isolation", "auto"))
    module_file = f"{slug}.py"
    extra = {"assignment": slug, "engine": str(PACKAGE)}
    launcher_dir = None

    def fail(message: str, code: int) -> int:
        write_atomic(results, json.dumps({
            "score": 0.0, "execution_time": round(time.monotonic() - t0, 3), "output": message,
            "visibility": "visible", "tests": [], "extra_data": extra}, indent=2))
        return code

    try:
        submission, seen = find_submission(root / "submission", module_file)
        if submission is None:
            listing = ", ".join(seen[:20]) or "no files"
            return fail(f"No {module_file} was found in your submission (it holds: {listing}). Upload your "
                        f"{module_file}, with that exact name.", 0)
        if os.geteuid() == 0 and os.environ.get("DLCOURSE_GRADESCOPE_RUN_AS_ROOT") == "1":
            extra["sandbox_user"] = {"name": "root", "uid": 0, "gid": 0}
        elif os.geteuid() == 0:
            name, uid, gid = sandbox_account(config.get("user", DEFAULT_USER))
            problem = preflight(uid, gid)
            if problem:
                return fail(f"The autograder is not set up right (not your code's fault): the unprivileged account "
                            f"{name} that runs submissions cannot start {os.path.realpath(sys.executable)}: "
                            f"{problem}. Install the course where every user can read it (setup.sh does).", 1)
            protect_secrets(root)
            launcher_dir = Path(tempfile.mkdtemp(prefix="dlcourse-launcher-"))
            launcher_dir.chmod(0o755)
            install_privilege_drop(uid, gid, launcher_dir)
            extra["sandbox_user"] = {"name": name, "uid": uid, "gid": gid}
        else:
            extra["sandbox_user"] = {"name": pwd.getpwuid(os.geteuid()).pw_name, "uid": os.geteuid(),
                                     "gid": os.getegid()}
        report = grade(slug, submission, mode="grade", seed=secrets.randbelow(2**31), device="cpu",
                       select=config.get("select"), isolation=isolation)
    except GradingError as exc:
        return fail(f"The autograder could not grade this submission: {exc}", 1)
    except Exception:  # a bug of the grader: say so, keep the traceback for the staff
        extra["traceback"] = traceback.format_exc()[-4000:]
        return fail("The autograder itself failed (not your code's fault): please tell the course staff.", 1)
    finally:
        if launcher_dir is not None:
            shutil.rmtree(launcher_dir, ignore_errors=True)
    data = report.to_gradescope()
    data["execution_time"] = round(time.monotonic() - t0, 3)
    data["extra_data"].update(extra)
    if "sandbox_user" in extra:
        u = extra["sandbox_user"]
        data["output"] += f"\nyour code ran as user {u['name']} (uid {u['uid']})"
    write_atomic(results, json.dumps(data, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a Gradescope submission (called by run_autograder).")
    parser.add_argument("--root", type=Path, default=None, help="default: $DLCOURSE_AUTOGRADER_ROOT or /autograder")
    args = parser.parse_args(argv)
    return run(args.root)


if __name__ == "__main__":
    sys.exit(main())
