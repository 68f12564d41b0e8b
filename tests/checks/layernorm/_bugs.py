"""How the tests grade buggy layernorm submissions.

The known bugs live once, in autograder/checks/layernorm/bugs.py (the list `dlcourse verify` plants); the tests read
them from there with `load_bugs`. Each is the reference with one edit whose text occurs exactly once, so the bugs
track the reference. Submissions that call a forbidden built-in are written in test_layernorm_forbidden.py.

Grading runs only the checks of the function with the bug (`select=`), public and hidden, to keep the suite short:
a bug in `layer_norm` also breaks `LayerNorm`, which calls it, so attribution is asserted on the selected checks.
"""

import pytest

from autograder.grading import grade
from autograder.instructor.verify import load_bugs
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "layernorm"

BUGS = load_bugs(SLUG)

# The bugs graded on a few checks of their target rather than on all of them (the others are slow, or are
# checks the bug does not reach). Keyed by bug name; test_every_select_names_a_known_bug keeps the keys in step.
SELECT = {
    "variance as E(x^2) - E(x)^2": ["layer_norm: stays accurate", "layer_norm: matches the reference for a large offset"],
    "weight and bias initialised the wrong way round": ["LayerNorm: weight", "LayerNorm: forward"],
    "LayerNorm ignores its eps": ["LayerNorm: loads", "LayerNorm: forward"],
    "LayerNorm forward returns its input": ["LayerNorm: keeps the gradient", "LayerNorm: gradient norms"],
    "autograd inside backward": ["LayerNormFunction: backward is derived"],
}


def bugs_of(*targets):
    """The known bugs whose checks of one of `targets` must fail, as pytest parameters named after the bug."""
    return [pytest.param(b, id=b.name) for b in BUGS if b.target in targets]


def assert_bug_caught(tmp_path, bug, seed=5):
    """Plant `bug` and grade the checks of its target (or those of SELECT): they lose points, only they, each
    failure says why, and when the bug is a known mistake (`says`) one failure names it."""
    source = mutate(reference_source(SLUG), bug.old, bug.new)
    select = SELECT.get(bug.name, [f"{bug.target}:"])
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=seed, select=select)
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug.name}: no check of {bug.target} failed"
    assert failed_targets(report) == {bug.target}, f"{bug.name}: failed {failed_targets(report)}"
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    if bug.says:
        assert any(bug.says in r.output for r in failing), [r.output for r in failing]
