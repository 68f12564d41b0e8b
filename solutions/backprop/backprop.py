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
    # BEGIN SOLUTION
    out = x @ W + b  # (N, M)
    return out, (x, W)
    # END SOLUTION


def linear_backward(dout, cache):
    """Gradients of the affine map, given dL/dout of shape (N, M).

    With out = x W + b:  dL/dx = dout W^T (N, D),  dL/dW = x^T dout (D, M),  dL/db = sum over the batch (M,).
    Returns (dx, dW, db).
    """
    # TODO: apply the chain rule to out = x W + b.
    # BEGIN SOLUTION
    x, W = cache
    dx = dout @ W.T  # (N, D)
    dW = x.T @ dout  # (D, M)
    db = dout.sum(axis=0)  # (M,)
    return dx, dW, db
    # END SOLUTION


# --------------------------------------------------------------------------------------------- task 2: activations

def relu_forward(x):
    """ReLU, max(0, x) elementwise. Returns (out, cache)."""
    # TODO: keep the positive part of x.
    # BEGIN SOLUTION
    return np.maximum(x, 0.0), x
    # END SOLUTION


def relu_backward(dout, cache):
    """dL/dx = dout where x > 0, else 0. The derivative at exactly x = 0 is taken to be 0."""
    # TODO: let the gradient through where the input was strictly positive.
    # BEGIN SOLUTION
    x = cache
    return dout * (x > 0)
    # END SOLUTION


def sigmoid_forward(x):
    """The logistic function s(x) = 1 / (1 + exp(-x)), computed without overflow for large |x|."""
    # TODO: compute s(x) stably (exp of a large positive number overflows), and cache what backward needs.
    # BEGIN SOLUTION
    z = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return out, out
    # END SOLUTION


def sigmoid_backward(dout, cache):
    """ds/dx = s(x) (1 - s(x))."""
    # TODO: use the cached output.
    # BEGIN SOLUTION
    s = cache
    return dout * s * (1.0 - s)
    # END SOLUTION


def tanh_forward(x):
    """tanh(x) elementwise. Returns (out, cache)."""
    # TODO
    # BEGIN SOLUTION
    out = np.tanh(x)
    return out, out
    # END SOLUTION


def tanh_backward(dout, cache):
    """d tanh(x)/dx = 1 - tanh(x)^2."""
    # TODO
    # BEGIN SOLUTION
    t = cache
    return dout * (1.0 - t * t)
    # END SOLUTION


# --------------------------------------------------------------------------------------------- task 3: the loss

def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, C), y: (N,) integers in [0, C).
    L = -(1/N) sum_i log softmax(logits_i)[y_i]; dL/dlogits = (softmax(logits) - onehot(y)) / N.
    Subtract each row's maximum before exponentiating: softmax is unchanged and exp never overflows.
    Returns (loss as a float, dlogits of shape (N, C)).
    """
    # TODO: a numerically stable log-softmax, the mean loss, and its gradient.
    # BEGIN SOLUTION
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C), each row's max is 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, C)
    loss = -log_probs[np.arange(n), y].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1.0
    return float(loss), dlogits / n
    # END SOLUTION


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
        # BEGIN SOLUTION
        for i in range(1, len(self.sizes)):
            fan_in, fan_out = self.sizes[i - 1], self.sizes[i]
            self.params[f"W{i}"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
            self.params[f"b{i}"] = np.zeros(fan_out)
        # END SOLUTION
        self._caches = []

    def forward(self, x):
        """x: (N, sizes[0]) -> logits (N, sizes[-1]). Keeps the caches backward needs."""
        # TODO: chain linear_forward and the activation; no activation after the last layer.
        # BEGIN SOLUTION
        act_forward, _ = _ACTIVATIONS[self.activation]
        n_layers = len(self.sizes) - 1
        self._caches = []
        h = x
        for i in range(1, n_layers + 1):
            h, lin_cache = linear_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            act_cache = None
            if i < n_layers:
                h, act_cache = act_forward(h)
            self._caches.append((lin_cache, act_cache))
        return h
        # END SOLUTION

    def backward(self, dlogits):
        """dlogits: (N, sizes[-1]) -> grads, a dict with the same keys and shapes as params."""
        # TODO: walk the caches in reverse order.
        # BEGIN SOLUTION
        _, act_backward = _ACTIVATIONS[self.activation]
        grads = {}
        dh = dlogits
        for i in range(len(self._caches), 0, -1):
            lin_cache, act_cache = self._caches[i - 1]
            if act_cache is not None:
                dh = act_backward(dh, act_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = linear_backward(dh, lin_cache)
        return grads
        # END SOLUTION


def sgd_step(params, grads, lr):
    """Plain gradient descent, in place: p <- p - lr * dL/dp for every key. Returns None."""
    # TODO: update each array in place (the caller's arrays must change).
    # BEGIN SOLUTION
    for key, g in grads.items():
        params[key] -= lr * g
    # END SOLUTION
