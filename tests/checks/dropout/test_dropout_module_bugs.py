"""Bugs in the `Dropout` module lose points on its checks; forbidden built-ins lose the points of their user."""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, grade_variant, mutate, reference_source, write_submission

SLUG = "dropout"
FORWARD = "return dropout(x, self.p, training=self.training)"

BUGS = [
    ("active in eval mode", FORWARD, "return dropout(x, self.p)", ["Dropout: drops in train mode"]),
    ("p ignored in forward", FORWARD, "return dropout(x, 0.5, training=self.training)",
     ["Dropout: drops in train mode"]),
    ("p not stored", "self.p = p", "self.p = 0.5", ["Dropout: an nn.Module"]),
]


@pytest.mark.parametrize("bug,old,new,checks", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points_on_the_module(tmp_path, bug, old, new, checks):
    compile(mutate(reference_source(SLUG), old, new), "dropout.py", "exec")  # the bug, not a syntax error
    report = grade_variant(tmp_path, SLUG, old, new, select=checks)
    assert all(any(r.name.startswith(c) for r in report.results) for c in checks), [r.name for r in report.results]
    assert report.score < report.max_score, f"{bug}: no check of Dropout failed"
    assert failed_targets(report) == {"Dropout"}


def test_a_dropout_that_never_drops_fails_the_end_to_end_check(tmp_path):
    report = grade_variant(tmp_path, SLUG, FORWARD, "return x", select=["Dropout: shrinks"])
    (result,) = report.results
    assert not result.passed and result.target == "Dropout"
    assert "did not shrink the train-test accuracy gap" in result.output
    assert "Without dropout: train" in result.output and "with your Dropout: train" in result.output


def _grade_source(tmp_path, source, select):
    compile(source, "dropout.py", "exec")
    return grade(SLUG, write_submission(tmp_path, SLUG, source), seed=2, select=select)


def test_functional_dropout_loses_the_points_of_dropout(tmp_path):
    source = mutate(reference_source(SLUG), "    if not training or p == 0.0:\n        return x\n",
                    "    if not training or p == 0.0:\n        return x\n"
                    "    return torch.nn.functional.dropout(x, p)\n")
    report = _grade_source(tmp_path, source, ["dropout: kept values", "dropout: the mean"])
    assert report.score == 0 and failed_targets(report) == {"dropout"}
    assert all("forbidden" in r.output and "torch.nn.functional.dropout" in r.output for r in report.results)


def test_subclassing_nn_dropout_loses_the_points_of_Dropout_only(tmp_path):
    source = mutate(reference_source(SLUG), "class Dropout(nn.Module):", "class Dropout(nn.Dropout):")
    report = _grade_source(tmp_path, source, ["dropout: kept values", "Dropout: an nn.Module"])
    assert failed_targets(report) == {"Dropout"}
    (failed,) = [r for r in report.results if not r.passed]
    assert "forbidden" in failed.output and "torch.nn.Dropout" in failed.output


def test_a_hidden_call_to_torch_dropout_trips_at_run_time(tmp_path):
    source = mutate(reference_source(SLUG), "    if not training or p == 0.0:\n        return x\n",
                    "    if not training or p == 0.0:\n        return x\n"
                    "    return getattr(torch, 'drop' + 'out')(x, p, True)\n")
    report = _grade_source(tmp_path, source, ["dropout: kept values"])
    (result,) = report.results
    assert not result.passed and "forbidden" in result.output, result.output
