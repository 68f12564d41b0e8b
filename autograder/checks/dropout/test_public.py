"""Public checks for dropout: what `dlcourse check dropout` runs, and what students can read.

Dropout is random, so most checks judge properties of the output rather than exact values: the fraction of zeros
lies within a binomial bound, the kept values equal x / (1 - p), the mean is preserved, neighbouring elements are
dropped independently. The deterministic parts (evaluation mode, p == 0, p == 1, bad p, the gradient given the mask,
the generator) are judged exactly. The submission runs in the sandbox; only its values come back here.
"""

import math
import types

import torch

from autograder.checking import check, fail
from autograder.compare import expect_close, expect_equal, expect_true

Z = 5.0  # width of the binomial bounds, in standard deviations: a correct dropout fails one with prob. < 1e-6

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _randn(shape, seed, device, dtype=torch.float32):
    """Reproducible normal input (drawn on the CPU, so the same on every device), without exact zeros."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)  # an exact zero would look like a dropped element
    return x.to(device=device, dtype=dtype)


def probe_call(m, seed, fname, *args, **kwargs):
    """Seed the global generator, then call `fname` of the student's module."""
    import torch

    torch.manual_seed(seed)
    return getattr(m, fname)(*args, **kwargs)


def _binomial_bound(p, n):
    return Z * math.sqrt(p * (1 - p) / n) + 1e-12


def _as_tensor(value, name, like=None):
    """`value` when it is a tensor (of `like`'s shape and device, when given); else fail with a message."""
    if not isinstance(value, torch.Tensor):
        fail(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if like is not None:
        if value.device.type != like.device.type:
            fail(f"{name} is on the {value.device.type} device, but x was on {like.device.type}: create the mask on "
                 "x's device (device=x.device)")
        if value.shape != like.shape:
            fail(f"{name} has shape {tuple(value.shape)}, expected {tuple(like.shape)} (the shape of x)")
    return value


# ------------------------------------------------------------------------------------------- statistics

@check("dropout: the dropped fraction lies within a binomial bound for several p", points=2, core=True)
def test_dropped_fraction(student, seed, device):
    x = _randn((512, 512), seed, device)
    n = x.numel()
    for p in (0.1, 0.3, 0.5, 0.8):
        out = _as_tensor(student.run(probe_call, seed, "dropout", x, p), f"dropout(x, p={p})", like=x)
        frac = (out == 0).double().mean().item()
        bound = _binomial_bound(p, n)
        if abs(frac - p) > bound:
            hint = ""
            if abs(frac - (1 - p)) <= bound:
                hint = ("\n  This matches a known mistake: each element is kept with probability p instead of "
                        "1 - p (p is the probability of dropping).")
            fail(f"fraction of zeros in dropout(x, p={p}) is {frac:.4f}, expected {p} +- {bound:.4f} "
                 f"({Z:g} standard deviations of a Binomial({n}, {p}) fraction){hint}"
                 f"\n  input: float32 tensor of shape (512, 512) from randn, no exact zeros")


@check("dropout: kept values equal x / (1 - p), dropped ones are exactly 0", points=2, core=True)
def test_kept_values(student, seed, device):
    x = _randn((64, 64), seed, device)
    for p in (0.2, 0.5, 0.75):
        out = _as_tensor(student.run(probe_call, seed, "dropout", x, p), f"dropout(x, p={p})", like=x)
        kept = out != 0
        expect_true(kept.any(), f"dropout(x, p={p}) dropped every element of a (64, 64) input")
        expect_close(out[kept], x[kept] / (1 - p), name=f"the kept (non-zero) values of dropout(x, p={p})",
                     inputs="float32 tensor x of shape (64, 64) from randn",
                     mistakes={"the kept values are not rescaled: divide them by 1 - p": x[kept],
                               "kept values scaled by 1 / p instead of 1 / (1 - p)": x[kept] / p,
                               "kept values multiplied by 1 - p instead of divided by it": x[kept] * (1 - p)})


@check("dropout: the mean of the output equals the mean of the input", points=1)
def test_mean_preserved(student, seed, device):
    n = 1 << 18
    x = torch.ones(n, device=device)
    for p in (0.25, 0.6):
        out = _as_tensor(student.run(probe_call, seed, "dropout", x, p), f"dropout(ones, p={p})", like=x)
        mean = out.double().mean().item()
        # mean = (number kept) / ((1 - p) n): standard deviation sqrt(p / ((1 - p) n))
        bound = Z * math.sqrt(p / ((1 - p) * n))
        expect_close(mean, 1.0, rtol=0.0, atol=bound, name=f"mean of dropout(x, p={p})",
                     inputs=f"x = torch.ones({n}), whose mean is 1; E[dropout(x)] = x (inverted dropout)",
                     mistakes={"the kept values are not rescaled by 1 / (1 - p), so the mean shrinks to 1 - p":
                               1 - p,
                               "kept values scaled by 1 / p instead of 1 / (1 - p)": (1 - p) / p})


@check("dropout: masks are independent across elements (not shared across the batch or the features)", points=2)
def test_independent_masks(student, seed, device):
    p = 0.5
    x = torch.ones(64, 16, 64, device=device)  # (batch, time, features)
    out = _as_tensor(student.run(probe_call, seed, "dropout", x, p), "dropout(ones(64, 16, 64), p=0.5)", like=x)
    keep = (out != 0).double()
    # For independent masks, two neighbours along any axis are both kept with probability (1 - p)^2.
    q = (1 - p) ** 2
    worst = None
    for axis, what in ((0, "the batch (dim 0)"), (1, "the time steps (dim 1)"), (2, "the features (dim 2)")):
        a, b = keep.narrow(axis, 0, keep.shape[axis] - 1), keep.narrow(axis, 1, keep.shape[axis] - 1)
        both = (a * b).mean().item()
        bound = Z * math.sqrt(q * (1 - q) / a.numel()) * 2  # neighbouring pairs overlap: widen the bound
        excess = abs(both - q) / bound
        if excess > 1 and (worst is None or excess > worst[0]):
            worst = (excess, what, both, bound, (a == b).double().mean().item())
    if worst is not None:  # name the axis that deviates most: the one the mask is shared across
        _, what, both, bound, same = worst
        fail(f"neighbouring elements along {what} are both kept {both:.3f} of the time, expected "
             f"(1 - p)^2 = {q:.3f} +- {bound:.3f} for independent masks; they agree {same:.0%} of the time. "
             f"Draw one random number per element (a mask of x's full shape), not one mask shared across "
             f"{what}.\n  input: x = torch.ones(64, 16, 64), p = 0.5")


# ------------------------------------------------------------------------------------------- special cases

@check("dropout: the identity when training=False or p == 0", points=1)
def test_identity(student, seed, device):
    x = _randn((32, 48), seed, device)
    out = student.run(probe_call, seed, "dropout", x, 0.5, training=False)
    if isinstance(out, torch.Tensor) and out.shape == x.shape and (out == 0).any():
        fail("dropout(x, p=0.5, training=False) has zeros: dropout must be switched off when training is False "
             "(at evaluation time the network is used whole)")
    expect_equal(out, x, name="dropout(x, p=0.5, training=False)", inputs="float32 x of shape (32, 48)")
    out = student.run(probe_call, seed, "dropout", x, 0.0)
    expect_equal(out, x, name="dropout(x, p=0.0)", inputs="float32 x of shape (32, 48)")


@check("dropout: p == 1 gives all zeros, not NaN", points=1)
def test_p_one(student, seed, device):
    x = _randn((16, 16), seed, device)
    out = _as_tensor(student.run(probe_call, seed, "dropout", x, 1.0), "dropout(x, p=1.0)", like=x)
    if torch.isnan(out).any():
        fail("dropout(x, p=1.0) contains NaN: at p == 1 every element is dropped, and dividing by 1 - p = 0 "
             "gives 0 / 0. Return zeros in that case.")
    expect_equal(out.abs(), torch.zeros_like(x), name="|dropout(x, p=1.0)|", inputs="float32 x of shape (16, 16)")


def probe_bad_p(m, x, ps):
    outcomes = []
    for p in ps:
        try:
            m.dropout(x, p)
            outcomes.append("no error")
        except ValueError:
            outcomes.append("ValueError")
        except Exception as exc:  # noqa: BLE001  the kind of error is the answer
            outcomes.append(type(exc).__name__)
    return outcomes


@check("dropout: p outside [0, 1] raises ValueError", points=1)
def test_bad_p(student, seed, device):
    ps = [-0.1, 1.5, -1.0, 3.0]
    got = student.run(probe_bad_p, _randn((4, 4), seed, device), ps)
    for p, outcome in zip(ps, got):
        expect_true(outcome == "ValueError", f"dropout(x, p={p}) gave {outcome}, expected a ValueError "
                                             "(p is a probability: it must lie in [0, 1])")


def probe_in_place(m, x):
    before = x.clone()
    m.dropout(x, 0.5)
    m.dropout(x, 0.5, training=False)
    m.dropout(x, 1.0)
    return before, x


@check("dropout: the input is never modified in place", points=1)
def test_not_in_place(student, seed, device):
    before, after = student.run(probe_in_place, _randn((32, 32), seed, device))
    expect_equal(after, before, name="x after dropout(x, 0.5), dropout(x, 0.5, training=False), dropout(x, 1.0)",
                 inputs="float32 x of shape (32, 32); build a new tensor (x * mask), do not write into x "
                        "(x *= ..., x[mask] = 0, x.mul_)")


# ------------------------------------------------------------------------------------------- generator

def probe_generator(m, x, seed, device):
    import torch

    def gen(s):
        return torch.Generator(device=device).manual_seed(s)

    g = gen(seed)
    torch.manual_seed(1)
    first = m.dropout(x, 0.5, generator=g)
    second = m.dropout(x, 0.5, generator=g)  # the same generator, advanced: a new mask
    torch.manual_seed(2)
    again = m.dropout(x, 0.5, generator=gen(seed))  # same seed, different global state: the same mask
    other = m.dropout(x, 0.5, generator=gen(seed + 1))
    torch.manual_seed(3)
    free1 = m.dropout(x, 0.5)
    free2 = m.dropout(x, 0.5)
    return {"first": first, "second": second, "again": again, "other": other, "free1": free1, "free2": free2}


@check("dropout: a generator makes the output reproducible; fresh masks on every call", points=2)
def test_generator(student, seed, device):
    x = _randn((64, 64), seed, device)
    r = student.run(probe_generator, x, seed % 100_000, device)
    for key in r:
        _as_tensor(r[key], f"dropout(x, 0.5, generator=...) ({key})", like=x)
    if not torch.equal(r["first"], r["again"]):
        fail("two calls with generators seeded alike gave different outputs (the global seed differed between "
             "them): the randomness must come from `generator` when one is given, e.g. "
             "torch.rand(x.shape, generator=generator, device=x.device)")
    expect_true(not torch.equal(r["first"], r["second"]),
                "two successive calls with the same generator gave the same mask: draw new random numbers "
                "from the generator on every call")
    expect_true(not torch.equal(r["first"], r["other"]),
                "generators with different seeds gave the same mask")
    expect_true(not torch.equal(r["free1"], r["free2"]),
                "two successive calls without a generator gave the same mask: with generator=None use PyTorch's "
                "global generator (do not seed a fresh generator inside dropout)")


# ------------------------------------------------------------------------------------------- gradient

def probe_gradient(m, x, upstream, p, training):
    x = x.clone().requires_grad_(True)
    out = m.dropout(x, p, training=training)
    if not out.requires_grad:  # cut off from x: there is no gradient to take
        return out, None
    out.backward(upstream)
    return out.detach(), x.grad


@check("dropout: the gradient with respect to x is the mask divided by (1 - p)", points=2, core=True)
def test_gradient(student, seed, device):
    x = _randn((32, 40), seed, device, torch.float64)
    upstream = _randn((32, 40), seed + 1, device, torch.float64)
    for p, training in ((0.3, True), (0.7, True), (0.5, False)):
        out, grad = student.run(probe_gradient, x, upstream, p, training)
        if grad is None:
            fail(f"after dropout(x, p={p}, training={training}).backward(g), x.grad is None: the output was cut "
                 "off from x (no .detach(), .data or torch.no_grad() in dropout)")
        out = _as_tensor(out, f"dropout(x, p={p})", like=x)
        grad = _as_tensor(grad, "x.grad", like=x)
        mask = (out != 0).to(torch.float64)  # x has no exact zeros: the zeros of the output are the dropped elements
        scale = 1 / (1 - p) if training else 1.0
        expect_close(grad, upstream * mask * scale, name=f"x.grad after dropout(x, p={p}, training={training})"
                     ".backward(g)", inputs="float64 x of shape (32, 40), g of the same shape",
                     mistakes={"the gradient is the mask without the 1 / (1 - p) factor": upstream * mask,
                               "the gradient ignores the mask": upstream * scale})


# ------------------------------------------------------------------------------------------- dtypes

def probe_dtype(m, x, dtype, p, seed):
    import torch

    torch.manual_seed(seed)
    return m.dropout(x.to(getattr(torch, dtype)), p)


@check("dropout: works in float16, bfloat16, float32 and float64 and keeps the dtype", points=2, core=True)
def test_dtypes(student, seed, device):
    x64 = _randn((256, 256), seed, device, torch.float64)
    p = 0.3
    for dtype in FLOAT_DTYPES:
        x = x64.to(getattr(torch, dtype))
        out = _as_tensor(student.run(probe_dtype, x64, dtype, p, seed), f"dropout(x, p={p}) for {dtype} x", like=x)
        if out.dtype != x.dtype:
            fail(f"dropout(x, p={p}) returned {str(out.dtype).removeprefix('torch.')} for a {dtype} input: keep the "
                 "input's dtype (build the mask with dtype=x.dtype, or convert it)")
        expect_true(not torch.isnan(out).any(), f"dropout(x, p={p}) contains NaN for a {dtype} input")
        kept = out != 0
        frac = 1 - kept.double().mean().item()
        bound = _binomial_bound(p, x.numel())
        expect_true(abs(frac - p) <= bound, f"fraction of zeros in dropout(x, p={p}) for {dtype} x is {frac:.4f}, "
                                            f"expected {p} +- {bound:.4f}")
        expected = (x64[kept] / (1 - p)).to(x.dtype)
        expect_close(out[kept], expected, name=f"kept values of dropout(x, p={p}) for {dtype} x",
                     inputs=f"{dtype} x of shape (256, 256)")


# ------------------------------------------------------------------------------------------- the module

def probe_module_basics(m, x):
    import torch

    layer = m.Dropout(0.3)
    default = m.Dropout()
    model = torch.nn.Sequential(m.Dropout(0.3))  # an nn.Module fits in a Sequential, and .eval() reaches it
    model.eval()
    return {"p": float(layer.p), "default_p": float(default.p),
            "params": [t.detach() for t in layer.parameters()], "eval_out": model(x)}


@check("Dropout: an nn.Module storing p (default 0.5), without parameters", points=1)
def test_module_basics(student, seed, device):
    x = _randn((8, 8), seed, device)
    r = student.run(probe_module_basics, x)
    expect_close(r["p"], 0.3, name="Dropout(0.3).p", rtol=0.0, atol=0.0)
    expect_close(r["default_p"], 0.5, name="Dropout().p (the default)", rtol=0.0, atol=0.0)
    expect_true(len(r["params"]) == 0, f"Dropout(0.3) has {len(r['params'])} parameters, expected none")
    expect_equal(r["eval_out"], x, name="nn.Sequential(Dropout(0.3)) after .eval() (an nn.Module in eval mode is the "
                                        "identity)", inputs="float32 x of shape (8, 8)")


def probe_module_modes(m, x, seed):
    import torch

    torch.manual_seed(seed)
    layer = m.Dropout(0.4)
    layer.train()
    train1 = layer(x)
    layer.eval()
    evaluated = layer(x)
    layer.train()
    train2 = layer(x)
    model = torch.nn.Sequential(torch.nn.Identity(), m.Dropout(0.4))
    model.eval()  # PyTorch sets .training on every submodule
    nested_eval = model(x)
    model.train()
    nested_train = model(x)
    return {"train": train1, "eval": evaluated, "train_again": train2, "nested_eval": nested_eval,
            "nested_train": nested_train}


@check("Dropout: drops in train mode, is the identity in eval mode", points=2, core=True)
def test_module_modes(student, seed, device):
    x = _randn((256, 256), seed, device)
    r = student.run(probe_module_modes, x, seed)
    p, n = 0.4, x.numel()
    for key in ("eval", "nested_eval"):
        out = r[key]
        if isinstance(out, torch.Tensor) and out.shape == x.shape and (out == 0).any():
            fail("Dropout(0.4) still drops elements after .eval()" + (" inside an nn.Sequential" if "nested" in key
                 else "") + ": use self.training, which .train() and .eval() set")
        expect_equal(out, x, name=f"Dropout(0.4) output in eval mode ({key})", inputs="float32 x of shape (256, 256)")
    for key in ("train", "train_again", "nested_train"):
        out = _as_tensor(r[key], f"Dropout(0.4) output in train mode ({key})", like=x)
        frac = (out == 0).double().mean().item()
        bound = _binomial_bound(p, n)
        expect_true(abs(frac - p) <= bound,
                    f"in train mode ({key}), Dropout(0.4) zeroed a fraction {frac:.4f} of x, expected {p} +- "
                    f"{bound:.4f}" + (" (is self.p used?)" if abs(frac - 0.5) <= bound else ""))
        kept = out != 0
        expect_close(out[kept], x[kept] / (1 - p), name=f"kept values of Dropout(0.4) in train mode ({key})",
                     inputs="float32 x of shape (256, 256)")


# ------------------------------------------------------------------------------------------- end to end

HIDDEN = 128
NOISE = 0.3  # fraction of training labels replaced by random ones
N_TRAIN = 100


def noisy_digits(device):
    """A small slice of scikit-learn's digits with 30% random training labels: easy to memorise, hard to learn."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    g = torch.Generator().manual_seed(1234)
    perm = torch.randperm(len(X), generator=g)
    tr, te = perm[:N_TRAIN], perm[N_TRAIN:]
    y_tr = y[tr].clone()
    flip = torch.rand(N_TRAIN, generator=g) < NOISE
    y_tr[flip] = torch.randint(0, 10, (int(flip.sum()),), generator=g)
    return X[tr].to(device), y_tr.to(device), X[te].to(device), y[te].to(device)


def probe_train_mlp(m, x, y, hidden, steps, seed):
    """The trusted training loop: an MLP with m.Dropout (0.2 on the inputs, 0.5 on the hidden units, as in Hinton
    et al., 2012), trained full-batch with Adam. Returns the trained weights of the Linear layers (never a metric:
    the accuracies are computed by the grader from these weights)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(
        m.Dropout(0.2), nn.Linear(x.shape[1], hidden), nn.ReLU(),
        m.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(),
        m.Dropout(0.5), nn.Linear(hidden, 10),
    ).to(x.device)
    params = list(model.parameters())
    moments = [(torch.zeros_like(w), torch.zeros_like(w)) for w in params]
    lr, beta1, beta2, eps = 2e-3, 0.9, 0.999, 1e-8
    model.train()
    for t in range(1, steps + 1):
        loss = nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():  # Adam (Kingma & Ba, 2015), written out: torch.optim's first step imports slowly
            for w, g, (m1, m2) in zip(params, grads, moments):
                m1.mul_(beta1).add_(g, alpha=1 - beta1)
                m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                w.addcdiv_(m1 / (1 - beta1**t), (m2 / (1 - beta2**t)).sqrt_().add_(eps), value=-lr)
    return {f"{i}.{k}": v.detach().clone() for i in (1, 4, 7) for k, v in model[i].named_parameters()}


def trusted_mlp(params, hidden, device):
    """The same MLP without dropout (evaluation mode), built here from the returned weights."""
    from torch import nn

    model = nn.Sequential(nn.Identity(), nn.Linear(64, hidden), nn.ReLU(), nn.Identity(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Identity(), nn.Linear(hidden, 10)).to(device)
    want = model.state_dict()
    if not isinstance(params, dict) or set(params) != set(want):
        fail(f"the training loop returned {type(params).__name__} with keys "
             f"{sorted(params) if isinstance(params, dict) else '-'}, expected {sorted(want)}")
    for k, v in params.items():
        if not isinstance(v, torch.Tensor) or v.shape != want[k].shape:
            fail(f"trained parameter {k} came back as {type(v).__name__} of the wrong shape")
    model.load_state_dict({k: v.to(device=device, dtype=torch.float32) for k, v in params.items()})
    return model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).double().mean().item()


_BASELINE = {}


@check("Dropout: shrinks the train-test accuracy gap of an MLP trained on noisy digits", points=3, timeout=240)
def test_end_to_end(student, seed, device):
    steps = 200
    x_tr, y_tr, x_te, y_te = noisy_digits(device)
    init_seed = seed % 1000
    params = student.run(probe_train_mlp, x_tr, y_tr, HIDDEN, steps, init_seed, _timeout=120)
    model = trusted_mlp(params, HIDDEN, device)
    train_acc, test_acc = accuracy(model, x_tr, y_tr), accuracy(model, x_te, y_te)
    key = (init_seed, device)
    if key not in _BASELINE:  # the same loop without dropout, run here (nothing of the student in it)
        no_dropout = types.SimpleNamespace(Dropout=lambda p: torch.nn.Identity())
        params = probe_train_mlp(no_dropout, x_tr, y_tr, HIDDEN, steps, init_seed)
        base = trusted_mlp(params, HIDDEN, device)
        _BASELINE[key] = (accuracy(base, x_tr, y_tr), accuracy(base, x_te, y_te))
    base_train, base_test = _BASELINE[key]
    base_gap, gap = base_train - base_test, train_acc - test_acc
    setting = (f"MLP 64-{HIDDEN}-{HIDDEN}-10 with Dropout(0.2) on the inputs and Dropout(0.5) on the hidden units, "
               f"{steps} full-batch Adam steps on {N_TRAIN} digits with {NOISE:.0%} random training labels. "
               f"Without dropout: train {base_train:.1%}, test {base_test:.1%} (gap {base_gap:.1%}); with your "
               f"Dropout: train {train_acc:.1%}, test {test_acc:.1%} (gap {gap:.1%}).")
    expect_true(gap <= base_gap - 0.10,
                f"your Dropout did not shrink the train-test accuracy gap by at least 10 points. {setting}")
    expect_true(test_acc >= base_test + 0.03,
                f"your Dropout did not raise the test accuracy by at least 3 points over no dropout. {setting}")
