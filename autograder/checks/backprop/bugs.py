"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/backprop/backprop.py, what it becomes, the function whose checks must fail,
words its failure message must contain); the text must occur exactly once.
Every check of backprop must fail for at least one of them. Not shipped to students (it is made from the reference).
"""

BUGS = [
    ('bias forgotten', 'out = x @ W + b  # (N, M)', 'out = x @ W  # (N, M)', 'linear_forward', ''),
    ('db averaged over the batch', 'db = dout.sum(axis=0)  # (M,)',
     'db = dout.mean(axis=0)  # (M,)', 'linear_backward', 'averaged over the batch instead of summed'),
    ('dx without the transpose of W', 'dx = dout @ W.T  # (N, D)',
     'dx = dout @ W  # (N, D)', 'linear_backward', ''),
    ('leaky ReLU instead of ReLU', 'return np.maximum(x, 0.0), x',
     'return np.maximum(x, 0.01 * x), x', 'relu_forward', ''),
    ('ReLU derivative 1 at x == 0', 'return dout * (x > 0)',
     'return dout * (x >= 0)', 'relu_backward', 'derivative at x == 0 taken as 1'),
    ("sigmoid's negative branch uses exp(-x)", 'z = np.exp(-np.abs(x))  # in (0, 1]: never overflows',
     'z = np.exp(-x)', 'sigmoid_forward', ''),
    ('sigmoid derivative without s', 'return dout * s * (1.0 - s)',
     'return dout * (1.0 - s)', 'sigmoid_backward', ''),
    ('tanh as sinh / cosh (overflows)', 'out = np.tanh(x)', 'out = np.sinh(x) / np.cosh(x)', 'tanh_forward', ''),
    ('tanh derivative 1 - t', 'return dout * (1.0 - t * t)',
     'return dout * (1.0 - t)', 'tanh_backward', '1 - tanh(x) used instead of 1 - tanh(x)^2'),
    ('softmax without the max shift', 'shifted = logits - logits.max(axis=1, keepdims=True)',
     'shifted = logits', 'softmax_cross_entropy', ''),
    ('loss gradient not divided by N', 'return float(loss), dlogits / n',
     'return float(loss), dlogits', 'softmax_cross_entropy', 'not divided by the batch size N'),
    ('weights created transposed', 'size=(fan_in, fan_out))', 'size=(fan_out, fan_in))', 'MLP', ''),
    ('activation after the last layer', 'if i < n_layers:\n                h, act_cache',
     'if True:\n                h, act_cache', 'MLP', ''),
    ('activation backward skipped', 'dh = act_backward(dh, act_cache)', 'dh = dh', 'MLP', ''),
    ('MLP ignores seed', 'rng = np.random.default_rng(seed)', 'rng = np.random.default_rng(0)', 'MLP',
     'drawn from np.random.default_rng(seed)'),
    ('sgd_step not in place', 'params[key] -= lr * g', 'params[key] = params[key] - lr * g', 'sgd_step', ''),
    ('sgd_step ascends', 'params[key] -= lr * g',
     'params[key] += lr * g', 'sgd_step', 'added the gradient instead of subtracting it'),
]
