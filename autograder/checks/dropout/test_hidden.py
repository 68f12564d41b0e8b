"""Hidden checks for dropout: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Masks are random, so a submission's mask cannot be compared with the reference's element by element. Each check
runs the same probe on the submission (in the sandbox) and on the reference (here): what is deterministic (the
output's shape, dtype and device, the special cases, evaluation mode inside a model) must match the reference
exactly; what is random is judged against the law it follows (values 0 or x / (1 - p), binomial counts).
"""

import math

import torch

from autograder.checking import check, fail
from autograder.compare import expect_close, expect_equal, expect_true

Z = 5.0  # binomial bounds, in standard deviations
DTYPES = ("float16", "bfloat16", "float32", "float64")
LAYOUTS = ("contiguous", "transposed", "expanded")


def _dtype(name):
    return getattr(torch, name)


def _cpu_randn(shape, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    return torch.where(x.abs() < 1e-2, torch.full_like(x, 0.25), x)  # no exact (or tiny) zeros


def probe_forward(m, x, p, dtype, layout, seed):
    """dropout on x converted to `dtype`, laid out contiguously, transposed, or broadcast along dim 0."""
    import torch

    x = x.to(getattr(torch, dtype))
    if layout == "transposed" and x.dim() == 2:
        x = x.t()  # non-contiguous view
    elif layout == "expanded" and x.dim() >= 1:
        x = x[:1].expand(x.shape)  # stride 0 along dim 0: x[i] all alias the same memory
    torch.manual_seed(seed)
    out = m.dropout(x, p)
    return x.contiguous(), out


def _meta(t):
    return (str(t.dtype), tuple(t.shape), t.device.type) if isinstance(t, torch.Tensor) else type(t).__name__


@check("dropout: every element is 0 or x / (1 - p) on random shapes, rates, dtypes and layouts", points=2)
def test_values_random(student, reference, rng, seed, device):
    shapes = [(), (7,), (24, 33), (3, 5, 11), (2, 3, 4, 5), (64, 48)]
    for i, shape in enumerate(shapes):
        p = float(rng.uniform(0.05, 0.95))
        dtype = DTYPES[int(rng.integers(len(DTYPES)))]
        layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))] if len(shape) == 2 else "contiguous"
        x = _cpu_randn(shape, seed + i).to(device)
        x_used, out = student.run(probe_forward, x, p, dtype, layout, seed)
        _, ref_out = probe_forward(reference, x, p, dtype, layout, seed)
        inputs = f"{dtype} x of shape {shape} ({layout}) on {device}, p = {p:.3f}"
        if _meta(out) != _meta(ref_out):
            fail(f"dropout(x, p={p:.3f}) returned {_meta(out)}, expected (dtype, shape, device) {_meta(ref_out)}"
                 f"\n  input: {inputs}")
        scaled = (x_used.double() / (1 - p)).to(x_used.dtype)
        expected = torch.where(out == 0, torch.zeros_like(out), scaled)
        expect_close(out, expected, name=f"dropout(x, p={p:.3f}) (each element must be 0 or x / (1 - p))",
                     inputs=inputs,
                     mistakes={"the kept values are not rescaled by 1 / (1 - p)":
                               torch.where(out == 0, torch.zeros_like(out), x_used),
                               "kept values scaled by 1 / p instead of 1 / (1 - p)":
                               torch.where(out == 0, torch.zeros_like(out), (x_used.double() / p).to(x_used.dtype))})


def probe_counts(m, n, ps, seed, device):
    import torch

    torch.manual_seed(seed)
    x = torch.ones(n, device=device)
    return [m.dropout(x, p) for p in ps]


def _frac_and_mean(outs, n, device):
    """Computed here from the returned tensors, never trusted from the sandbox."""
    stats = []
    for o in outs:
        if not isinstance(o, torch.Tensor) or o.shape != (n,):
            fail(f"dropout(torch.ones({n}), p) returned {_meta(o)}, expected a tensor of shape ({n},)")
        if o.device.type != device:
            fail(f"dropout(x, p) returned a tensor on {o.device.type}, but x was on {device}")
        stats.append(((o == 0).double().mean().item(), o.double().mean().item()))
    return stats


@check("dropout: dropped fraction and mean follow the binomial law for random rates, like the reference", points=2, core=True)
def test_counts_random(student, reference, rng, seed, device):
    n = 1 << 18
    ps = [float(v) for v in rng.uniform(0.02, 0.98, size=4)]
    got = _frac_and_mean(student.run(probe_counts, n, ps, seed, device), n, device)
    want = _frac_and_mean(probe_counts(reference, n, ps, seed, device), n, device)
    for p, (frac, mean), (ref_frac, ref_mean) in zip(ps, got, want):
        bound = Z * math.sqrt(p * (1 - p) / n)
        # the reference obeys the same bounds: a failure here means the check itself is wrong
        assert abs(ref_frac - p) <= bound and abs(ref_mean - 1) <= Z * math.sqrt(p / ((1 - p) * n))
        expect_close(frac, p, rtol=0.0, atol=bound, name=f"fraction of zeros in dropout(ones({n}), p={p:.3f})",
                     inputs=f"p = {p:.3f}: Binomial(n, p) / n has standard deviation {bound / Z:.2g}",
                     mistakes={"each element kept with probability p instead of 1 - p": 1 - p})
        expect_close(mean, 1.0, rtol=0.0, atol=Z * math.sqrt(p / ((1 - p) * n)),
                     name=f"mean of dropout(ones({n}), p={p:.3f})", inputs="the mean of the input is 1",
                     mistakes={"the kept values are not rescaled by 1 / (1 - p)": 1 - p,
                               "kept values scaled by 1 / p instead of 1 / (1 - p)": (1 - p) / p})


def probe_special(m, x, dtype):
    import torch

    x = x.to(getattr(torch, dtype))
    before = x.clone()
    result = {}
    result["eval"] = m.dropout(x, 0.7, training=False)
    result["p0"] = m.dropout(x, 0.0)
    result["p0_eval"] = m.dropout(x, 0.0, training=False)
    result["p1_abs"] = m.dropout(x, 1.0).abs()  # -0.0 and 0.0 are both fine
    outcomes = []
    for p in (-1e-3, 1.001, -5.0, 7.0):
        try:
            m.dropout(x, p)
            outcomes.append("no error")
        except ValueError:
            outcomes.append("ValueError")
        except Exception as exc:  # noqa: BLE001  the kind of error is the answer
            outcomes.append(type(exc).__name__)
    result["bad_p"] = outcomes
    m.dropout(x, 0.5)
    m.dropout(x, 0.5, generator=torch.Generator(device=x.device).manual_seed(0))
    result["x_after"] = x
    result["x_before"] = before
    return result


@check("dropout: eval mode, p == 0, p == 1, bad p and the untouched input match the reference", points=2)
def test_special_random(student, reference, rng, seed, device):
    for i in range(2):
        shape = tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 4))))
        dtype = DTYPES[int(rng.integers(len(DTYPES)))]
        x = _cpu_randn(shape, seed + i).to(device)
        got = student.run(probe_special, x, dtype)
        want = probe_special(reference, x, dtype)
        inputs = f"{dtype} x of shape {shape} on {device}"
        if isinstance(got, dict) and isinstance(got.get("p1_abs"), torch.Tensor) and torch.isnan(got["p1_abs"]).any():
            fail("dropout(x, p=1.0) contains NaN: at p == 1 every element is dropped; return zeros, not 0 / 0"
                 f"\n  input: {inputs}")
        if isinstance(got, dict) and got.get("bad_p") != want["bad_p"]:
            # only words of a fixed vocabulary are shown: an exception's name is the submission's to choose
            said = [o if o in ("ValueError", "no error") else "another exception" for o in got.get("bad_p") or []]
            fail(f"dropout(x, p) for p in (-0.001, 1.001, -5, 7) gave {said}, expected "
                 f"{want['bad_p']}: p outside [0, 1] must raise ValueError\n  input: {inputs}")
        if isinstance(got, dict) and isinstance(got.get("x_after"), torch.Tensor) and \
                not torch.equal(got["x_after"], got["x_before"]):
            fail("dropout modified its input x in place: build a new tensor instead\n  input: " + inputs)
        expect_equal({k: v for k, v in got.items() if k != "x_before"} if isinstance(got, dict) else got,
                     {k: v for k, v in want.items() if k != "x_before"},
                     name="results of dropout in its special cases", inputs=inputs)


def probe_gradient(m, x, upstream, p, training, dtype):
    import torch

    x = x.detach().to(getattr(torch, dtype)).clone().requires_grad_(True)  # a fresh leaf, never the caller's x
    out = m.dropout(x, p, training=training)
    if not out.requires_grad:  # cut off from x: there is no gradient to take
        return out, None
    out.backward(upstream.to(x.dtype))
    return out.detach(), x.grad


@check("dropout: the gradient is mask / (1 - p) on random shapes and rates, float32 and float64", points=1, core=True)
def test_gradient_random(student, reference, rng, seed, device):
    for i, (dtype, training) in enumerate((("float32", True), ("float64", True), ("float64", False))):
        shape = tuple(int(v) for v in rng.integers(2, 40, size=2))
        p = float(rng.uniform(0.1, 0.9))
        x = _cpu_randn(shape, seed + i).to(device)
        upstream = _cpu_randn(shape, seed + 100 + i).to(device)
        out, grad = student.run(probe_gradient, x, upstream, p, training, dtype)
        ref_out, ref_grad = probe_gradient(reference, x, upstream, p, training, dtype)
        inputs = f"{dtype} x of shape {shape}, p = {p:.3f}, training = {training}"
        if grad is None:
            fail(f"x.grad is None after dropout(x).backward(g): the output was cut off from x\n  input: {inputs}")
        if _meta(out) != _meta(ref_out) or _meta(grad) != _meta(ref_grad):
            fail(f"dropout output {_meta(out)} and x.grad {_meta(grad)}: expected {_meta(ref_out)} and "
                 f"{_meta(ref_grad)}\n  input: {inputs}")
        g = upstream.to(_dtype(dtype))
        scale = 1 / (1 - p) if training else 1.0
        mask = (out != 0).to(g.dtype)
        expect_close(grad, g * mask * scale, name="x.grad", inputs=inputs,
                     mistakes={"the gradient is the mask without the 1 / (1 - p) factor": g * mask})


def probe_generator(m, x, p, seeds, device):
    import torch

    outs = []
    for k, s in enumerate(seeds):
        torch.manual_seed(1000 + k)  # a different global state each time: it must not matter
        outs.append(m.dropout(x, p, generator=torch.Generator(device=device).manual_seed(s)))
    return outs


@check("dropout: with a generator the mask depends only on its seed (random seeds and rates)", points=1)
def test_generator_random(student, reference, rng, seed, device):
    shape = tuple(int(v) for v in rng.integers(16, 64, size=2))
    p = float(rng.uniform(0.2, 0.8))
    s1, s2 = (int(v) for v in rng.integers(0, 2**31 - 1, size=2))
    x = _cpu_randn(shape, seed).to(device)
    a, b, c = student.run(probe_generator, x, p, [s1, s1, s2], device)
    ref = probe_generator(reference, x, p, [s1, s1, s2], device)
    expect_true(torch.equal(ref[0], ref[1]), "internal: the reference is not reproducible")
    inputs = f"float32 x of shape {shape}, p = {p:.3f}, generator seeds {s1} and {s2}"
    if _meta(a) != _meta(ref[0]):
        fail(f"dropout(x, p, generator=g) returned {_meta(a)}, expected {_meta(ref[0])}\n  input: {inputs}")
    expect_true(torch.equal(a, b), "two generators with the same seed gave different masks (the global seed "
                                   "differed between the calls): take all randomness from `generator`\n  input: "
                + inputs)
    expect_true(not torch.equal(a, c), "generators with different seeds gave the same mask\n  input: " + inputs)


def probe_model(m, x, ps, seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    lin1, lin2 = nn.Linear(x.shape[1], 32), nn.Linear(32, 8)  # weights first: Dropout's __init__ cannot shift them
    drops = [m.Dropout(p) for p in ps]
    model = nn.Sequential(drops[0], lin1, nn.ReLU(), drops[1], lin2).to(x.device)
    model.eval()
    evaluated = model(x)
    model.train()
    hidden = torch.ones(4096, 32, device=x.device)
    trained = model[3](hidden)  # the second Dropout on its own, in train mode
    model.eval()
    evaluated_again = model(x)
    return {"eval": evaluated.detach(), "eval_again": evaluated_again.detach(), "train": trained.detach(),
            "p": [float(d.p) for d in drops]}


@check("Dropout: in a seeded model, eval mode matches the reference exactly and train mode drops at rate p",
       points=2, core=True)
def test_module_in_model(student, reference, rng, seed, device):
    ps = [float(v) for v in rng.uniform(0.1, 0.9, size=2)]
    x = _cpu_randn((16, 12), seed).to(device=device, dtype=torch.float32)
    got = student.run(probe_model, x, ps, seed)
    want = probe_model(reference, x, ps, seed)
    inputs = f"nn.Sequential(Dropout({ps[0]:.3f}), Linear(12, 32), ReLU(), Dropout({ps[1]:.3f}), Linear(32, 8))"
    expect_close(got["p"], want["p"], name="the p attribute of the Dropout layers", inputs=inputs)
    expect_close(got["eval"], want["eval"], name="model output after model.eval()", inputs=inputs)
    expect_close(got["eval_again"], want["eval_again"], name="model output after .train() then .eval() again",
                 inputs=inputs)
    n, p = 4096 * 32, ps[1]
    bound = Z * math.sqrt(p * (1 - p) / n)
    trained = got["train"]
    if not isinstance(trained, torch.Tensor) or trained.shape != (4096, 32):
        fail(f"Dropout({p:.3f}) in train mode returned {_meta(trained)} for a (4096, 32) input")
    if (trained == 0).all():
        fail(f"Dropout({p:.3f}) in train mode dropped every element of a (4096, 32) tensor of ones")
    kept = trained[trained != 0]
    expect_close(kept, torch.full_like(kept, 1 / (1 - p)), name=f"kept values of Dropout({p:.3f}) in train mode",
                 inputs="a (4096, 32) tensor of ones")
    expect_close((trained == 0).double().mean().item(), p, rtol=0.0, atol=bound,
                 name=f"fraction of zeros of Dropout({p:.3f}) in train mode", inputs="a (4096, 32) tensor of ones",
                 mistakes={"each element kept with probability p instead of 1 - p": 1 - p})
