"""How the tests grade buggy attention submissions.

The known bugs live once, in autograder/checks/attention/bugs.py (the list `dlcourse verify` plants); the tests read
them from there with `load_bugs`. Each is the reference with one edit whose text occurs exactly once, so the bugs
track the reference. Submissions that need more than a text edit of one place (forbidden APIs, a changed
state_dict) are written in test_attention_checks.py.
"""

import pytest

from autograder.grading import grade
from autograder.instructor.verify import load_bugs
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "attention"

SDPA = "scaled_dot_product_attention"
MHA = "MultiHeadAttention"
ADD = "AdditiveAttention"

# The checks of each target, the slow end-to-end check of MultiHeadAttention left out (it has its own test).
FAST = {
    SDPA: [f"{SDPA}:"],
    MHA: [f"{MHA}: q_proj", f"{MHA}: ValueError", f"{MHA}: self-attention", f"{MHA}: cross-attention",
          f"{MHA}: causal", f"{MHA}: gradients"],
    ADD: [f"{ADD}:"],
}
E2E = f"{MHA}: a small Transformer"

BUGS = load_bugs(SLUG)


def bugs_of(target):
    """The known bugs whose checks of `target` must fail, as pytest parameters named after the bug."""
    return [pytest.param(b, id=b.name) for b in BUGS if b.target == target]


def variant_source(edits):
    source = reference_source(SLUG)
    for old, new in edits:
        source = mutate(source, old, new)
    return source


def grade_edits(tmp_path, edits, select, seed=5, name="bug"):
    return grade(SLUG, write_submission(tmp_path, SLUG, variant_source(edits), name), seed=seed, select=select)


def assert_loses_points_on(report, target, bug):
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug}: no check of {target} failed"
    assert failed_targets(report) == {target}, f"{bug}: failed {failed_targets(report)}"
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    return failing


def assert_bug_caught(tmp_path, bug):
    """Plant `bug` and grade the fast checks of its target: they lose points, only they, each failure says why,
    and when the bug is a known mistake (`says`) one failure names it."""
    report = grade_edits(tmp_path, [(bug.old, bug.new)], FAST[bug.target])
    failing = assert_loses_points_on(report, bug.target, bug.name)
    if bug.says:
        assert any(bug.says in r.output for r in failing), [r.output for r in failing]
