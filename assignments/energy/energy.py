"""Milestone: counting the cost of training, from FLOPs to joules to kilograms of CO2.

Constraint raised: energy.

Papers:
* E. Strubell, A. Ganesh and A. McCallum, "Energy and Policy Considerations for Deep Learning in NLP", ACL 2019.
* D. Patterson, J. Gonzalez, Q. Le, C. Liang, L.-M. Munguia, D. Rothchild, D. So, M. Texier and J. Dean, "Carbon
  Emissions and Large Neural Network Training", arXiv:2104.10350, 2021.
* J. Kaplan, S. McCandlish, T. Henighan, T. B. Brown, B. Chess, R. Child, S. Gray, A. Radford, J. Wu and D. Amodei,
  "Scaling Laws for Neural Language Models", arXiv:2001.08361, 2020 (Section 2.1: C = 6 N D).

Every estimate of a model's energy bill is a chain of three multiplications: the FLOPs the computation needs, the
seconds a chip needs for them at the rate it actually achieves, the joules the chip (and the data centre around it)
draws in that time, and the CO2 emitted to generate those joules. Each link is simple; the estimate is only as good
as the assumptions named at each one.

What to build:

* ``count_flops(model, input_shape)``: the FLOPs of one forward pass, per module, for nn.Linear, nn.Conv2d,
  nn.MultiheadAttention (its projections and its two attention matmuls) and nn.LayerNorm.
* ``training_flops(n_params, n_tokens)``: 6 N D (Kaplan et al., 2020).
* ``energy_joules(flops, flops_per_second, utilisation, watts, pue=1.0)``.
* ``co2_kg(joules, grams_per_kwh)``.

torch.utils.flop_counter (PyTorch's own FLOP counter, the checks' oracle) is off limits.
"""

import torch
from torch import nn

JOULES_PER_KWH = 3.6e6  # 1 kWh = 1000 W * 3600 s
LAYERNORM_FLOPS = 5  # per element: mean (1), subtract it (1), square and sum for the variance (2), scale by 1/std (1)


def _linear_flops(module, inputs, output):
    """nn.Linear on x of shape (*, in): one (in x out) matrix-vector product per row, 2 FLOPs per multiply-add."""
    # TODO: 2 * (number of rows of x) * in_features * out_features; the bias add is not counted.
    raise NotImplementedError("_linear_flops: not implemented yet")


def _conv2d_flops(module, inputs, output):
    """nn.Conv2d: each output element is a dot product over (in_channels / groups) * kh * kw inputs."""
    # TODO: 2 * output.numel() * (in_channels // groups) * kh * kw; the bias add is not counted.
    raise NotImplementedError("_conv2d_flops: not implemented yet")


def _attention_flops(module, inputs, output):
    """nn.MultiheadAttention(E, h, kdim, vdim) on query (L, N, E), key (S, N, kdim), value (S, N, vdim)
    ((N, L, E) ... when batch_first; no N when unbatched):

        projections  2 N L E E  (q)  +  2 N S kdim E  (k)  +  2 N S vdim E  (v)  +  2 N L E E  (output)
        Q K^T        2 N L S E        (h heads of L x S scores over E / h features each)
        A V          2 N L S E        (h heads of L x (E / h) outputs over S keys each)
    """
    # TODO: read L, S and N from the shapes of query and key (mind batch_first and unbatched inputs), then add
    #       the six terms above.
    raise NotImplementedError("_attention_flops: not implemented yet")


def _layernorm_flops(module, inputs, output):
    """nn.LayerNorm: LAYERNORM_FLOPS per element, plus 1 for the scale gamma and 1 for the shift beta when present."""
    # TODO: x.numel() * (5 + [weight is not None] + [bias is not None]).
    raise NotImplementedError("_layernorm_flops: not implemented yet")


_FORMULAS = ((nn.Linear, _linear_flops), (nn.Conv2d, _conv2d_flops), (nn.MultiheadAttention, _attention_flops),
             (nn.LayerNorm, _layernorm_flops))


def count_flops(model, input_shape):
    """FLOPs of one forward pass of ``model`` on an input of shape ``input_shape``, per module.

    Counted, with a multiply-add as 2 FLOPs and bias additions, activations, softmax, pooling and dropout not
    counted (the conventions of torch.utils.flop_counter.FlopCounterMode):

    * ``nn.Linear`` (subclasses included) on x of shape (*, in): ``2 * prod(*) * in * out``;
    * ``nn.Conv2d``: ``2 * output.numel() * (in_channels / groups) * kernel_h * kernel_w``;
    * ``nn.MultiheadAttention``: its four projections and its two attention matmuls (see _attention_flops);
    * ``nn.LayerNorm``: ``5`` FLOPs per element of its input, ``+1`` with a weight, ``+1`` with a bias (a
      convention of this course: FlopCounterMode does not count normalisation).

    Run the model once on ``torch.zeros(input_shape)`` (on the device and in the dtype of its first parameter;
    float32 on the CPU when it has none), without gradients, and record each counted module's inputs and output
    with forward hooks; remove the hooks afterwards. A module called several times is counted once per call.

    Args:
        model: an nn.Module whose forward takes one tensor.
        input_shape: tuple of ints, the shape of that tensor (batch included).

    Returns:
        dict {qualified module name (as in model.named_modules(); "" for the model itself): FLOPs (int)} with
        one entry per counted module whose forward ran (a module that never ran may be left out or given 0).
    """
    # TODO: register a forward hook (with_kwargs=True gives the keyword arguments too) on every module of the four
    #       types, run the model on zeros, add up each module's FLOPs, remove the hooks (also when forward fails).
    raise NotImplementedError("count_flops: not implemented yet")


def training_flops(n_params, n_tokens):
    """The compute of training a dense model: C = 6 N D FLOPs (Kaplan et al., 2020, Section 2.1).

    Per token and per parameter, the forward pass costs 2 FLOPs (a multiply-add) and the backward pass twice as
    much (the gradients with respect to the activations and to the weights), 6 in all; attention's own matmuls,
    embeddings and the optimizer step are left out.

    Args:
        n_params: N, the number of (non-embedding) parameters, >= 0.
        n_tokens: D, the number of training tokens, >= 0.

    Returns:
        6 * N * D as a float.

    Raises:
        ValueError: when N or D is negative.
    """
    # TODO: check the arguments, return 6 N D as a float.
    raise NotImplementedError("training_flops: not implemented yet")


def energy_joules(flops, flops_per_second, utilisation, watts, pue=1.0):
    """The energy of a computation of ``flops`` FLOPs on accelerators of peak rate ``flops_per_second``.

        seconds = flops / (flops_per_second * utilisation)       (accelerator-seconds, summed over chips)
        joules  = seconds * watts * pue

    ``utilisation`` is the fraction of the peak rate actually achieved (model FLOPs utilisation, MFU), ``watts``
    the power drawn by one accelerator, ``pue`` the data centre's power usage effectiveness (total facility power
    over IT power, >= 1; Patterson et al., 2021).

    Args:
        flops: the FLOPs of the computation, >= 0.
        flops_per_second: peak FLOP/s of one accelerator, > 0.
        utilisation: fraction of the peak achieved, in (0, 1].
        watts: power of one accelerator, >= 0.
        pue: power usage effectiveness, >= 1 (default 1.0: the accelerators only).

    Returns:
        the energy in joules, a float.

    Raises:
        ValueError: for flops < 0, flops_per_second <= 0, utilisation outside (0, 1], watts < 0 or pue < 1.
    """
    # TODO: validate the arguments, then seconds at the achieved rate times power times PUE.
    raise NotImplementedError("energy_joules: not implemented yet")


def co2_kg(joules, grams_per_kwh):
    """The emissions of generating ``joules`` of electricity at a carbon intensity of ``grams_per_kwh``.

        kg = joules / 3.6e6 (J per kWh) * grams_per_kwh / 1000 (g per kg)

    Args:
        joules: energy, >= 0.
        grams_per_kwh: carbon intensity of the electricity in gCO2eq per kWh (e.g. 385 for the average US grid
            assumed by Touvron et al., 2023), >= 0.

    Returns:
        kilograms of CO2 equivalent, a float.

    Raises:
        ValueError: when an argument is negative.
    """
    # TODO: validate, convert joules to kWh and grams to kilograms.
    raise NotImplementedError("co2_kg: not implemented yet")


if __name__ == "__main__":
    print("energy.py is checked, not run: `dlcourse check energy` (or `pytest -m energy` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
