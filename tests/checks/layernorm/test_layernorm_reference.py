"""The layernorm checks accept the reference and reject the skeleton; the end-to-end premise holds.

One module-scoped grade of the reference (public and hidden checks) serves the full-marks tests.
"""

import types

import pytest
import torch
from torch import nn

from autograder import spec as specs
from autograder.grading import grade, single_threaded_torch

SLUG = "layernorm"


@pytest.fixture(scope="module")
def reference_report():
    return grade(SLUG, specs.load(SLUG).reference, seed=11)


def test_reference_gets_full_marks(reference_report):
    assert reference_report.max_score > 0
    assert reference_report.score == reference_report.max_score, reference_report.failed_names()


def test_reference_covers_every_target_public_and_hidden(reference_report):
    assert {r.target for r in reference_report.results} == set(specs.load(SLUG).targets)
    assert {r.visibility for r in reference_report.results} == {"public", "hidden"}
    hidden_targets = {r.target for r in reference_report.results if r.visibility == "hidden"}
    assert hidden_targets == set(specs.load(SLUG).targets)


def test_grading_the_reference_stays_fast(reference_report):
    slowest = max(reference_report.results, key=lambda r: r.duration)
    assert slowest.duration < 30, f"{slowest.name} took {slowest.duration} s"


def test_skeleton_gets_zero():
    report = grade(SLUG, specs.load(SLUG).skeleton, seed=3, mode="check")
    assert report.score == 0
    assert len(report.results) >= 15
    assert all("not implemented yet" in r.output for r in report.results), [r.output for r in report.results][:3]


def _load_public_checks():
    import importlib.util

    path = specs.load(SLUG).public_checks
    mod_spec = importlib.util.spec_from_file_location("layernorm_public_checks_for_tests", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def test_without_normalization_the_deep_net_spreads_its_gradients():
    """The premise of the end-to-end checks: the same net without LayerNorm has a wide gradient spread and does not
    train, with nn.LayerNorm it has a narrow one and reaches the target loss (all in this process)."""
    pub = _load_public_checks()
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
