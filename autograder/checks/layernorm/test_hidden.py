"""Hidden checks for layernorm: run only by `dlcourse grade`, never shipped to students.

Each check draws seeded random inputs from the grading seed (`seed`, `rng`), runs the same probe on the submission
(in the sandbox) and on the reference (here), and compares. The reference is the `reference` fixture.
"""

import math
import types

import numpy as np
import torch
from torch import nn

from autograder.checking import check
from autograder.compare import describe, expect_close, expect_true

DTYPES = (torch.float32, torch.float64)


def _randn(gen, *shape, dtype=torch.float32, device="cpu", scale=1.0, offset=0.0):
    x = offset + scale * torch.randn(*shape, generator=gen, dtype=torch.float64)
    return x.to(dtype=dtype, device=device)


def _wrong_layer_norm(x, ns, weight, bias, eps=1e-5):
    """Known wrong variants of layer_norm (float64, cast back to x's dtype)."""
    shape = (ns,) if isinstance(ns, int) else tuple(ns)
    dims = tuple(range(-len(shape), 0))
    H = math.prod(shape)
    xd = x.double()
    w = 1.0 if weight is None else weight.double()
    b = 0.0 if bias is None else bias.double()
    xc = xd - xd.mean(dims, keepdim=True)
    var = (xc * xc).mean(dims, keepdim=True)
    out = {
        "the unbiased variance (H - 1) instead of the biased one (H)": xc / torch.sqrt(var * H / max(H - 1, 1) + eps),
        "eps outside the square root": xc / (var.sqrt() + eps),
    }
    if len(shape) > 1:
        x1 = xd - xd.mean(-1, keepdim=True)
        out["normalized over the last dim only"] = x1 / torch.sqrt((x1 * x1).mean(-1, keepdim=True) + eps)
    return {k: (v * w + b).to(x.dtype) for k, v in out.items()}


# ------------------------------------------------------------------------------------------- layer_norm

@check("layer_norm: matches the reference on seeded random shapes, normalized dims and dtypes", points=2, core=True)
def test_layer_norm_random(student, reference, rng, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(6):
        ndim = int(rng.integers(2, 5))
        shape = tuple(int(s) for s in rng.integers(2, 7, size=ndim))
        k = int(rng.integers(1, ndim))                          # 1 .. ndim-1 trailing dims
        ns = shape[-k:] if (k > 1 or rng.random() < 0.5) else shape[-1]
        nshape = (ns,) if isinstance(ns, int) else ns
        dtype = DTYPES[int(rng.integers(0, 2))]
        scale, offset = float(10 ** rng.uniform(-1.5, 1)), float(rng.normal() * 3)
        x = _randn(gen, *shape, dtype=dtype, device=device, scale=scale, offset=offset)
        affine = int(rng.integers(0, 3))                        # 0: none, 1: weight only, 2: both
        w = _randn(gen, *nshape, dtype=dtype, device=device, offset=1.0) if affine >= 1 else None
        b = _randn(gen, *nshape, dtype=dtype, device=device) if affine == 2 else None
        inputs = (f"x {describe(x)} (values {offset:.3g} + {scale:.3g} * N(0, 1)), normalized_shape {ns!r}, "
                  f"{['no weight or bias', 'weight only', 'weight and bias'][affine]}")
        expect_close(student.layer_norm(x, ns, w, b), reference.layer_norm(x, ns, w, b),
                     name=f"layer_norm(x, {ns!r}, ...)", mistakes=_wrong_layer_norm(x, ns, w, b), inputs=inputs)


@check("layer_norm: matches the reference for a large offset and for nearly constant rows", points=1)
def test_layer_norm_extremes(student, reference, seed, device):
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, 8, 3, 64, device=device, offset=3e4)          # float32, mean >> spread
    truth = reference.layer_norm(x.double(), (3, 64)).float()
    expect_close(student.layer_norm(x, (3, 64)), truth, name="layer_norm(x, (3, 64)) in float32", rtol=0.0, atol=2e-2,
                 inputs=f"x {describe(x)} with values 3e4 + N(0, 1): compute the variance from x - mean")
    x = _randn(gen, 6, 40, dtype=torch.float64, device=device, scale=1e-3, offset=2.0)  # variance 1e-6 << eps
    expect_close(student.layer_norm(x, 40), reference.layer_norm(x, 40), name="layer_norm(x, 40)",
                 mistakes=_wrong_layer_norm(x, 40, None, None),
                 inputs=f"x {describe(x)} with values 2 + 0.001 * N(0, 1): the variance is far below eps")


# ------------------------------------------------------------------------------------------- LayerNorm

def probe_module(m, ns, eps, affine, state, x, g):
    mod = m.LayerNorm(ns, eps=eps, elementwise_affine=affine).to(device=x.device, dtype=x.dtype)
    if state:
        mod.load_state_dict(state)
    x = x.detach().requires_grad_()
    y = mod(x)
    (y * g).sum().backward()
    grads = {name: p.grad for name, p in mod.named_parameters()}
    return {"y": y.detach(), "dx": x.grad, "grads": grads}


@check("LayerNorm: forward and gradients match the reference module with random parameters and eps", points=1, core=True)
def test_layernorm_module(student, reference, rng, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for affine in (True, False):
        ns = (int(rng.integers(2, 5)), int(rng.integers(3, 9)))
        eps = float(10 ** rng.uniform(-5, -2))
        dtype = DTYPES[int(rng.integers(0, 2))]
        x = _randn(gen, int(rng.integers(2, 6)), *ns, dtype=dtype, device=device, scale=0.05, offset=1.0)
        g = _randn(gen, *x.shape, dtype=dtype, device=device)
        state = {"weight": _randn(gen, *ns, dtype=dtype, device=device, offset=1.0),
                 "bias": _randn(gen, *ns, dtype=dtype, device=device)} if affine else {}
        got = student.run(probe_module, ns, eps, affine, state, x, g)
        want = probe_module(reference, ns, eps, affine, state, x, g)
        inputs = f"LayerNorm({ns}, eps={eps:.3g}, elementwise_affine={affine}), x {describe(x)} (spread 0.05)"
        expect_close(got["y"], want["y"], name="LayerNorm output", inputs=inputs)
        expect_close(got["dx"], want["dx"], name="dL/dx through LayerNorm", inputs=inputs)
        expect_close(got["grads"], want["grads"], name="parameter gradients", inputs=inputs)


# ------------------------------------------------------------------------------------------- LayerNormFunction

def probe_function_grads(m, x, w, b, eps, g):
    """The output, and the raw (dx, dweight, dbias) that backward returns (called on the node apply created)."""
    import torch

    x = x.detach().requires_grad_()
    w = w.detach().requires_grad_()
    b = b.detach().requires_grad_()
    y = m.LayerNormFunction.apply(x, w, b, eps)
    with torch.no_grad():
        raw = m.LayerNormFunction.backward(y.grad_fn, g)
    return y.detach(), tuple(t.detach() if isinstance(t, torch.Tensor) else t for t in tuple(raw)[:3])


def _autograd_reference(reference, x, w, b, eps, g):
    """The reference's layer_norm under autograd: the oracle for the hand-derived backward."""
    xr, wr, br = (t.detach().clone().requires_grad_() for t in (x, w, b))
    y = reference.layer_norm(xr, x.shape[-1], wr, br, eps)
    dx, dw, db = torch.autograd.grad(y, (xr, wr, br), g)
    return y.detach(), dx, dw, db


@check("LayerNormFunction: dx, dweight and dbias match the reference's autograd on random batches", points=2, core=True)
def test_function_random(student, reference, rng, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for lead_dims in (1, 2, 3):
        lead = tuple(int(s) for s in rng.integers(2, 6, size=lead_dims))
        D = int(rng.integers(4, 33))
        dtype = DTYPES[int(rng.integers(0, 2))]
        eps = float(10 ** rng.uniform(-6, -3))
        x = _randn(gen, *lead, D, dtype=dtype, device=device, scale=float(10 ** rng.uniform(-1, 1)),
                   offset=float(rng.normal()))
        w = _randn(gen, D, dtype=dtype, device=device, offset=1.0)
        b = _randn(gen, D, dtype=dtype, device=device)
        g = _randn(gen, *x.shape, dtype=dtype, device=device)
        y, (dx, dw, db) = student.run(probe_function_grads, x, w, b, eps, g)
        ey, edx, edw, edb = _autograd_reference(reference, x, w, b, eps, g)
        rows = math.prod(lead)
        inputs = f"x {describe(x)}, eps {eps:.3g}, upstream gradient g of x's shape"
        # float32 gradients go through a different order of operations than autograd's: a little more room.
        tol = {"rtol": 1e-3, "atol": 1e-4} if dtype == torch.float32 else {}
        expect_close(y, ey, name="LayerNormFunction output", inputs=inputs)
        expect_close(dx, edx, name="dx", inputs=inputs, **tol)
        expect_close(dw, edw, name="dweight", inputs=inputs, mistakes={"dweight averaged, not summed": edw / rows},
                     **tol)
        expect_close(db, edb, name="dbias", inputs=inputs, mistakes={"dbias averaged, not summed": edb / rows}, **tol)


# ------------------------------------------------------------------------------------------- batch_norm

def probe_bn_sequence(m, xs, modes, momenta, w, b, eps):
    """Run batch_norm over a sequence of (x, training, momentum) with one pair of running statistics."""
    import torch

    C = xs[0].shape[1]
    rm = torch.zeros(C, dtype=xs[0].dtype, device=xs[0].device)
    rv = torch.ones(C, dtype=xs[0].dtype, device=xs[0].device)
    out = []
    for x, training, momentum in zip(xs, modes, momenta):
        y = m.batch_norm(x, rm, rv, w, b, training, momentum=momentum, eps=eps)
        out.append({"y": y.detach(), "running_mean": rm.clone(), "running_var": rv.clone()})
    return out


@check("batch_norm: outputs and running statistics over a seeded train/eval sequence match the reference", points=2, core=True)
def test_batch_norm_sequence(student, reference, rng, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for three_d in (False, True):
        N, C = int(rng.integers(3, 12)), int(rng.integers(2, 7))
        shape = (N, C, int(rng.integers(2, 6))) if three_d else (N, C)
        dtype = DTYPES[int(rng.integers(0, 2))]
        steps = 5
        modes = [True, True, False, True, False]
        momenta = [float(rng.uniform(0.05, 0.5)) for _ in range(steps)]
        xs = [_randn(gen, *shape, dtype=dtype, device=device, scale=float(rng.uniform(0.5, 3)),
                     offset=float(rng.normal() * 2)) for _ in range(steps)]
        w = _randn(gen, C, dtype=dtype, device=device, offset=1.0)
        b = _randn(gen, C, dtype=dtype, device=device)
        eps = float(10 ** rng.uniform(-5, -3))
        got = student.run(probe_bn_sequence, xs, modes, momenta, w, b, eps)
        want = probe_bn_sequence(reference, xs, modes, momenta, w, b, eps)
        expect_true(isinstance(got, list) and len(got) == steps, "expected one result per step of the sequence")
        for i in range(steps):
            inputs = (f"step {i + 1} of {['train' if t else 'eval' for t in modes]}, x {describe(xs[i])}, "
                      f"momentum {momenta[i]:.3g}, eps {eps:.3g}")
            mistakes = {}
            if not modes[i]:
                mistakes = {"the batch statistics used in eval": reference.batch_norm(
                    xs[i], None, None, w, b, True, eps=eps)}
            expect_close(got[i]["y"], want[i]["y"], name=f"batch_norm output at step {i + 1}", inputs=inputs,
                         mistakes=mistakes)
            expect_close(got[i]["running_mean"], want[i]["running_mean"], name=f"running_mean after step {i + 1}",
                         inputs=inputs)
            expect_close(got[i]["running_var"], want[i]["running_var"], name=f"running_var after step {i + 1}",
                         inputs=inputs)


# ------------------------------------------------------------------------------------------- end to end

def probe_deep_grads(m, state, X, Y, depth, width):
    """Gradients of every hidden Linear weight of a deep Linear -> LayerNorm -> tanh MLP at `state`."""
    import torch.nn.functional as F
    from torch import nn

    layers, fan_in = [], X.shape[1]
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), m.LayerNorm(width), nn.Tanh()]
        fan_in = width
    layers.append(nn.Linear(fan_in, Y.max().item() + 1))
    net = nn.Sequential(*layers).to(device=X.device, dtype=X.dtype)
    net.load_state_dict(state)
    F.cross_entropy(net(X), Y).backward()
    return [layer.weight.grad for layer in net if isinstance(layer, nn.Linear)][:-1]


@check("LayerNorm: gradient norms of a 24-layer tanh MLP match the reference's and stay in a narrow range", points=1,
       timeout=120)
def test_layernorm_deep_gradients(student, reference, seed, device):
    depth, width, n, classes = 24, 24, 128, 5
    gen = torch.Generator().manual_seed(seed)
    X = _randn(gen, n, 16, device=device)
    Y = torch.randint(0, classes, (n,), generator=gen).to(device)
    Y[:classes] = torch.arange(classes, device=device)             # every class present
    torch.manual_seed(seed)
    builder = types.SimpleNamespace(LayerNorm=reference.LayerNorm)
    layers, fan_in = [], 16
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), reference.LayerNorm(width), nn.Tanh()]
        fan_in = width
    layers.append(nn.Linear(fan_in, classes))
    state = dict(nn.Sequential(*layers).to(device).state_dict())
    got = student.run(probe_deep_grads, state, X, Y, depth, width, _timeout=30)
    want = probe_deep_grads(builder, state, X, Y, depth, width)
    expect_true(isinstance(got, list) and len(got) == depth and all(g is not None for g in got),
                f"expected the gradients of the {depth} hidden layers' weights; some were missing")
    norms = np.array([float(g.norm()) for g in got])
    inputs = f"{depth} layers Linear({width}) -> LayerNorm({width}) -> tanh, {n} random inputs, default init"
    spread = norms.max() / max(norms.min(), 1e-30)
    expect_true(spread < 30.0, f"the gradient norms of the {depth} layers spread over a factor {spread:.3g}; "
                               f"with LayerNorm they stay within 30\n  input: {inputs}")
    expect_close(torch.tensor(norms), torch.tensor([float(g.norm()) for g in want], dtype=torch.float64),
                 name="per-layer gradient norms", rtol=1e-3, atol=1e-7, inputs=inputs)
