"""Bugs planted in layer_norm and LayerNorm lose points on the checks of the function that has them.

Every submission is the reference with one realistic bug (made with `mutate`, so it tracks the reference). Grading
runs only the checks of the function with the bug (`select=`), public and hidden, to keep the suite short: a bug in
`layer_norm` also breaks `LayerNorm`, which calls it, so attribution is asserted on the selected checks only.
"""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "layernorm"

VAR = "var = (xc * xc).mean(dim=dims, keepdim=True)                # (*, 1, ..., 1) biased variance"
XHAT = "x_hat = xc * torch.rsqrt(var + eps)                         # (*, *S)"
DIMS = "dims = tuple(range(-len(shape), 0))                         # the trailing len(S) dims"
W_INIT = "self.weight = nn.Parameter(torch.ones(self.normalized_shape))   # (*S) gain"
B_INIT = "self.bias = nn.Parameter(torch.zeros(self.normalized_shape))    # (*S)"
FWD = "return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)"

# (id, [(old, new), ...], function whose checks must fail, check-name prefixes to run, words the message must hold)
BUGS = [
    ("unbiased variance", [(VAR, "var = x.var(dim=dims, keepdim=True)")], "layer_norm", None,
     "unbiased variance"),
    ("eps outside the square root", [(XHAT, "x_hat = xc / (torch.sqrt(var) + eps)")], "layer_norm", None,
     "eps added outside the square root"),
    ("normalized over the last dim only", [(DIMS, "dims = (-1,)")], "layer_norm", None,
     "normalized over the last dim only"),
    ("E[x^2] - E[x]^2 shortcut", [(VAR, "var = (x * x).mean(dim=dims, keepdim=True) - mu * mu")], "layer_norm",
     ["layer_norm: stays accurate", "layer_norm: matches the reference for a large offset"], "E[x^2] - E[x]^2"),
    ("weight and bias initialised the wrong way round",
     [(W_INIT, W_INIT.replace("ones", "zeros")), (B_INIT, B_INIT.replace("zeros", "ones"))], "LayerNorm",
     ["LayerNorm: weight", "LayerNorm: forward"], "initialised the wrong way round"),
    ("LayerNorm ignores its eps", [(FWD, FWD.replace(", self.eps)", ")"))], "LayerNorm",
     ["LayerNorm: loads", "LayerNorm: forward"], "eps ignored"),
    ("LayerNorm forward returns its input", [(FWD, "return x")], "LayerNorm",
     ["LayerNorm: keeps the gradient", "LayerNorm: gradient norms"], "gradient norms"),
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
