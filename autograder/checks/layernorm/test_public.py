"""Public checks for layernorm: what `dlcourse check layernorm` runs, and what students can read.

The oracles are PyTorch's own ops (`F.layer_norm`, `nn.LayerNorm`, `F.batch_norm`) and `torch.autograd.gradcheck`,
run here in the trusted process on the same inputs; the submission runs in the sandbox and only its values come
back. Known wrong variants are computed here too, so that a failure can name the mistake.
"""

import ast
import math
import types

import torch
import torch.nn.functional as F
from torch import nn

from autograder.checking import check, fail
from autograder.compare import describe, expect_close, expect_true


def _randn(gen, *shape, dtype=torch.float32, device="cpu", scale=1.0, offset=0.0):
    """Seeded normal samples, drawn in float64 on the CPU, then cast and moved (the same values on every device)."""
    x = offset + scale * torch.randn(*shape, generator=gen, dtype=torch.float64)
    return x.to(dtype=dtype, device=device)


def _as_shape(ns):
    return (ns,) if isinstance(ns, int) else tuple(ns)


def _ln_mistakes(x, ns, weight, bias, eps=1e-5):
    """Wrong variants of layer_norm students often write, computed in float64 and cast back to x's dtype."""
    shape = _as_shape(ns)
    dims = tuple(range(-len(shape), 0))
    H = math.prod(shape)
    xd = x.double()
    w = 1.0 if weight is None else weight.double()
    b = 0.0 if bias is None else bias.double()
    mu = xd.mean(dims, keepdim=True)
    xc = xd - mu
    var = (xc * xc).mean(dims, keepdim=True)
    x_hat = xc / torch.sqrt(var + eps)
    out = {
        "the unbiased variance (divided by H - 1); layer norm divides by H, the number of normalized elements":
            xc / torch.sqrt(var * H / max(H - 1, 1) + eps) * w + b,
        "eps added outside the square root: use sqrt(var + eps), not sqrt(var) + eps": xc / (var.sqrt() + eps) * w + b,
        "the statistics taken over the leading dims instead of the trailing normalized_shape dims":
            (xd - xd.mean(0, keepdim=True)) / torch.sqrt(xd.var(0, unbiased=False, keepdim=True) + eps) * w + b,
    }
    if len(shape) > 1:
        m1 = xd.mean(-1, keepdim=True)
        v1 = ((xd - m1) ** 2).mean(-1, keepdim=True)
        out["normalized over the last dim only, not over every dim of normalized_shape"] = \
            (xd - m1) / torch.sqrt(v1 + eps) * w + b
    if weight is not None and bias is not None:
        out["weight and bias swapped (x_hat * bias + weight)"] = x_hat * b + w
        out["bias added before the weight multiplies ((x_hat + bias) * weight)"] = (x_hat + b) * w
    return {k: v.to(x.dtype) for k, v in out.items()}


# ------------------------------------------------------------------------------------------- layer_norm

# (shape, normalized_shape, dtype, scale, offset): 2-D to 4-D, one or several trailing dims; the small-scale case
# has a variance comparable to eps, where eps placement matters.
LN_CASES = [
    ((6, 10), 10, torch.float32, 1.0, 0.0),
    ((4, 5, 12), (5, 12), torch.float64, 2.0, 1.0),
    ((2, 3, 4, 5), (4, 5), torch.float32, 3.0, -2.0),
    ((2, 3, 4, 5), (3, 4, 5), torch.float64, 1.0, 0.5),
    ((3, 7, 9), (9,), torch.float32, 0.01, 0.0),
]


@check("layer_norm: matches F.layer_norm on 2-D to 4-D inputs over one or several trailing dims", points=2, core=True)
def test_layer_norm_matches_torch(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for shape, ns, dtype, scale, offset in LN_CASES:
        x = _randn(gen, *shape, dtype=dtype, device=device, scale=scale, offset=offset)
        nshape = _as_shape(ns)
        w = _randn(gen, *nshape, dtype=dtype, device=device, offset=1.0)
        b = _randn(gen, *nshape, dtype=dtype, device=device)
        out = student.layer_norm(x, ns, w, b)
        expected = F.layer_norm(x, nshape, w, b, 1e-5)
        expect_close(out, expected, name=f"layer_norm(x, {ns!r}, weight, bias)",
                     mistakes=_ln_mistakes(x, ns, w, b),
                     inputs=f"x {describe(x)} (values {offset} + {scale} * N(0, 1)), weight and bias of shape {nshape}")


@check("layer_norm: weight and bias are optional", points=1)
def test_layer_norm_optional_affine(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, 5, 4, 6, device=device, scale=2.0, offset=1.0)
    w = _randn(gen, 4, 6, device=device, offset=1.0)
    b = _randn(gen, 4, 6, device=device)
    inputs = f"x {describe(x)}, normalized_shape (4, 6)"
    expect_close(student.layer_norm(x, (4, 6)), F.layer_norm(x, (4, 6)), name="layer_norm(x, (4, 6))",
                 mistakes=_ln_mistakes(x, (4, 6), None, None), inputs=inputs)
    expect_close(student.layer_norm(x, (4, 6), weight=w), F.layer_norm(x, (4, 6), weight=w),
                 name="layer_norm(x, (4, 6), weight=w) (no bias)", inputs=inputs)
    expect_close(student.layer_norm(x, (4, 6), bias=b), F.layer_norm(x, (4, 6), bias=b),
                 name="layer_norm(x, (4, 6), bias=b) (no weight)", inputs=inputs)
    expect_close(student.layer_norm(x, 6, eps=0.1), F.layer_norm(x, (6,), eps=0.1), name="layer_norm(x, 6, eps=0.1)",
                 inputs=inputs.replace("(4, 6)", "6, eps 0.1"))


@check("layer_norm: stays accurate in float32 when the mean is large (1e4 + unit noise)", points=1)
def test_layer_norm_large_offset(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, 16, 256, device=device, offset=1e4)
    out = student.layer_norm(x, 256)
    truth = F.layer_norm(x.double(), (256,)).float()      # the exact answer for these float32 inputs
    m = x.mean(-1, keepdim=True)
    shortcut = (x - m) / torch.sqrt((x * x).mean(-1, keepdim=True) - m * m + 1e-5)
    expect_close(out, truth, name="layer_norm(x, 256) in float32", rtol=0.0, atol=1e-2,
                 mistakes={"the variance computed as E[x^2] - E[x]^2, which cancels catastrophically in float32; "
                           "compute it from the centred values x - mean": shortcut},
                 inputs=f"x {describe(x)} with values 1e4 + N(0, 1) (tolerance 1e-2 against a float64 computation)")


def probe_layer_norm_grads(m, x, ns, w, b, g):
    y = m.layer_norm(x, ns, w, b)
    (y * g).sum().backward()
    return y.detach(), x.grad, w.grad, b.grad


@check("layer_norm: autograd through it gives the gradients of F.layer_norm", points=1)
def test_layer_norm_grads(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, 4, 3, 8, dtype=torch.float64, device=device).requires_grad_()
    w = _randn(gen, 3, 8, dtype=torch.float64, device=device, offset=1.0).requires_grad_()
    b = _randn(gen, 3, 8, dtype=torch.float64, device=device).requires_grad_()
    g = _randn(gen, 4, 3, 8, dtype=torch.float64, device=device)
    _, dx, dw, db = student.run(probe_layer_norm_grads, x, (3, 8), w, b, g)
    ex, ew, eb = torch.autograd.grad(F.layer_norm(x, (3, 8), w, b), (x, w, b), g)
    inputs = f"x {describe(x)}, normalized_shape (3, 8), upstream gradient g of x's shape, loss sum(y * g)"
    expect_true(dx is not None and dw is not None and db is not None,
                "layer_norm: x, weight or bias received no gradient: is the output detached from them?")
    expect_close(dx, ex, name="dL/dx", inputs=inputs)
    expect_close(dw, ew, name="dL/dweight", inputs=inputs)
    expect_close(db, eb, name="dL/dbias", inputs=inputs)


# ------------------------------------------------------------------------------------------- LayerNorm

def probe_layernorm_init(m):
    out = {}
    for key, args in (("(3, 4)", ((3, 4),)), ("6", (6,))):
        mod = m.LayerNorm(*args)
        out[key] = {"state": dict(mod.state_dict()), "n_params": sum(1 for _ in mod.parameters())}
    plain = m.LayerNorm(5, eps=1e-3, elementwise_affine=False)
    out["plain"] = {"state": dict(plain.state_dict()), "weight": getattr(plain, "weight", None),
                    "bias": getattr(plain, "bias", None), "n_params": sum(1 for _ in plain.parameters())}
    return out


@check("LayerNorm: weight starts at ones and bias at zeros, both of shape normalized_shape", points=1)
def test_layernorm_init(student):
    got = student.run(probe_layernorm_init)
    for key, shape in (("(3, 4)", (3, 4)), ("6", (6,))):
        info = got[key]
        state = info["state"]
        expect_true(set(state) == {"weight", "bias"},
                    f"LayerNorm({key}).state_dict() has keys {sorted(state)}, expected ['bias', 'weight'] "
                    "(the names nn.LayerNorm uses)")
        ones, zeros = torch.ones(shape), torch.zeros(shape)
        expect_close(state["weight"], ones, name=f"LayerNorm({key}).weight at initialisation",
                     mistakes={"weight and bias initialised the wrong way round (weight must start at ones)": zeros})
        expect_close(state["bias"], zeros, name=f"LayerNorm({key}).bias at initialisation",
                     mistakes={"weight and bias initialised the wrong way round (bias must start at zeros)": ones})
        expect_true(info["n_params"] == 2, f"LayerNorm({key}) has {info['n_params']} parameters, expected 2 "
                                           "(weight and bias as nn.Parameter)")
    plain = got["plain"]
    expect_true(plain["n_params"] == 0 and plain["state"] == {} and plain["weight"] is None and plain["bias"] is None,
                "LayerNorm(5, elementwise_affine=False) must have no parameters, with weight and bias set to None "
                f"(got {plain['n_params']} parameters, state_dict keys {sorted(plain['state'])})")


def probe_layernorm_load(m, ns, eps, state, x, g):
    mod = m.LayerNorm(ns, eps=eps).to(x.device, x.dtype)
    mod.load_state_dict(state)
    y = mod(x)
    (y * g).sum().backward()
    return {"y": y.detach(), "state": {k: v.detach() for k, v in mod.state_dict().items()},
            "dweight": mod.weight.grad, "dbias": mod.bias.grad}


@check("LayerNorm: loads nn.LayerNorm's state_dict, matches its output and gradients, and loads back", points=2, core=True)
def test_layernorm_state_dict(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    ns, eps = (4, 5), 1e-3
    ref = nn.LayerNorm(ns, eps=eps).to(device)
    with torch.no_grad():
        ref.weight.copy_(_randn(gen, *ns, offset=1.0))
        ref.bias.copy_(_randn(gen, *ns))
    x = _randn(gen, 3, 4, 5, device=device, scale=0.03)      # variance near eps: eps is used as given
    g = _randn(gen, 3, 4, 5, device=device)
    got = student.run(probe_layernorm_load, ns, eps, dict(ref.state_dict()), x, g)
    y = ref(x)
    (y * g).sum().backward()
    inputs = f"x {describe(x)} (spread 0.03), LayerNorm((4, 5), eps=1e-3) with random weight and bias"
    expect_close(got["y"], y.detach(), name="LayerNorm output", inputs=inputs,
                 mistakes={"the module's eps ignored (the default 1e-5 used instead)":
                           F.layer_norm(x, ns, ref.weight, ref.bias, 1e-5).detach()})
    expect_close(got["dweight"], ref.weight.grad, name="LayerNorm weight.grad", inputs=inputs)
    expect_close(got["dbias"], ref.bias.grad, name="LayerNorm bias.grad", inputs=inputs)
    back = nn.LayerNorm(ns, eps=eps).to(device)
    try:
        back.load_state_dict(got["state"])
    except (RuntimeError, KeyError) as exc:
        fail(f"the state_dict of your LayerNorm does not load into nn.LayerNorm: {str(exc).strip()[:400]}")
    expect_close(back.weight.detach(), ref.weight.detach(), name="weight after the round trip through state_dict")


# ------------------------------------------------------------------------------------------- LayerNormFunction

def probe_function(m, x, w, b, eps, g):
    """Forward through apply, then the raw return value of backward (called on the node apply created, before
    autograd can reshape anything), then the gradients autograd delivers."""
    import torch

    x = x.detach().requires_grad_()
    w = w.detach().requires_grad_()
    b = b.detach().requires_grad_()
    y = m.LayerNormFunction.apply(x, w, b, eps)
    with torch.no_grad():
        raw = m.LayerNormFunction.backward(y.grad_fn, g)
    raw = tuple(t.detach() if isinstance(t, torch.Tensor) else t for t in raw) if isinstance(raw, tuple) else raw
    y.backward(g)
    return y.detach(), raw, x.grad, w.grad, b.grad


def _backward_mistakes(x, w, g, eps=1e-5):
    """dx variants with one of the terms of the hand-derived formula missing."""
    xd, wd, gd = x.double(), w.double(), g.double()
    mu = xd.mean(-1, keepdim=True)
    r = 1 / torch.sqrt(((xd - mu) ** 2).mean(-1, keepdim=True) + eps)
    x_hat = (xd - mu) * r
    d = gd * wd
    m1 = d.mean(-1, keepdim=True)
    m2 = (d * x_hat).mean(-1, keepdim=True)
    return {k: v.to(x.dtype) for k, v in {
        "dx = r * dx_hat only: the terms flowing through the mean and the variance are missing": r * d,
        "the term through the mean, -mean(dx_hat), is missing": r * (d - x_hat * m2),
        "the term through the variance, -x_hat * mean(dx_hat * x_hat), is missing": r * (d - m1),
        "weight left out of dx (use dx_hat = g * weight)": r * (gd - gd.mean(-1, keepdim=True)
                                                               - x_hat * (gd * x_hat).mean(-1, keepdim=True)),
    }.items()}


@check("LayerNormFunction: forward matches F.layer_norm over the last dim", points=1, core=True)
def test_function_forward(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, 4, 6, 16, device=device, scale=2.0, offset=-1.0)
    w, b = _randn(gen, 16, device=device, offset=1.0), _randn(gen, 16, device=device)
    y, *_ = student.run(probe_function, x, w, b, 1e-5, torch.ones_like(x))
    expect_close(y, F.layer_norm(x, (16,), w, b), name="LayerNormFunction.apply(x, weight, bias, 1e-5)",
                 mistakes=_ln_mistakes(x, 16, w, b), inputs=f"x {describe(x)}, weight and bias (16,)")


@check("LayerNormFunction: dx, dweight and dbias agree with autograd through F.layer_norm", points=2, core=True)
def test_function_backward(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for shape, dtype in (((8, 12), torch.float64), ((3, 5, 12), torch.float64), ((2, 3, 4, 12), torch.float32)):
        x = _randn(gen, *shape, dtype=dtype, device=device, scale=1.5, offset=0.5)
        w = _randn(gen, 12, dtype=dtype, device=device, offset=1.0)
        b = _randn(gen, 12, dtype=dtype, device=device)
        g = _randn(gen, *shape, dtype=dtype, device=device)
        _, raw, dx, dw, db = student.run(probe_function, x, w, b, 1e-5, g)
        xr, wr, br = (t.detach().clone().requires_grad_() for t in (x, w, b))
        ex, ew, eb = torch.autograd.grad(F.layer_norm(xr, (12,), wr, br), (xr, wr, br), g)
        rows = math.prod(shape[:-1])
        inputs = f"x {describe(x)}, weight and bias (12,), upstream gradient g of x's shape"
        expect_true(isinstance(raw, tuple) and len(raw) == 4 and raw[3] is None,
                    "LayerNormFunction.backward must return a tuple (dx, dweight, dbias, None): one gradient per "
                    f"input of forward, None for eps (got {type(raw).__name__}"
                    f"{f' of {len(raw)}' if isinstance(raw, (tuple, list)) else ''})")
        for got, want, label in ((raw[1], ew, "dweight"), (raw[2], eb, "dbias")):
            expect_true(isinstance(got, torch.Tensor) and tuple(got.shape) == (12,),
                        f"{label} returned by backward has shape {tuple(getattr(got, 'shape', ()))}, expected (12,): "
                        "sum it over every leading dim (all the rows), so that it has the parameter's shape"
                        + f"\n  input: {inputs}")
        expect_close(raw[0], ex, name="dx", mistakes=_backward_mistakes(x, w, g), inputs=inputs)
        expect_close(raw[1], ew, name="dweight", inputs=inputs,
                     mistakes={"dweight averaged over the rows instead of summed": ew / rows})
        expect_close(raw[2], eb, name="dbias", inputs=inputs,
                     mistakes={"dbias averaged over the rows instead of summed": eb / rows})
        expect_close((dx, dw, db), (ex, ew, eb), name="(x.grad, weight.grad, bias.grad) after y.backward(g)",
                     inputs=inputs)


def probe_function_values(m, base, directions, h, eps, g):
    """LayerNormFunction at `base` = (x, weight, bias): its output, the gradients of sum(y * g) its backward gives,
    and its outputs at base + h d and base - h d for each direction d the grader chose. Data only: the finite
    differences and the verdict are computed by the grader."""
    import torch

    x, w, b = (t.detach().clone().requires_grad_() for t in base)
    y = m.LayerNormFunction.apply(x, w, b, eps)
    y.backward(g)
    grads = [x.grad, w.grad, b.grad]
    plus, minus = [], []
    with torch.no_grad():
        for d in directions:
            plus.append(m.LayerNormFunction.apply(*(t.detach() + h * dt for t, dt in zip(base, d)), eps))
            minus.append(m.LayerNormFunction.apply(*(t.detach() - h * dt for t, dt in zip(base, d)), eps))
    return y.detach(), grads, plus, minus


@check("LayerNormFunction: backward agrees with finite differences of your own forward, in float64", points=1)
def test_function_gradcheck(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64, device=device)
    base = (_randn(gen, 3, 2, 7, **f64), _randn(gen, 7, offset=1.0, **f64), _randn(gen, 7, **f64))
    g = _randn(gen, 3, 2, 7, **f64)
    directions = [tuple(_randn(gen, *t.shape, **f64) for t in base) for _ in range(6)]
    directions += [tuple(d if i == k else torch.zeros_like(d) for i, d in enumerate(directions[k])) for k in range(3)]
    h = 1e-6
    _, grads, plus, minus = student.run(probe_function_values, base, directions, h, 1e-5, g, _timeout=30)
    names = ("x", "weight", "bias")
    for grad, name, t in zip(grads, names, base):
        if not isinstance(grad, torch.Tensor) or grad.shape != t.shape:
            fail(f"after LayerNormFunction.apply(x, weight, bias, 1e-5).backward(g), {name}.grad is "
                 f"{type(grad).__name__ if not isinstance(grad, torch.Tensor) else tuple(grad.shape)}, expected a "
                 f"tensor of shape {tuple(t.shape)}")
    for i, (d, yp, ym) in enumerate(zip(directions, plus, minus)):
        numeric = float(((yp.double() - ym.double()) * g).sum() / (2 * h))   # d/ds sum(g * f(base + s d)) at 0
        analytic = float(sum((gr.double() * dt).sum() for gr, dt in zip(grads, d)))
        which = "a random direction in (x, weight, bias)" if i < 6 else f"a random direction in {names[i - 6]} alone"
        expect_close(analytic, numeric, rtol=1e-4, atol=1e-5,
                     name=f"directional derivative of sum(g * LayerNormFunction(x, weight, bias)) along {which}: "
                          "your backward (left) vs central differences of your forward (right, h = 1e-6)",
                     inputs="float64 x (3, 2, 7), weight and bias (7,); your backward disagrees with your forward")


# Attributes and (imported) names that mean autograd is being asked to do the work.
_AUTOGRAD_ATTRS = {"backward", "enable_grad", "set_grad_enabled", "vjp", "jvp", "jacobian", "hessian", "jacrev",
                   "jacfwd", "grad_fn", "autograd"}
_AUTOGRAD_NAMES = {"enable_grad", "set_grad_enabled", "vjp", "jvp", "jacobian", "hessian", "jacrev", "jacfwd",
                   "autograd"}


def _backward_sources(source):
    """The AST of LayerNormFunction.backward in the submission's source, and of the module's top-level functions it
    calls (directly or through each other). Read here, in the trusted process, from the submitted file."""
    tree = ast.parse(source)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "LayerNormFunction"), None)
    method = None if cls is None else next(
        (n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "backward"), None)
    if method is None:
        return []
    found, stack = [method], [method]
    seen = set()
    while stack:
        node = stack.pop()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in defs and sub.id not in seen:
                seen.add(sub.id)
                found.append(defs[sub.id])
                stack.append(defs[sub.id])
    return found


@check("LayerNormFunction: backward is derived by hand (no autograd calls inside it)", points=1)
def test_function_backward_by_hand(student, submission_source, seed, device):
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, 5, 8, dtype=torch.float64, device=device)
    w, b = _randn(gen, 8, dtype=torch.float64, device=device), _randn(gen, 8, dtype=torch.float64, device=device)
    g = _randn(gen, 5, 8, dtype=torch.float64, device=device)
    _, raw, *_ = student.run(probe_function, x, w, b, 1e-5, g)     # first of all, a backward that works
    xr = x.detach().clone().requires_grad_()
    (ex,) = torch.autograd.grad(F.layer_norm(xr, (8,), w, b), (xr,), g)
    expect_true(isinstance(raw, tuple) and len(raw) == 4, "LayerNormFunction.backward must return a tuple of 4")
    expect_close(raw[0], ex, name="dx", inputs=f"x {describe(x)}")
    try:
        nodes = _backward_sources(submission_source)
    except SyntaxError:
        fail("could not parse your file to read LayerNormFunction.backward")
    if not nodes:
        fail("no method backward found in class LayerNormFunction of your file: define it there")
    found = set()
    for node in (sub for n in nodes for sub in ast.walk(n)):
        if isinstance(node, ast.Attribute):
            if node.attr in _AUTOGRAD_ATTRS:
                found.add(f".{node.attr}")
            if node.attr == "func" and isinstance(node.value, ast.Name) and node.value.id == "torch":
                found.add("torch.func")
        elif isinstance(node, ast.Name) and node.id in _AUTOGRAD_NAMES:
            found.add(node.id)
    expect_true(not found, f"LayerNormFunction.backward uses autograd ({', '.join(sorted(found))}): derive the "
                           "gradients by hand from the saved tensors, with plain tensor arithmetic")


# ------------------------------------------------------------------------------------------- batch_norm

def _bn_view(x):
    return (1, -1) if x.dim() == 2 else (1, -1, 1)


def _bn_train_mistakes(x, w, b, eps=1e-5):
    dims = (0,) if x.dim() == 2 else (0, 2)
    v = _bn_view(x)
    xd = x.double()
    mean = xd.mean(dims, keepdim=True)
    out = {"normalized with the unbiased variance; the batch is normalized with the biased one (the unbiased "
           "variance only goes into running_var)":
           (xd - mean) / torch.sqrt(xd.var(dims, unbiased=True, keepdim=True) + eps) * w.double().view(v)
           + b.double().view(v)}
    if x.dim() == 3:
        m0 = xd.mean(0, keepdim=True)
        out["statistics over the batch dim only; for (N, C, L) they are taken over N and L"] = \
            (xd - m0) / torch.sqrt(xd.var(0, unbiased=False, keepdim=True) + eps) * w.double().view(v) \
            + b.double().view(v)
    return {k: t.to(x.dtype) for k, t in out.items()}


@check("batch_norm: training output matches F.batch_norm for (N, C) and (N, C, L) inputs", points=1, core=True)
def test_batch_norm_train_output(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for shape in ((16, 5), (6, 5, 7)):
        x = _randn(gen, *shape, device=device, scale=2.0, offset=1.0)
        w, b = _randn(gen, 5, device=device, offset=1.0), _randn(gen, 5, device=device)
        rm, rv = torch.zeros(5, device=device), torch.ones(5, device=device)
        out = student.batch_norm(x, rm.clone(), rv.clone(), w, b, True)
        expect_close(out, F.batch_norm(x, rm, rv, w, b, True), name="batch_norm(x, ..., training=True)",
                     mistakes=_bn_train_mistakes(x, w, b), inputs=f"x {describe(x)}, weight and bias (5,)")


def probe_bn_steps(m, xs, momenta, w, b):
    import torch

    C = xs[0].shape[1]
    rm = torch.zeros(C, dtype=xs[0].dtype, device=xs[0].device)
    rv = torch.ones(C, dtype=xs[0].dtype, device=xs[0].device)
    history = []
    for x, momentum in zip(xs, momenta):
        m.batch_norm(x, rm, rv, w, b, True, momentum=momentum)
        history.append((rm.clone(), rv.clone()))
    return history


def _running_mistakes(xs, momenta):
    """running_var under the usual wrong update rules, step by step (float64, cast back)."""
    variants = {"running_var updated with the biased variance; PyTorch uses the unbiased one (n / (n - 1))": "biased",
                "momentum applied the wrong way round (running = momentum * running + (1 - momentum) * batch)": "swap"}
    out = {}
    for label, kind in variants.items():
        C = xs[0].shape[1]
        rv = torch.ones(C, dtype=torch.float64, device=xs[0].device)
        hist = []
        for x, mom in zip(xs, momenta):
            dims = (0,) if x.dim() == 2 else (0, 2)
            var = x.double().var(dims, unbiased=(kind != "biased"))
            rv = (1 - mom) * rv + mom * var if kind != "swap" else mom * rv + (1 - mom) * var
            hist.append(rv.to(x.dtype))
        out[label] = hist
    return out


@check("batch_norm: running_mean and running_var over several training steps match F.batch_norm", points=2, core=True)
def test_batch_norm_running_stats(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for shape in ((12, 4), (5, 4, 6)):
        xs = [_randn(gen, *shape, device=device, scale=1.0 + k, offset=0.5 * k) for k in range(4)]
        momenta = [0.1, 0.1, 0.1, 0.3]
        w, b = _randn(gen, 4, device=device, offset=1.0), _randn(gen, 4, device=device)
        history = student.run(probe_bn_steps, xs, momenta, w, b)
        expect_true(isinstance(history, (list, tuple)) and len(history) == 4, "the probe expected 4 steps of history")
        rm, rv = torch.zeros(4, device=device), torch.ones(4, device=device)
        wrong = _running_mistakes(xs, momenta)
        for step, (x, mom) in enumerate(zip(xs, momenta)):
            F.batch_norm(x, rm, rv, w, b, True, momentum=mom)
            inputs = f"{step + 1} training steps on x {describe(x)}, momentum {momenta[:step + 1]}"
            got_rm, got_rv = history[step]
            expect_close(got_rm, rm, name=f"running_mean after step {step + 1}", inputs=inputs)
            expect_close(got_rv, rv, name=f"running_var after step {step + 1}", inputs=inputs,
                         mistakes={k: v[step] for k, v in wrong.items()})


def probe_bn_eval(m, x, rm, rv, w, b):
    y = m.batch_norm(x, rm, rv, w, b, False)
    return y, rm, rv


@check("batch_norm: eval normalizes with the running statistics and leaves them unchanged", points=1)
def test_batch_norm_eval(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    for shape in ((10, 3), (4, 3, 5)):
        x = _randn(gen, *shape, device=device, scale=2.0, offset=1.0)
        rm = _randn(gen, 3, device=device)
        rv = _randn(gen, 3, device=device).abs() + 0.5
        w, b = _randn(gen, 3, device=device, offset=1.0), _randn(gen, 3, device=device)
        y, rm_after, rv_after = student.run(probe_bn_eval, x, rm, rv, w, b)
        inputs = (f"x {describe(x)}, running_mean {[round(v, 3) for v in rm.tolist()]}, "
                  f"running_var {[round(v, 3) for v in rv.tolist()]}, training=False")
        expect_close(y, F.batch_norm(x, rm.clone(), rv.clone(), w, b, False), name="batch_norm(..., training=False)",
                     inputs=inputs,
                     mistakes={"the batch statistics used in eval: use running_mean and running_var":
                               F.batch_norm(x, None, None, w, b, True)})
        expect_close(rm_after, rm, name="running_mean after an eval call (it must not change)", inputs=inputs)
        expect_close(rv_after, rv, name="running_var after an eval call (it must not change)", inputs=inputs)


def probe_bn_grads(m, x, w, b, g):
    import torch

    rm = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    rv = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
    y = m.batch_norm(x, rm, rv, w, b, True)
    (y * g).sum().backward()
    return x.grad, w.grad, b.grad


@check("batch_norm: autograd through it gives the gradients of F.batch_norm", points=1)
def test_batch_norm_grads(student, seed, device):
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, 6, 4, 5, dtype=torch.float64, device=device).requires_grad_()
    w = _randn(gen, 4, dtype=torch.float64, device=device, offset=1.0).requires_grad_()
    b = _randn(gen, 4, dtype=torch.float64, device=device).requires_grad_()
    g = _randn(gen, 6, 4, 5, dtype=torch.float64, device=device)
    dx, dw, db = student.run(probe_bn_grads, x, w, b, g)
    expect_true(dx is not None and dw is not None and db is not None,
                "batch_norm: x, weight or bias received no gradient: is the output detached from them?")
    ex, ew, eb = torch.autograd.grad(F.batch_norm(x, None, None, w, b, True), (x, w, b), g)
    inputs = f"x {describe(x)}, training=True, upstream gradient g of x's shape"
    expect_close(dx, ex, name="dL/dx", inputs=inputs)
    expect_close(dw, ew, name="dL/dweight", inputs=inputs)
    expect_close(db, eb, name="dL/dbias", inputs=inputs)


# ------------------------------------------------------------------------------------------- end to end

DEPTH, WIDTH, N_TRAIN, STEPS, LR, TARGET_LOSS = 20, 32, 256, 60, 1.5e-3, 0.8


def probe_deep_mlp(m, state, X, Y, depth, width, steps, lr):
    """A deep tanh MLP, Linear -> LayerNorm -> tanh per layer, with `m.LayerNorm`.

    steps == 0: one forward and backward at `state`, returns the gradient of every hidden Linear weight.
    steps > 0: `steps` full-batch Adam steps from `state`, returns the trained state_dict.
    Trusted code: it runs in the sandbox only because it needs the student's LayerNorm.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    layers, fan_in = [], X.shape[1]
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), m.LayerNorm(width), nn.Tanh()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 10))
    net = nn.Sequential(*layers).to(device=X.device, dtype=X.dtype)
    net.load_state_dict(state)
    if steps == 0:
        F.cross_entropy(net(X), Y).backward()
        return [layer.weight.grad for layer in net if isinstance(layer, nn.Linear)][:-1]
    # Adam (Kingma & Ba, 2015) with its default betas, written out: creating torch.optim.Adam for the first time
    # in a fresh process costs seconds of imports, more than the training itself.
    params = list(net.parameters())
    first = [torch.zeros_like(p) for p in params]
    second = [torch.zeros_like(p) for p in params]
    beta1, beta2, tiny = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        for p in params:
            p.grad = None
        F.cross_entropy(net(X), Y).backward()
        with torch.no_grad():
            for p, m1, m2 in zip(params, first, second):
                m1.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                m2.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (m2 / (1 - beta2 ** t)).sqrt_().add_(tiny)
                p.addcdiv_(m1, denom, value=-lr / (1 - beta1 ** t))
    return {k: v.detach() for k, v in net.state_dict().items()}


def _digits(device):
    """The first N_TRAIN of scikit-learn's bundled digits, pixels scaled to [0, 1]."""
    import importlib.util
    from pathlib import Path

    import numpy as np

    # Read the bundled file directly: importing sklearn.datasets costs seconds, the file a few milliseconds.
    found = importlib.util.find_spec("sklearn")
    csv = Path(found.origin).parent / "datasets" / "data" / "digits.csv.gz" if found and found.origin else None
    if csv is not None and csv.is_file():
        data = np.loadtxt(csv, delimiter=",", max_rows=N_TRAIN)
        pixels, labels = data[:, :-1], data[:, -1].astype(np.int64)
    else:  # pragma: no cover (a scikit-learn that moved its data)
        from sklearn.datasets import load_digits

        d = load_digits()
        pixels, labels = d.data[:N_TRAIN], d.target[:N_TRAIN]
    X = torch.tensor(pixels, dtype=torch.float32, device=device) / 16.0
    Y = torch.tensor(labels, device=device)
    return X, Y


def _trusted_net(norm, depth, width, init_seed, device):
    """The same architecture built in the trusted process with `norm` (nn.LayerNorm, or an identity)."""
    torch.manual_seed(init_seed)
    layers, fan_in = [], 64
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), norm(width), nn.Tanh()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 10))
    return nn.Sequential(*layers).to(device)


def _grad_norms(grads):
    return torch.stack([g.detach().norm() for g in grads]).double().cpu()


@check("LayerNorm: keeps the gradient norms of a 20-layer tanh MLP within a narrow range", points=2, timeout=120)
def test_layernorm_deep_gradients(student, device):
    X, Y = _digits(device)
    net = _trusted_net(nn.LayerNorm, DEPTH, WIDTH, 0, device)
    state = dict(net.state_dict())
    grads = student.run(probe_deep_mlp, state, X, Y, DEPTH, WIDTH, 0, 0.0, _timeout=30)
    expect_true(isinstance(grads, list) and len(grads) == DEPTH and all(g is not None for g in grads),
                f"expected the gradients of the {DEPTH} hidden layers' weights; some were missing")
    got = _grad_norms(grads)
    trusted = _grad_norms(probe_deep_mlp(types.SimpleNamespace(LayerNorm=nn.LayerNorm), state, X, Y,
                                         DEPTH, WIDTH, 0, 0.0))
    plain = _trusted_net(lambda w: nn.Identity(), DEPTH, WIDTH, 0, device)
    plain_norms = _grad_norms(probe_deep_mlp(types.SimpleNamespace(LayerNorm=lambda w: nn.Identity()),
                                             dict(plain.state_dict()), X, Y, DEPTH, WIDTH, 0, 0.0))
    spread = float(got.max() / got.min().clamp_min(1e-30))
    plain_spread = float(plain_norms.max() / plain_norms.min())
    inputs = (f"{DEPTH} layers Linear({WIDTH}) -> LayerNorm({WIDTH}) -> tanh, PyTorch's default init, "
              f"{N_TRAIN} digits, cross-entropy")
    expect_true(spread < 20.0, f"the gradient norms of the {DEPTH} layers spread over a factor {spread:.3g} "
                               f"(max/min); with LayerNorm they stay within 20 (without it: {plain_spread:.3g})"
                               f"\n  input: {inputs}")
    expect_close(got, trusted, name="per-layer gradient norms |dL/dW_l|", rtol=1e-3, atol=1e-7, inputs=inputs)


@check("LayerNorm: trains a 20-layer tanh MLP on digits to a low loss within the time limit", points=2, timeout=180)
def test_layernorm_deep_training(student, device):
    X, Y = _digits(device)
    net = _trusted_net(nn.LayerNorm, DEPTH, WIDTH, 0, device)
    state = dict(net.state_dict())
    trained = student.run(probe_deep_mlp, state, X, Y, DEPTH, WIDTH, STEPS, LR, _timeout=60)
    try:
        net.load_state_dict(trained)
    except (RuntimeError, KeyError, TypeError) as exc:
        fail(f"the trained parameters do not load into the reference architecture: {str(exc).strip()[:400]}")
    with torch.no_grad():
        loss = float(F.cross_entropy(net(X), Y))           # recomputed here, with nn.LayerNorm
    expect_true(math.isfinite(loss) and loss < TARGET_LOSS,
                f"after {STEPS} Adam steps (lr {LR}) the {DEPTH}-layer MLP with your LayerNorm has a training loss "
                f"of {loss:.3f} on {N_TRAIN} digits; with a correct LayerNorm it falls below {TARGET_LOSS} "
                "(about 0.3), while without normalization it stays near 2")
