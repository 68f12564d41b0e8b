"""The backprop checks judge correctly: full marks for the reference, zero for the skeleton, and each planted bug
loses points on the checks of the function that has it (and only there, where the bug cannot spread)."""

import pytest

from autograder import spec as specs
from autograder.grading import grade
from autograder.instructor.verify import load_bugs
from tests.helpers import failed_targets, grade_variant, write_submission

SLUG = "backprop"


@pytest.fixture(scope="module")
def reference_report():
    return grade(SLUG, specs.load(SLUG).reference, seed=11)


def test_reference_gets_full_marks(reference_report):
    assert reference_report.max_score > 0
    assert reference_report.score == reference_report.max_score, reference_report.failed_names()
    assert reference_report.isolation in ("namespaces",) or reference_report.isolation.startswith("process")


def test_reference_covers_every_target(reference_report):
    assert {r.target for r in reference_report.results} == set(specs.load(SLUG).targets)
    assert {r.visibility for r in reference_report.results} == {"public", "hidden"}


def test_skeleton_gets_zero_and_the_grader_completes():
    report = grade(SLUG, specs.load(SLUG).skeleton, seed=3)
    assert report.score == 0
    assert len(report.results) > 20
    assert all("not implemented yet" in r.output for r in report.results), [r.output for r in report.results][:3]


BUGS = load_bugs(SLUG)


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_each_bug_loses_points_on_its_function(tmp_path, bug):
    report = grade_variant(tmp_path, SLUG, bug.old, bug.new, select=[f"{bug.target}:"])
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug.name}: no check of {bug.target} failed"
    assert failed_targets(report) == {bug.target}
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    if bug.says:
        assert any(bug.says in r.output for r in failing), [r.output for r in failing]


def test_a_bug_message_names_the_quantity_and_the_error(tmp_path):
    report = grade_variant(tmp_path, SLUG, "db = dout.sum(axis=0)  # (M,)", "db = dout.mean(axis=0)  # (M,)",
                           select=["linear_backward: dx, dW and db"])
    (result,) = report.results
    assert "db is off" in result.output and "max abs error" in result.output
    assert "averaged over the batch instead of summed" in result.output  # the known mistake is named


def test_forbidden_import_fails_the_function_that_uses_it(tmp_path):
    source = specs.load(SLUG).reference.read_text()
    source = source.replace("def relu_forward(x):", "def relu_forward(x):\n    import torch\n"
                            "    return torch.relu(torch.as_tensor(x)).numpy(), x\n\ndef _unused(x):", 1)
    path = write_submission(tmp_path, SLUG, source)
    report = grade(SLUG, path, seed=1, select=["relu_forward:", "linear_forward:"])
    assert failed_targets(report) == {"relu_forward"}
    assert all("forbidden" in r.output and "torch" in r.output for r in report.results if not r.passed)
