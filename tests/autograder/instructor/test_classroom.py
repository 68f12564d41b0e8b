"""`dlcourse export github-classroom`: one test per check (partial credit check by check), hidden checks read from a
private grading copy, a workflow that parses and runs the same commands, and a grade.sh that grades once and gives
each check its own verdict."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from autograder import spec as specs
from autograder.cli import main
from autograder.grading import collect_infos
from tests.helpers import mutate

pytestmark = pytest.mark.timeout(600)
SLUG = "backprop"
SELECT = ["relu_"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("classroom")
    repo, grading = root / "student-repo", root / "grading"
    result = CliRunner().invoke(main, ["export", "github-classroom", SLUG, "--out", str(repo), "--grading-out",
                                       str(grading), "--only", "relu_", "--seed", "5"])
    assert result.exit_code == 0, result.output
    return repo, grading


def test_one_test_per_check_public_and_hidden(exported):
    repo, grading = exported
    config = json.loads((repo / ".github" / "classroom" / "autograding.json").read_text())
    tests = config["tests"]
    infos = collect_infos(SLUG, "all", SELECT)
    assert [t["name"] for t in tests] == [f"{SLUG}: {info.name}" for info, _ in infos]
    assert [t["points"] for t in tests] == [info.points for info, _ in infos]
    assert {vis for _, vis in infos} == {"public", "hidden"}
    for t in tests:
        assert set(t) == {"name", "setup", "run", "input", "output", "comparison", "timeout", "points"}
        assert t["run"].startswith("bash .github/classroom/grade.sh ")
    # The private copy holds the hidden checks and the reference; the student's repository holds neither.
    assert (grading / "autograder" / "checks" / SLUG / "test_hidden.py").is_file()
    assert (grading / "solutions" / SLUG / f"{SLUG}.py").is_file()
    assert not list(repo.rglob("test_hidden.py")) and not (repo / "solutions").exists()
    # Nothing overwritten: a second export into the same repository is refused without --force.
    again = CliRunner().invoke(main, ["export", "github-classroom", SLUG, "--out", str(repo)])
    assert again.exit_code == 2 and "--force" in again.output


def test_the_workflow_parses_fetches_the_private_checks_and_runs_the_same_commands(exported):
    yaml = pytest.importorskip("yaml")
    repo, _ = exported
    flow = yaml.safe_load((repo / ".github" / "workflows" / "classroom.yml").read_text())
    config = json.loads((repo / ".github" / "classroom" / "autograding.json").read_text())
    assert set(flow["on"]) == {"push", "repository_dispatch"}
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    assert any("pip install" in s.get("run", "") and "-e ." in s["run"] for s in steps)
    fetch = next(s for s in steps if "hidden checks" in s.get("name", ""))
    assert fetch["with"]["repository"] == "${{ vars.DLCOURSE_GRADING_REPO }}"
    assert fetch["with"]["token"] == "${{ secrets.DLCOURSE_GRADING_TOKEN }}"
    assert fetch["with"]["path"] == ".dlcourse-grading"
    graders = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader")]
    assert [g["with"]["command"] for g in graders] == [t["run"] for t in config["tests"]]
    assert [g["with"]["max-score"] for g in graders] == [t["points"] for t in config["tests"]]
    reporter = steps[-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter")
    ids = [g["id"] for g in graders]
    assert reporter["with"]["runners"] == ",".join(ids)


@pytest.mark.slow
def test_partial_credit_per_check_with_the_hidden_checks(exported, tmp_path):
    repo_template, grading = exported
    repo = tmp_path / "repo"
    shutil.copytree(repo_template / ".github", repo / ".github")
    spec = specs.load(SLUG)
    (repo / "assignments" / SLUG).mkdir(parents=True)
    buggy = mutate(spec.reference.read_text(), "return dout * (x > 0)", "return dout * (x >= 0)")
    (repo / "assignments" / SLUG / spec.module_file).write_text(buggy)
    config = json.loads((repo / ".github" / "classroom" / "autograding.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHON"))}
    env.update(DLCOURSE_GRADING=str(grading), PYTHON=sys.executable)
    codes = {}
    for t in config["tests"]:
        proc = subprocess.run(["bash", "-c", t["run"]], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=400)
        codes[t["name"].split(": ", 1)[1]] = proc.returncode
    results = json.loads((repo / ".github" / "classroom" / "results.json").read_text())
    assert results["extra_data"]["seed"] == 5 and results["extra_data"]["mode"] == "grade"  # hidden checks ran
    # relu_forward earns its checks, relu_backward (the bug) loses its own: partial credit, check by check.
    assert codes == {name: (0 if name.startswith("relu_forward") else 1) for name in codes}, codes
    assert any(t["visibility"] == "after_due_date" for t in results["tests"])
