"""Hidden checks for LoRA (Hu et al., 2021): run only by `dlcourse grade`.

Each check runs the same probe on the student's module (in the sandbox) and on the reference (here), on seeded
random layers and random nested models, and compares what comes back.
"""

import torch

from autograder.checking import check, fail
from autograder.compare import expect_close, expect_equal, expect_true


def _t(rng, *shape, device, dtype=torch.float32):
    return torch.tensor(rng.standard_normal(shape), dtype=dtype, device=device)


# ------------------------------------------------------------------------------------------------ probes

def probe_layer(mod, W, b, r, alpha, x, A, B, dropout=0.0, train=False, grad_out=None):
    """LoRALinear around nn.Linear(W, b) with lora_A = A and lora_B = B; output, gradients, names."""
    import torch
    from torch import nn

    out_f, in_f = W.shape
    base = nn.Linear(in_f, out_f, bias=b is not None, device=W.device, dtype=W.dtype)
    with torch.no_grad():
        base.weight.copy_(W)
        if b is not None:
            base.bias.copy_(b)
    layer = mod.LoRALinear(base, r, alpha=alpha, dropout=dropout)
    res = {"scaling": float(layer.scaling), "keys": sorted(layer.state_dict()),
           "A_dtype": str(layer.lora_A.dtype), "B_dtype": str(layer.lora_B.dtype),
           "A_device": layer.lora_A.device.type, "B_device": layer.lora_B.device.type}
    with torch.no_grad():
        layer.lora_A.copy_(A)
        layer.lora_B.copy_(B)
    layer.train(train)
    x = x.clone().requires_grad_(grad_out is not None)
    out = layer(x)
    res["out"] = out.detach().clone()
    if grad_out is not None:
        (out * grad_out).sum().backward()
        res["grads"] = {"x": x.grad, "lora_A": layer.lora_A.grad, "lora_B": layer.lora_B.grad}
    return res


def probe_layer_merge(mod, W, b, r, alpha, A, B):
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
    merged = layer.merge()
    return {"weight": merged.weight.detach().clone(),
            "bias": None if merged.bias is None else merged.bias.detach().clone(),
            "base_weight": base.weight.detach().clone()}


def probe_random_model(mod, desc, seed, d, targets, r, alpha, x, lora_seed, action, freeze=()):
    """A model built from `desc` (nested chains, ModuleLists and named Sequentials of d -> d layers).

    action "count": count_trainable_parameters after freezing the parameters named in `freeze`;
    "apply": structure after apply_lora; "merge": merge_lora after random LoRA weights; "state": lora_state_dict.
    """
    from collections import OrderedDict

    import torch
    from torch import nn

    class Chain(nn.Module):
        def forward(self, h):
            return run(self, h)

    def run(m, h):
        if isinstance(m, (Chain, nn.ModuleList, nn.Sequential)):
            for c in m.children():
                h = run(c, h)
            return h
        return m(h)

    def build(node):
        kind = node[0]
        if kind == "linear":
            return nn.Linear(d, d, bias=node[1])
        if kind == "gelu":
            return nn.GELU()
        if kind == "ln":
            return nn.LayerNorm(d)
        if kind == "list":
            return nn.ModuleList([build(c) for c in node[1]])
        if kind == "seq":
            return nn.Sequential(OrderedDict((name, build(c)) for name, c in node[1]))
        chain = Chain()
        for name, c in node[1]:
            setattr(chain, name, build(c))
        return chain

    torch.manual_seed(seed)
    model = Chain()
    model.body = build(desc)
    model = model.to(device=x.device, dtype=x.dtype)
    if action == "count":
        for name, p in model.named_parameters():
            if name in freeze:
                p.requires_grad_(False)
        n = mod.count_trainable_parameters(model)
        return n.item() if isinstance(n, torch.Tensor) else n
    mod.apply_lora(model, targets, r, alpha=alpha)
    res = {"types": {name: type(m).__name__ for name, m in model.named_modules() if name},
           "trainable": sorted(name for name, p in model.named_parameters() if p.requires_grad)}
    g = torch.Generator().manual_seed(lora_seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    model.eval()
    with torch.no_grad():
        res["out"] = model(x)
    if action == "state":
        res["state"] = {k: v.detach().clone() for k, v in mod.lora_state_dict(model).items()}
    elif action == "merge":
        mod.merge_lora(model)
        res["types_after"] = {name: type(m).__name__ for name, m in model.named_modules() if name}
        res["merged_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            res["merged_out"] = model(x)
    return res


# ------------------------------------------------------------------------------------------------ helpers

_NAMES = ("q", "k", "v", "o", "fc", "proj", "gate", "up", "down")


def _random_desc(rng, depth=0):
    """A random nested model description for probe_random_model (plain lists, strings and bools)."""
    def leaf():
        u = rng.random()
        if u < 0.7:
            return ["linear", bool(rng.random() < 0.7)]
        return ["gelu"] if u < 0.85 else ["ln"]

    def named_children(n):
        names = rng.choice(_NAMES, size=n, replace=False)
        return [[str(name), _random_desc(rng, depth + 1) if rng.random() < 0.35 and depth < 2 else leaf()]
                for name in names]

    kind = ["chain", "list", "seq"][int(rng.integers(3))] if depth else "chain"
    n = int(rng.integers(2, 5))
    if kind == "list":
        return ["list", [_random_desc(rng, depth + 1) if depth < 2 and rng.random() < 0.5 else leaf()
                         for _ in range(n)]]
    return [kind, named_children(n)]


def _outer(types):
    """{module name: type name} without what lives inside a LoRALinear besides its `base` (how a LoRALinear holds its
    dropout, nn.Dropout(0.0) or nn.Identity(), changes no output: the contract does not fix it)."""
    lora = [n for n, t in types.items() if t == "LoRALinear"]
    return {n: t for n, t in types.items()
            if not any(n.startswith(p + ".") and n != p + ".base" and not n.startswith(p + ".base.") for p in lora)}


_KNOWN_TYPES = {"LoRALinear", "Linear", "GELU", "LayerNorm", "ModuleList", "Sequential", "Chain", "missing module"}


def _said(name):
    """A type name from the sandbox, shown only when it is one of the expected ones (a hidden check's feedback never
    echoes text the submission chose)."""
    return name if name in _KNOWN_TYPES else "module of another type"


def _targets(rng):
    return [str(t) for t in rng.choice(_NAMES, size=int(rng.integers(2, 5)), replace=False)]


# ------------------------------------------------------------------------------------------------ LoRALinear

@check("LoRALinear: forward matches the reference on random shapes, ranks, alphas and dtypes", points=2, core=True)
def test_forward_random(student, reference, rng, device):
    for trial in range(4):
        in_f, out_f = int(rng.integers(1, 24)), int(rng.integers(1, 24))
        r = int(rng.integers(1, 9))
        alpha = float(rng.choice([1.0, 2.0, 8.0, 16.0, 0.5]))
        dt = (torch.float32, torch.float64)[trial % 2]
        bias = trial != 2
        W, A, B = (_t(rng, out_f, in_f, device=device, dtype=dt), _t(rng, r, in_f, device=device, dtype=dt),
                   _t(rng, out_f, r, device=device, dtype=dt))
        b = _t(rng, out_f, device=device, dtype=dt) if bias else None
        x = _t(rng, *([int(rng.integers(1, 4))] * (trial % 3)), 5, in_f, device=device, dtype=dt)
        inputs = (f"in={in_f}, out={out_f}, r={r}, alpha={alpha}, bias={bias}, {str(dt)[6:]} x of shape "
                  f"{tuple(x.shape)}")
        got = student.run(probe_layer, W, b, r, alpha, x, A, B)
        ref = probe_layer(reference, W, b, r, alpha, x, A, B)
        expect_close(got["scaling"], ref["scaling"], name="LoRALinear.scaling", inputs=inputs,
                     mistakes={"scaling = alpha instead of alpha / r": alpha})
        base = ref["out"] - ref["scaling"] * (x @ A.T) @ B.T
        expect_close(got["out"], ref["out"], name="LoRALinear output", inputs=inputs,
                     mistakes={"the update is scaled by alpha instead of alpha / r": base + alpha * (x @ A.T) @ B.T,
                               "the alpha / r scaling is missing": base + (x @ A.T) @ B.T})


@check("LoRALinear: gradients with respect to x, lora_A and lora_B match the reference", points=2, core=True)
def test_gradients_random(student, reference, rng, device):
    for trial in range(3):
        in_f, out_f, r = int(rng.integers(2, 20)), int(rng.integers(2, 20)), int(rng.integers(1, 6))
        alpha = float(rng.choice([1.0, 4.0, 8.0]))
        dt = torch.float64
        W, b = _t(rng, out_f, in_f, device=device, dtype=dt), _t(rng, out_f, device=device, dtype=dt)
        A, B = _t(rng, r, in_f, device=device, dtype=dt), _t(rng, out_f, r, device=device, dtype=dt)
        x, G = _t(rng, 3, 4, in_f, device=device, dtype=dt), _t(rng, 3, 4, out_f, device=device, dtype=dt)
        inputs = f"in={in_f}, out={out_f}, r={r}, alpha={alpha}, loss = sum(out * G), x of shape (3, 4, {in_f})"
        got = student.run(probe_layer, W, b, r, alpha, x, A, B, train=True, grad_out=G)
        ref = probe_layer(reference, W, b, r, alpha, x, A, B, train=True, grad_out=G)
        for name in ("x", "lora_A", "lora_B"):
            if got["grads"][name] is None:
                fail(f"the gradient with respect to {name} is None ({inputs}): is it used in forward, as a "
                     "tensor that requires grad?")
            expect_close(got["grads"][name], ref["grads"][name], name=f"gradient with respect to {name}",
                         inputs=inputs)


@check("LoRALinear.merge: merged weight and bias match the reference, with and without bias", points=2)
def test_merge_random(student, reference, rng, device):
    for bias in (True, False, True):
        in_f, out_f, r = int(rng.integers(1, 20)), int(rng.integers(1, 20)), int(rng.integers(1, 6))
        alpha = float(rng.choice([1.0, 3.0, 16.0]))
        dt = torch.float64 if bias else torch.float32
        W, A, B = (_t(rng, out_f, in_f, device=device, dtype=dt), _t(rng, r, in_f, device=device, dtype=dt),
                   _t(rng, out_f, r, device=device, dtype=dt))
        b = _t(rng, out_f, device=device, dtype=dt) if bias else None
        inputs = f"in={in_f}, out={out_f}, r={r}, alpha={alpha}, bias={bias}, {str(dt)[6:]}"
        got = student.run(probe_layer_merge, W, b, r, alpha, A, B)
        ref = probe_layer_merge(reference, W, b, r, alpha, A, B)
        expect_equal(got["base_weight"], W, name="base.weight after merge() (merge must not modify it)",
                     inputs=inputs)
        expect_close(got["weight"], ref["weight"], name="merged weight", inputs=inputs,
                     mistakes={"merge forgot the alpha / r scaling": W + B @ A,
                               "merge scaled B A by alpha instead of alpha / r": W + alpha * B @ A})
        expect_close(got["bias"], ref["bias"], name="merged bias", inputs=inputs)


@check("LoRALinear: lora_A and lora_B take the base's dtype and device; names match the reference", points=1)
def test_dtype_device_names(student, reference, rng, device):
    for dt in (torch.float64, torch.bfloat16):
        in_f, out_f, r = 6, 5, 2
        W, b = _t(rng, out_f, in_f, device=device, dtype=dt), _t(rng, out_f, device=device, dtype=dt)
        A, B = _t(rng, r, in_f, device=device, dtype=dt), _t(rng, out_f, r, device=device, dtype=dt)
        x = _t(rng, 3, in_f, device=device, dtype=dt)
        got = student.run(probe_layer, W, b, r, 2.0, x, A, B)
        ref = probe_layer(reference, W, b, r, 2.0, x, A, B)
        for key in ("A_dtype", "B_dtype", "A_device", "B_device"):
            expect_true(got[key] == ref[key],
                        f"lora_{key[0]} has another {key[2:]} for a {str(dt)[6:]} base on {device}, expected "
                        f"{ref[key]} (create the LoRA parameters with device=base.weight.device, "
                        "dtype=base.weight.dtype)")
        if got["keys"] != ref["keys"]:
            fail(f"LoRALinear.state_dict() does not have the keys {ref['keys']} ({len(got['keys'])} keys instead): "
                 "keep the wrapped layer as `base` and the matrices as `lora_A` and `lora_B`")
        expect_close(got["out"], ref["out"], name=f"LoRALinear output for a {str(dt)[6:]} base")


@check("LoRALinear: with dropout, eval mode matches the reference exactly as without dropout", points=1)
def test_dropout_eval(student, reference, rng, device):
    in_f, out_f, r = 12, 9, 3
    W, b = _t(rng, out_f, in_f, device=device), _t(rng, out_f, device=device)
    A, B = _t(rng, r, in_f, device=device), _t(rng, out_f, r, device=device)
    x = _t(rng, 7, in_f, device=device)
    got = student.run(probe_layer, W, b, r, 6.0, x, A, B, dropout=0.3, train=False)
    ref = probe_layer(reference, W, b, r, 6.0, x, A, B, dropout=0.0, train=False)
    expect_close(got["out"], ref["out"], name="LoRALinear(dropout=0.3) output in eval mode",
                 inputs="dropout must be the identity in eval mode")


# ------------------------------------------------------------------------------------------------ model-level

@check("apply_lora: wrapped modules and trainable parameters match the reference on random nested models",
       points=2, core=True)
def test_apply_random(student, reference, rng, seed, device):
    for trial in range(3):
        desc, targets, d = _random_desc(rng), _targets(rng), int(rng.integers(3, 9))
        x = _t(rng, 2, d, device=device)
        args = (desc, seed % 10_000 + trial, d, targets, 2, 4.0, x, seed + trial, "apply")
        got = student.run(probe_random_model, *args)
        ref = probe_random_model(reference, *args)
        got_types, ref_types = _outer(got["types"]), _outer(ref["types"])
        wrong = sorted(n for n in ref_types if got_types.get(n) != ref_types[n])
        if wrong or set(got_types) != set(ref_types):
            n = (wrong or sorted(set(got_types) ^ set(ref_types)))[0]
            fail(f"after apply_lora(model, {targets}) on a random nested model, model.{n} is a "
                 f"{_said(got_types.get(n, 'missing module'))}, expected {ref_types.get(n, 'no such module')}")
        extra = sorted(set(got["trainable"]) - set(ref["trainable"]))
        missing = sorted(set(ref["trainable"]) - set(got["trainable"]))
        expect_true(not extra and not missing,
                    f"after apply_lora(model, {targets}), trainable parameters differ: still trainable {extra[:5]}, "
                    f"missing or frozen {missing[:5]}")
        expect_close(got["out"], ref["out"], name="adapted model output with given LoRA weights",
                     inputs=f"targets {targets}, x of shape (2, {d})")


@check("merge_lora: the merged model matches the reference's on random nested models", points=1, core=True)
def test_merge_lora_random(student, reference, rng, seed, device):
    for trial in range(2):
        desc, targets, d = _random_desc(rng), _targets(rng), int(rng.integers(3, 9))
        x = _t(rng, 2, d, device=device, dtype=torch.float64)
        args = (desc, seed % 10_000 + trial, d, targets, 3, 6.0, x, seed + trial, "merge")
        got = student.run(probe_random_model, *args)
        ref = probe_random_model(reference, *args)
        left = sorted(n for n, t in got["types_after"].items() if t == "LoRALinear")
        expect_true(not left, f"after merge_lora these modules are still LoRALinear: {left[:5]}")
        expect_close(got["merged_state"], ref["merged_state"], name="merged model state_dict",
                     inputs=f"targets {targets}, r=3, alpha=6.0, random lora_A and lora_B")
        expect_close(got["merged_out"], ref["merged_out"], name="merged model output")


@check("lora_state_dict: keys and tensors match the reference on random nested models", points=1, core=True)
def test_state_dict_random(student, reference, rng, seed, device):
    for trial in range(2):
        desc, targets, d = _random_desc(rng), _targets(rng), int(rng.integers(3, 9))
        x = _t(rng, 2, d, device=device)
        args = (desc, seed % 10_000 + trial, d, targets, 2, 2.0, x, seed + trial, "state")
        got = student.run(probe_random_model, *args)
        ref = probe_random_model(reference, *args)
        expect_close(got["state"], ref["state"], name="lora_state_dict(model)", inputs=f"targets {targets}")


@check("count_trainable_parameters: matches the reference on random models with frozen parts", points=1, core=True)
def test_count_random(student, reference, rng, seed, device):
    for trial in range(3):
        desc, d = _random_desc(rng), int(rng.integers(3, 9))
        x = _t(rng, 2, d, device=device)
        # the parameter names are those of the model built from desc; freeze a random subset of them
        freeze = [n for n in _param_names(desc) if rng.random() < 0.4]
        args = (desc, seed % 10_000 + trial, d, [], 1, 1.0, x, 0, "count")
        got = student.run(probe_random_model, *args, freeze=freeze)
        ref = probe_random_model(reference, *args, freeze=freeze)
        expect_true(got == ref and isinstance(got, int),
                    f"count_trainable_parameters = {got!r} on a random model with {len(freeze)} frozen tensors, "
                    f"expected {ref}")


def _param_names(desc, prefix="body"):
    """Parameter names of the model probe_random_model builds from `desc`."""
    kind = desc[0]
    if kind == "linear":
        return [f"{prefix}.weight"] + ([f"{prefix}.bias"] if desc[1] else [])
    if kind == "ln":
        return [f"{prefix}.weight", f"{prefix}.bias"]
    if kind == "gelu":
        return []
    if kind == "list":
        return [n for i, c in enumerate(desc[1]) for n in _param_names(c, f"{prefix}.{i}")]
    return [n for name, c in desc[1] for n in _param_names(c, f"{prefix}.{name}")]
