"""A submission that calls one of PyTorch's normalization ops loses the points of the function that calls it."""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "layernorm"

CASES = [
    ("layer_norm", "    shape = _as_shape(normalized_shape)\n    if tuple(",
     "    import torch.nn.functional as F\n    return F.layer_norm(x, _as_shape(normalized_shape), weight, bias, eps)\n"
     "    shape = _as_shape(normalized_shape)\n    if tuple(", ["layer_norm:", "batch_norm: training"]),
    ("batch_norm", "    if x.dim() not in (2, 3):\n",
     "    return torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)\n"
     "    if x.dim() not in (2, 3):\n", ["batch_norm:", "layer_norm: weight"]),
    ("LayerNorm", "        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)\n",
     "        return nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)\n",
     ["LayerNorm: loads", "LayerNorm: weight", "layer_norm: weight"]),
]


@pytest.mark.parametrize("target,old,new,select", CASES, ids=[c[0] for c in CASES])
def test_forbidden_builtin_loses_the_points_of_its_function(tmp_path, target, old, new, select):
    path = write_submission(tmp_path, SLUG, mutate(reference_source(SLUG), old, new))
    report = grade(SLUG, path, seed=1, select=select)
    assert failed_targets(report) == {target}
    assert all(r.score == 0 for r in report.results if r.target == target)
    failing = [r for r in report.results if not r.passed]
    assert all("forbidden" in r.output for r in failing), [r.output for r in failing]

