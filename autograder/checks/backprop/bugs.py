"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/backprop/backprop.py, what it becomes); the text must occur exactly once.
Every check of backprop must fail for at least one of them. Not shipped to students (it is made from the reference).
"""

BUGS = [
    ("bias forgotten", "out = x @ W + b  # (N, M)", "out = x @ W  # (N, M)"),
    ("db averaged over the batch", "db = dout.sum(axis=0)  # (M,)", "db = dout.mean(axis=0)  # (M,)"),
    ("dx without the transpose of W", "dx = dout @ W.T  # (N, D)", "dx = dout @ W  # (N, D)"),
    ("leaky ReLU instead of ReLU", "return np.maximum(x, 0.0), x", "return np.maximum(x, 0.01 * x), x"),
    ("ReLU derivative 1 at x == 0", "return dout * (x > 0)", "return dout * (x >= 0)"),
    ("sigmoid's negative branch uses exp(-x)", "z = np.exp(-np.abs(x))  # in (0, 1]: never overflows",
     "z = np.exp(-x)"),
    ("sigmoid derivative without s", "return dout * s * (1.0 - s)", "return dout * (1.0 - s)"),
    ("tanh as sinh / cosh (overflows)", "out = np.tanh(x)", "out = np.sinh(x) / np.cosh(x)"),
    ("tanh derivative 1 - t", "return dout * (1.0 - t * t)", "return dout * (1.0 - t)"),
    ("softmax without the max shift", "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits"),
    ("loss gradient not divided by N", "return float(loss), dlogits / n", "return float(loss), dlogits"),
    ("weights created transposed", "size=(fan_in, fan_out))", "size=(fan_out, fan_in))"),
    ("activation after the last layer", "if i < n_layers:\n                h, act_cache",
     "if True:\n                h, act_cache"),
    ("activation backward skipped", "dh = act_backward(dh, act_cache)", "dh = dh"),
    ("sgd_step not in place", "params[key] -= lr * g", "params[key] = params[key] - lr * g"),
    ("sgd_step ascends", "params[key] -= lr * g", "params[key] += lr * g"),
]
