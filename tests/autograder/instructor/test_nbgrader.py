"""`dlcourse export nbgrader`: a real nbgrader course folder. nbgrader's own `generate_assignment` strips the solution
and the hidden checks, and its `autograde` runs the engine's checks from the test cells, with partial credit, into
nbgrader's gradebook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder import spec as specs
from autograder.cli import main
from autograder.instructor.nbgrader_bridge import gradebook_scores, notebook_answer
from autograder.instructor.release import find_leaks

nbgrader = pytest.importorskip("nbgrader")
pytestmark = pytest.mark.timeout(600)
SLUG = "backprop"


def _nbgrader(course: Path, *args) -> subprocess.CompletedProcess:
    exe = shutil.which("nbgrader")
    cmd = [exe] if exe else [sys.executable, "-m", "nbgrader"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(Path(specs.__file__).resolve().parents[1])  # the kernel imports this course's engine
    proc = subprocess.run([*cmd, *args], cwd=course, capture_output=True, text=True, timeout=540, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("nbgrader-course")
    result = CliRunner().invoke(main, ["export", "nbgrader", SLUG, "--out", str(course), "--target", "relu_forward",
                                       "--target", "relu_backward"])
    assert result.exit_code == 0, result.output
    _nbgrader(course, "generate_assignment", SLUG, "--force")
    return course


def _cells(path: Path) -> dict:
    nb = json.loads(path.read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"] if "nbgrader" in c["metadata"]}


def test_the_source_notebook_has_an_answer_cell_and_locked_test_cells(course):
    cells = _cells(course / "source" / SLUG / f"{SLUG}.ipynb")
    answer = cells["answer"]
    assert answer["metadata"]["nbgrader"]["solution"] and not answer["metadata"]["nbgrader"]["grade"]
    assert "".join(answer["source"]).startswith(f"%%writefile {SLUG}.py\n")
    assert "# BEGIN SOLUTION" in "".join(answer["source"])
    for target in ("relu_forward", "relu_backward"):
        meta = cells[f"checks_{target}"]["metadata"]["nbgrader"]
        assert meta["grade"] and meta["locked"] and not meta["solution"] and meta["points"] == 2
        assert "### BEGIN HIDDEN TESTS" in "".join(cells[f"checks_{target}"]["source"])


def test_generate_assignment_strips_the_solution_and_the_hidden_checks(course):
    released = course / "release" / SLUG / f"{SLUG}.ipynb"
    assert released.is_file()
    cells = _cells(released)
    answer = "".join(cells["answer"]["source"])
    assert "raise NotImplementedError()" in answer and "BEGIN SOLUTION" not in answer
    assert find_leaks(released.parent) == []  # no reference body reached the students' version
    for target in ("relu_forward", "relu_backward"):
        source = "".join(cells[f"checks_{target}"]["source"])
        assert "HIDDEN" not in source and 'visibility = "all"' not in source
        assert f"run_checks('{SLUG}', '{target}', visibility)" in source


def test_autograde_records_the_engine_scores_in_the_gradebook(course):
    released = course / "release" / SLUG / f"{SLUG}.ipynb"
    nb = json.loads(released.read_text())
    answer = notebook_answer(course / "source" / SLUG / f"{SLUG}.ipynb")
    buggy = answer.replace("return dout * (x > 0)", "return dout * (x >= 0)")  # relu_backward is wrong at 0
    assert buggy != answer
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "answer":
            cell["source"] = buggy
    folder = course / "submitted" / "alice" / SLUG
    folder.mkdir(parents=True)
    (folder / f"{SLUG}.ipynb").write_text(json.dumps(nb))

    _nbgrader(course, "autograde", SLUG, "--force")

    assert gradebook_scores(course, SLUG) == {"alice": 2.0}  # relu_forward's 2 points, none for relu_backward
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        forward = gb.find_grade("checks_relu_forward", SLUG, SLUG, "alice")
        backward = gb.find_grade("checks_relu_backward", SLUG, SLUG, "alice")
        assert (forward.score, forward.max_score) == (2.0, 2.0)  # public and hidden checks both ran
        assert (backward.score, backward.max_score) == (0.0, 2.0)
    graded = _cells(course / "autograded" / "alice" / SLUG / f"{SLUG}.ipynb")
    out = "".join("".join(o.get("text", "")) for o in graded["checks_relu_forward"]["outputs"])
    assert "relu_forward: matches the reference, extremes included" in out  # the hidden check ran at grading
    errors = [o for o in graded["checks_relu_backward"]["outputs"] if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "ChecksFailed"
