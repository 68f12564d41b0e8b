"""`dlcourse author new`: in a copy of the course, a new assignment whose solution block is filled in is accepted by
`author sync --check`, `verify --strict`, the project's harness and the assignment-folder tests with no other edit;
`author sync` refuses a README without markers; half-built assignments are reported by `list` and `verify` while the
others go on working."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.paths import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
COPIED = ("autograder", "assignments", "solutions", "lectures", "tests", "README.md", "pyproject.toml")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", ".pytest_cache")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of the course with the new assignment `demo`, its answer written between the markers."""
    root = tmp_path_factory.mktemp("course")
    for name in COPIED:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=IGNORE)
        elif src.is_file():
            shutil.copy2(src, root / name)
    result = _run(root, "author", "new", "demo", "--title", "A demo (Nobody, 2024)", "--framework", "numpy")
    assert result.returncode == 0, result.stdout + result.stderr
    reference = root / "solutions" / "demo" / "demo.py"
    text, n = re.subn(r'raise NotImplementedError\("the reference answer goes here[^\n]*',
                      "return scale * (x @ W + b)  # (N, M)", reference.read_text())
    assert n == 1, "the new reference has exactly one solution block to fill in"
    reference.write_text(text)
    return root


def _run(root: Path, *args: str, module: str = "autograder.cli") -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=1100)


def test_new_writes_every_part_and_registers_nothing_else(course):
    for rel in ("solutions/demo/demo.py", "assignments/demo/demo.py", "assignments/demo/README.md",
                "assignments/demo/demo.ipynb", "autograder/checks/demo/spec.py", "autograder/checks/demo/bugs.py",
                "autograder/checks/demo/test_public.py", "autograder/checks/demo/test_hidden.py"):
        assert (course / rel).is_file(), rel
    readme = (course / "assignments" / "demo" / "README.md").read_text()
    assert "| affine: matches values worked out by hand, for two scales | public | 2 |" in readme
    assert "dlcourse check demo" in readme and "](../../lectures/" in readme
    assert "[demo](assignments/demo/README.md)" in (course / "README.md").read_text()
    again = _run(course, "author", "new", "demo", "--title", "again", "--framework", "torch")
    assert again.returncode == 2 and "already exists" in again.stdout


def test_the_filled_in_assignment_is_in_sync_and_verifies(course):
    synced = _run(course, "author", "sync", "demo", "--check")
    assert synced.returncode == 0, synced.stdout
    verified = _run(course, "verify", "demo", "--strict")
    out = " ".join(verified.stdout.split())
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "demo: 2 checks, 2 tested by 2 known bugs, 0 untested; 0 problem(s)" in out


def test_the_harness_and_the_assignment_tests_accept_it(course):
    result = _run(course, "tests/checks/test_harness.py", "tests/assignments/test_assignments.py", "-k", "demo", "-q",
                  "-p", "no:cacheprovider", module="pytest")
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"\b(1[0-9]) passed", result.stdout), result.stdout[-1000:]


def test_sync_refuses_a_readme_without_markers(course):
    readme = course / "assignments" / "demo" / "README.md"
    text = readme.read_text()
    try:
        readme.write_text(text.replace("<!-- points:begin -->", "").replace("<!-- points:end -->", ""))
        result = _run(course, "author", "sync", "demo")
        assert result.returncode == 2
        message = " ".join(result.stdout.split())
        assert "README.md has no generated block" in message and "<!-- points:begin -->" in message
    finally:
        readme.write_text(text)


def test_half_built_assignments_are_reported_without_breaking_the_others(course):
    checks = course / "autograder" / "checks"
    (checks / "halfbuilt").mkdir()
    (checks / "halfbuilt" / "spec.py").write_text(
        'from autograder.spec import Assignment\n'
        'SPEC = Assignment(slug="halfbuilt", title="t", constraint="c", framework="numpy", targets=("f",))\n')
    (checks / "broken").mkdir()
    (checks / "broken" / "spec.py").write_text("SPEC = (\n")
    try:
        listed = _run(course, "list")
        out = " ".join(listed.stdout.split())
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert "halfbuilt: half-built: missing" in out and "broken: autograder/checks/broken/spec.py does not load" in out
        assert "demo: A demo (Nobody, 2024)" in out  # the complete ones are listed all the same
        verified = _run(course, "verify", "halfbuilt", "broken")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        out = " ".join(verified.stdout.split())
        assert "problem: half-built: missing" in out and "problem: autograder/checks/broken/spec.py does not load" in out
        assert _run(course, "verify", "halfbuilt", "--strict").returncode == 1
        assert _run(course, "verify", "no-such-assignment").returncode == 2
        synced = _run(course, "author", "sync", "--check")  # the half-built ones are named; the table still syncs
        assert synced.returncode == 2 and "halfbuilt:" in synced.stdout
    finally:
        shutil.rmtree(checks / "halfbuilt")
        shutil.rmtree(checks / "broken")
