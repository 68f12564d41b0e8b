"""Bugs in the values and the statistics of `dropout` (planted in the reference) lose points on `dropout`'s checks."""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, grade_variant, mutate, reference_source, write_submission

SLUG = "dropout"
SCALE = "scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0"
RAND = "u = torch.rand(x.shape, generator=generator, device=x.device, dtype=u_dtype)"

# (bug, old text in the reference, new text, prefixes of the checks that must catch it)
BUGS = [
    ("no rescaling", SCALE, "scale = 1.0 if p < 1.0 else 0.0", ["dropout: kept values", "dropout: the mean"]),
    ("scaled by 1/p", SCALE, "scale = 1.0 / p if p < 1.0 else 0.0", ["dropout: kept values"]),
    ("kept with probability p", "keep = u >= p ", "keep = u < p ", ["dropout: the dropped fraction"]),
    ("one mask shared across the batch", RAND,
     "u = torch.rand(x.shape[1:], generator=generator, device=x.device, dtype=u_dtype)",
     ["dropout: masks are independent"]),
    ("one mask shared across the features", RAND,
     "u = torch.rand(x.shape[:-1] + (1,), generator=generator, device=x.device, dtype=u_dtype)",
     ["dropout: masks are independent"]),
    ("float32 output for half inputs", "mask = keep.to(x.dtype)", "mask = keep.float()", ["dropout: works in"]),
]


@pytest.mark.parametrize("bug,old,new,checks", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points_on_dropout(tmp_path, bug, old, new, checks):
    compile(mutate(reference_source(SLUG), old, new), "dropout.py", "exec")  # the bug, not a syntax error
    report = grade_variant(tmp_path, SLUG, old, new, select=checks)
    assert all(any(r.name.startswith(c) for r in report.results) for c in checks), [r.name for r in report.results]
    assert report.score < report.max_score, f"{bug}: no check of dropout failed"
    assert failed_targets(report) == {"dropout"}
    assert all(r.output for r in report.results if not r.passed), "a failing check must say why"


def test_hidden_checks_catch_a_missing_rescaling_too(tmp_path):
    """The hidden checks judge on their own: a submission cannot pass them with this bug either."""
    source = mutate(reference_source(SLUG), SCALE, "scale = 1.0 if p < 1.0 else 0.0")
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=5,
                   select=["dropout: every element", "dropout: dropped fraction and mean"])
    assert len(report.results) == 2 and not any(r.passed for r in report.results)
    assert all("not rescaled" in r.output for r in report.results)
