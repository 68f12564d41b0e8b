"""Backpropagation, by hand, in NumPy.

Milestone: Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating errors", Nature 323.
The chain rule applied layer by layer lets a network with hidden units learn: every layer gets the gradient of the
loss with respect to its inputs and parameters from the gradient with respect to its outputs.

You build (each layer keeps forward and backward side by side, like a computation graph node):

- affine layer: ``linear_forward`` / ``linear_backward``
- activations: ``relu_*``, ``sigmoid_*``, ``tanh_*``
- the loss: ``softmax_cross_entropy``
- a multi-layer perceptron ``MLP`` that chains them, and ``sgd_step``.

Shapes: a batch of N examples with D features is x of shape (N, D); a layer with M outputs has W (D, M), b (M,).
Only NumPy is allowed: importing torch, jax, autograd or any other autodiff library is forbidden.
"""

from __future__ import annotations

import numpy as np


# --------------------------------------------------------------------------------------------- task 1: affine

def linear_forward(x, W, b):
    """Affine map out = x W + b.

    x: (N, D), W: (D, M), b: (M,)  ->  out: (N, M), and a cache with what backward needs.
    """
    # TODO: compute out and return (out, cache); the cache holds the inputs backward needs.
    raise NotImplementedError("linear_forward: not implemented yet")


def linear_backward(dout, cache):
    """Gradients of the affine map, given dL/dout of shape (N, M).

    With out = x W + b:  dL/dx = dout W^T (N, D),  dL/dW = x^T dout (D, M),  dL/db = sum over the batch (M,).
    Returns (dx, dW, db).
    """
    # TODO: apply the chain rule to out = x W + b.
    raise NotImplementedError("linear_backward: not implemented yet")


# --------------------------------------------------------------------------------------------- task 2: activations

def relu_forward(x):
    """ReLU, max(0, x) elementwise. Returns (out, cache)."""
    # TODO: keep the positive part of x.
    raise NotImplementedError("relu_forward: not implemented yet")


def relu_backward(dout, cache):
    """dL/dx = dout where x > 0, else 0. The derivative at exactly x = 0 is taken to be 0."""
    # TODO: let the gradient through where the input was strictly positive.
    raise NotImplementedError("relu_backward: not implemented yet")


def sigmoid_forward(x):
    """The logistic function s(x) = 1 / (1 + exp(-x)), computed without overflow for large |x|."""
    # TODO: compute s(x) stably (exp of a large positive number overflows), and cache what backward needs.
    raise NotImplementedError("sigmoid_forward: not implemented yet")


def sigmoid_backward(dout, cache):
    """ds/dx = s(x) (1 - s(x))."""
    # TODO: use the cached output.
    raise NotImplementedError("sigmoid_backward: not implemented yet")


def tanh_forward(x):
    """tanh(x) elementwise. Returns (out, cache)."""
    # TODO
    raise NotImplementedError("tanh_forward: not implemented yet")


def tanh_backward(dout, cache):
    """d tanh(x)/dx = 1 - tanh(x)^2."""
    # TODO
    raise NotImplementedError("tanh_backward: not implemented yet")


# --------------------------------------------------------------------------------------------- task 3: the loss

def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, C), y: (N,) integers in [0, C).
    L = -(1/N) sum_i log softmax(logits_i)[y_i]; dL/dlogits = (softmax(logits) - onehot(y)) / N.
    Subtract each row's maximum before exponentiating: softmax is unchanged and exp never overflows.
    Returns (loss as a float, dlogits of shape (N, C)).
    """
    # TODO: a numerically stable log-softmax, the mean loss, and its gradient.
    raise NotImplementedError("softmax_cross_entropy: not implemented yet")


# --------------------------------------------------------------------------------------------- task 4: the MLP

_ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}


class MLP:
    """A multi-layer perceptron: affine -> activation -> ... -> affine (no activation after the last layer).

    sizes = [D, H1, ..., C]: layer i (1-based) has W{i} of shape (sizes[i-1], sizes[i]) and b{i} of shape
    (sizes[i],). Weights start as Gaussian noise scaled by sqrt(2 / fan_in) (He et al., 2015), biases at zero,
    drawn from np.random.default_rng(seed).
    """

    def __init__(self, sizes, activation="relu", seed=0):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: use one of {sorted(_ACTIVATIONS)}")
        self.sizes = list(sizes)
        self.activation = activation
        rng = np.random.default_rng(seed)
        self.params = {}
        # TODO: fill self.params with "W1", "b1", ..., "WL", "bL".
        raise NotImplementedError("MLP.__init__: not implemented yet")
        self._caches = []

    def forward(self, x):
        """x: (N, sizes[0]) -> logits (N, sizes[-1]). Keeps the caches backward needs."""
        # TODO: chain linear_forward and the activation; no activation after the last layer.
        raise NotImplementedError("MLP.forward: not implemented yet")

    def backward(self, dlogits):
        """dlogits: (N, sizes[-1]) -> grads, a dict with the same keys and shapes as params."""
        # TODO: walk the caches in reverse order.
        raise NotImplementedError("MLP.backward: not implemented yet")


def sgd_step(params, grads, lr):
    """Plain gradient descent, in place: p <- p - lr * dL/dp for every key. Returns None."""
    # TODO: update each array in place (the caller's arrays must change).
    raise NotImplementedError("sgd_step: not implemented yet")


if __name__ == "__main__":
    print("backprop.py is checked, not run: `dlcourse check backprop` (or `pytest -m backprop` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
