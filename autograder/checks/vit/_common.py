"""Shared by the public and hidden checks of `vit`: the probes (run in the sandbox with the submission, or here with
the reference), the trusted Vision Transformer built from PyTorch's own functions (F.unfold, F.layer_norm,
F.multi_head_attention_forward, F.gelu), random parameters, and the digits with torchvision's random shifts.

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its
body and calls nothing else from this file.
"""

import math

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- probes


def probe_patchify(m, images, patch_size, grad_out=None):
    """patchify(images, patch_size); with `grad_out`, also the gradient of sum(out * grad_out) for the images."""
    import torch

    if grad_out is not None:
        images = images.detach().clone().requires_grad_(True)
    out = m.patchify(images, patch_size)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"patchify must return a tensor, got {type(out).__name__}")
    answer = {"out": out.detach()}
    if grad_out is not None:
        if not out.requires_grad:
            return dict(answer, dimages=None)
        (out * grad_out).sum().backward()
        answer["dimages"] = images.grad
    return answer


def probe_module(m, name, args, kwargs=None, state=None, x=None, grad_out=None, train=False, seed=0, extra=None):
    """Build m.<name>(*args, **kwargs) (under torch.manual_seed(seed)); report its parameters and, with `state` and
    `x`, its output after loading `state` (and with `grad_out`, the gradients of sum(out * grad_out) for x and
    every parameter). `extra`: keyword arguments of forward (e.g. return_attention=True: the output is then the
    pair (out, attention)). PatchEmbedding and ViT are judged on their own: while they run, the module's patchify
    (judged by patchify's own checks) is swapped for PyTorch's im2col with stride p, which gives the patches in
    the contract's order."""
    import torch
    import torch.nn.functional as F

    def run():
        torch.manual_seed(seed)
        module = getattr(m, name)(*args, **(kwargs or {}))
        answer = {"classes": [c.__name__ for c in type(module).__mro__],
                  "shapes": {n: list(p.shape) for n, p in module.named_parameters()}}
        if state is None:
            return answer
        module = module.to(device=x.device, dtype=x.dtype)
        module.load_state_dict(state)
        module.train(train)
        inputs = x.detach().clone().requires_grad_(True) if grad_out is not None else x
        out = module(inputs, **(extra or {}))
        if extra and extra.get("return_attention"):
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{name}.forward(x, return_attention=True) must return a pair (output, attention)")
            out, attention = out
            answer["attention"] = attention.detach() if isinstance(attention, torch.Tensor) else attention
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"{name}.forward must return a tensor, got {type(out).__name__}")
        answer["out"] = out.detach()
        if grad_out is not None:
            (out * grad_out).sum().backward()
            answer["dx"] = inputs.grad
            answer["dparams"] = {n: p.grad for n, p in module.named_parameters()}
        return answer

    def trusted_patchify(images, patch_size):
        if patch_size <= 0 or images.shape[-1] % patch_size or images.shape[-2] % patch_size:
            raise ValueError(f"image size {tuple(images.shape[-2:])} is not divisible by {patch_size}")
        return F.unfold(images, kernel_size=patch_size, stride=patch_size).transpose(1, 2)

    if name not in ("PatchEmbedding", "ViT") or not hasattr(m, "patchify"):
        return run()
    own = m.patchify
    m.patchify = trusted_patchify
    try:
        return run()
    finally:
        m.patchify = own


def probe_layout(m, args, kwargs):
    """What ViT(*args, **kwargs) and EncoderBlock hold: attribute kinds, the MLP's layers and dropout rates."""
    import torch

    vit = m.ViT(*args, **kwargs)

    def kind(obj):
        if obj is None:
            return "missing"
        if isinstance(obj, torch.nn.Linear):
            return f"Linear({obj.in_features}, {obj.out_features})"
        if isinstance(obj, torch.nn.LayerNorm):
            return f"LayerNorm({tuple(obj.normalized_shape)})"
        if isinstance(obj, torch.nn.Dropout):
            return f"Dropout({obj.p})"
        if isinstance(obj, torch.nn.Parameter):
            return f"Parameter{tuple(obj.shape)}"
        return type(obj).__name__

    blocks = getattr(vit, "blocks", None)
    out = {"embed": type(getattr(vit, "embed", None)).__name__, "norm": kind(getattr(vit, "norm", None)),
           "head": kind(getattr(vit, "head", None)), "blocks": type(blocks).__name__,
           "n_blocks": len(blocks) if isinstance(blocks, torch.nn.ModuleList) else -1, "block": {}}
    embed = getattr(vit, "embed", None)
    out["embedding"] = {n: kind(getattr(embed, n, None)) for n in ("proj", "cls_token", "pos_embedding")}
    if isinstance(blocks, torch.nn.ModuleList) and len(blocks):
        b = blocks[0]
        out["block"] = {n: kind(getattr(b, n, None)) for n in ("ln1", "ln2", "qkv", "proj")}
        mlp = getattr(b, "mlp", None)
        out["block"]["mlp"] = [kind(layer) for layer in mlp] if isinstance(mlp, torch.nn.Sequential) else kind(mlp)
        out["block"]["type"] = type(b).__name__
    return out


def probe_train_vit(m, config, state, epochs_of_images, labels, batch_size, lr, weight_decay, seed):
    """The trusted training loop, run with the submission's ViT (so its PatchEmbedding and EncoderBlock; its
    patchify is swapped for PyTorch's im2col, as in probe_module): start from the grader's parameters `state`, one pass per tensor of `epochs_of_images` (E, N, 1, 8,
    8, each already shifted by the grader), shuffled mini-batches, AdamW with a short warm-up and a learning rate
    decaying linearly to 0. Returns the trained parameters (never a metric: the grader measures the accuracy)."""
    import torch
    import torch.nn.functional as F

    def train():
        torch.manual_seed(seed)
        device = epochs_of_images.device
        model = m.ViT(**config).to(device)
        model.load_state_dict(state)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed)
        n = labels.shape[0]
        per_epoch = (n + batch_size - 1) // batch_size
        total, step, warmup = epochs_of_images.shape[0] * per_epoch, 0, 10
        for images in epochs_of_images:
            order = torch.randperm(n, generator=gen).to(device)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                for group in opt.param_groups:
                    group["lr"] = lr * min(1.0, (step + 1) / warmup) * (1.0 - step / total)
                step += 1
                loss = F.cross_entropy(model(images[idx]), labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return {k: v.detach() for k, v in model.state_dict().items()}

    def trusted_patchify(images, patch_size):  # patchify is judged by its own checks (see probe_module)
        return F.unfold(images, kernel_size=patch_size, stride=patch_size).transpose(1, 2)

    own = getattr(m, "patchify", None)
    m.patchify = trusted_patchify
    try:
        return train()
    finally:
        m.patchify = own


# ----------------------------------------------------------------------------------------------- trusted side


def unfold_patches(images, p):
    """The oracle of patchify: torch's own im2col (F.unfold) with stride p gives the patches in raster order, each
    flattened in (C, p, p) order."""
    return F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)  # (B, N, C*p*p)


def block_shapes(dim, mlp_dim, prefix=""):
    return {f"{prefix}ln1.weight": (dim,), f"{prefix}ln1.bias": (dim,), f"{prefix}qkv.weight": (3 * dim, dim),
            f"{prefix}qkv.bias": (3 * dim,), f"{prefix}proj.weight": (dim, dim), f"{prefix}proj.bias": (dim,),
            f"{prefix}ln2.weight": (dim,), f"{prefix}ln2.bias": (dim,), f"{prefix}mlp.0.weight": (mlp_dim, dim),
            f"{prefix}mlp.0.bias": (mlp_dim,), f"{prefix}mlp.3.weight": (dim, mlp_dim), f"{prefix}mlp.3.bias": (dim,)}


def embedding_shapes(image_size, patch_size, in_channels, dim, prefix=""):
    n = (image_size // patch_size) ** 2
    return {f"{prefix}proj.weight": (dim, in_channels * patch_size ** 2), f"{prefix}proj.bias": (dim,),
            f"{prefix}cls_token": (1, 1, dim), f"{prefix}pos_embedding": (1, n + 1, dim)}


def vit_shapes(cfg):
    shapes = embedding_shapes(cfg["image_size"], cfg["patch_size"], cfg["in_channels"], cfg["dim"], "embed.")
    for i in range(cfg["depth"]):
        shapes.update(block_shapes(cfg["dim"], cfg["mlp_dim"], f"blocks.{i}."))
    shapes.update({"norm.weight": (cfg["dim"],), "norm.bias": (cfg["dim"],),
                   "head.weight": (cfg["num_classes"], cfg["dim"]), "head.bias": (cfg["num_classes"],)})
    return shapes


def random_state(gen, shapes, device="cpu", dtype=torch.float32, init=False):
    """Parameters for `shapes`. init=True: as PyTorch initialises them (Linear uniform in +-1/sqrt(fan_in),
    LayerNorm ones and zeros, the class token and position embeddings normal with std 0.02). init=False: random
    everywhere (LayerNorm gains around 1, non-zero biases), so that no parameter can be left out unnoticed."""
    state = {}
    for name, shape in shapes.items():
        base = name.rsplit(".", 1)[-1]
        if "ln" in name or name.startswith("norm") or ".norm" in name:
            if init:
                t = torch.ones(shape, dtype=torch.float64) if base == "weight" else torch.zeros(shape,
                                                                                              dtype=torch.float64)
            else:
                t = (1.0 if base == "weight" else 0.0) + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif base in ("cls_token", "pos_embedding"):
            t = (0.02 if init else 0.5) * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:
            weight = shapes.get(name.replace("bias", "weight"), shape)
            bound = 1.0 / math.sqrt(weight[-1])
            t = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
        state[name] = t.to(device=device, dtype=dtype)
    return state


def sub_state(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def trusted_embedding(s, images, p):
    tokens = F.linear(unfold_patches(images, p), s["proj.weight"], s["proj.bias"])  # (B, N, D)
    cls = s["cls_token"].expand(images.shape[0], -1, -1)
    return torch.cat([cls, tokens], dim=1) + s["pos_embedding"]


def trusted_attention(s, h, n_heads, need_weights=False, scale=True):
    """Multi-head self-attention from PyTorch's F.multi_head_attention_forward with the block's qkv and proj
    weights (q, k, v in that order in qkv, heads by features). scale=False: the known mistake without 1/sqrt(hd)
    (the q projection multiplied by sqrt(hd) cancels PyTorch's scaling)."""
    D = h.shape[-1]
    w, b = s["qkv.weight"], s["qkv.bias"]
    if not scale:
        factor = torch.ones(3 * D, 1, dtype=w.dtype, device=w.device)
        factor[:D] = math.sqrt(D // n_heads)
        w, b = w * factor, b * factor[:, 0]
    t = h.transpose(0, 1)  # (T, B, D)
    out, weights = F.multi_head_attention_forward(
        t, t, t, D, n_heads, w, b, None, None, False, 0.0, s["proj.weight"], s["proj.bias"], training=False,
        need_weights=need_weights, average_attn_weights=False)
    return out.transpose(0, 1), weights  # (B, T, D), (B, nh, T, T) or None


def trusted_mlp(s, h):
    return F.linear(F.gelu(F.linear(h, s["mlp.0.weight"], s["mlp.0.bias"])), s["mlp.3.weight"], s["mlp.3.bias"])


def ln(s, name, h):
    return F.layer_norm(h, h.shape[-1:], s[f"{name}.weight"], s[f"{name}.bias"])


def trusted_block(s, x, n_heads, variant=None):
    """The pre-norm encoder block (Dosovitskiy et al., 2021, Equations 2 and 3); `variant` gives a known wrong one:
    "post-norm", "no scale", "heads across positions"."""
    if variant == "post-norm":
        x = ln(s, "ln1", x + trusted_attention(s, x, n_heads)[0])
        return ln(s, "ln2", x + trusted_mlp(s, x))
    if variant == "heads across positions":
        B, T, D = x.shape
        hd = D // n_heads
        q, k, v = F.linear(ln(s, "ln1", x), s["qkv.weight"], s["qkv.bias"]).split(D, dim=-1)
        q, k, v = (t.reshape(B, n_heads, T, hd) for t in (q, k, v))  # the mistake: no view + transpose
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1)
        merged = (a @ v).transpose(1, 2).reshape(B, T, D)
        x = x + F.linear(merged, s["proj.weight"], s["proj.bias"])
        return x + trusted_mlp(s, ln(s, "ln2", x))
    x = x + trusted_attention(s, ln(s, "ln1", x), n_heads, scale=variant != "no scale")[0]
    return x + trusted_mlp(s, ln(s, "ln2", x))


def trusted_vit(s, images, cfg, variant=None):
    """ViT's logits (Equations 1 to 4) from PyTorch's functions; `variant`: "mean of tokens" (the head on the mean
    of all tokens instead of the class token)."""
    x = trusted_embedding(sub_state(s, "embed."), images, cfg["patch_size"])
    for i in range(cfg["depth"]):
        x = trusted_block(sub_state(s, f"blocks.{i}."), x, cfg["n_heads"])
    x = ln(s, "norm", x)
    pooled = x.mean(dim=1) if variant == "mean of tokens" else x[:, 0]
    return F.linear(pooled, s["head.weight"], s["head.bias"])


def block_mistakes(s, x, n_heads):
    return {"post-norm (LayerNorm after each residual sum) instead of pre-norm (before each sub-layer)":
            trusted_block(s, x, n_heads, "post-norm"),
            "the attention scores are not scaled by 1/sqrt(head_dim)": trusted_block(s, x, n_heads, "no scale"),
            "the heads are split across positions (a reshape without the transpose) instead of across features":
            trusted_block(s, x, n_heads, "heads across positions")}


def check_state(state, shapes, device="cpu"):
    """`state` (what came back from the sandbox) checked to hold exactly `shapes`, as float32; (state, problem)."""
    if not isinstance(state, dict) or set(state) != set(shapes):
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        return None, f"the trained model's parameters are {got}, expected {sorted(shapes)}"
    clean = {}
    for k, shape in shapes.items():
        v = state[k]
        if not isinstance(v, torch.Tensor) or tuple(v.shape) != tuple(shape):
            return None, f"the trained parameter {k} is not a tensor of shape {tuple(shape)}"
        if not bool(torch.isfinite(v).all()):
            return None, f"the trained parameter {k} contains NaN or Inf: training diverged"
        clean[k] = v.detach().to(device=device, dtype=torch.float32)
    return clean, None


# ----------------------------------------------------------------------------------------------- data

E2E_CONFIG = dict(image_size=8, patch_size=2, in_channels=1, num_classes=10, dim=32, depth=2, n_heads=4, mlp_dim=64)
EPOCHS, BATCH, LR, WEIGHT_DECAY = 30, 64, 0.005, 0.05
SHIFT_GROUP = 16  # torchvision's transform draws one shift per call: one call per group of 16 images


def shifted_epochs(images, epochs, seed, p=0.5):
    """`epochs` copies of the training images, each group of SHIFT_GROUP images shifted by up to one pixel with
    probability p (torchvision's RandomCrop(8, padding=1))."""
    from torchvision.transforms import v2

    shift = v2.RandomApply([v2.RandomCrop(images.shape[-1], padding=1)], p=p)
    with torch.random.fork_rng(devices=[]):  # torchvision's transforms draw from the global generator
        torch.manual_seed(seed)
        return torch.stack([torch.cat([shift(images[i:i + SHIFT_GROUP])
                                       for i in range(0, len(images), SHIFT_GROUP)]) for _ in range(epochs)])
