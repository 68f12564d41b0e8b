"""backprop specifics beyond the harness (tests/checks/test_harness.py): a failure message names the quantity, the
error and the known mistake; a forbidden import costs only the function that makes it."""

from autograder import spec as specs
from autograder.grading import grade
from tests.helpers import failed_targets, grade_variant, write_submission

SLUG = "backprop"


def test_a_bug_message_names_the_quantity_and_the_error(tmp_path):
    report = grade_variant(tmp_path, SLUG, "db = dout.sum(axis=0)  # (M,)", "db = dout.mean(axis=0)  # (M,)",
                           select=["linear_backward: dx, dW and db"])
    (result,) = [r for r in report.results if r.name.startswith("linear_backward: dx, dW and db")]
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
