"""Bugs planted in LayerNormFunction and batch_norm lose points on the checks of the function that has them.

Every submission is the reference with one realistic bug (made with `mutate`, so it tracks the reference); grading
runs only the checks of that function (`select=`), public and hidden.
"""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "layernorm"

DX_MU = "- dx_hat.mean(dim=-1, keepdim=True)           # through mu"
DX_VAR = "- x_hat * (dx_hat * x_hat).mean(dim=-1, keepdim=True))  # through sigma^2"
DW = "dweight = (rows * x_hat.reshape(-1, D)).sum(dim=0)      # (D,)"
SAVED = "x_hat, r, weight = ctx.saved_tensors                    # (*, D), (*, 1), (D,)"
RV = "running_var.mul_(1 - momentum).add_(momentum * var * n / max(n - 1, 1))"
RM = "running_mean.mul_(1 - momentum).add_(momentum * mean)"
EVAL = "mean, var = running_mean, running_var                   # (C,)"

# (id, [(old, new), ...], function whose checks must fail, check-name prefixes to run (None: all of that function's),
#  words a failure message must hold)
BUGS = [
    ("backward without the mean terms", [(DX_MU, ""), (DX_VAR, ")")], "LayerNormFunction", None,
     "the terms flowing through the mean and the variance are missing"),
    ("backward without the variance term", [(DX_VAR, ")")], "LayerNormFunction", None,
     "the term through the variance"),
    ("dweight not summed over the batch", [(DW, "dweight = g * x_hat")], "LayerNormFunction", None,
     "dweight"),
    ("autograd inside backward",
     [(SAVED, "x_hat, r, weight = ctx.saved_tensors\n"
              "        with torch.enable_grad():\n"
              "            xh = x_hat.detach().requires_grad_()\n"
              "            (xh * weight * g).sum().backward()")],
     "LayerNormFunction", ["LayerNormFunction: backward is derived"], "uses autograd"),
    ("running_var updated with the biased variance", [(RV, "running_var.mul_(1 - momentum).add_(momentum * var)")],
     "batch_norm", None, "biased variance"),
    ("batch statistics used in eval", [(EVAL, "mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)")],
     "batch_norm", None, "batch statistics used in eval"),
    ("momentum the wrong way round",
     [(RM, "running_mean.mul_(momentum).add_((1 - momentum) * mean)"),
      (RV, "running_var.mul_(momentum).add_((1 - momentum) * var * n / max(n - 1, 1))")], "batch_norm", None,
     "running_mean after step 1"),
]


@pytest.mark.parametrize("bug,edits,target,select,words", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points_on_its_function(tmp_path, bug, edits, target, select, words):
    source = reference_source(SLUG)
    for old, new in edits:
        source = mutate(source, old, new)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=5, select=select or [f"{target}:"])
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug}: no check of {target} failed"
    assert failed_targets(report) == {target}
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    assert any(words in r.output for r in failing), [r.output for r in failing]
