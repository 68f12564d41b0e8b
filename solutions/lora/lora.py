"""LoRA: adapting a frozen pretrained model through low-rank updates.

Milestone: parameters and compute. Fine-tuning every weight of a large pretrained model gives one full copy of the
model per task. Hu et al. (2021), "LoRA: Low-Rank Adaptation of Large Language Models", build on the observation
that the weight *update* learned during adaptation has a low intrinsic rank (Aghajanyan et al., 2020). They freeze
the pretrained weight W (d_out x d_in) and learn the update as a product of two thin matrices,

    W' = W + (alpha / r) * B @ A,      B: (d_out, r),  A: (r, d_in),  r << min(d_in, d_out),

so a layer trains r * (d_in + d_out) numbers instead of d_in * d_out, and B @ A can be folded into W after
training: the adapted model runs exactly as fast as the original one (Hu et al., 2021, Section 4.1).

What you build (torch):

- ``LoRALinear``: wraps a frozen ``nn.Linear`` and adds the trainable low-rank path; ``merge()`` folds it in.
- ``apply_lora``: puts LoRA on the Linear layers of a model chosen by attribute name, and freezes the rest.
- ``merge_lora``: replaces every ``LoRALinear`` of a model by its merged ``nn.Linear``.
- ``lora_state_dict``: the small checkpoint of an adapted model, only the LoRA matrices.
- ``count_trainable_parameters``: how many numbers the optimizer updates.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update (Hu et al., 2021, Section 4.1).

    For an input x of shape (..., in_features):

        forward(x) = base(x) + scaling * (dropout(x) @ lora_A.T) @ lora_B.T          # (..., out_features)

    with ``scaling = alpha / r``. Shapes:

        base.weight  W : (out_features, in_features)    frozen (requires_grad False), bias frozen too
        lora_A       A : (r, in_features)               trainable, random at initialisation
        lora_B       B : (out_features, r)              trainable, zero at initialisation

    Because B starts at zero, B @ A = 0 and the wrapped layer computes exactly what ``base`` computes: training
    starts from the pretrained model. Dividing by r (the ``alpha / r`` factor) keeps the size of the update roughly
    independent of the rank, so alpha need not be re-tuned when r changes (Hu et al., 2021, Section 4.1).

    ``dropout`` (a probability) acts on the input of the low-rank path only, never on ``base(x)`` and never on the
    output; like every dropout it is active in training mode and the identity in eval mode.

    Args:
        base: the pretrained ``nn.Linear`` to adapt; kept as the attribute ``base`` and frozen in place.
        r: the rank of the update, an integer >= 1 (ValueError otherwise).
        alpha: the scale numerator; the update is multiplied by ``alpha / r``.
        dropout: dropout probability on the input of the low-rank path.

    ``lora_A`` and ``lora_B`` live on the device and have the dtype of ``base.weight``.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float = 1.0, dropout: float = 0.0):
        super().__init__()
        # TODO: raise ValueError when r < 1. Keep `base` and freeze all its parameters. Store r, alpha,
        # in_features, out_features and scaling = alpha / r. Create the parameters lora_A (r, in_features),
        # random (e.g. Gaussian with std 1 / sqrt(in_features)), and lora_B (out_features, r), zeros, on the
        # device and with the dtype of base.weight. Keep a dropout module for the input of the low-rank path
        # (nn.Dropout(dropout), or nn.Identity() when dropout == 0).
        # BEGIN SOLUTION
        if r < 1:
            raise ValueError(f"LoRA rank r must be an integer >= 1, got {r}")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)  # W is frozen: only A and B are trained (Hu et al., 2021, Section 4.1)
        self.in_features = base.in_features
        self.out_features = base.out_features
        self.r = int(r)
        self.alpha = alpha
        self.scaling = alpha / r
        factory = dict(device=base.weight.device, dtype=base.weight.dtype)
        # Random Gaussian A and zero B, so that B @ A = 0 at the start (Hu et al., 2021, Section 4.1). The
        # 1 / sqrt(in_features) std keeps A x on the scale of x.
        self.lora_A = nn.Parameter(torch.randn(r, self.in_features, **factory) / math.sqrt(self.in_features))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, **factory))
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., in_features) -> (..., out_features), base(x) + scaling * (dropout(x) A^T) B^T."""
        # TODO: the frozen path base(x) plus the scaled low-rank path; dropout only on the low-rank path's input.
        # BEGIN SOLUTION
        h = self.base(x)                           # (..., out)  frozen pretrained path W x + b
        z = self.lora_dropout(x) @ self.lora_A.T   # (..., r)    down-projection
        return h + self.scaling * (z @ self.lora_B.T)  # (..., out)  up-projection, scaled by alpha / r
        # END SOLUTION

    def merge(self) -> nn.Linear:
        """Return a new ``nn.Linear`` computing the same function (in eval mode) with no extra cost.

            merged.weight = W + scaling * B @ A        # (out_features, in_features)
            merged.bias   = base.bias (a copy), or no bias when base has none

        The new layer has the device and dtype of ``base.weight``. ``self.base`` is left untouched: its weight
        keeps its values, so the adapter can still be removed or swapped (Hu et al., 2021, Section 4.1).
        """
        # TODO: build a new nn.Linear of the same shape, device and dtype; copy W + scaling * B @ A into its weight
        # and the base's bias into its bias. Never write into self.base.
        # BEGIN SOLUTION
        W = self.base.weight                                # (out, in)
        has_bias = self.base.bias is not None
        merged = nn.Linear(self.in_features, self.out_features, bias=has_bias,
                           device=W.device, dtype=W.dtype)
        with torch.no_grad():
            delta = self.scaling * (self.lora_B @ self.lora_A)  # (out, r) @ (r, in) -> (out, in)
            merged.weight.copy_(W + delta)
            if has_bias:
                merged.bias.copy_(self.base.bias)
        return merged
        # END SOLUTION


def apply_lora(model: nn.Module, target_modules: Iterable[str], r: int, alpha: float = 1.0,
               dropout: float = 0.0) -> nn.Module:
    """Put LoRA on the chosen Linear layers of ``model``, in place, and freeze everything else.

    Every ``nn.Linear`` whose attribute name (the last part of its dotted name, e.g. ``"q"`` for
    ``blocks.3.attn.q``) is in ``target_modules`` is replaced by ``LoRALinear(linear, r, alpha, dropout)``,
    at any depth, inside ``nn.Sequential`` and ``nn.ModuleList`` too. Every other parameter of the model
    (non-target Linears, norms, embeddings, the wrapped bases) ends with ``requires_grad == False``, so the only
    trainable parameters are the ``lora_A`` and ``lora_B`` of the new layers.

    Returns ``model`` itself (the same object), for chaining.
    """
    # TODO: freeze every parameter; find the (parent, attribute name, child) triples whose child is an nn.Linear
    # named in target_modules (collect them first: do not change the tree while walking it); replace each child
    # by a LoRALinear with setattr(parent, name, ...).
    # BEGIN SOLUTION
    targets = set(target_modules)
    for p in model.parameters():
        p.requires_grad_(False)
    found = [(parent, name, child)
             for parent in model.modules()
             for name, child in parent.named_children()
             if name in targets and isinstance(child, nn.Linear)]
    for parent, name, child in found:
        setattr(parent, name, LoRALinear(child, r, alpha=alpha, dropout=dropout))
    return model
    # END SOLUTION


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace, in place, every ``LoRALinear`` of ``model`` by ``layer.merge()``, and return ``model``.

    After merging the model has the architecture it had before ``apply_lora`` (plain ``nn.Linear`` layers) and
    computes, in eval mode, what the adapted model computed. If ``model`` is itself a ``LoRALinear``, its merged
    ``nn.Linear`` is returned.
    """
    # TODO: like apply_lora, collect the (parent, name, child) triples whose child is a LoRALinear, then replace.
    # BEGIN SOLUTION
    if isinstance(model, LoRALinear):
        return model.merge()
    found = [(parent, name, child)
             for parent in model.modules()
             for name, child in parent.named_children()
             if isinstance(child, LoRALinear)]
    for parent, name, child in found:
        setattr(parent, name, child.merge())
    return model
    # END SOLUTION


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA checkpoint: only the ``lora_A`` and ``lora_B`` tensors, keyed by their names in ``model``.

    E.g. ``{"blocks.0.q.lora_A": (r, d_in) tensor, "blocks.0.q.lora_B": (d_out, r) tensor, ...}``. The keys are
    those of ``model.state_dict()``, so ``fresh.load_state_dict(sd, strict=False)`` on a freshly adapted copy of the
    same pretrained model restores the adaptation. No base weight, bias or other parameter is included: that is
    the whole point, a checkpoint of r * (d_in + d_out) numbers per adapted layer.
    """
    # TODO: keep the entries of model.state_dict() whose last dotted part is lora_A or lora_B.
    # BEGIN SOLUTION
    return {name: tensor for name, tensor in model.state_dict().items()
            if name.rsplit(".", 1)[-1] in ("lora_A", "lora_B")}
    # END SOLUTION


def count_trainable_parameters(model: nn.Module) -> int:
    """The number of scalars the optimizer would update: sum of numel over parameters with requires_grad.

    Each parameter is counted once, even when shared by several modules (as ``model.parameters()`` yields it).
    """
    # TODO: sum p.numel() over model.parameters() that require grad; return a Python int.
    # BEGIN SOLUTION
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
    # END SOLUTION
