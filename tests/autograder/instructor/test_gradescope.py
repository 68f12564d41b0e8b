"""`dlcourse export gradescope`: the zip unpacked into a folder laid out like /autograder, and its run_autograder
run on real submissions, writes Gradescope's results.json; run as root, the student's code runs unprivileged."""

from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder import spec as specs
from autograder.cli import main
from autograder.grading import collect_infos
from autograder.instructor.gradescope import preflight, sandbox_account

pytestmark = pytest.mark.timeout(600)
SLUG = "backprop"


def _unpack(zip_path: Path, root: Path) -> None:
    """Unpack like Gradescope: into root/source, keeping the executable bits."""
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = root / "source" / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            target.chmod((info.external_attr >> 16) & 0o777 or 0o644)


@pytest.fixture
def ag_root():
    """A folder laid out like /autograder, reachable by an unprivileged account (pytest's tmp is not)."""
    root = Path(tempfile.mkdtemp(prefix="dlcourse-ag-test-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _export(tmp_path, *options) -> Path:
    out = tmp_path / f"{SLUG}-gradescope.zip"
    result = CliRunner().invoke(main, ["export", "gradescope", SLUG, "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return out


def _blocking_dir() -> tuple[Path, Path] | None:
    """(D, child): the first folder above this Python that others cannot enter, and the next one down."""
    prefix = Path(os.path.realpath(sys.base_prefix))
    parts = [Path("/")] + list(reversed(prefix.parents))[1:] + [prefix]
    for parent, child in zip(parts, parts[1:]):
        if not parent.stat().st_mode & stat.S_IXOTH:
            return parent, child
    return None


@functools.lru_cache(maxsize=None)
def _drop_mode() -> str:
    """How run_autograder can run here: 'user' (not root), 'drop' (root, the account reaches Python),
    'unshare' (root; a private mount namespace opens the way to Python), or 'as-root'."""
    if os.geteuid() != 0:
        return "user"
    _, uid, gid = sandbox_account("dlcourse-student")
    if not preflight(uid, gid):
        return "drop"
    blocking = _blocking_dir()
    if blocking and shutil.which("unshare") and subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True).returncode == 0:
        return "unshare"
    return "as-root"


def run_autograder(root: Path, **env_extra) -> tuple[dict, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "DLCOURSE"))}
    env.update(DLCOURSE_AUTOGRADER_ROOT=str(root), DLCOURSE_PYTHON=sys.executable, **env_extra)
    script = ["bash", str(root / "source" / "run_autograder")]
    mode = _drop_mode()
    if mode == "as-root":
        env["DLCOURSE_GRADESCOPE_RUN_AS_ROOT"] = "1"
    elif mode == "unshare":
        # Only inside this private mount namespace: the folder that hides Python (e.g. /root) becomes a tmpfs
        # that everyone may enter, with Python's own folder moved back into it.
        blocking, child = _blocking_dir()
        stage = Path(tempfile.mkdtemp(dir=root))
        inner = (f"mount --bind '{child}' '{stage}' && mount -t tmpfs -o mode=755 tmpfs '{blocking}' && "
                 f"mkdir -p '{child}' && mount --move '{stage}' '{child}' && exec bash '{script[1]}'")
        script = ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner]
    proc = subprocess.run(script, env=env, capture_output=True, text=True, timeout=540, cwd="/")
    results = root / "results" / "results.json"
    assert results.is_file(), f"no results.json (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return json.loads(results.read_text()), proc


def check_schema(data: dict) -> None:
    assert isinstance(data["score"], float | int) and isinstance(data["execution_time"], float | int)
    assert data["tests"], "no tests in results.json"
    for t in data["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}, t.keys()
        assert t["status"] in ("passed", "failed")
        assert t["visibility"] in ("visible", "after_due_date")
        assert 0 <= t["score"] <= t["max_score"]
    assert abs(data["score"] - sum(t["score"] for t in data["tests"])) < 1e-9


def test_the_zip_holds_the_scripts_the_reference_and_the_hidden_checks(tmp_path):
    zpath = _export(tmp_path)
    with zipfile.ZipFile(zpath) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        config = json.loads(zf.read("course/dlcourse-gradescope.json"))
    for name in ("setup.sh", "run_autograder"):
        assert (infos[name].external_attr >> 16) & 0o111, f"{name} is not executable"
    assert "course/solutions/backprop/backprop.py" in infos
    assert "course/autograder/checks/backprop/test_hidden.py" in infos
    assert "course/autograder/sandbox/worker.py" in infos and "course/pyproject.toml" in infos
    others = [n for n in infos if n.startswith("course/solutions/") and not n.startswith("course/solutions/backprop/")]
    assert others == [] and not any(n.endswith("bugs.py") for n in infos)
    assert config["assignment"] == SLUG and config["select"] is None
    assert config["isolation"] == "namespaces" and isinstance(config["seed"], int)  # one seed for every submission
    _unpack(zpath, tmp_path / "ag")
    for name in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(tmp_path / "ag" / "source" / name)]).returncode == 0
    setup = (tmp_path / "ag" / "source" / "setup.sh").read_text()
    assert "pip install" in setup and '-e "$SOURCE/course"' in setup
    # PEP 668: pip never runs on the base Python, only in the autograder's own virtual environment.
    assert '"$BASE" -m venv "$VENV"' in setup and '"$VENV/bin/python" -m pip install' in setup
    assert '"$BASE" -m pip' not in setup and "--break-system-packages" not in setup
    run = (tmp_path / "ag" / "source" / "run_autograder").read_text()
    assert 'PYTHON="${DLCOURSE_PYTHON:-$VENV/bin/python}"' in run and 'results/stdout' in run
    # Nothing overwritten: the same --out again is refused; --force keeps the old zip aside.
    again = CliRunner().invoke(main, ["export", "gradescope", SLUG, "--out", str(zpath)])
    assert again.exit_code == 2 and "--force" in again.output
    forced = CliRunner().invoke(main, ["export", "gradescope", SLUG, "--out", str(zpath), "--force"])
    assert forced.exit_code == 0 and len(list(tmp_path.glob(f"{zpath.name}.old-*"))) == 1


def test_reference_gets_full_marks_through_run_autograder(tmp_path, ag_root):
    _unpack(_export(tmp_path), ag_root)
    shutil.copy(specs.load(SLUG).reference, ag_root / "submission" / "backprop.py")
    data, proc = run_autograder(ag_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_schema(data)
    assert data["score"] == data["max_score"] > 0
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_due_date"}  # hidden ones after the deadline
    assert len(data["tests"]) > 20
    extra = data["extra_data"]
    assert Path(extra["engine"]).resolve() == (ag_root / "source" / "course" / "autograder").resolve()
    # The strong level, with the seed of the export; the run's log is in results/stdout.
    config = json.loads((ag_root / "source" / "course" / "dlcourse-gradescope.json").read_text())
    assert extra["isolation"] == "namespaces" and extra["seed"] == config["seed"]
    log = (ag_root / "results" / "stdout").read_text()
    assert "dlcourse: grading" in log and f"seed {config['seed']}" in log and "points" in log


def test_skeleton_scores_zero_in_a_nested_upload(tmp_path, ag_root):
    _unpack(_export(tmp_path, "--only", "linear_", "--only", "MLP: params"), ag_root)
    nested = ag_root / "submission" / "my-work"
    nested.mkdir()
    shutil.copy(specs.load(SLUG).skeleton, nested / "backprop.py")
    data, proc = run_autograder(ag_root)
    assert proc.returncode == 0
    check_schema(data)
    graded = collect_infos(SLUG, select=["linear_", "MLP: params"])  # with their targets' core checks
    assert data["score"] == 0 and len(data["tests"]) == len(graded)
    assert all(t["status"] == "failed" and "not implemented yet" in t["output"] for t in data["tests"])


def test_a_missing_file_is_explained_to_the_student(tmp_path, ag_root):
    _unpack(_export(tmp_path, "--only", "linear_forward"), ag_root)
    (ag_root / "submission" / "backprop_final.py").write_text("x = 1\n")
    data, proc = run_autograder(ag_root)
    assert proc.returncode == 0
    assert data["score"] == 0 and data["tests"] == []
    assert "No backprop.py (or backprop.ipynb) was found" in data["output"] and "backprop_final.py" in data["output"]


SPY = '''
import os
notes = ["uid=%d" % os.getuid()]
for p in {secrets!r}:
    try:
        open(p).read()
        notes.append("read " + p)
    except OSError:
        pass
try:
    open({results!r}, "w").write('{{"score": 1000}}')
    notes.append("wrote results.json")
except OSError:
    pass
open({spy!r}, "w").write("\\n".join(notes))
'''

# The same spy for the namespace level, where nothing of /autograder exists inside the sandbox (not even a folder
# to write notes to): what it manages turns relu_forward wrong. Root counts as a success of the spy.
SPY_NS = '''
import os as _os
_SEEN = [1] if _os.getuid() == 0 or _os.geteuid() == 0 else []
for _p in {paths}:
    try:
        if open(_p).read():
            _SEEN.append(_p)
    except OSError:
        pass
try:
    open({results!r}, "w").write('{{"score": 1000}}')
    _SEEN.append("results")
except OSError:
    pass
'''


def _spied(spy: str, reference: str) -> str:
    """The reference with `spy` run first thing at import (after its `from __future__` line) and relu_forward
    off by the number of things the spy achieved."""
    future = "from __future__ import annotations\n"
    source = reference.replace(future, future + spy, 1) if future in reference else spy + reference
    return source.replace("return np.maximum(x, 0.0), x", "return np.maximum(x, 0.0) + len(_SEEN), x")


@pytest.mark.skipif(os.geteuid() != 0, reason="run_autograder runs as root on Gradescope")
def test_as_root_the_submission_runs_unprivileged_in_the_namespace_sandbox(tmp_path, ag_root):
    """The default level: no launcher, the sandbox itself drops root after building its file system. The spy
    (reading the reference, the hidden checks, writing results.json, or being root) keeps its points only when it
    achieved nothing; the control reads its own module, which the sandbox shows, and so loses them."""
    _unpack(_export(tmp_path, "--only", "relu_forward"), ag_root)
    course = ag_root / "source" / "course"
    secrets = [str(course / "solutions" / SLUG / "backprop.py"),
               str(course / "autograder" / "checks" / SLUG / "test_hidden.py")]
    reference = specs.load(SLUG).reference.read_text()
    results = str(ag_root / "results" / "results.json")
    scores = {}
    for name, paths in (("spy", repr(tuple(secrets))), ("control", "(__file__,)")):
        (ag_root / "submission" / "backprop.py").write_text(
            _spied(SPY_NS.format(paths=paths, results=results), reference))
        data, proc = run_autograder(ag_root)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert data["extra_data"]["isolation"] == "namespaces", data["output"]
        scores[name] = data["score"]
    assert scores["control"] == 0, "the probe could not read its own module: the test proves nothing"
    assert scores["spy"] == 2, "the submission read a secret, wrote the results or ran as root"


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop happens only when run_autograder runs as root")
def test_as_root_at_the_process_level_chosen_explicitly_the_submission_runs_unprivileged(tmp_path, ag_root):
    """DLCOURSE_GRADESCOPE_ISOLATION=process: the explicit, documented weak choice; the launcher drops root."""
    if _drop_mode() not in ("drop", "unshare"):
        pytest.skip("no unprivileged account can reach this Python here")
    _unpack(_export(tmp_path, "--only", "relu_forward"), ag_root)
    spy_dir = ag_root / "spy"
    spy_dir.mkdir()
    spy_dir.chmod(0o1777)
    course = ag_root / "source" / "course"
    secrets = [str(course / "solutions" / SLUG / "backprop.py"),
               str(course / "autograder" / "checks" / SLUG / "test_hidden.py")]
    spy = SPY.format(secrets=secrets, results=str(ag_root / "results" / "results.json"), spy=str(spy_dir / "notes"))
    (ag_root / "submission" / "backprop.py").write_text(specs.load(SLUG).reference.read_text() + spy)
    # process isolation: only the dropped privileges stand between the submission and the grader's files
    data, proc = run_autograder(ag_root, DLCOURSE_GRADESCOPE_ISOLATION="process")
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes = (spy_dir / "notes").read_text().splitlines()
    uid = data["extra_data"]["sandbox_user"]["uid"]
    assert uid != 0 and notes == [f"uid={uid}"], notes  # it read no secret and could not write the results
    assert data["extra_data"]["isolation"] == "process"
    assert data["score"] == data["max_score"] == 2  # and the grader's own results.json stands
    assert pwd.getpwuid(uid).pw_name == data["extra_data"]["sandbox_user"]["name"]


EXFILTRATE = """

def sigmoid_forward(x):  # replaces the reference's: swaps its output file for a link to the reference, then fails
    import os
    try:
        os.remove(".output")
    except OSError:
        pass
    os.symlink({target!r}, ".output")
    raise RuntimeError("boom")
"""


def test_the_output_file_cannot_be_turned_into_a_window_on_the_reference(tmp_path, ag_root):
    _unpack(_export(tmp_path, "--only", "sigmoid_forward: matches the logistic"), ag_root)
    reference = ag_root / "source" / "course" / "solutions" / SLUG / "backprop.py"
    evil = specs.load(SLUG).reference.read_text() + EXFILTRATE.format(target=str(reference))
    (ag_root / "submission" / "backprop.py").write_text(evil)
    data, proc = run_autograder(ag_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    test = next(t for t in data["tests"] if t["name"].startswith("sigmoid_forward: matches the logistic"))
    assert test["status"] == "failed" and "boom" in test["output"]
    text = json.dumps(data)
    assert "BEGIN SOLUTION" not in text and "np.maximum(x, 0.0)" not in text


def test_a_notebook_submission_is_graded(tmp_path, ag_root):
    import nbformat

    _unpack(_export(tmp_path, "--only", "relu_forward"), ag_root)
    reference = specs.load(SLUG).reference.read_text()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%load_ext autoreload\n%autoreload 2"),
                                         nbformat.v4.new_code_cell(reference)])
    nbformat.write(nb, str(ag_root / "submission" / f"{SLUG}.ipynb"))
    data, proc = run_autograder(ag_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert data["score"] == data["max_score"] == 2
    assert "from the notebook backprop.ipynb" in data["output"]


def test_setup_builds_its_own_venv_and_run_autograder_uses_it(tmp_path, ag_root):
    """setup.sh as on a Debian 12 image, as far as this machine allows: the course is installed into a virtual
    environment of its own (offline here: no dependencies are fetched, the project's own are made visible to it
    with a .pth file), never into the base Python; run_autograder then grades with that environment by default."""
    _unpack(_export(tmp_path, "--only", "relu_forward"), ag_root)
    venv = ag_root / "dlcourse-venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "DLCOURSE", "VIRTUAL_ENV"))}
    env.update(DLCOURSE_AUTOGRADER_ROOT=str(ag_root), DLCOURSE_BASE_PYTHON=sys.executable,
               DLCOURSE_PIP_OPTIONS="--no-index --no-deps --no-build-isolation --quiet",
               PATH=f"{tmp_path / 'bin'}:{env.get('PATH', '')}")
    (tmp_path / "bin").mkdir()
    import site

    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    # No network here: the venv gets the project's dependencies through a .pth file before the install runs.
    hook = tmp_path / "bin" / "useradd"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    script = ag_root / "source" / "setup.sh"
    purelib = "$(\"$VENV/bin/python\" -c \"import sysconfig; print(sysconfig.get_path('purelib'))\")"
    pth = "".join(f'echo {d} > "{purelib}/deps.pth"\n' for d in deps[:1])
    # ensurepip's setuptools may be older than pyproject.toml asks for: use the project's (through the .pth).
    pth += '"$VENV/bin/python" -m pip uninstall -y -q setuptools\n'
    text = script.read_text().replace('chmod -R a+rX "$VENV"\n', 'chmod -R a+rX "$VENV"\n' + pth, 1)
    script.write_text(text)
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and "setuptools" in proc.stderr:
        pytest.skip("no setuptools for an offline editable install here")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert (venv / "bin" / "python").exists() and "installed into" in proc.stdout
    shutil.copy(specs.load(SLUG).reference, ag_root / "submission" / "backprop.py")
    env.pop("DLCOURSE_BASE_PYTHON")
    run = subprocess.run(["bash", str(ag_root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=540, cwd="/")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    data = json.loads((ag_root / "results" / "results.json").read_text())
    assert data["score"] == data["max_score"] == 2, data["output"]
    log = (ag_root / "results" / "stdout").read_text()
    assert f"python {venv}/bin/python" in log  # the venv's own interpreter, not the base one it links to
