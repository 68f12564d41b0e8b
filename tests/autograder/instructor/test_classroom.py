"""`dlcourse export github-classroom`: the workflow and the test configuration parse, agree with each other and with
the public checks, and the command they run passes a correct submission and fails the skeleton."""

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
from autograder.checking import NAME_RE
from autograder.cli import main
from autograder.grading import collect

pytestmark = pytest.mark.timeout(600)
SLUG = "backprop"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    repo = tmp_path_factory.mktemp("student-repo")
    result = CliRunner().invoke(main, ["export", "github-classroom", SLUG, "--out", str(repo)])
    assert result.exit_code == 0, result.output
    return repo


def test_the_configuration_covers_every_public_check(exported):
    config = json.loads((exported / ".github" / "classroom" / "autograding.json").read_text())
    tests = config["tests"]
    public = collect(SLUG, visibility="public")
    assert sum(t["points"] for t in tests) == sum(p for _, _, p in public)
    targets = {NAME_RE.match(n).group("target") for n, _, _ in public}
    assert {t["name"].split(": ", 1)[1] for t in tests} == targets
    for t in tests:
        assert set(t) == {"name", "setup", "run", "input", "output", "comparison", "timeout", "points"}
        assert t["run"].startswith(f"dlcourse check {SLUG} --submission assignments/{SLUG}/{SLUG}.py --only ")
        assert "--json" in t["run"] and "passed.py" in t["run"]


def test_the_workflow_parses_and_runs_the_same_commands(exported):
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load((exported / ".github" / "workflows" / "classroom.yml").read_text())
    config = json.loads((exported / ".github" / "classroom" / "autograding.json").read_text())
    assert set(flow["on"]) == {"push", "repository_dispatch"}
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    assert any("pip install" in s.get("run", "") and "-e ." in s["run"] for s in steps)
    graders = [s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-command-grader")]
    assert [g["with"]["command"] for g in graders] == [t["run"] for t in config["tests"]]
    assert [g["with"]["max-score"] for g in graders] == [t["points"] for t in config["tests"]]
    reporter = steps[-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter")
    ids = [g["id"] for g in graders]
    assert reporter["with"]["runners"] == ",".join(ids)
    assert set(reporter["env"]) == {f"{i.upper()}_RESULTS" for i in ids}
    assert all(reporter["env"][f"{i.upper()}_RESULTS"] == f"${{{{steps.{i}.outputs.result}}}}" for i in ids)


def _shims(folder: Path) -> dict:
    """`dlcourse` and `python` on PATH, both this interpreter (as `pip install -e .` gives in the workflow)."""
    folder.mkdir(exist_ok=True)
    (folder / "dlcourse").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m autograder.cli "$@"\n')
    (folder / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    for name in ("dlcourse", "python"):
        (folder / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST",))}
    env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(Path(specs.__file__).resolve().parents[1])  # this course's engine
    return env


@pytest.mark.parametrize("which,expected_rc", [("reference", 0), ("skeleton", 1)])
def test_a_test_command_passes_the_reference_and_fails_the_skeleton(exported, tmp_path, which, expected_rc):
    repo = tmp_path / "repo"
    shutil.copytree(exported / ".github", repo / ".github")
    spec = specs.load(SLUG)
    (repo / "assignments" / SLUG).mkdir(parents=True)
    shutil.copy(getattr(spec, which), repo / "assignments" / SLUG / spec.module_file)
    config = json.loads((repo / ".github" / "classroom" / "autograding.json").read_text())
    test = next(t for t in config["tests"] if t["name"] == f"{SLUG}: relu_backward")
    proc = subprocess.run(["bash", "-c", test["run"]], cwd=repo, env=_shims(tmp_path / "bin"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == expected_rc, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((repo / ".github" / "classroom" / "results-relu_backward.json").read_text())
    assert [t["name"] for t in results["tests"]] == ["relu_backward: gradient agrees with autograd, 0 at x == 0"]
    assert results["score"] == (results["max_score"] if which == "reference" else 0)
    assert ("1 of 1 checks passed" if which == "reference" else "failed: relu_backward") in proc.stdout
