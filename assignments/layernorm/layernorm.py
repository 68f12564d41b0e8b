"""Milestone: normalization. Layer normalization, with batch normalization as its contrast.

Constraint raised: optimization & regularization. A deep stack of layers multiplies the scale of its
activations (and of its gradients) layer after layer, so that past a few dozen layers the signal either
dies out or blows up and plain gradient descent stalls. Normalizing the activations inside the network
keeps every layer's input at a fixed scale.

Papers:
- Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
  Covariate Shift": normalize every feature with the mean and variance of the current mini-batch, keep
  running averages of those statistics for inference.
- Ba, Kiros & Hinton (2016), "Layer Normalization": normalize every example with the mean and variance of
  its own features, so that the result does not depend on the batch at all, the same computation runs in
  training and at inference, and it applies to one time step of a recurrent net (or one token of a
  Transformer) as well as to a whole batch.

What you build (framework: PyTorch; no built-in normalization op may be used):
1. ``layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5)``: the functional form.
2. ``LayerNorm``: an ``nn.Module`` around it, whose state_dict is interchangeable with ``nn.LayerNorm``'s.
3. ``LayerNormFunction``: a ``torch.autograd.Function`` over the last dimension, whose backward you derive
   by hand.
4. ``batch_norm(...)``: the functional batch normalization, running statistics included.
"""

import torch
from torch import nn


def _as_shape(normalized_shape):
    """Return ``normalized_shape`` as a tuple of ints (an int ``d`` becomes ``(d,)``)."""
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(d) for d in normalized_shape)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalization over the trailing ``normalized_shape`` dimensions of ``x``.

    Ba, Kiros & Hinton (2016), Sec. 3. Let ``x`` have shape ``(*, *S)`` where
    ``S = normalized_shape`` (an int ``d`` means ``(d,)``) and let ``H = prod(S)`` be the number of
    normalized elements of one example. For every index of the leading dims ``*``:

        mu      = (1/H) * sum_i x_i
        sigma^2 = (1/H) * sum_i (x_i - mu)^2          (the *biased* variance: divide by H, not H - 1)
        x_hat_i = (x_i - mu) / sqrt(sigma^2 + eps)    (eps *inside* the square root)
        y_i     = weight_i * x_hat_i + bias_i         (weight and bias of shape S, each optional)

    Compute the variance from the centred values ``x - mu`` (two passes), not with the shortcut
    ``E[x^2] - E[x]^2``: in float32 the shortcut subtracts two nearly equal large numbers and loses
    every significant digit when the mean is large compared with the spread.

    Args:
        x: tensor of shape ``(*, *S)``.
        normalized_shape: int or tuple of ints, the trailing dims to normalize over.
        weight: optional tensor of shape ``S`` (the gain).
        bias: optional tensor of shape ``S``.
        eps: small constant added to the variance.

    Returns:
        tensor of the same shape, dtype and device as ``x``; the same values as ``F.layer_norm``.
    """
    # TODO: turn normalized_shape into a tuple (the helper _as_shape does it), check that x ends with those
    # dims, and reduce over the trailing len(normalized_shape) dims: the mean, then the biased variance of
    # x - mean (keepdim=True so both broadcast back). Normalize with eps inside the square root, then apply
    # weight and bias when they are given.
    raise NotImplementedError("layer_norm: not implemented yet")


class LayerNorm(nn.Module):
    """Layer normalization as a module, a drop-in for ``nn.LayerNorm``.

    ``y = layer_norm(x, normalized_shape, weight, bias, eps)`` with learnable ``weight`` (the gain,
    initialised to **ones**) and ``bias`` (initialised to **zeros**), both of shape ``normalized_shape``,
    so that at initialisation the layer returns exactly the normalized input ``x_hat``
    (Ba, Kiros & Hinton, 2016, Sec. 3). With ``elementwise_affine=False`` there are no parameters and
    the attributes ``weight`` and ``bias`` are ``None``.

    Attributes (the names matter: the state_dict must load into ``nn.LayerNorm`` and back):
        normalized_shape: tuple of ints.
        eps: float.
        elementwise_affine: bool.
        weight: ``nn.Parameter`` of shape ``normalized_shape``, or ``None``.
        bias: ``nn.Parameter`` of shape ``normalized_shape``, or ``None``.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        # TODO: store normalized_shape (as a tuple), eps and elementwise_affine; create the parameters
        # weight (ones) and bias (zeros) of shape normalized_shape, or register them as None.
        raise NotImplementedError("LayerNorm.__init__: not implemented yet")

    def forward(self, x):
        """Normalize ``x`` of shape ``(*, *normalized_shape)``; same shape out."""
        # TODO: call your layer_norm with this module's shape, parameters and eps.
        raise NotImplementedError("LayerNorm.forward: not implemented yet")

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LayerNormFunction(torch.autograd.Function):
    """Layer normalization over the last dimension with a hand-derived backward pass.

    ``LayerNormFunction.apply(x, weight, bias, eps)`` with ``x`` of shape ``(*, D)``, ``weight`` and
    ``bias`` of shape ``(D,)`` returns ``y = weight * x_hat + bias`` of shape ``(*, D)`` where
    ``x_hat = (x - mu) * r`` and ``r = 1 / sqrt(sigma^2 + eps)`` (mean and biased variance over the last
    dim, one pair per row).

    Backward. Given ``g = dL/dy`` of shape ``(*, D)``, with row means written ``mean_D``:

        dL/dbias   = sum over all rows of g                               (D,)
        dL/dweight = sum over all rows of g * x_hat                       (D,)
        dL/dx_hat  = g * weight                                           (*, D)
        dL/dx      = r * ( dx_hat - mean_D(dx_hat) - x_hat * mean_D(dx_hat * x_hat) )   (*, D)

    The last line follows from the chain rule through ``mu`` and ``sigma^2``, which depend on every
    element of the row: ``d mu / d x_j = 1/D`` and ``d sigma^2 / d x_j = 2 (x_j - mu) / D``. The two mean
    terms are the gradient flowing through those statistics.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        """x: (*, D); weight, bias: (D,); eps: float. Returns y: (*, D)."""
        # TODO: compute x_hat and r over the last dim (two passes), save what backward needs with
        # ctx.save_for_backward, and return weight * x_hat + bias.
        raise NotImplementedError("LayerNormFunction.forward: not implemented yet")

    @staticmethod
    def backward(ctx, g):
        """g: (*, D), the gradient of the loss with respect to y. Returns (dx, dweight, dbias, None)."""
        # TODO: from the saved tensors compute dbias and dweight (summed over every leading dim) and
        # dx with the formula of the class docstring. Plain tensor arithmetic only: no autograd here.
        raise NotImplementedError("LayerNormFunction.backward: not implemented yet")


def batch_norm(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    """Batch normalization of ``x`` of shape ``(N, C)`` or ``(N, C, L)``, with the semantics of ``F.batch_norm``.

    Ioffe & Szegedy (2015), Algorithm 1 (training) and Algorithm 2 (inference). Each channel ``c`` is
    normalized with statistics over every dim except the channel dim (dim 0 for ``(N, C)``, dims 0 and 2
    for ``(N, C, L)``); let ``n`` be the number of elements per channel.

    Training (``training=True``):
        mean_c = (1/n) sum x                  var_c = (1/n) sum (x - mean_c)^2   (biased, used to normalize)
        y      = weight_c * (x - mean_c) / sqrt(var_c + eps) + bias_c
        and, when running_mean / running_var are given, update them **in place** (no autograd history):
        running_mean <- (1 - momentum) * running_mean + momentum * mean_c
        running_var  <- (1 - momentum) * running_var  + momentum * var_c * n / (n - 1)   (unbiased)
    (the n / (n - 1) correction is the unbiased population estimate of Ioffe & Szegedy's Algorithm 2;
    PyTorch keeps an exponential moving average of it rather than their average over batches).

    Evaluation (``training=False``): normalize with ``running_mean`` and ``running_var`` as they are, and
    leave them unchanged.

    Args:
        x: (N, C) or (N, C, L).
        running_mean, running_var: (C,) tensors, or None (then training uses batch statistics only).
        weight, bias: (C,) tensors, or None.
        training: bool.
        momentum, eps: floats.

    Returns:
        y of the same shape as x.
    """
    # TODO: pick the reduction dims and a view shape that broadcasts (C,) against x; in training compute the
    # batch mean and biased variance, update the running statistics in place under torch.no_grad() with the
    # unbiased variance; in eval use the running statistics; normalize, then apply weight and bias.
    raise NotImplementedError("batch_norm: not implemented yet")


if __name__ == "__main__":
    print("layernorm.py is checked, not run: `dlcourse check layernorm` (or `pytest -m layernorm` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
