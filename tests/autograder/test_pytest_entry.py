"""`pytest` in a copy of the course runs the public checks in the sandbox; anywhere else the plugin is inert."""

import importlib.metadata
import os
import subprocess
import sys
import tomllib

import pytest

from autograder.paths import REPO_ROOT
from tests.helpers import mutate, reference_source

RELU = "    return np.maximum(x, 0.0), x\n"


def _installed() -> bool:
    return any(e.value == "autograder.pytest_entry" for e in importlib.metadata.entry_points(group="pytest11"))


def run_pytest(cwd, *args, timeout=600):
    """A student's `pytest` (the plugin comes from the entry point once the course is installed; before the
    package is reinstalled, it is named with -p)."""
    plugin = [] if _installed() else ["-p", "autograder.pytest_entry"]
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO_ROOT)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def course(tmp_path):
    """A copy of the course as a student has it: assignments/<slug>/ and the engine's check folders (one of
    which holds a check file that pytest must not collect on its own)."""
    root = tmp_path / "bundle"
    for slug, source in (("backprop", mutate(reference_source("backprop"), RELU, "    return np.abs(x), x\n")),
                         ("dropout", reference_source("dropout"))):
        folder = root / "assignments" / slug
        folder.mkdir(parents=True)
        (folder / f"{slug}.py").write_text(source)
    checks = root / "autograder" / "checks" / "backprop"
    checks.mkdir(parents=True)
    (checks / "test_public.py").write_text("def test_needs_the_grader(student):\n    pass\n")
    return root


def test_pytest_at_the_root_runs_the_public_checks_with_their_messages(course):
    proc = run_pytest(course, "-m", "backprop", "-k", "linear_forward or relu_forward")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "fixture 'student' not found" not in out and "test_needs_the_grader" not in out
    assert "1 failed, 1 passed" in out and "deselected" in out  # -m backprop left dropout's checks out
    assert "relu(x) is off" in out  # the check's own message
    assert "backprop: relu_forward: max(0, x)" in out
    assert "checked assignments/backprop/backprop.py" in out and "dlcourse check" in out


def test_pytest_on_a_folder_or_the_file_never_imports_the_submission(course, tmp_path):
    marker = tmp_path / "imported-by-pytest"
    sub = course / "assignments" / "backprop" / "backprop.py"
    sub.write_text(sub.read_text() + f"\ntry:\n    open({str(marker)!r}, 'w').close()\nexcept OSError:\n    pass\n")
    proc = run_pytest(course, "assignments/backprop/backprop.py", "-k", "linear_forward", "-rA")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "1 passed" in out, out
    assert not marker.exists()  # pytest did not import it; the sandbox could not write there
    proc = run_pytest(course, "assignments/dropout", "-k", "kept and values")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "1 passed" in out, out


def test_what_a_check_printed_is_its_captured_output(course):
    sub = course / "assignments" / "backprop" / "backprop.py"
    sub.write_text(sub.read_text().replace("    return np.abs(x), x\n", "    print('RELU-PRINTS')\n"
                                           "    return np.abs(x), x\n"))
    proc = run_pytest(course, "assignments/backprop", "-k", "relu_forward")
    out = proc.stdout
    assert proc.returncode == 1 and "Captured stdout call" in out and "RELU-PRINTS" in out, out


def test_the_plugin_is_inert_for_other_test_suites(tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_ok():\n    assert True\n")
    proc = run_pytest(tmp_path, "-q")
    assert proc.returncode == 0 and "1 passed" in proc.stdout and "dlcourse" not in proc.stdout, proc.stdout


def test_the_projects_own_test_paths_do_not_activate_it(pytestconfig):
    from autograder import pytest_entry

    assert pytest_entry._runner(pytestconfig) is None
    assert not pytest_entry._is_course_root(REPO_ROOT / "tests")


def test_pyproject_registers_the_plugin():
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["pytest11"]["dlcourse"] == "autograder.pytest_entry"
