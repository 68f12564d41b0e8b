"""Bugs in the behaviour of `dropout` (special cases, generator, gradient; planted in the reference) lose points on
`dropout`'s checks."""

import pytest

from tests.helpers import failed_targets, grade_variant, mutate, reference_source

SLUG = "dropout"
RAND_ARGS = "generator=generator, device=x.device"
RETURN = "return x * mask * scale"

# (bug, old text in the reference, new text, prefixes of the checks that must catch it)
BUGS = [
    ("still active in eval", "if not training or p == 0.0:", "if p == 0.0:", ["dropout: the identity"]),
    ("generator ignored", RAND_ARGS, "device=x.device", ["dropout: a generator"]),
    ("the same mask on every call", RAND_ARGS,
     "generator=generator or torch.Generator(device=x.device).manual_seed(0), device=x.device",
     ["dropout: a generator"]),
    ("input modified in place", RETURN, "return x.mul_(mask * scale)", ["dropout: the input is never"]),
    ("NaN at p == 1", RETURN, "return x * mask / torch.tensor(1.0 - p)", ["dropout: p == 1"]),
    ("no ValueError for bad p", 'raise ValueError(f"dropout probability must be in [0, 1], got {p}")', "pass",
     ["dropout: p outside"]),
    ("output detached from x", RETURN, "return x.detach() * mask * scale", ["dropout: the gradient"]),
]


@pytest.mark.parametrize("bug,old,new,checks", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points_on_dropout(tmp_path, bug, old, new, checks):
    compile(mutate(reference_source(SLUG), old, new), "dropout.py", "exec")  # the bug, not a syntax error
    report = grade_variant(tmp_path, SLUG, old, new, select=checks)
    assert all(any(r.name.startswith(c) for r in report.results) for c in checks), [r.name for r in report.results]
    assert report.score < report.max_score, f"{bug}: no check of dropout failed"
    assert failed_targets(report) == {"dropout"}
    assert all(r.output for r in report.results if not r.passed), "a failing check must say why"
