"""`dlcourse release`: the student bundle has no answer in it, installs on its own, and `dlcourse check` works there
and says that hidden checks will run at grading."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder import spec as specs
from autograder.cli import main
from autograder.grading import collect
from autograder.instructor.release import (STUDENT_COPY_MARKER, ReleaseError, find_leaks, find_reimplementations,
                                           install_command, release)
from autograder.paths import REPO_ROOT, SOLUTIONS

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student-course"
    summary = release(out)
    return out, summary


# ------------------------------------------------------------------ an independent scan for reference bodies

def _norm(lines):
    out = []
    for line in lines:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        s = re.sub(r"\s#[^'\"]*$", "", " " + s)
        out.append(re.sub(r"\s+", "", s))
    return out


def reference_bodies() -> dict[str, list[str]]:
    """For every function and method of every reference: the normalised lines between its solution markers."""
    bodies = {}
    for path in sorted(SOLUTIONS.glob("*/*.py")):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            k = node.lineno
            while k < node.end_lineno:
                if lines[k].strip() == "# BEGIN SOLUTION":
                    end = next(j for j in range(k + 1, len(lines)) if lines[j].strip() == "# END SOLUTION")
                    body = _norm(lines[k + 1:end])
                    if body:
                        bodies[f"{path.relative_to(REPO_ROOT)}:{node.name}:{k + 1}"] = body
                    k = end
                k += 1
    return bodies


def bundle_texts(root: Path):
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if b"\0" in raw[:2048]:
            continue
        text = raw.decode("utf-8", "replace")
        if path.suffix == ".ipynb":
            cells = json.loads(text)["cells"]
            text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells)
        yield path, _norm(text.splitlines())


def scan(root: Path, bodies) -> list[str]:
    found = []
    for path, lines in bundle_texts(root):
        for what, body in bodies.items():
            n = len(body)
            if any(lines[i:i + n] == body for i in range(len(lines) - n + 1)):
                found.append(f"{what} in {path.relative_to(root)}")
    return found


def test_the_scan_finds_a_planted_body(tmp_path):
    bodies = reference_bodies()
    for ref in SOLUTIONS.glob("*/*.py"):  # every reference contributes its bodies
        assert any(k.startswith(str(ref.relative_to(REPO_ROOT)) + ":") for k in bodies), ref
    name, body = next((k, v) for k, v in bodies.items() if "linear_backward" in k)
    (tmp_path / "notes.md").write_text("```python\n" + "\n".join("    " + line for line in body) + "\n```\n")
    assert scan(tmp_path, {name: body}) == [f"{name} in notes.md"]
    assert [leak.what for leak in find_leaks(tmp_path)] == ["solutions/backprop/backprop.py: body of linear_backward"]


def test_no_reference_body_anywhere_in_the_bundle(bundle):
    out, _ = bundle
    bodies = reference_bodies()
    assert bodies
    assert scan(out, bodies) == []
    assert find_leaks(out) == []


# ------------------------------------------------------------------ what is in the bundle

def test_bundle_layout(bundle):
    out, summary = bundle
    surveyed = specs.survey()
    slugs = [s.slug for s in surveyed if s.spec is not None and not s.problem]  # every complete assignment
    assert summary.assignments == slugs
    half_built = [s.slug for s in surveyed if s.spec is None or s.problem]
    assert [w.split(" ", 1)[0] for w in summary.warnings if " left out: " in w] == half_built
    for slug in slugs:
        assert (out / "assignments" / slug / f"{slug}.py").is_file()
        assert (out / "autograder" / "checks" / slug / "test_public.py").is_file()
        assert (out / "autograder" / "checks" / slug / "spec.py").is_file()
    for name in ("README.md", "pyproject.toml", "autograder/cli.py", "autograder/sandbox/worker.py",
                 "autograder/checks/pytest.ini"):
        assert (out / name).is_file(), name
    if (REPO_ROOT / "lectures").is_dir():
        assert (out / "lectures").is_dir()
    for forbidden in ("solutions", "tests", ".git", "benchmarks", ".notes"):
        assert not (out / forbidden).exists(), forbidden
    names = {p.name for p in out.rglob("*")}
    assert "test_hidden.py" not in names and "bugs.py" not in names
    for folder in (out / "autograder" / "checks").iterdir():
        if folder.is_dir():
            extra = {p.name for p in folder.iterdir()} - {"spec.py", "test_public.py", "hidden.json"}
            data = {n for n in extra if n.endswith((".npz", ".json"))}  # stored expected values, named by a helper
            assert all(n.startswith("_") and n.endswith(".py") for n in extra - data), extra
            assert all(any(n in p.read_text() for p in folder.glob("*.py")) for n in data), data
    assert (out / "autograder" / "checks" / "ddpm" / "public_expected.npz").is_file()
    assert not (out / "autograder" / "checks" / "ddpm" / "expected_values.py").exists()


def test_hidden_manifest_counts_the_real_hidden_checks(bundle):
    out, summary = bundle
    hidden = [c for c in collect("backprop") if c[1] == "hidden"]
    manifest = json.loads((out / "autograder" / "checks" / "backprop" / "hidden.json").read_text())
    assert manifest == {"count": len(hidden), "points": sum(c[2] for c in hidden),
                        "checks": [{"name": name, "points": points} for name, _, points in hidden]}
    assert manifest["count"] > 0
    assert summary.hidden["backprop"] == (manifest["count"], manifest["points"])


def test_release_refuses_a_non_empty_folder_and_the_course_itself(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["release", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is not empty" in " ".join(result.output.split())
    result = CliRunner().invoke(main, ["release", "--out", str(tmp_path), "--force"])
    assert result.exit_code == 2 and "does not hold a previous bundle" in " ".join(result.output.split())
    assert (tmp_path / "keep.txt").read_text() == "mine"
    with pytest.raises(ReleaseError, match="course itself"):
        release(REPO_ROOT)
    with pytest.raises(ReleaseError, match="inside the course"):
        release(SOLUTIONS / "bundle")


# ------------------------------------------------------------------ the bundle on its own

def _readme_install(out: Path) -> str:
    """The one install command of the bundle's README (the line of its first bash block)."""
    block = re.search(r"```bash\n(.*?)\n```", (out / "README.md").read_text(), re.S)
    assert block, "the bundle's README has no bash block"
    lines = [line for line in block.group(1).splitlines() if "pip install" in line]
    assert len(lines) == 1, lines
    return lines[0].strip()


@pytest.fixture(scope="module")
def venv(bundle, tmp_path_factory):
    """A fresh virtual environment, with the bundle installed by its README's own command, run as a student would.

    The dependencies (torch...) are those of the interpreter running these tests, made visible to the new
    environment by a .pth file, so that nothing is downloaded; pip still resolves them, the extras and
    constraints.txt included, and builds the bundle in an isolated build environment (setuptools from the
    package index, as on a student's machine). An environment made with --system-site-packages from a virtual
    environment sees the base interpreter's packages, not these: an old setuptools without `wheel` there is what
    made the editable build fail with "invalid command 'bdist_wheel'" under --no-build-isolation.
    """
    import site
    import sysconfig

    out, _ = bundle
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300, env=_clean_env())
    purelib = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip()
    ours = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(purelib, "_course_dependencies.pth").write_text("\n".join(ours) + "\n")
    command = _readme_install(out)
    assert command == install_command(True)
    pip_part = command.split("&&")[-1].strip()
    assert pip_part.startswith("pip install ")
    activate = f". {env_dir}/bin/activate && {pip_part}"
    proc = subprocess.run(["bash", "-c", activate], capture_output=True, text=True, timeout=900, env=_clean_env(),
                          cwd=out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return env_dir


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env["COLUMNS"] = "200"
    return env


def test_the_bundle_installs_alone_and_its_engine_is_used(bundle, venv):
    out, _ = bundle
    probe = "import autograder, autograder.paths as p; print(autograder.__file__); print(p.SOLUTIONS.exists())"
    for cwd in (out, Path("/")):
        proc = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                              cwd=cwd, env=_clean_env(), timeout=120)
        assert proc.returncode == 0, proc.stderr
        engine, has_solutions = proc.stdout.split()
        assert Path(engine).resolve() == (out / "autograder" / "__init__.py").resolve()
        assert has_solutions == "False"


def test_check_in_the_bundle_announces_the_hidden_checks(bundle, venv, tmp_path):
    out, summary = bundle
    count, points = summary.hidden["backprop"]
    solved = tmp_path / "backprop.py"
    solved.write_text(specs.load("backprop").reference.read_text())  # a student who got it right
    proc = subprocess.run([str(venv / "bin" / "dlcourse"), "check", "backprop", "--submission", str(solved),
                           "--only", "linear_forward", "--only", "relu_forward"],
                          capture_output=True, text=True, cwd=out, env=_clean_env(), timeout=300)
    text = " ".join(proc.stdout.split())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2/2 points" in text and "2 of 2 checks passed" in text
    assert f"{count} hidden checks worth {points:g} more points will run at grading" in text
    assert "not the final score" in text


def test_grading_is_refused_in_the_bundle(bundle, venv):
    out, _ = bundle
    proc = subprocess.run([str(venv / "bin" / "dlcourse"), "grade", "backprop", "assignments/backprop"],
                          capture_output=True, text=True, cwd=out, env=_clean_env(), timeout=300)
    assert proc.returncode == 2
    assert "hidden checks are not part of this copy" in " ".join(proc.stdout.split())


def test_students_see_only_their_commands(bundle, venv):
    out, _ = bundle
    assert (out / "autograder" / STUDENT_COPY_MARKER).is_file()
    proc = subprocess.run([str(venv / "bin" / "dlcourse"), "--help"], capture_output=True, text=True, cwd=out,
                          env=_clean_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    commands = proc.stdout.split("Commands:", 1)[1].split()
    assert [w for w in commands if re.fullmatch(r"[a-z][a-z-]+", w) and w in
            {"list", "check", "grade", "grade-batch", "merge", "export", "verify", "author", "release", "site"}] \
        == ["check", "list"], proc.stdout


def test_list_in_the_bundle_names_the_hidden_checks(bundle, venv):
    out, _ = bundle
    hidden = [(name, pts) for name, vis, pts in collect("parallel") if vis == "hidden"]
    proc = subprocess.run([str(venv / "bin" / "dlcourse"), "list", "parallel"], capture_output=True, text=True,
                          cwd=out, env=_clean_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = " ".join(proc.stdout.split())
    for name, _ in hidden:
        assert " ".join(name.split()) in text, name
    manifest = json.loads((out / "autograder" / "checks" / "parallel" / "hidden.json").read_text())
    assert manifest["checks"] == [{"name": n, "points": p} for n, p in hidden]  # titles and points, nothing else
    assert "hidden checks, run at grading" not in text


# ------------------------------------------------------------------ what release says, and withheld titles

def test_release_prints_the_readmes_install_command_and_can_withhold_titles(tmp_path):
    out = tmp_path / "bundle"
    result = CliRunner().invoke(main, ["release", "parallel", "--out", str(out), "--withhold-hidden-titles"],
                                terminal_width=300)
    assert result.exit_code == 0, result.output
    said = [line.strip() for line in result.output.splitlines() if "pip install" in line]
    assert said == [_readme_install(out)] == [install_command(True)]
    assert '-c constraints.txt' in said[0] and '".[notebooks]"' in said[0]
    assert (out / "constraints.txt").is_file()
    manifest = json.loads((out / "autograder" / "checks" / "parallel" / "hidden.json").read_text())
    assert set(manifest) == {"count", "points"} and manifest["count"] > 0
    assert "titles withheld" in result.output and "only counted" in (out / "README.md").read_text()


# ------------------------------------------------------------------ a public helper may not re-implement a target

PLANTED = """

def _expected_shard(n, rank, world):
    # the answer, written in another style than the reference's
    picked, i = [], rank
    while i < n:
        picked.append(i)
        i += world
    return picked
"""


def _planted_checks(tmp_path, slug="parallel", where="_common.py", text=PLANTED):
    import shutil

    checks = tmp_path / "checks"
    checks.mkdir()
    for item in (REPO_ROOT / "autograder" / "checks").iterdir():
        if item.is_file():
            shutil.copy2(item, checks / item.name)
    shutil.copytree(REPO_ROOT / "autograder" / "checks" / slug, checks / slug,
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(checks / slug / where, "a") as f:
        f.write(text)
    return checks


def test_a_public_helper_that_re_implements_a_target_is_refused(tmp_path, monkeypatch):
    import autograder.instructor.release.steps as steps
    import autograder.paths as paths

    checks = _planted_checks(tmp_path)
    monkeypatch.setattr(paths, "CHECKS", checks)
    monkeypatch.setattr(steps, "CHECKS", checks)
    with pytest.raises(ReleaseError) as caught:
        release(tmp_path / "bundle", ["parallel"])
    message = str(caught.value)
    assert "_expected_shard() re-implements parallel's shard" in message
    assert "autograder/checks/parallel/_common.py" in message
    assert not (tmp_path / "bundle").exists()  # nothing released


def test_the_reimplementation_scan_passes_honest_helpers_and_built_ins(tmp_path, monkeypatch):
    """The course's own parallel helpers pass; so does a helper that judges with what the assignment forbids
    (a built-in) and one that only holds expected values as data."""
    import autograder.paths as paths
    from autograder.instructor.release.steps import Bundle, build, copy_engine
    import autograder.instructor.release.steps as steps

    stored = "\n\ndef _stored_shards(n, rank, world):\n    return {(10, 0, 3): [0, 3, 6, 9]}.get((n, rank, world))\n"
    checks = _planted_checks(tmp_path, text=stored)
    monkeypatch.setattr(paths, "CHECKS", checks)
    monkeypatch.setattr(steps, "CHECKS", checks)
    out = tmp_path / "bundle"
    build(Bundle(out=out, specs=[specs.load("parallel")]), [copy_engine])
    assert find_reimplementations(out, [specs.load("parallel")]) == []
    with open(out / "autograder" / "checks" / "parallel" / "_common.py", "a") as f:
        f.write(PLANTED)
    found = find_reimplementations(out, [specs.load("parallel")])
    assert [leak.where for leak in found] == ["autograder/checks/parallel/_common.py"]


def test_a_helper_judging_with_a_forbidden_built_in_is_allowed(tmp_path, monkeypatch):
    """layernorm forbids F.layer_norm to students; a public helper may judge with it (it gives the answer away no
    more than PyTorch's documentation does). The scan sees it reproduce layer_norm, and lets it pass for that."""
    import autograder.instructor.release.steps as steps
    import autograder.paths as paths
    from autograder.instructor.release import leaks
    from autograder.instructor.release.steps import Bundle, build, copy_engine

    builtin = ("\n\ndef _builtin_layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):\n"
               "    import torch\n"
               "    return torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps)\n")
    checks = _planted_checks(tmp_path, slug="layernorm", text=builtin)
    monkeypatch.setattr(paths, "CHECKS", checks)
    monkeypatch.setattr(steps, "CHECKS", checks)
    spec = specs.load("layernorm")
    out = tmp_path / "bundle"
    build(Bundle(out=out, specs=[spec]), [copy_engine])
    assert find_reimplementations(out, [spec]) == []
    common = paths.load_module(checks / "layernorm" / "_common.py", "dlcourse_test_ln_common")
    assert leaks._reproduces(common._builtin_layer_norm, leaks._record_target_calls(spec)["layer_norm"])


# ------------------------------------------------------------------ expected values stored as data

def _stored_value_folders():
    return sorted(p.parent for p in (REPO_ROOT / "autograder" / "checks").glob("*/expected_values.py"))


@pytest.mark.parametrize("folder", _stored_value_folders(), ids=lambda p: p.name)
def test_stored_expected_values_are_fresh(folder):
    """The stored values a public check judges with are what its generator makes of the reference today (run
    `python -m autograder.checks.<slug>.expected_values` after changing the reference or the inputs)."""
    import numpy as np

    from autograder.paths import load_module

    spec = specs.load(folder.name)
    generator = load_module(folder / "expected_values.py", f"dlcourse_test_stored_{folder.name}")
    fresh = generator.generate(load_module(spec.reference, f"dlcourse_test_reference_{folder.name}"))
    with np.load(folder / generator.FILE, allow_pickle=False) as stored:
        assert sorted(stored.files) == sorted(fresh), "stale: run the generator"
        for key, value in fresh.items():
            assert stored[key].dtype == value.dtype and stored[key].shape == value.shape, key
            if value.dtype.kind in "fc":
                np.testing.assert_allclose(stored[key], value, rtol=1e-12, atol=0, err_msg=key)
            else:
                np.testing.assert_array_equal(stored[key], value, err_msg=key)
    assert generator.FILE in (folder / "_common.py").read_text() or generator.FILE in (
        folder / "test_public.py").read_text()  # named by a public file, so that the bundle ships it
