"""layernorm specifics beyond the harness (tests/checks/test_harness.py): grading stays fast, the gradient checks
judge in the trusted process, and the premise of the end-to-end checks holds."""

import types

import torch
from torch import nn

from autograder import spec as specs
from autograder.grading import grade, single_threaded_torch
from tests.helpers import load_check_module, mutate, reference_source, write_submission

SLUG = "layernorm"


def test_grading_the_reference_stays_fast():
    report = grade(SLUG, specs.load(SLUG).reference, seed=11, select=["LayerNorm: keeps", "LayerNorm: trains"])
    slowest = max(report.results, key=lambda r: r.duration)
    assert slowest.duration < 30, f"{slowest.name} took {slowest.duration} s"


def test_backward_checks_judge_in_the_trusted_process(tmp_path):
    # A backward that disagrees with its own forward fails the finite-difference check, computed by the grader from
    # forward values at perturbed inputs; a backward that calls autograd is found by reading the file here.
    source = mutate(reference_source(SLUG), "dweight = (rows * x_hat.reshape(-1, D)).sum(dim=0)      # (D,)",
                    "dweight = 1.01 * (rows * x_hat.reshape(-1, D)).sum(dim=0)      # (D,)")
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=3,
                   select=["LayerNormFunction: backward agrees"])
    (result,) = [r for r in report.results if "finite differences" in r.name]
    assert not result.passed and "central differences of your forward" in result.output, result.output


def test_without_normalization_the_deep_net_spreads_its_gradients():
    """The premise of the end-to-end checks: the same net without LayerNorm has a wide gradient spread and does not
    train, with nn.LayerNorm it has a narrow one and reaches the target loss (all in this process)."""
    pub = load_check_module(SLUG, "test_public")
    with single_threaded_torch():
        _premise(pub)


def _premise(pub):
    X, Y = pub._digits("cpu")
    identity = types.SimpleNamespace(LayerNorm=lambda width: nn.Identity())
    plain = pub._trusted_net(lambda width: nn.Identity(), pub.DEPTH, pub.WIDTH, 0, "cpu")
    spread_plain = pub._grad_norms(pub.probe_deep_mlp(identity, dict(plain.state_dict()), X, Y, pub.DEPTH,
                                                      pub.WIDTH, 0, 0.0))
    normed = pub._trusted_net(nn.LayerNorm, pub.DEPTH, pub.WIDTH, 0, "cpu")
    with_ln = types.SimpleNamespace(LayerNorm=nn.LayerNorm)
    spread_ln = pub._grad_norms(pub.probe_deep_mlp(with_ln, dict(normed.state_dict()), X, Y, pub.DEPTH, pub.WIDTH,
                                                   0, 0.0))
    assert spread_plain.max() / spread_plain.min() > 100
    assert spread_ln.max() / spread_ln.min() < 20

    for net, builder, reaches in ((plain, identity, False), (normed, with_ln, True)):
        trained = pub.probe_deep_mlp(builder, dict(net.state_dict()), X, Y, pub.DEPTH, pub.WIDTH, pub.STEPS, pub.LR)
        net.load_state_dict(trained)
        with torch.no_grad():
            loss = float(nn.functional.cross_entropy(net(X), Y))
        if reaches:
            assert loss < 0.6 * pub.TARGET_LOSS, loss       # a margin below the target
        else:
            assert loss > 1.5 * pub.TARGET_LOSS, loss
