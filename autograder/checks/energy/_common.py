"""Shared by the public and hidden checks of energy: the probe that builds a model and counts its FLOPs (in the
sandbox with the student's count_flops; here with PyTorch's FlopCounterMode, the oracle) and the models it builds.
"""

import types

import torch

from autograder.checking import fail


def probe_count(m, kind, cfg, input_shape, device):
    """Build model `kind` with sizes `cfg` (seeded), put it on `device`, and return m.count_flops(model, shape)."""
    import torch
    from torch import nn

    class MLP(nn.Module):  # Linear layers, one without bias
        def __init__(self, d_in, hidden, d_out):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden, bias=False),
                                     nn.ReLU(), nn.Linear(hidden, d_out))

        def forward(self, x):
            return self.net(x)

    class CNN(nn.Module):  # padding, stride, groups, then a classifier
        def __init__(self, c_in, c1, c2, size, n_out):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c1, 3, padding=1)
            self.conv2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1, groups=2, bias=False)
            self.head = nn.Linear(c2 * ((size + 1) // 2) ** 2, n_out)

        def forward(self, x):
            h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
            return self.head(h.flatten(1))

    class Block(nn.Module):  # a pre-norm Transformer block, batch first: (B, T, E)
        def __init__(self, E, heads, ff):
            super().__init__()
            self.ln1 = nn.LayerNorm(E)
            self.attn = nn.MultiheadAttention(E, heads, batch_first=True)
            self.ln2 = nn.LayerNorm(E, bias=False)
            self.ff = nn.Sequential(nn.Linear(E, ff), nn.GELU(), nn.Linear(ff, E))

        def forward(self, x):
            h = self.ln1(x)
            x = x + self.attn(h, h, h)[0]
            return x + self.ff(self.ln2(x))

    class Cross(nn.Module):  # cross-attention to a learned memory of S slots, sequence first: (L, N, E)
        def __init__(self, E, heads, S, kdim):
            super().__init__()
            self.memory = nn.Parameter(torch.randn(S, 1, kdim))
            self.attn = nn.MultiheadAttention(E, heads, kdim=kdim, vdim=kdim)
            self.norm = nn.LayerNorm(E, elementwise_affine=False)

        def forward(self, x):
            mem = self.memory.expand(-1, x.shape[1], -1)
            return self.norm(x + self.attn(query=x, key=mem, value=mem)[0])

    class Shared(nn.Module):  # one Linear applied twice (weight sharing)
        def __init__(self, d):
            super().__init__()
            self.fc = nn.Linear(d, d)
            self.out = nn.Linear(d, 1)

        def forward(self, x):
            return self.out(self.fc(torch.tanh(self.fc(x))))

    torch.manual_seed(0)
    model = {"mlp": MLP, "cnn": CNN, "block": Block, "cross": Cross, "shared": Shared}[kind](*cfg).to(device)
    return m.count_flops(model, tuple(input_shape))


def _layer_norm_flops(input_shape, normalized_shape, weight_shape=None, bias_shape=None, *args, **kwargs):
    """The course's LayerNorm convention for FlopCounterMode: 5 per element, +1 with a weight, +1 with a bias."""
    n = 1
    for s in input_shape:
        n *= s
    return n * (5 + int(weight_shape is not None) + int(bias_shape is not None))


def flop_counter_count(model, input_shape, ops=None):
    """The oracle: PyTorch's FlopCounterMode on one forward pass (training mode, gradients on, so that attention
    takes the path of plain matmuls it counts), per counted module, LayerNorm added with the course's convention.
    ops: count only these aten operators (e.g. ("bmm", "baddbmm"): attention's two matmuls)."""
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    first = next(model.parameters())
    x = torch.zeros(tuple(input_shape), device=first.device, dtype=first.dtype)
    counter = FlopCounterMode(display=False, custom_mapping={torch.ops.aten.native_layer_norm: _layer_norm_flops})
    model.train()
    with counter:
        model(x)
    per_module = counter.get_flop_counts()
    root = type(model).__name__
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.MultiheadAttention, nn.LayerNorm)):
            key = root if name == "" else f"{root}.{name}"
            total = sum(v for op, v in per_module.get(key, {}).items()
                        if ops is None or str(op).split(".")[-1] in ops)
            if total:
                out[name] = int(total)
    return out


ORACLE = types.SimpleNamespace(count_flops=flop_counter_count)


def attention_matmul_flops(kind, cfg, input_shape, device):
    """FlopCounterMode's count of the attention module's batched matmuls alone (Q K^T and A V)."""
    matmuls = types.SimpleNamespace(count_flops=lambda model, shape: flop_counter_count(model, shape,
                                                                                        ops=("bmm", "baddbmm")))
    return probe_count(matmuls, kind, cfg, input_shape, device).get("attn", 0)


def probe_side_effects(m, device):
    """count_flops on a small model in training mode: hooks left behind, parameters changed, mode, gradients."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Linear(8, 2)).to(device).train()
    before = [p.detach().clone() for p in model.parameters()]
    m.count_flops(model, (3, 6))
    hooks = sum(len(mod._forward_hooks) + len(mod._forward_pre_hooks) for mod in model.modules())
    changed = sum(int(not torch.equal(a, p.detach())) for a, p in zip(before, model.parameters()))
    return {"hooks": hooks, "changed": changed, "training": int(model.training),
            "grads": sum(int(p.grad is not None) for p in model.parameters())}


def nonzero(counts, name):
    """The dict without its zero entries (a module that never ran may be left out or given 0), checked for type."""
    if not isinstance(counts, dict):
        fail(f"{name} returned {type(counts).__name__}, expected a dict {{module name: FLOPs}}")
    bad = [k for k, v in counts.items() if not isinstance(k, str) or isinstance(v, bool) or
           not isinstance(v, (int, float))]
    if bad:
        fail(f"{name}: every key must be a module name (str) and every value a number of FLOPs; not so for {bad[:3]}")
    return {k: int(v) for k, v in counts.items() if v != 0}


MODELS = {  # kind: (constructor sizes, input shape, what it exercises)
    "mlp": ((20, 64, 10), (8, 20), "Linear layers (one without bias) on a (8, 20) batch"),
    "cnn": ((3, 8, 16, 8, 10), (2, 3, 8, 8), "Conv2d with padding 1, then stride 2 and groups 2, and a Linear"),
    "block": ((16, 4, 64), (2, 5, 16), "a pre-norm Transformer block: LayerNorm, MultiheadAttention (batch_first), "
                                      "LayerNorm without bias, a 2-layer MLP"),
    "cross": ((16, 2, 7, 12), (5, 3, 16), "cross-attention from 5 queries to 7 memory slots with kdim = vdim = 12 "
                                         "(sequence first), LayerNorm without affine parameters"),
    "shared": ((12,), (4, 12), "one Linear applied twice (its FLOPs add up) and an output Linear"),
}
