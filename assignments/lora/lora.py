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
        raise NotImplementedError("LoRALinear.__init__: not implemented yet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., in_features) -> (..., out_features), base(x) + scaling * (dropout(x) A^T) B^T."""
        # TODO: the frozen path base(x) plus the scaled low-rank path; dropout only on the low-rank path's input.
        raise NotImplementedError("LoRALinear.forward: not implemented yet")

    def merge(self) -> nn.Linear:
        """Return a new ``nn.Linear`` computing the same function (in eval mode) with no extra cost.

            merged.weight = W + scaling * B @ A        # (out_features, in_features)
            merged.bias   = base.bias (a copy), or no bias when base has none

        The new layer has the device and dtype of ``base.weight``. ``self.base`` is left untouched: its weight
        keeps its values, so the adapter can still be removed or swapped (Hu et al., 2021, Section 4.1).
        """
        # TODO: build a new nn.Linear of the same shape, device and dtype; copy W + scaling * B @ A into its weight
        # and the base's bias into its bias. Never write into self.base.
        raise NotImplementedError("LoRALinear.merge: not implemented yet")


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
    raise NotImplementedError("apply_lora: not implemented yet")


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace, in place, every ``LoRALinear`` of ``model`` by ``layer.merge()``, and return ``model``.

    After merging the model has the architecture it had before ``apply_lora`` (plain ``nn.Linear`` layers) and
    computes, in eval mode, what the adapted model computed. If ``model`` is itself a ``LoRALinear``, its merged
    ``nn.Linear`` is returned.
    """
    # TODO: like apply_lora, collect the (parent, name, child) triples whose child is a LoRALinear, then replace.
    raise NotImplementedError("merge_lora: not implemented yet")


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA checkpoint: only the ``lora_A`` and ``lora_B`` tensors, keyed by their names in ``model``.

    E.g. ``{"blocks.0.q.lora_A": (r, d_in) tensor, "blocks.0.q.lora_B": (d_out, r) tensor, ...}``. The keys are
    those of ``model.state_dict()``, so ``fresh.load_state_dict(sd, strict=False)`` on a freshly adapted copy of the
    same pretrained model restores the adaptation. No base weight, bias or other parameter is included: that is
    the whole point, a checkpoint of r * (d_in + d_out) numbers per adapted layer.
    """
    # TODO: keep the entries of model.state_dict() whose last dotted part is lora_A or lora_B.
    raise NotImplementedError("lora_state_dict: not implemented yet")


def count_trainable_parameters(model: nn.Module) -> int:
    """The number of scalars the optimizer would update: sum of numel over parameters with requires_grad.

    Each parameter is counted once, even when shared by several modules (as ``model.parameters()`` yields it).
    """
    # TODO: sum p.numel() over model.parameters() that require grad; return a Python int.
    raise NotImplementedError("count_trainable_parameters: not implemented yet")


if __name__ == "__main__":
    print("lora.py is checked, not run: `dlcourse check lora` (or `pytest -m lora` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
