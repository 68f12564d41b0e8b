"""Milestone: convolutional networks, from LeNet to AlexNet.

Constraint raised: architecture. A fully connected layer treats an image as an unordered list of pixels: it must
learn separately, at every position, to detect the same stroke, and its weights grow with the square of the image
size. LeCun et al. (1989), "Backpropagation Applied to Handwritten Zip Code Recognition" (Neural Computation 1(4)),
built two facts about images into the network instead: *locality* (a unit looks at a small neighbourhood) and
*weight sharing* (the same small filter slides over every position, so a shifted input gives a shifted output).
Subsampling between the convolutions (pooling) then makes the features tolerant to small shifts. LeCun, Bottou,
Bengio & Haffner (1998) refined the design into LeNet-5; Krizhevsky, Sutskever & Hinton (2012), "ImageNet
Classification with Deep Convolutional Neural Networks" (AlexNet), scaled it up with ReLUs, max pooling, data
augmentation by random crops, and GPUs.

What you build (PyTorch, without PyTorch's convolution or pooling functions):

1. ``conv2d(x, weight, bias, stride, padding)``: the convolutional layer's arithmetic, as an im2col matrix product.
2. ``max_pool2d(x, kernel_size, stride)``: max pooling (Krizhevsky et al., 2012, Section 3.4).
3. ``Conv2d``: the layer as an ``nn.Module``, initialised and saved exactly like ``nn.Conv2d``.
4. ``SmallCNN``: two convolution + ReLU + max-pool stages and a linear classifier, for 8x8 digits.

Shapes in comments use N (batch), C (input channels), H, W (input size), C_out (output channels), kH, kW (kernel
size), H_out, W_out (output size), L = H_out * W_out (output positions).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _pair(value):
    """An int or a pair of ints -> a pair of ints (height, width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"expected an int or a pair of ints, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution as deep learning libraries define it (LeCun et al., 1989): a cross-correlation.

        out[n, c', i, j] = bias[c'] + sum_{c, u, v} weight[c', c, u, v] * xp[n, c, i * sH + u, j * sW + v]

    where xp is x padded with ``padding`` zeros on *each* side (top and bottom by pH, left and right by pW). The
    kernel is not flipped: this is exactly what ``torch.nn.functional.conv2d`` computes. The output size is

        H_out = floor((H + 2 * pH - kH) / sH) + 1,   W_out = floor((W + 2 * pW - kW) / sW) + 1.

    The im2col way to compute it: gather, for every output position, the C * kH * kW input values under the
    kernel into one column (ordered channel first, then kernel row, then kernel column, the order of
    ``weight.reshape(C_out, -1)``); the convolution is then a single matrix product of the flattened weights
    (C_out, C * kH * kW) with those columns (C * kH * kW, L).

    Args:
        x: (N, C, H, W), float32 or float64, any device.
        weight: (C_out, C, kH, kW), same dtype and device as x.
        bias: (C_out,) or None; bias[c'] is added to every position of output channel c'.
        stride: an int or a pair (sH, sW), each >= 1.
        padding: an int or a pair (pH, pW), each >= 0: zeros added on both sides.

    Returns:
        (N, C_out, H_out, W_out), same dtype and device as x, differentiable with respect to x, weight and bias.
    """
    # TODO: read the stride and padding as pairs, and compute H_out and W_out with the formula above.
    raise NotImplementedError("conv2d: not implemented yet")
    # TODO: pad x with zeros on both sides (torch.nn.functional.pad is allowed), then build the columns
    #       (N, C * kH * kW, L): one strided slice of the padded input per kernel offset (u, v) gives that offset's
    #       value at every output position. Keep the channel axis before the kernel offsets.
    raise NotImplementedError("conv2d: not implemented yet")
    # TODO: multiply the flattened weights with the columns, reshape to (N, C_out, H_out, W_out) and add the bias
    #       of each output channel to all of that channel's positions.
    raise NotImplementedError("conv2d: not implemented yet")


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling without padding (Krizhevsky et al., 2012, Section 3.4; LeCun et al., 1998, used averages).

        out[n, c, i, j] = max_{0 <= u < kH, 0 <= v < kW} x[n, c, i * sH + u, j * sW + v]

    with H_out = floor((H - kH) / sH) + 1 (likewise W_out); ``stride`` defaults to ``kernel_size`` (windows that
    tile the input without overlapping). The gradient of each output goes to the one input that is its maximum;
    when several inputs of a window tie for the maximum, it goes to the first of them in row-major order (the
    same element ``torch.nn.functional.max_pool2d`` picks).

    Args:
        x: (N, C, H, W), float32 or float64, any device.
        kernel_size: an int or a pair (kH, kW).
        stride: an int, a pair (sH, sW), or None (= kernel_size).

    Returns:
        (N, C, H_out, W_out), same dtype and device as x, differentiable.
    """
    # TODO: read kernel_size and stride as pairs (stride defaults to kernel_size); compute H_out and W_out.
    # TODO: gather the kH * kW values of every window (one strided slice per offset (u, v), in row-major order)
    #       and take the maximum over them with a function whose gradient goes to one element only.
    raise NotImplementedError("max_pool2d: not implemented yet")


class Conv2d(nn.Module):
    """A convolutional layer whose forward calls your ``conv2d``.

    Parameters (the contract, the same as ``nn.Conv2d``, so that state_dicts load either way):
        weight: (out_channels, in_channels, kH, kW)
        bias: (out_channels,), or None when ``bias=False`` (then ``bias`` is still an attribute, set to None, and
            the state_dict has no ``bias`` entry).

    Initialisation, as nn.Conv2d does it (He et al., 2015's uniform rule with a = sqrt(5)): every weight and every
    bias drawn independently from U(-1 / sqrt(fan_in), 1 / sqrt(fan_in)), fan_in = in_channels * kH * kW.

    Args:
        in_channels, out_channels: ints.
        kernel_size: an int or a pair (kH, kW).
        stride, padding: an int or a pair, passed to ``conv2d``.
        bias: bool.

    Forward: x (N, in_channels, H, W) -> (N, out_channels, H_out, W_out).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        # TODO: keep the arguments, create weight (and bias, or register None) as nn.Parameters, and initialise
        #       them uniformly in [-1/sqrt(fan_in), 1/sqrt(fan_in)].
        raise NotImplementedError("Conv2d.__init__: not implemented yet")

    def forward(self, x):
        """x (N, in_channels, H, W) -> conv2d(x, weight, bias, stride, padding)."""
        # TODO: call your conv2d with this layer's parameters, stride and padding.
        raise NotImplementedError("Conv2d.forward: not implemented yet")

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}")


class SmallCNN(nn.Module):
    """A LeNet-style network for 8x8 single-channel images (LeCun et al., 1989; 1998), with ReLU and max pooling
    as in AlexNet (Krizhevsky et al., 2012).

        (N, 1, 8, 8)  -conv1, ReLU->  (N, 16, 8, 8)  -max-pool 2->  (N, 16, 4, 4)
                      -conv2, ReLU->  (N, 32, 4, 4)  -max-pool 2->  (N, 32, 2, 2)
                      -flatten->      (N, 128)       -fc->          (N, num_classes)

    Attributes (the contract): ``conv1`` = Conv2d(1, 16, 3, padding=1), ``conv2`` = Conv2d(16, 32, 3, padding=1),
    ``fc`` = nn.Linear(32 * 2 * 2, num_classes); the flatten keeps PyTorch's order (channel, row, column), i.e.
    ``x.flatten(1)`` of the (N, 32, 2, 2) tensor. Pooling is your ``max_pool2d`` with kernel 2.

    Forward: images (N, 1, 8, 8) -> logits (N, num_classes).
    """

    def __init__(self, num_classes=10):
        super().__init__()
        # TODO: create conv1, conv2 and fc.
        raise NotImplementedError("SmallCNN.__init__: not implemented yet")

    def forward(self, x):
        """x (N, 1, 8, 8) -> logits (N, num_classes)."""
        # TODO: conv1, ReLU, pool; conv2, ReLU, pool; flatten; fc.
        raise NotImplementedError("SmallCNN.forward: not implemented yet")


if __name__ == "__main__":
    print("cnn.py is checked, not run: `dlcourse check cnn` (or `pytest -m cnn` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
