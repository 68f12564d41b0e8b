"""Public checks for energy: what `dlcourse check energy` runs, and what students read.

count_flops is judged against PyTorch's own counter, torch.utils.flop_counter.FlopCounterMode, run here on the same
models (with the course's LayerNorm convention added to it, since PyTorch does not count normalisation); the three
formulas against values stored here, worked out by hand from published training runs, and their properties.
"""

import math

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_equal, expect_true
from autograder.probes import probe_raised

C = load_sibling(__file__, "_common")

# ----------------------------------------------------------------------------------------------- count_flops


def _counts(student, kind, device):
    cfg, shape, what = C.MODELS[kind]
    got = C.nonzero(student.run(C.probe_count, kind, cfg, shape, device),
                    f"count_flops(model, {shape}) for {what}")
    want = C.probe_count(C.ORACLE, kind, cfg, shape, device)
    return got, want, f"{what}; input shape {shape}"


def _judge(got, want, keys, inputs, mistakes=None):
    for key in keys:
        if key not in got:
            fail(f"count_flops has no entry for the module {key!r} (FlopCounterMode counts {want[key]:,} FLOPs "
                 f"there); the keys are the names of model.named_modules()\n  input: {inputs}")
        if got[key] != want[key]:
            hint = next((f"\n  This matches a known mistake: {d}." for d, w in (mistakes or {}).get(key, {}).items()
                         if w == got[key]), "")
            if not hint and got[key] * 2 == want[key]:
                hint = "\n  This matches a known mistake: a multiply-add counts as 2 FLOPs, not 1."
            fail(f"count_flops[{key!r}] is {got[key]:,} FLOPs, FlopCounterMode counts {want[key]:,} "
                 f"({got[key] / want[key]:.3g} times as many){hint}\n  input: {inputs}")


@check("count_flops: Linear layers, with and without bias, and a Linear applied twice, as FlopCounterMode counts",
       points=2, core=True)
def test_linear(student, device):
    for kind, keys in (("mlp", ("net.0", "net.2", "net.4")), ("shared", ("fc", "out"))):
        got, want, inputs = _counts(student, kind, device)
        _judge(got, want, keys, inputs, mistakes={"fc": {"the second call replaced the first one's count instead of "
                                                         "adding to it (a module applied twice costs twice)":
                                                         want.get("fc", 0) // 2}} if kind == "shared" else None)


@check("count_flops: Conv2d with padding, stride and groups, as FlopCounterMode counts", points=2, core=True)
def test_conv2d(student, device):
    got, want, inputs = _counts(student, "cnn", device)
    _judge(got, want, ("conv1", "conv2", "head"), inputs,
           mistakes={"conv2": {"groups ignored: each output sees in_channels / groups input channels":
                               want["conv2"] * 2,
                               "stride ignored: count the output's positions, not the input's": want["conv2"] * 4}})


@check("count_flops: MultiheadAttention's projections and its two attention matmuls, self- and cross-attention",
       points=3, core=True)
def test_attention(student, device):
    for kind in ("block", "cross"):
        got, want, inputs = _counts(student, kind, device)
        cfg, shape, _ = C.MODELS[kind]
        matmuls = C.attention_matmul_flops(kind, cfg, shape, device)
        _judge(got, want, ("attn",), inputs,
               mistakes={"attn": {"the attention matmuls Q K^T and A V are left out (only the projections counted)":
                                  want["attn"] - matmuls}})


@check("count_flops: LayerNorm counts 5 FLOPs per element, +1 with a weight, +1 with a bias (stored values)",
       points=2, core=True)
def test_layernorm(student, device):
    stored = {"block": {"ln1": 1120, "ln2": 960}, "cross": {"norm": 1200}}  # numel 160, 160 and 240
    plain = {"ln1": 800, "ln2": 800, "norm": 1200}
    for kind, expected in stored.items():
        got, _, inputs = _counts(student, kind, device)
        _judge(got, expected, tuple(expected), inputs + " (LayerNorm is counted by the course's convention)",
               mistakes={k: {"the scale and shift (weight and bias) are not counted: +1 FLOP per element each":
                             plain[k]} for k in expected})


@check("count_flops: one entry per counted module that ran, named as in model.named_modules()", points=1)
def test_keys(student, device):
    for kind in C.MODELS:
        got, want, inputs = _counts(student, kind, device)
        extra = sorted(set(got) - set(want))
        expect_true(not extra, f"count_flops has entries {extra} that FlopCounterMode does not count (only "
                    f"Linear, Conv2d, MultiheadAttention and LayerNorm modules that ran)\n  input: {inputs}")
        expect_equal(sorted(got), sorted(want), name=f"the module names counted for {C.MODELS[kind][2]}")


@check("count_flops: removes its hooks and leaves the model's parameters and mode as they were", points=1)
def test_no_side_effects(student, device):
    r = student.run(C.probe_side_effects, device)
    expect_equal(r["hooks"], 0, name="forward hooks left on the model's modules after count_flops")
    expect_equal(r["changed"], 0, name="parameters changed by count_flops")
    expect_equal(r["training"], 1, name="model.training after count_flops on a model in training mode (1 = True)")
    expect_equal(r["grads"], 0, name="parameters given a .grad by count_flops (run without gradients)")


# ----------------------------------------------------------------------------------------------- training_flops

@check("training_flops: 6 N D for GPT-3 and LLaMA-65B (stored values)", points=2, core=True)
def test_training_flops(student):
    runs = [  # (N, D, 6 N D worked out by hand, which run)
        (175e9, 300e9, 3.15e23, "GPT-3 175B on 300B tokens (Brown et al., 2020)"),
        (65.2e9, 1.4e12, 5.4768e23, "LLaMA-65B on 1.4T tokens (Touvron et al., 2023)"),
        (7, 3, 126.0, "N = 7, D = 3"),
    ]
    for n, d, expected, what in runs:
        got = student.training_flops(n, d)
        expect_close(got, expected, rtol=1e-9, atol=0.0, name=f"training_flops({n:g}, {d:g})", inputs=what,
                     mistakes={"2 N D is the forward pass only: training adds the backward pass (4 N D)":
                               expected / 3,
                               "4 N D: the forward pass costs 2 N D too": expected * 2 / 3})


@check("training_flops: a float, linear in N and in D; negative N or D raises ValueError", points=1)
def test_training_flops_properties(student):
    got = student.training_flops(1000, 20)
    expect_true(isinstance(got, float), f"training_flops(1000, 20) returned a {type(got).__name__}, expected a float")
    expect_close(student.training_flops(2000, 20), 2 * got, rtol=1e-12, name="training_flops(2N, D) / 2")
    expect_close(student.training_flops(1000, 60), 3 * got, rtol=1e-12, name="training_flops(N, 3D) / 3")
    for args in ((-1, 10), (10, -1)):
        name = student.run(probe_raised, "training_flops", *args)
        expect_true(name == "ValueError", f"training_flops{args} raised {name or 'nothing'}, expected a ValueError")


# ----------------------------------------------------------------------------------------------- energy_joules

@check("energy_joules: flops / (peak * utilisation) seconds times watts times PUE (stored values)", points=2,
       core=True)
def test_energy(student):
    cases = [  # (flops, peak FLOP/s, utilisation, watts, pue, joules worked out by hand)
        (1e18, 1e14, 0.5, 400, 1.1, 8.8e6),  # 2e4 s * 400 W * 1.1
        (3.6e15, 1e12, 1.0, 250, 1.0, 9.0e5),  # 3600 s * 250 W
        # LLaMA-65B (Touvron et al., 2023): 6 N D on A100s at the 47.7% utilisation its 1,022,362 GPU-hours imply,
        # 400 W, PUE 1.1: 1.6192e12 J = 449.8 MWh (the paper reports 449 MWh)
        (5.4768e23, 312e12, 0.477, 400, 1.1, 1619222706015.159),
    ]
    for flops, peak, util, watts, pue, expected in cases:
        got = student.energy_joules(flops, peak, util, watts, pue)
        seconds = flops / (peak * util)
        expect_close(got, expected, rtol=1e-9, atol=0.0,
                     name=f"energy_joules({flops:g}, {peak:g}, {util}, {watts}, pue={pue})",
                     mistakes={"multiplied by the utilisation instead of divided by it: at utilisation u the run "
                               "takes 1 / u times longer than at peak": flops / peak * util * watts * pue,
                               "the utilisation is ignored (the chip never runs at its peak)":
                               flops / peak * watts * pue,
                               "the PUE is ignored: the data centre draws pue times the accelerators' power":
                               seconds * watts,
                               "watt-hours instead of joules (1 J = 1 W * 1 s)": seconds * watts * pue / 3600})
    got = student.energy_joules(3.6e15, 1e12, 1.0, 250)
    expect_close(got, 9.0e5, rtol=1e-9, atol=0.0, name="energy_joules(3.6e15, 1e12, 1.0, 250) (default pue = 1)")


@check("energy_joules: utilisation outside (0, 1], a peak <= 0, negative watts or a PUE below 1 raise ValueError",
       points=1)
def test_energy_invalid(student):
    for args in ((1e18, 1e14, 0.0, 400, 1.1), (1e18, 1e14, 1.5, 400, 1.1), (1e18, 0.0, 0.5, 400, 1.1),
                 (1e18, 1e14, 0.5, -1.0, 1.1), (1e18, 1e14, 0.5, 400, 0.9), (-1.0, 1e14, 0.5, 400, 1.1)):
        name = student.run(probe_raised, "energy_joules", *args)
        expect_true(name == "ValueError", f"energy_joules{args} raised {name or 'nothing'}, expected a ValueError")


# ----------------------------------------------------------------------------------------------- co2_kg

@check("co2_kg: joules to kWh (3.6e6 J each) times grams per kWh, in kilograms (stored values)", points=2, core=True)
def test_co2(student):
    cases = [  # (joules, gCO2eq/kWh, kg worked out by hand, what)
        (3.6e6, 1000.0, 1.0, "1 kWh at 1000 g/kWh"),
        (449 * 3.6e9, 385.0, 172_865.0, "LLaMA-65B's reported 449 MWh at 385 g/kWh (Touvron et al., 2023)"),
        (1287 * 3.6e9, 429.0, 552_123.0, "GPT-3's reported 1,287 MWh at 429 g/kWh (Patterson et al., 2021)"),
    ]
    for joules, intensity, expected, what in cases:
        got = student.co2_kg(joules, intensity)
        expect_close(got, expected, rtol=1e-9, atol=0.0, name=f"co2_kg({joules:g}, {intensity:g})", inputs=what,
                     mistakes={"off by a factor of 1000: 1 kWh is 3.6e6 J and 1 kg is 1000 g": expected * 1000,
                               "off by a factor of 1/1000: 1 kWh is 3.6e6 J (not 3.6e9 J, a MWh)": expected / 1000,
                               "joules to kWh divides by 3600 only (that gives Wh, not kWh)": expected * 1000})


@check("co2_kg: a float, linear in both arguments; negative arguments raise ValueError", points=1)
def test_co2_properties(student):
    got = student.co2_kg(7.2e6, 300.0)
    expect_true(isinstance(got, float), f"co2_kg(7.2e6, 300.0) returned a {type(got).__name__}, expected a float")
    expect_close(student.co2_kg(7.2e6, 600.0), 2 * got, rtol=1e-12, name="co2_kg(J, 2 I) / 2")
    expect_true(math.isclose(student.co2_kg(0.0, 300.0), 0.0, abs_tol=1e-15), "co2_kg(0, 300) is not 0")
    for args in ((-1.0, 300.0), (1.0, -300.0)):
        name = student.run(probe_raised, "co2_kg", *args)
        expect_true(name == "ValueError", f"co2_kg{args} raised {name or 'nothing'}, expected a ValueError")
