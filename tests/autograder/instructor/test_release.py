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
from autograder.instructor.release import ReleaseError, find_leaks, release
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
            assert all(n.startswith("_") and n.endswith(".py") for n in extra), extra


def test_hidden_manifest_counts_the_real_hidden_checks(bundle):
    out, summary = bundle
    hidden = [c for c in collect("backprop") if c[1] == "hidden"]
    manifest = json.loads((out / "autograder" / "checks" / "backprop" / "hidden.json").read_text())
    assert manifest == {"count": len(hidden), "points": sum(c[2] for c in hidden)}
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

@pytest.fixture(scope="module")
def venv(bundle, tmp_path_factory):
    out, _ = bundle
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)],
                   check=True, timeout=120)
    python = env_dir / "bin" / "python"
    # pip and setuptools come from the system site-packages; no network is needed.
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "-e",
                           str(out)], capture_output=True, text=True, timeout=300, env=_clean_env(), cwd=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
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
