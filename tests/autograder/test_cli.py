"""The `dlcourse` command line: the contract other tools rely on (exit codes, JSON, seeds, messages)."""

import json

import pytest
from click.testing import CliRunner

from autograder import spec as specs
from autograder.cli import main
from autograder.grading import collect


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False, env={"COLUMNS": "160"})

    return invoke


def test_list_shows_checks_and_points(run):
    result = run("list", "backprop")
    assert result.exit_code == 0
    assert "linear_backward: dx, dW and db agree with autograd" in result.output
    total = sum(points for _, _, points in collect("backprop"))
    assert "hidden" in result.output and f"total {total:g} points" in result.output


def test_list_markdown(run):
    result = run("list", "backprop", "--markdown")
    assert result.output.startswith("| check | visibility | points |")


def test_check_runs_public_checks_on_the_skeleton_and_announces_hidden_ones(run, tmp_path):
    out = tmp_path / "r.json"
    result = run("check", "backprop", "--only", "relu", "--json", str(out))
    assert result.exit_code == 0
    assert "hidden checks worth" in result.output and "will run at grading" in result.output
    assert "not implemented yet" in result.output
    data = json.loads(out.read_text())
    assert data["score"] == 0 and all(t["visibility"] == "visible" for t in data["tests"])


def test_check_on_a_passing_submission_never_claims_all_passed(run):
    result = run("check", "backprop", "--submission", str(specs.load("backprop").reference), "--only", "relu_")
    assert result.exit_code == 0
    assert "all tests passed" not in result.output.lower()
    assert "passing these public checks is not the final score" in " ".join(result.output.split())


def test_grade_writes_gradescope_json_and_a_seed_reproduces_it(run, tmp_path):
    ref = specs.load("backprop").reference.parent
    outs = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        result = run("grade", "backprop", str(ref), "--json", str(out), "--seed", "123", "--only", "linear",
                     "--only", "softmax")
        assert result.exit_code == 0, result.output
        outs.append(json.loads(out.read_text()))
    a, b = outs
    assert a["score"] == a["max_score"] > 0
    assert set(a) >= {"score", "execution_time", "tests"}
    for t in a["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in ("passed", "failed") and t["visibility"] in ("visible", "after_due_date")
    assert a["extra_data"]["seed"] == b["extra_data"]["seed"] == 123
    assert [t["name"] for t in a["tests"]] == [t["name"] for t in b["tests"]]
    assert "seed 123" in a["output"]


def test_grade_exit_zero_whatever_the_score(run):
    result = run("grade", "backprop", str(specs.load("backprop").skeleton), "--only", "sgd_step")
    assert result.exit_code == 0
    assert "0/" in result.output


@pytest.mark.parametrize("args,message", [
    (("grade", "nosuch", "."), "unknown assignment 'nosuch'"),
    (("grade", "backprop", "/nonexistent/x.py"), "submission not found"),
    (("grade", "backprop", "README.md"), "is not a Python file"),
    (("check", "backprop", "--submission", "autograder"), "no backprop.py"),
])
def test_grader_errors_exit_2_with_a_clear_message(run, args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_cuda_unavailable_is_a_clear_error(run):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run("grade", "backprop", str(specs.load("backprop").reference), "--device", "cuda")
    assert result.exit_code == 2 and "CUDA is not available" in result.output


def test_unwritable_json_path_is_a_clear_error_after_the_report(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("grade", "backprop", str(specs.load("backprop").reference), "--only", "sgd_step",
                 "--json", str(blocker / "r.json"))
    assert result.exit_code == 2
    assert "could not write" in result.output and "sgd_step" in result.output
