"""Public checks for LoRA (Hu et al., 2021): they ship to students and run with `dlcourse check lora`.

Every expected value is computed here, in the trusted process, from the LoRA formula with PyTorch built-ins
(F.linear, autograd) or from properties; nothing uses the reference solution. Probes (functions named `probe_*`)
run in the sandbox with the student's module as their first argument and return plain tensors and values.
"""

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checking import check, fail
from autograder.compare import expect_close, expect_equal, expect_true


def _t(rng, *shape, device, dtype=torch.float32):
    return torch.tensor(rng.standard_normal(shape), dtype=dtype, device=device)


# ------------------------------------------------------------------------------------------------ probes

def probe_layer(mod, W, b, r, alpha, x, A=None, B=None, dropout=0.0, train=False, grad_out=None):
    """Wrap nn.Linear(W, b) in the student's LoRALinear, optionally set A and B, run x through it."""
    import torch
    from torch import nn

    out_f, in_f = W.shape
    base = nn.Linear(in_f, out_f, bias=b is not None, device=W.device, dtype=W.dtype)
    with torch.no_grad():
        base.weight.copy_(W)
        if b is not None:
            base.bias.copy_(b)
    layer = mod.LoRALinear(base, r, alpha=alpha, dropout=dropout)
    res = {"A0": layer.lora_A.detach().clone(), "B0": layer.lora_B.detach().clone(),
           "scaling": float(layer.scaling), "base_id": id(getattr(layer, "base", None)), "given_id": id(base)}
    with torch.no_grad():
        if A is not None:
            layer.lora_A.copy_(A)
        if B is not None:
            layer.lora_B.copy_(B)
    layer.train(train)
    out = layer(x)
    res["out"] = out.detach().clone()
    with torch.no_grad():
        res["base_out"] = base(x)
    if grad_out is not None:
        (out * grad_out).sum().backward()
    res["params"] = {name: {"numel": int(p.numel()), "grad": None if p.grad is None else p.grad.detach().clone()}
                     for name, p in layer.named_parameters()}
    res["trainable"] = sorted(name for name, p in layer.named_parameters() if p.requires_grad)
    return res


def probe_merge(mod, W, b, r, alpha, A, B, x):
    """LoRALinear(W, b) with A and B set, then merge(): what came out, and what became of the base."""
    import torch
    from torch import nn

    out_f, in_f = W.shape
    base = nn.Linear(in_f, out_f, bias=b is not None, device=W.device, dtype=W.dtype)
    with torch.no_grad():
        base.weight.copy_(W)
        if b is not None:
            base.bias.copy_(b)
    layer = mod.LoRALinear(base, r, alpha=alpha)
    with torch.no_grad():
        layer.lora_A.copy_(A)
        layer.lora_B.copy_(B)
    layer.eval()
    with torch.no_grad():
        before = layer(x)
        merged = layer.merge()
        res = {"type": type(merged).__name__, "classes": [c.__name__ for c in type(merged).__mro__],
               "merged_id": id(merged), "base_id": id(base), "before": before}
        if isinstance(merged, nn.Linear):  # what it holds, when it is one
            res["weight"] = merged.weight.detach().clone()
            res["bias"] = None if merged.bias is None else merged.bias.detach().clone()
            res["merged_out"] = merged(x)
        res["base_weight"] = base.weight.detach().clone()
        res["base_bias"] = None if base.bias is None else base.bias.detach().clone()
        res["after"] = layer(x)
    return res


def probe_bad_rank(mod, r):
    from torch import nn

    try:
        mod.LoRALinear(nn.Linear(4, 3), r)
    except ValueError:
        return "ValueError"
    except Exception as exc:  # noqa: BLE001 - reported to the student
        return f"{type(exc).__name__} ({exc})"
    return None


def probe_nested(mod, seed, targets, r, alpha, x, lora_seed=None, action="apply", dropout=None):
    """A small transformer-like model (ModuleList of blocks, nested modules, a named Sequential), adapted with the
    student's apply_lora (with `dropout=` when given). `action`: "apply" (structure), "state" (lora_state_dict
    round trip), "merge" (merge_lora), "dropout" (two passes in training mode and one in eval mode, LoRA matrices
    made non-zero).
    """
    from collections import OrderedDict

    import torch
    from torch import nn

    d = x.shape[-1]

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

        def forward(self, h):  # (N, T, d)
            q, k, v = self.q(h), self.k(h), self.v(h)
            att = torch.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)  # (N, T, T)
            return self.o(att @ v)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(d)
            self.attn = Attention()
            self.mlp = nn.Sequential(OrderedDict(fc=nn.Linear(d, 2 * d), act=nn.GELU(),
                                                 proj=nn.Linear(2 * d, d, bias=False)))

        def forward(self, h):
            h = h + self.attn(self.norm(h))
            return h + self.mlp(h)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block(), Block()])
            self.head = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 3))

        def forward(self, h):
            for blk in self.blocks:
                h = blk(h)
            return self.head(h)

    def build():
        torch.manual_seed(seed)
        return Net().to(device=x.device, dtype=x.dtype)

    def randomize(model):
        g = torch.Generator().manual_seed(lora_seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B"):
                    p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))

    model = build()
    model.eval()
    with torch.no_grad():
        original = model(x)
    res = {"original": original}
    extra = {} if dropout is None else {"dropout": dropout}
    returned = mod.apply_lora(model, targets, r, alpha=alpha, **extra)
    res["returned_id"], res["model_id"] = id(returned), id(model)
    res["types"] = {name: type(m).__name__ for name, m in model.named_modules() if name}
    res["trainable"] = sorted(name for name, p in model.named_parameters() if p.requires_grad)
    res["frozen"] = sorted(name for name, p in model.named_parameters() if not p.requires_grad)
    model.eval()
    if action == "apply":
        with torch.no_grad():
            res["adapted"] = model(x)
        return res
    randomize(model)
    params = {name: p.detach().clone() for name, p in model.named_parameters()}
    with torch.no_grad():
        adapted = model(x)
    res["adapted"] = adapted
    if action == "state":
        sd = mod.lora_state_dict(model)
        res["keys"] = sorted(sd)
        res["values"] = {k: v.detach().clone() for k, v in sd.items()}
        res["params"] = params
        fresh = build()
        mod.apply_lora(fresh, targets, r, alpha=alpha)
        missing, unexpected = fresh.load_state_dict(sd, strict=False)
        res["unexpected"] = list(unexpected)
        fresh.eval()
        with torch.no_grad():
            res["restored"] = fresh(x)
        return res
    if action == "dropout":
        torch.manual_seed(seed + 1)
        model.train()
        with torch.no_grad():
            res["train"] = [model(x), model(x)]
        model.eval()
        with torch.no_grad():
            res["eval"] = model(x)
        return res
    if action == "merge":
        res["params"] = params
        returned = mod.merge_lora(model)
        res["returned_id"] = id(returned)
        res["types_after"] = {name: type(m).__name__ for name, m in model.named_modules() if name}
        res["merged_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.eval()
        with torch.no_grad():
            res["merged_out"] = model(x)
        return res
    raise ValueError(action)


def probe_count(mod, device):
    """count_trainable_parameters on hand-built models whose answer is known."""
    import torch
    from torch import nn

    counts = {}
    m = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.LayerNorm(20), nn.Linear(20, 5)).to(device)
    counts["all trainable"] = mod.count_trainable_parameters(m)
    m[0].requires_grad_(False)
    m[2].weight.requires_grad_(False)
    counts["first Linear and the LayerNorm weight frozen"] = mod.count_trainable_parameters(m)
    tied = nn.Module()
    tied.emb = nn.Embedding(7, 6)
    tied.out = nn.Linear(6, 7, bias=False)
    tied.out.weight = tied.emb.weight  # one (7, 6) tensor shared by two modules
    counts["a weight shared by two modules"] = mod.count_trainable_parameters(tied.to(device))
    frozen = nn.Linear(3, 3).to(device).requires_grad_(False)
    counts["everything frozen"] = mod.count_trainable_parameters(frozen)
    return {k: (v.item() if isinstance(v, torch.Tensor) else v) for k, v in counts.items()}


def probe_adapt(mod, pretrained, X, y, targets, r, alpha, steps, lr, seed):
    """The trusted adaptation loop, run with the student's apply_lora: returns the trained state_dict."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Block(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.fc = nn.Linear(i, o)

        def forward(self, h):
            return torch.relu(self.fc(h))

    class Net(nn.Module):
        def __init__(self, d_in, hidden, n_out):
            super().__init__()
            self.blocks = nn.ModuleList([Block(d_in, hidden), Block(hidden, hidden)])
            self.head = nn.Linear(hidden, n_out)

        def forward(self, h):
            for blk in self.blocks:
                h = blk(h)
            return self.head(h)

    torch.manual_seed(seed)
    hidden, d_in = pretrained["blocks.0.fc.weight"].shape
    net = Net(d_in, hidden, pretrained["head.weight"].shape[0]).to(X.device)
    net.load_state_dict(pretrained)
    mod.apply_lora(net, targets, r, alpha=alpha)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    # Adam (Kingma & Ba, 2015) written out: torch.optim's first step costs seconds of imports.
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        for p in params:
            p.grad = None
        F.cross_entropy(net(X), y).backward()
        with torch.no_grad():
            for p, m, v in zip(params, m1, m2):
                if p.grad is None:
                    continue
                m.mul_(0.9).add_(p.grad, alpha=0.1)
                v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
                p.sub_(lr * (m / (1 - 0.9 ** t)) / ((v / (1 - 0.999 ** t)).sqrt() + 1e-8))
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


# ------------------------------------------------------------------------------------------------ LoRALinear

@check("LoRALinear: at initialisation lora_B is zero, lora_A is random, and the output is exactly the base's",
       points=2)
def test_init(student, rng, device):
    in_f, out_f, r = 12, 7, 3
    W, b, x = _t(rng, out_f, in_f, device=device), _t(rng, out_f, device=device), _t(rng, 5, in_f, device=device)
    res = student.run(probe_layer, W, b, r, 2.0, x)
    inputs = f"LoRALinear(nn.Linear({in_f}, {out_f}), r={r}, alpha=2.0), x of shape (5, {in_f})"
    expect_true(res["base_id"] == res["given_id"], "LoRALinear must keep the nn.Linear it wraps as the attribute "
                                                   "`base` (the same object)")
    A0, B0 = res["A0"], res["B0"]
    expect_true(tuple(A0.shape) == (r, in_f),
                f"lora_A has shape {tuple(A0.shape)}, expected (r, in_features) = {(r, in_f)}")
    expect_true(tuple(B0.shape) == (out_f, r),
                f"lora_B has shape {tuple(B0.shape)}, expected (out_features, r) = {(out_f, r)}")
    expect_equal(B0, torch.zeros(out_f, r, device=device), name="lora_B at initialisation", inputs=inputs)
    expect_true(bool((A0 != 0).any()) and torch.unique(A0).numel() > 1,
                "lora_A is zero (or constant) at initialisation: it must be random. With A = 0 and B = 0 the "
                "gradients of both are zero and LoRA never learns (Hu et al., 2021 initialise A at random)")
    expect_true(A0.device.type == W.device.type and A0.dtype == W.dtype,
                f"lora_A is a {A0.dtype} tensor on {A0.device.type}; it must follow base.weight "
                f"({W.dtype} on {W.device.type})")
    expect_close(res["base_out"], F.linear(x, W, b), name="base(x) (your wrapper changed the base layer?)",
                 inputs=inputs)
    expect_equal(res["out"], res["base_out"], name="LoRALinear output at initialisation vs base(x)", inputs=inputs)


@check("LoRALinear: scaling is alpha / r and forward is base(x) + scaling * (x A^T) B^T", points=2, core=True)
def test_forward(student, rng, device):
    in_f, out_f, r, alpha = 10, 6, 4, 8.0
    W, b = _t(rng, out_f, in_f, device=device), _t(rng, out_f, device=device)
    A, B = _t(rng, r, in_f, device=device), _t(rng, out_f, r, device=device)
    x = _t(rng, 2, 5, in_f, device=device)
    res = student.run(probe_layer, W, b, r, alpha, x, A=A, B=B)
    inputs = f"r={r}, alpha={alpha}, given A and B, x of shape (2, 5, {in_f}) (eval mode)"
    expect_close(res["scaling"], alpha / r, name="LoRALinear.scaling", inputs=inputs,
                 mistakes={"scaling = alpha instead of alpha / r": alpha, "scaling = r / alpha": r / alpha})
    low_rank = (x @ A.T) @ B.T
    base = F.linear(x, W, b)
    expect_close(res["out"], base + (alpha / r) * low_rank, name="LoRALinear output", inputs=inputs,
                 mistakes={"the update is scaled by alpha instead of alpha / r": base + alpha * low_rank,
                           "the alpha / r scaling is missing": base + low_rank,
                           "the base output base(x) is missing": (alpha / r) * low_rank,
                           "the update is scaled by r / alpha instead of alpha / r": base + (r / alpha) * low_rank})


@check("LoRALinear: gradients reach lora_A and lora_B only, with the values of the formula", points=2, core=True)
def test_gradients(student, rng, device):
    in_f, out_f, r, alpha = 9, 5, 2, 3.0
    W, b = _t(rng, out_f, in_f, device=device), _t(rng, out_f, device=device)
    A, B = _t(rng, r, in_f, device=device), _t(rng, out_f, r, device=device)
    x, G = _t(rng, 6, in_f, device=device), _t(rng, 6, out_f, device=device)
    res = student.run(probe_layer, W, b, r, alpha, x, A=A, B=B, train=True, grad_out=G)
    inputs = f"r={r}, alpha={alpha}, given non-zero A and B, loss = sum(out * G) for x of shape (6, {in_f})"
    params = res["params"]
    for name in ("base.weight", "base.bias"):
        if name not in params:
            fail(f"LoRALinear has no parameter {name!r}: keep the wrapped layer as `self.base`")
        if name in res["trainable"] or params[name]["grad"] is not None:
            fail(f"{name} received a gradient (requires_grad={name in res['trainable']}): the base layer "
                 "must be frozen, only lora_A and lora_B are trained")
    At, Bt = A.clone().requires_grad_(True), B.clone().requires_grad_(True)
    ((F.linear(x, W, b) + (alpha / r) * (x @ At.T) @ Bt.T) * G).sum().backward()
    for name, expected in (("lora_A", At.grad), ("lora_B", Bt.grad)):
        if name not in params or params[name]["grad"] is None:
            fail(f"{name} got no gradient: register it as an nn.Parameter and use it in forward")
        expect_close(params[name]["grad"], expected, name=f"gradient of {name}", inputs=inputs,
                     mistakes={"the update is scaled by alpha instead of alpha / r": expected * r,
                               "the alpha / r scaling is missing": expected * r / alpha})


@check("LoRALinear: the trainable parameters are lora_A and lora_B, r * (in + out) numbers", points=1)
def test_trainable(student, rng, device):
    in_f, out_f, r = 16, 11, 3
    W, b, x = _t(rng, out_f, in_f, device=device), _t(rng, out_f, device=device), _t(rng, 2, in_f, device=device)
    res = student.run(probe_layer, W, b, r, 1.0, x)
    trainable = res["trainable"]
    expect_true(trainable == ["lora_A", "lora_B"],
                f"trainable parameters of LoRALinear(nn.Linear({in_f}, {out_f}), r={r}) are {trainable}, "
                "expected exactly ['lora_A', 'lora_B'] (freeze the base: its weight and its bias)")
    n = sum(p["numel"] for name, p in res["params"].items() if name in trainable)
    expect_equal(n, r * (in_f + out_f), name=f"number of trainable scalars for in={in_f}, out={out_f}, r={r}")


@check("LoRALinear.merge: a new nn.Linear with weight W + scaling * B A, same output, the base untouched", points=2)
def test_merge(student, rng, device):
    in_f, out_f, r, alpha = 8, 6, 2, 4.0
    for bias in (True, False):
        W = _t(rng, out_f, in_f, device=device)
        b = _t(rng, out_f, device=device) if bias else None
        A, B = _t(rng, r, in_f, device=device), _t(rng, out_f, r, device=device)
        x = _t(rng, 4, in_f, device=device)
        res = student.run(probe_merge, W, b, r, alpha, A, B, x)
        inputs = f"r={r}, alpha={alpha}, given A and B, base {'with' if bias else 'without'} bias"
        expect_true("Linear" in res["classes"] and "weight" in res, f"merge() returned a {res['type']}, expected a "
                                                                    "new nn.Linear")
        expect_true(res["merged_id"] != res["base_id"], "merge() returned the base layer itself: build a new nn.Linear "
                                        "(the base must stay as it was, so the adapter can be removed or swapped)")
        expect_equal(res["base_weight"], W, name="base.weight after merge() (merge must not modify the base)",
                     inputs=inputs)
        if bias:
            expect_equal(res["base_bias"], b, name="base.bias after merge()", inputs=inputs)
        delta = B @ A
        expect_close(res["weight"], W + (alpha / r) * delta, name="merged weight", inputs=inputs,
                     mistakes={"merge forgot the alpha / r scaling": W + delta,
                               "merge scaled B A by alpha instead of alpha / r": W + alpha * delta})
        if bias:
            expect_close(res["bias"], b, name="merged bias", inputs=inputs)
        else:
            expect_true(res["bias"] is None, "the base has no bias, but the merged layer has one")
        expect_close(res["merged_out"], res["before"], name="merged layer output vs LoRALinear output (eval)",
                     inputs=inputs)
        expect_close(res["after"], res["before"], name="LoRALinear output after merge() vs before",
                     inputs=inputs)


@check("LoRALinear: dropout acts on the input of the low-rank path only, and only in training", points=2)
def test_dropout(student, rng, device):
    # Design: in = out = r = d, A orthogonal, B = I, alpha = r (scaling 1). Then
    #   out - base(x) = dropout(x) @ A^T,  so  (out - base(x)) @ A = dropout(x),
    # whose entries must each be 0 or x / (1 - p). Dropout elsewhere (on the output, on the low-rank output, on
    # the base path) breaks this elementwise pattern.
    d, p, n = 16, 0.5, 256
    dt = torch.float64
    W, b = _t(rng, d, d, device=device, dtype=dt), _t(rng, d, device=device, dtype=dt)
    Q = torch.linalg.qr(torch.tensor(rng.standard_normal((d, d))))[0].to(device=device, dtype=dt)  # orthogonal
    I = torch.eye(d, dtype=dt, device=device)
    x = _t(rng, n, d, device=device, dtype=dt)
    inputs = f"float64 x of shape ({n}, {d}), r = in = out = {d}, A orthogonal, B = I, alpha = r, dropout={p}"
    ev = student.run(probe_layer, W, b, d, float(d), x, A=Q, B=I, dropout=p, train=False)
    expect_close(ev["out"], F.linear(x, W, b) + x @ Q.T, name="LoRALinear output in eval mode (dropout must be off)",
                 inputs=inputs)
    tr = student.run(probe_layer, W, b, d, float(d), x, A=Q, B=I, dropout=p, train=True)
    expect_close(tr["base_out"], F.linear(x, W, b), name="base(x)", inputs=inputs)
    masked = (tr["out"] - tr["base_out"]) @ Q  # should be dropout(x): each entry 0 or x / (1 - p)
    tol = 1e-6 * (1 + x.abs())
    dropped = masked.abs() <= tol
    kept = (masked - x / (1 - p)).abs() <= tol
    if not bool((dropped | kept).all()):
        unscaled = (masked - x).abs() <= tol
        if bool(unscaled.all()):
            fail(f"in training mode the low-rank path sees x unchanged: dropout is not applied at all ({inputs})")
        if bool((dropped | unscaled).all()):
            fail("in training, the low-rank path sees x with some entries zeroed but the others not rescaled: "
                 f"kept entries must be x / (1 - p) (inverted dropout), for {inputs}")
        if bool(((tr["out"] - tr["base_out"]).abs() <= 1e-6).float().mean() > 0.2):
            fail("in training, whole entries of the low-rank update are zeroed: dropout is applied to the "
                 f"low-rank output instead of to its input x, for {inputs}")
        frac = float(1 - (dropped | kept).float().mean())
        fail("in training, (out - base(x)) A is not dropout(x) (each entry 0 or x / (1 - p)) for "
             f"{100 * frac:.0f}% of the entries: dropout must act on the input of the low-rank path only "
             f"(not on the output, not on base(x)), for {inputs}")
    rate = float(dropped.float().mean())
    bound = 5 * (p * (1 - p) / dropped.numel()) ** 0.5
    expect_true(abs(rate - p) <= bound,
                f"in training, {100 * rate:.1f}% of the low-rank path's inputs were dropped, expected "
                f"{100 * p:.0f}% +- {100 * bound:.1f}% for dropout={p} ({inputs})"
                + (": dropout is not applied at all" if rate == 0 else ""))


@check("LoRALinear: r < 1 raises ValueError", points=1)
def test_bad_rank(student):
    for r in (0, -2):
        got = student.run(probe_bad_rank, r)
        expect_true(got == "ValueError",
                    f"LoRALinear(nn.Linear(4, 3), r={r}) "
                    + ("raised no error" if got is None else f"raised {got}") + ", expected ValueError")


# ------------------------------------------------------------------------------------------------ apply_lora

def _nested_expectations(targets):
    names = [f"blocks.{i}.attn.{t}" for i in range(2) for t in "qkvo"]
    names += [f"blocks.{i}.mlp.{t}" for i in range(2) for t in ("fc", "proj")]
    names += ["head.0", "head.2"]
    wrapped = sorted(n for n in names if n.rsplit(".", 1)[-1] in targets)
    others = sorted(n for n in names if n not in wrapped)
    return wrapped, others


@check("apply_lora: replaces exactly the target Linears, at any depth, inside ModuleList and Sequential", points=2, core=True)
def test_apply_structure(student, rng, seed, device):
    targets = ["q", "v", "fc", "2"]
    x = _t(rng, 2, 3, 8, device=device)
    res = student.run(probe_nested, seed % 10_000, targets, 2, 4.0, x)
    wrapped, others = _nested_expectations(targets)
    expect_true(res["returned_id"] == res["model_id"], "apply_lora must return the model it was given (changed in "
                                                       "place)")
    types = res["types"]
    for name in wrapped:
        expect_true(types.get(name) == "LoRALinear",
                    f"model.{name} is a {types.get(name, 'missing module')} after apply_lora(model, {targets}), "
                    "expected a LoRALinear (targets are matched by attribute name, at any depth)")
        expect_true(types.get(name + ".base") == "Linear",
                    f"model.{name}.base is a {types.get(name + '.base', 'missing module')}, expected the "
                    "original nn.Linear")
    for name in others:
        expect_true(types.get(name) == "Linear",
                    f"model.{name} is a {types.get(name, 'missing module')} after apply_lora(model, {targets}), "
                    f"but {name.rsplit('.', 1)[-1]!r} is not a target: it must stay the nn.Linear it was")
    n_lora = sum(1 for t in types.values() if t == "LoRALinear")
    expect_true(n_lora == len(wrapped), f"{n_lora} LoRALinear modules in the model, expected {len(wrapped)}")


@check("apply_lora: only lora_A and lora_B of the new layers stay trainable", points=2)
def test_apply_frozen(student, rng, seed, device):
    targets = ["q", "v", "fc"]
    x = _t(rng, 2, 3, 8, device=device)
    res = student.run(probe_nested, seed % 10_000, targets, 2, 4.0, x)
    wrapped, _ = _nested_expectations(targets)
    expected = sorted(f"{n}.{p}" for n in wrapped for p in ("lora_A", "lora_B"))
    extra = sorted(set(res["trainable"]) - set(expected))
    missing = sorted(set(expected) - set(res["trainable"]))
    if extra:
        fail(f"after apply_lora(model, {targets}) these parameters are still trainable: {extra[:6]}"
             + (" and more" if len(extra) > 6 else "") + ". Every parameter other than the new lora_A and lora_B "
             "must be frozen (norms, non-target Linears, biases, the wrapped bases)")
    if missing:
        fail(f"after apply_lora(model, {targets}) these LoRA parameters are missing or frozen: {missing[:6]}")


@check("apply_lora: at initialisation the adapted model computes what the original computed", points=1)
def test_apply_identity(student, rng, seed, device):
    x = _t(rng, 2, 3, 8, device=device)
    res = student.run(probe_nested, seed % 10_000, ["q", "k", "v", "o", "fc", "proj"], 4, 8.0, x)
    expect_close(res["adapted"], res["original"], name="output of the adapted model at initialisation",
                 inputs="a 2-block transformer-like model, x of shape (2, 3, 8), every attention and MLP Linear "
                        "adapted (lora_B starts at zero, so nothing may change)")


@check("apply_lora: passes dropout on: with dropout=0.5 two training passes differ (not with 0), eval mode unchanged",
       points=1)
def test_apply_dropout(student, rng, seed, device):
    targets = ["q", "v", "fc"]
    x = _t(rng, 2, 3, 8, device=device)
    runs = {p: student.run(probe_nested, seed % 10_000, targets, 2, 4.0, x, lora_seed=seed, action="dropout",
                           dropout=p) for p in (0.0, 0.5)}
    for p, res in runs.items():
        if not (isinstance(res, dict) and isinstance(res.get("train"), list) and len(res["train"]) == 2
                and all(isinstance(t, torch.Tensor) for t in [*res["train"], res.get("eval")])):
            fail("the adapted model did not give back its outputs")
    inputs = f"apply_lora(model, {targets}, r=2, alpha=4.0, dropout=p), LoRA matrices non-zero, x of shape (2, 3, 8)"
    first, second = runs[0.5]["train"]
    expect_true((first - second).abs().max().item() > 1e-6,
                f"with dropout=0.5 two forward passes in training mode gave the same output: the dropout given to "
                f"apply_lora did not reach the new LoRALinear layers ({inputs})")
    expect_close(runs[0.0]["train"][1], runs[0.0]["train"][0], name="a second training pass with dropout=0",
                 inputs=inputs)
    expect_close(runs[0.5]["eval"], runs[0.0]["eval"], name="the eval-mode output with dropout=0.5 (dropout is off "
                 "in eval mode, so it must equal the output with dropout=0)", inputs=inputs)


# ------------------------------------------------------------------------------------------------ lora_state_dict

@check("lora_state_dict: exactly the lora_A and lora_B tensors, under their names in the model", points=2, core=True)
def test_state_dict_keys(student, rng, seed, device):
    targets = ["q", "v", "fc"]
    x = _t(rng, 2, 3, 8, device=device)
    res = student.run(probe_nested, seed % 10_000, targets, 2, 4.0, x, lora_seed=seed, action="state")
    wrapped, _ = _nested_expectations(targets)
    expected = sorted(f"{n}.{p}" for n in wrapped for p in ("lora_A", "lora_B"))
    extra = sorted(set(res["keys"]) - set(expected))
    missing = sorted(set(expected) - set(res["keys"]))
    if extra:
        fail(f"lora_state_dict holds entries that are not LoRA matrices: {extra[:6]}"
             + (" and more" if len(extra) > 6 else "") + ". Only lora_A and lora_B belong in the checkpoint "
             "(base weights are the pretrained model's, stored once)")
    if missing:
        fail(f"lora_state_dict misses {missing[:6]} (keys must be the names in model.state_dict())")
    for key in expected:
        expect_close(res["values"][key], res["params"][key], name=f"lora_state_dict()[{key!r}]")


@check("lora_state_dict: loading it into a freshly adapted copy restores the adapted model", points=1)
def test_state_dict_roundtrip(student, rng, seed, device):
    targets = ["q", "v", "fc", "proj"]
    x = _t(rng, 2, 3, 8, device=device)
    res = student.run(probe_nested, seed % 10_000, targets, 2, 4.0, x, lora_seed=seed, action="state")
    expect_true(not res["unexpected"], f"load_state_dict(lora_state_dict(model), strict=False) on a fresh "
                                       f"adapted model found unexpected keys {res['unexpected'][:6]}")
    expect_true(not torch.allclose(res["adapted"], res["original"]),
                "setting random lora_A and lora_B did not change the model's output: the LoRA parameters "
                "are not used in forward")
    expect_close(res["restored"], res["adapted"], name="output of the fresh model after loading the LoRA "
                 "checkpoint vs the adapted model", inputs="x of shape (2, 3, 8)")


# ------------------------------------------------------------------------------------------------ merge_lora

@check("merge_lora: every LoRALinear becomes its merged nn.Linear, computing the same function", points=2, core=True)
def test_merge_lora(student, rng, seed, device):
    targets = ["q", "v", "fc", "proj"]
    r, alpha = 2, 4.0
    x = _t(rng, 2, 3, 8, device=device)
    res = student.run(probe_nested, seed % 10_000, targets, r, alpha, x, lora_seed=seed, action="merge")
    wrapped, _ = _nested_expectations(targets)
    expect_true(res["returned_id"] == res["model_id"], "merge_lora must return the model it was given (changed in "
                                                       "place)")
    left = sorted(n for n, t in res["types_after"].items() if t == "LoRALinear")
    expect_true(not left, f"after merge_lora these modules are still LoRALinear: {left[:6]}")
    for name in wrapped:
        expect_true(res["types_after"].get(name) == "Linear",
                    f"model.{name} is a {res['types_after'].get(name, 'missing module')} after merge_lora, "
                    "expected an nn.Linear")
        p = res["params"]
        W, A, B = p[f"{name}.base.weight"], p[f"{name}.lora_A"], p[f"{name}.lora_B"]
        got = res["merged_state"].get(f"{name}.weight")
        if got is None:
            fail(f"the merged model has no {name}.weight")
        expect_close(got, W + (alpha / r) * B @ A, name=f"{name}.weight after merge_lora",
                     mistakes={"merge forgot the alpha / r scaling": W + B @ A})
        if f"{name}.base.bias" in p:
            expect_close(res["merged_state"].get(f"{name}.bias"), p[f"{name}.base.bias"],
                         name=f"{name}.bias after merge_lora")
    expect_close(res["merged_out"], res["adapted"], name="merged model output vs adapted model output",
                 inputs="x of shape (2, 3, 8), random lora_A and lora_B")


# ------------------------------------------------------------------------------------------------ counting

@check("count_trainable_parameters: counts the scalars of the parameters that require grad", points=1, core=True)
def test_count(student, device):
    got = student.run(probe_count, device)
    expected = {"all trainable": 10 * 20 + 20 + 2 * 20 + 20 * 5 + 5,
                "first Linear and the LayerNorm weight frozen": 20 + 20 * 5 + 5,
                "a weight shared by two modules": 7 * 6,
                "everything frozen": 0}
    for case, value in expected.items():
        expect_true(isinstance(got.get(case), int) and not isinstance(got.get(case), bool),
                    f"count_trainable_parameters returned {got.get(case)!r} ({case}), expected a Python int")
        hint = ""
        if case == "a weight shared by two modules" and got[case] == 2 * value:
            hint = " (the shared weight was counted twice: count each parameter once, as model.parameters() does)"
        expect_true(got[case] == value, f"count_trainable_parameters = {got[case]} for {case}, expected {value}{hint}")


# ------------------------------------------------------------------------------------------------ end to end

_DIGITS = {}


def _digits(device):
    """Scikit-learn's 8x8 digits, scaled to [0, 1], split by class (0-4 and 5-9) and then 70/30 train/test."""
    if "data" not in _DIGITS:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        order = np.random.default_rng(0).permutation(len(y))
        X, y = X[order] / 16.0, y[order]
        splits = {}
        for name, lo in (("old", 0), ("new", 5)):
            m = (y >= lo) & (y < lo + 5)
            Xs, ys = torch.tensor(X[m], dtype=torch.float32), torch.tensor(y[m] - lo)  # labels 0..4 in both tasks
            n = int(0.7 * len(ys))
            splits[name] = (Xs[:n], ys[:n], Xs[n:], ys[n:])
        _DIGITS["data"] = splits
    return {k: tuple(t.to(device) for t in v) for k, v in _DIGITS["data"].items()}


def _mlp(params, X, layers=("blocks.0.fc", "blocks.1.fc", "head")):
    """The trusted forward of the 64-256-256-5 ReLU MLP from a dict of (merged) weights."""
    h = X
    for i, name in enumerate(layers):
        h = F.linear(h, params[f"{name}.weight"], params[f"{name}.bias"])
        if i < len(layers) - 1:
            h = torch.relu(h)
    return h


def _pretrain(seed, device, hidden=256, steps=100):
    """Pretrain the MLP on digits 0-4 (trusted, full batch Adam); returns its state_dict."""
    (X, y, _, _) = _digits(device)["old"]
    g = torch.Generator().manual_seed(seed)
    shapes = {"blocks.0.fc": (hidden, 64), "blocks.1.fc": (hidden, hidden), "head": (5, hidden)}
    params = {}
    for name, (o, i) in shapes.items():  # PyTorch's default nn.Linear initialisation: U(-1/sqrt(i), 1/sqrt(i))
        params[f"{name}.weight"] = ((torch.rand(o, i, generator=g) * 2 - 1) / i ** 0.5).to(device).requires_grad_()
        params[f"{name}.bias"] = ((torch.rand(o, generator=g) * 2 - 1) / i ** 0.5).to(device).requires_grad_()
    _adam(lambda: F.cross_entropy(_mlp(params, X), y), list(params.values()), lr=1e-2, steps=steps)
    return {k: v.detach().clone() for k, v in params.items()}


def _adam(loss_fn, params, lr, steps, betas=(0.9, 0.999), eps=1e-8):
    """Full-batch Adam (Kingma & Ba, 2015), written out (torch.optim's first step costs seconds of imports)."""
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        for p in params:
            p.grad = None
        loss_fn().backward()
        with torch.no_grad():
            for p, m, v in zip(params, m1, m2):
                m.mul_(betas[0]).add_(p.grad, alpha=1 - betas[0])
                v.mul_(betas[1]).addcmul_(p.grad, p.grad, value=1 - betas[1])
                p.sub_(lr * (m / (1 - betas[0] ** t)) / ((v / (1 - betas[1] ** t)).sqrt() + eps))


@check("apply_lora: end to end, an MLP pretrained on digits 0-4 adapts to digits 5-9 training under 5% of its "
       "weights, the base weights bit-identical", points=4, timeout=90, needs=("LoRALinear",))
def test_end_to_end(student, seed, device):
    r, alpha, steps, lr, target = 2, 4.0, 100, 1e-2, 0.85  # the reference reaches 0.93-0.97 over seeds
    data = _digits(device)
    pretrained = _pretrain(seed % 1000, device)
    Xo, yo, Xot, yot = data["old"]
    Xn, yn, Xnt, ynt = data["new"]
    with torch.no_grad():
        acc_old = float((_mlp(pretrained, Xot).argmax(1) == yot).float().mean())
        acc_before = float((_mlp(pretrained, Xnt).argmax(1) == ynt).float().mean())
    if acc_old < 0.9:  # the trusted pretraining itself; never the student's fault
        raise RuntimeError(f"pretraining on digits 0-4 reached only {acc_old:.3f}")
    trained = student.run(probe_adapt, pretrained, Xn, yn, ["fc", "head"], r, alpha, steps, lr, seed,
                          _timeout=60)
    n_total = sum(v.numel() for v in pretrained.values())
    layers = ("blocks.0.fc", "blocks.1.fc", "head")
    merged, n_lora = {}, 0
    for name in layers:
        for part in ("lora_A", "lora_B", "base.weight", "base.bias"):
            if f"{name}.{part}" not in trained:
                fail(f"after apply_lora(model, ['fc', 'head'], r={r}) the model has no parameter {name}.{part}: "
                     f"{name} must become a LoRALinear with base, lora_A and lora_B")
        for part in ("weight", "bias"):
            expect_equal(trained[f"{name}.base.{part}"], pretrained[f"{name}.{part}"],
                         name=f"{name}.base.{part} after LoRA training (the pretrained weights must stay frozen)")
        A, B = trained[f"{name}.lora_A"], trained[f"{name}.lora_B"]
        n_lora += A.numel() + B.numel()
        merged[f"{name}.weight"] = pretrained[f"{name}.weight"] + (alpha / r) * B @ A
        merged[f"{name}.bias"] = pretrained[f"{name}.bias"]
    extra = sorted(k for k in trained if k.rsplit(".", 1)[-1] not in ("lora_A", "lora_B", "weight", "bias"))
    expect_true(not extra, f"unexpected entries in the adapted model's state_dict: {extra[:6]}")
    frac = n_lora / n_total
    expect_true(frac <= 0.05, f"LoRA trained {n_lora} numbers, {100 * frac:.1f}% of the {n_total} pretrained "
                              "parameters; expected at most 5%")
    with torch.no_grad():
        acc = float((_mlp(merged, Xnt).argmax(1) == ynt).float().mean())
    expect_true(acc >= target,
                f"after {steps} Adam steps (lr={lr}) of LoRA (r={r}, alpha={alpha}) on digits 5-9, the test "
                f"accuracy is {acc:.3f} (recomputed from your lora_A, lora_B as W + alpha / r * B A), expected >= "
                f"{target}; before adaptation it was {acc_before:.3f}")
