"""Each known bug of dropout (autograder/checks/dropout/bugs.py, planted in the reference) loses points on the checks
of the function or class that has it, and only there; its failure messages say what is off."""

import pytest

from autograder.grading import grade
from autograder.instructor.verify import load_bugs
from tests.helpers import failed_targets, grade_variant, mutate, reference_source, write_submission

SLUG = "dropout"
BUGS = load_bugs(SLUG)
BY_NAME = {b.name: b for b in BUGS}

# The checks each bug is graded on (a few, to keep the runs short; every one of them must exist and at least one
# must fail). A bug not listed is graded on all the checks of its target.
SELECT = {
    "no rescaling": ["dropout: kept values", "dropout: the mean"],
    "scaled by 1/p": ["dropout: kept values"],
    "multiplied by 1 - p": ["dropout: kept values"],
    "kept with probability p": ["dropout: the dropped fraction"],
    "one mask shared across the batch": ["dropout: masks are independent"],
    "one mask shared across the features": ["dropout: masks are independent"],
    "float32 output for half inputs": ["dropout: works in"],
    "still active in eval": ["dropout: the identity"],
    "generator ignored": ["dropout: a generator"],
    "the same mask on every call": ["dropout: a generator"],
    "input modified in place": ["dropout: the input is never"],
    "NaN at p == 1": ["dropout: p == 1"],
    "no ValueError for bad p": ["dropout: p outside"],
    "output detached from x": ["dropout: the gradient"],
    "active in eval mode": ["Dropout: drops in train mode"],
    "p ignored in forward": ["Dropout: drops in train mode"],
    "p not stored": ["Dropout: an nn.Module"],
    "never drops": ["Dropout: shrinks"],
    "F.dropout called": ["dropout: kept values", "dropout: the mean"],
    "torch.dropout called under another name": ["dropout: kept values"],
    # a check of dropout too: subclassing nn.Dropout must cost the points of Dropout only
    "Dropout subclasses nn.Dropout": ["dropout: kept values", "Dropout: an nn.Module"],
}

# Words that every failing check's message must contain, beyond the bug's `says` (the quantity, the error, the
# setting), and the bugs for which every selected check must fail.
MESSAGES = {
    "scaled by 1/p": ["kept (non-zero) values of dropout(x, p=0.2)", "max abs error", "input:"],
    "kept with probability p": ["fraction of zeros in dropout(x, p=0.1) is 0.9"],
    "never drops": ["Without dropout: train", "with your Dropout: train"],
    "F.dropout called": ["forbidden", "torch.nn.functional.dropout"],
    "torch.dropout called under another name": ["forbidden"],
    "Dropout subclasses nn.Dropout": ["forbidden", "torch.nn.Dropout"],
}
ALL_FAIL = {"F.dropout called", "scaled by 1/p", "kept with probability p", "never drops",
            "torch.dropout called under another name"}


def test_the_bug_list_is_whole():
    assert BUGS and all(b.target in ("dropout", "Dropout") for b in BUGS), [b.target for b in BUGS]
    assert set(SELECT) | set(MESSAGES) | ALL_FAIL <= set(BY_NAME), "a name here is not a bug of bugs.py"
    source = reference_source(SLUG)
    for bug in BUGS:
        assert source.count(bug.old) == 1, f"{bug.name}: its text must occur exactly once in the reference"
        compile(source.replace(bug.old, bug.new), "dropout.py", "exec")  # the bug, not a syntax error


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_each_bug_loses_points_on_its_target_only(tmp_path, bug):
    select = SELECT.get(bug.name, [f"{bug.target}:"])
    report = grade_variant(tmp_path, SLUG, bug.old, bug.new, select=select)
    names = [r.name for r in report.results]
    assert all(any(n.startswith(c) for n in names) for c in select), names
    assert report.score < report.max_score, f"{bug.name}: no check of {bug.target} failed"
    assert failed_targets(report) == {bug.target}
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    if bug.name in ALL_FAIL:
        assert report.score == 0 and len(failing) == len(report.results), [r.name for r in failing]
    if bug.says:
        assert any(bug.says in r.output for r in failing), [r.output for r in failing]
    for words in MESSAGES.get(bug.name, []):
        assert all(words in r.output for r in failing), (words, [r.output for r in failing])


def test_hidden_checks_catch_a_missing_rescaling_too(tmp_path):
    """The hidden checks judge on their own: a submission cannot pass them with this bug either."""
    bug = BY_NAME["no rescaling"]
    source = mutate(reference_source(SLUG), bug.old, bug.new)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=5,
                   select=["dropout: every element", "dropout: dropped fraction and mean"])
    assert len(report.results) == 2 and not any(r.passed for r in report.results)
    assert all(bug.says in r.output for r in report.results)
