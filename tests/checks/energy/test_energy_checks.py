"""What is specific to the energy checks (the harness covers the reference, the skeleton, hollow code and the bugs):
the oracle (FlopCounterMode with the course's LayerNorm convention) agrees with the reference's formulas on every
model the checks build, whatever path attention takes; the README's worked example is what the reference computes;
the stored values of the public checks are consistent with the formulas."""

import pytest
import torch

from tests.helpers import load_check_module, load_reference

SLUG = "energy"


@pytest.mark.parametrize("kind", ["mlp", "cnn", "block", "cross", "shared"])
def test_the_oracle_and_the_reference_agree(kind):
    C = load_check_module(SLUG, "_common")
    cfg, shape, _ = C.MODELS[kind]
    ref = load_reference(SLUG)
    assert C.probe_count(ref, kind, cfg, shape, "cpu") == C.probe_count(C.ORACLE, kind, cfg, shape, "cpu")


def test_the_oracle_and_the_reference_agree_on_random_sizes():
    C, H = load_check_module(SLUG, "_common"), load_check_module(SLUG, "test_hidden")
    rng = __import__("numpy").random.default_rng(0)
    for _ in range(12):
        kind, cfg, shape = H._random_model(rng)
        got = C.probe_count(load_reference(SLUG), kind, cfg, shape, "cpu")
        assert got == C.probe_count(C.ORACLE, kind, cfg, shape, "cpu"), (kind, cfg, shape)


def test_count_flops_does_not_depend_on_the_attention_path():
    """In eval mode without gradients, nn.MultiheadAttention takes a fused fast path that FlopCounterMode cannot see
    into; count_flops counts the same FLOPs as in training mode (the formula is the computation's, not the kernel's)."""
    ref = load_reference(SLUG)
    torch.manual_seed(0)
    attn_model = torch.nn.Sequential(torch.nn.LayerNorm(16))
    attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)

    class SelfAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm, self.attn = attn_model, attn

        def forward(self, x):
            h = self.norm(x)
            return self.attn(h, h, h, need_weights=False)[0]

    model = SelfAttention()
    train = ref.count_flops(model.train(), (2, 7, 16))
    evaluation = ref.count_flops(model.eval(), (2, 7, 16))
    assert train == evaluation and train["attn"] == 8 * 2 * 7 * 16 * 16 + 4 * 2 * 7 * 7 * 16


def test_the_readme_worked_example():
    ref = load_reference(SLUG)
    flops = ref.training_flops(65.2e9, 1.4e12)
    assert flops == pytest.approx(5.4768e23)
    utilisation = flops / (1_022_362 * 3600) / 312e12
    assert utilisation == pytest.approx(0.477, abs=5e-4)
    joules = ref.energy_joules(flops, 312e12, utilisation, 400, pue=1.1)
    assert joules / 3.6e9 == pytest.approx(449.8, abs=0.5)  # MWh; the paper reports 449
    assert ref.co2_kg(joules, 385) / 1000 == pytest.approx(173.2, abs=0.5)  # t; the paper reports 173
    # GPT-3 (Patterson et al., 2021): 14.8 days on 10,000 V100s at 330 W, PUE 1.1, 429 g/kWh
    u = 3.14e23 / (10_000 * 14.8 * 86400) / 125e12
    gpt3 = ref.energy_joules(3.14e23, 125e12, u, 330, pue=1.1)
    assert gpt3 / 3.6e9 == pytest.approx(1287, rel=0.01)
    assert ref.co2_kg(gpt3, 429) / 1000 == pytest.approx(552, rel=0.01)


def test_the_stored_values_follow_the_formulas():
    ref = load_reference(SLUG)
    assert ref.energy_joules(5.4768e23, 312e12, 0.477, 400, 1.1) == pytest.approx(1619222706015.159, rel=1e-12)
    assert ref.co2_kg(449 * 3.6e9, 385.0) == pytest.approx(172_865.0, rel=1e-12)
    assert ref.co2_kg(1287 * 3.6e9, 429.0) == pytest.approx(552_123.0, rel=1e-12)
    assert ref.training_flops(175e9, 300e9) == pytest.approx(3.15e23, rel=1e-12)
