"""Public checks for backprop: what `dlcourse check backprop` runs, and what students can read.

The oracle is PyTorch's autograd (and finite differences), run here in the trusted process on the same inputs;
the submission runs in the sandbox and only its values come back.
"""

import numpy as np
import torch

from autograder.checking import check, fail
from autograder.compare import describe, expect_close, expect_true

RNG = np.random.default_rng(2024)  # public checks use fixed inputs: the same for every student


def _with_zeros(shape):
    x = RNG.normal(size=shape)
    x.flat[:: max(1, x.size // 5)] = 0.0  # exact zeros, where ReLU's derivative is a convention
    return x


def _autograd(fn, *arrays, dout):
    """Value and gradients of fn(*tensors) under PyTorch autograd, the oracle."""
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.tensor(dout, dtype=torch.float64))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


# ------------------------------------------------------------------------------------------- affine layer

@check("linear_forward: out = x W + b on a small batch", points=1, core=True)
def test_linear_forward(student):
    x, W, b = RNG.normal(size=(4, 5)), RNG.normal(size=(5, 3)), RNG.normal(size=3)
    out, _ = student.linear_forward(x, W, b)
    expect_close(out, x @ W + b, name="out", inputs=f"x {describe(x)}, W {describe(W)}, b {describe(b)}")


@check("linear_backward: dx, dW and db agree with autograd", points=2, core=True)
def test_linear_backward(student):
    x, W, b = _with_zeros((6, 4)), RNG.normal(size=(4, 3)), RNG.normal(size=3)
    dout = RNG.normal(size=(6, 3))

    def probe(m, x, W, b, dout):
        _, cache = m.linear_forward(x, W, b)
        return m.linear_backward(dout, cache)

    grads = student.run(probe, x, W, b, dout)
    _, (dx, dW, db) = _autograd(lambda x, W, b: x @ W + b, x, W, b, dout=dout)
    expect_true(isinstance(grads, (tuple, list)) and len(grads) == 3,
                "linear_backward must return a tuple (dx, dW, db)")
    inputs = "x (6, 4) with exact zeros, W (4, 3), b (3,), dout (6, 3)"
    expect_close(grads[0], dx, name="dx", inputs=inputs)
    expect_close(grads[1], dW, name="dW", inputs=inputs, mistakes={"dW computed as dout^T x (transposed)": dW.T})
    expect_close(grads[2], db, name="db", inputs=inputs,
                 mistakes={"db averaged over the batch instead of summed": db / 6})


# ------------------------------------------------------------------------------------------- activations

def _activation_checks(student, name, torch_fn):
    x = _with_zeros((5, 7))
    x[0, :3] = [-800.0, 800.0, 40.0]  # large magnitudes: exp overflows if computed naively
    dout = RNG.normal(size=x.shape)

    def probe(m, fname, x, dout):
        out, cache = getattr(m, f"{fname}_forward")(x)
        return out, getattr(m, f"{fname}_backward")(dout, cache)

    out, dx = student.run(probe, name, x, dout)
    ref_out, (ref_dx,) = _autograd(torch_fn, x, dout=dout)
    inputs = "x (5, 7) with exact zeros and entries of -800, 800 and 40"
    return out, dx, ref_out, ref_dx, inputs, x, dout


@check("relu_forward: max(0, x)", points=1, core=True)
def test_relu_forward(student):
    x = _with_zeros((4, 6))
    out, _ = student.relu_forward(x)
    expect_close(out, np.maximum(x, 0), name="relu(x)", inputs="x (4, 6) with exact zeros")


@check("relu_backward: gradient agrees with autograd, 0 at x == 0", points=1, core=True)
def test_relu_backward(student):
    out, dx, ref_out, ref_dx, inputs, x, dout = _activation_checks(student, "relu", torch.relu)
    expect_close(dx, ref_dx, name="relu_backward dx", inputs=inputs,
                 mistakes={"the derivative at x == 0 taken as 1 (use x > 0, not x >= 0)": dout * (x >= 0)})


@check("sigmoid_forward: matches the logistic function, no overflow", points=1, core=True)
def test_sigmoid_forward(student):
    out, dx, ref_out, ref_dx, inputs, _, _ = _activation_checks(student, "sigmoid", torch.sigmoid)
    expect_close(out, ref_out, name="sigmoid(x)", inputs=inputs)


@check("sigmoid_backward: gradient agrees with autograd", points=1, core=True)
def test_sigmoid_backward(student):
    out, dx, ref_out, ref_dx, inputs, _, _ = _activation_checks(student, "sigmoid", torch.sigmoid)
    expect_close(dx, ref_dx, name="sigmoid_backward dx", inputs=inputs)


@check("tanh_forward: matches tanh", points=1, core=True)
def test_tanh_forward(student):
    out, dx, ref_out, ref_dx, inputs, _, _ = _activation_checks(student, "tanh", torch.tanh)
    expect_close(out, ref_out, name="tanh(x)", inputs=inputs)


@check("tanh_backward: gradient agrees with autograd", points=1, core=True)
def test_tanh_backward(student):
    out, dx, ref_out, ref_dx, inputs, x, dout = _activation_checks(student, "tanh", torch.tanh)
    expect_close(dx, ref_dx, name="tanh_backward dx", inputs=inputs,
                 mistakes={"1 - tanh(x) used instead of 1 - tanh(x)^2": dout * (1 - np.tanh(x))})


# ------------------------------------------------------------------------------------------- the loss

def _torch_cross_entropy(logits, y):
    t = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(t, torch.tensor(y))
    loss.backward()
    return float(loss), t.grad.numpy()


@check("softmax_cross_entropy: loss and dlogits agree with PyTorch", points=2, core=True)
def test_softmax_cross_entropy(student):
    logits, y = RNG.normal(size=(8, 5)) * 3, RNG.integers(0, 5, size=8)
    loss, dlogits = student.softmax_cross_entropy(logits, y)
    ref_loss, ref_grad = _torch_cross_entropy(logits, y)
    inputs = "logits (8, 5), labels y (8,)"
    expect_close(np.float64(loss), np.float64(ref_loss), name="loss", inputs=inputs,
                 mistakes={"summed over the batch instead of averaged": np.float64(ref_loss * 8)})
    expect_close(dlogits, ref_grad, name="dlogits", inputs=inputs,
                 mistakes={"gradient not divided by the batch size N": ref_grad * 8})


@check("softmax_cross_entropy: finite for huge logits", points=1)
def test_softmax_cross_entropy_huge(student):
    logits = np.array([[1000.0, 0.0, -1000.0], [5000.0, 5000.0, 4990.0]])
    y = np.array([0, 2])
    loss, dlogits = student.softmax_cross_entropy(logits, y)
    ref_loss, ref_grad = _torch_cross_entropy(logits, y)
    inputs = "logits [[1000, 0, -1000], [5000, 5000, 4990]], y [0, 2]: subtract each row's max first"
    expect_close(np.float64(loss), np.float64(ref_loss), name="loss", inputs=inputs)
    expect_close(dlogits, ref_grad, name="dlogits", inputs=inputs)


# ------------------------------------------------------------------------------------------- MLP and SGD

def probe_mlp(m, sizes, activation, params, x, dlogits):
    import numpy as np

    net = m.MLP(sizes, activation=activation, seed=0)
    shapes = {k: np.shape(v) for k, v in net.params.items()}
    for k in list(net.params):
        if k in params:
            net.params[k] = params[k].copy()
    logits = net.forward(x)
    grads = net.backward(dlogits)
    return shapes, logits, grads


def mlp_params(rng, sizes):
    return {k: v for i in range(1, len(sizes)) for k, v in
            ((f"W{i}", rng.normal(size=(sizes[i - 1], sizes[i])) * 0.5), (f"b{i}", rng.normal(size=sizes[i]) * 0.1))}


def torch_mlp(params, sizes, activation, x, dlogits):
    """The oracle: the same MLP in PyTorch, its logits and parameter gradients under autograd."""
    act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation]
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(x)
    n = len(sizes) - 1
    for i in range(1, n + 1):
        h = h @ ts[f"W{i}"] + ts[f"b{i}"]
        if i < n:
            h = act(h)
    h.backward(torch.tensor(dlogits))
    return h.detach().numpy(), {k: t.grad.numpy() for k, t in ts.items()}


@check("MLP: params has W1, b1, ..., WL, bL with the right shapes", points=1)
def test_mlp_shapes(student):
    sizes = [7, 5, 4, 3]

    def probe(m, sizes):
        import numpy as np

        net = m.MLP(sizes)
        return {k: list(np.shape(v)) for k, v in net.params.items()}

    shapes = student.run(probe, sizes)
    want = {f"W{i}": [sizes[i - 1], sizes[i]] for i in range(1, 4)} | {f"b{i}": [sizes[i]] for i in range(1, 4)}
    expect_true(shapes == want, f"MLP({sizes}).params has shapes {shapes}, expected {want}")


@check("MLP: forward and backward agree with autograd (one hidden layer, relu)", points=2, core=True)
def test_mlp_forward_backward(student):
    sizes = [6, 8, 4]
    params = mlp_params(RNG, sizes)
    x, dlogits = _with_zeros((5, 6)), RNG.normal(size=(5, 4))
    _, logits, grads = student.run(probe_mlp, sizes, "relu", params, x, dlogits)
    ref_logits, ref_grads = torch_mlp(params, sizes, "relu", x, dlogits)
    inputs = "MLP([6, 8, 4], 'relu') with given params, x (5, 6)"
    expect_close(logits, ref_logits, name="logits", inputs=inputs)
    expect_close(grads, ref_grads, name="grads", inputs=inputs)


@check("sgd_step: updates the parameter arrays in place and returns None", points=1, core=True)
def test_sgd_step(student):
    params = {"W1": RNG.normal(size=(3, 2)), "b1": RNG.normal(size=2)}
    grads = {"W1": RNG.normal(size=(3, 2)), "b1": RNG.normal(size=2)}

    def probe(m, params, grads):
        originals = dict(params)  # the array objects the caller holds
        result = m.sgd_step(params, grads, 0.1)
        return params, originals, result

    new, originals, result = student.run(probe, params, grads)
    want = {k: params[k] - 0.1 * grads[k] for k in params}
    expect_close(new, want, name="params after sgd_step(lr=0.1)",
                 mistakes={"added the gradient instead of subtracting it":
                           {k: params[k] + 0.1 * grads[k] for k in params}})
    expect_close(originals, want, name="the arrays the caller held, after sgd_step(lr=0.1)",
                 inputs="params W1 (3, 2) and b1 (2,), lr 0.1; the caller's own arrays must change",
                 mistakes={"the arrays were replaced, not updated in place (use -=)": params})
    expect_true(result is None, f"sgd_step returned a {type(result).__name__}; it should return None (it updates "
                                "in place)")


def probe_mlp_seeds(m, sizes, seeds):
    """The initial params of MLP(sizes, seed=s) for each s (None: the default seed)."""
    nets = [m.MLP(sizes) if s is None else m.MLP(sizes, seed=s) for s in seeds]
    return [{k: v.copy() for k, v in net.params.items()} for net in nets]


@check("MLP: the initial weights are drawn from its seed (same seed, same weights; another seed, others)", points=1)
def test_mlp_seed(student):
    sizes = [5, 7, 3]
    a, b, c, default, zero = student.run(probe_mlp_seeds, sizes, [11, 11, 12, None, 0])
    expect_close(b, a, name="params of MLP([5, 7, 3], seed=11) built twice", rtol=0.0, atol=0.0)
    expect_close(zero, default, name="params of MLP([5, 7, 3]) vs MLP([5, 7, 3], seed=0) (seed defaults to 0)",
                 rtol=0.0, atol=0.0)
    same = [k for k in a if k.startswith("W") and k in c and np.shape(a[k]) == np.shape(c[k])
            and np.array_equal(np.asarray(a[k]), np.asarray(c[k]))]
    expect_true(not same, f"MLP([5, 7, 3], seed=11) and MLP([5, 7, 3], seed=12) start with the same {same}: the "
                          "weights must be drawn from np.random.default_rng(seed)")


def probe_train_xor(m, x, y, steps, lr, params):
    """The trusted training loop, from the starting parameters the grader chose (sent in), with the submission's
    forward, loss and backward, and SGD."""
    net = m.MLP([2, 8, 2], activation="tanh", seed=1)
    for k in params:
        net.params[k] = params[k].copy()
    for _ in range(steps):
        logits = net.forward(x)
        _, dlogits = m.softmax_cross_entropy(logits, y)
        m.sgd_step(net.params, net.backward(dlogits), lr)
    return net.params


def start_params(sizes, seed):
    """Starting parameters chosen by the grader (He initialisation), so that training starts where the grader says."""
    g = np.random.default_rng(seed)
    return {k: v for i in range(1, len(sizes)) for k, v in
            ((f"W{i}", g.normal(0.0, np.sqrt(2.0 / sizes[i - 1]), size=(sizes[i - 1], sizes[i]))),
             (f"b{i}", np.zeros(sizes[i])))}


@check("MLP: learns XOR to 100% accuracy", points=2, timeout=60, needs=("softmax_cross_entropy", "sgd_step"))
def test_mlp_xor(student):
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    params = student.run(probe_train_xor, x, y, 2000, 0.5, start_params([2, 8, 2], 1), _timeout=30)
    if not isinstance(params, dict) or any(k not in params for k in ("W1", "b1", "W2", "b2")):
        fail("after training, MLP([2, 8, 2]).params should hold W1, b1, W2 and b2")
    logits, _ = torch_mlp(params, [2, 8, 2], "tanh", x, np.zeros((4, 2)))
    acc = float((logits.argmax(1) == y).mean())
    expect_true(acc == 1.0, f"after 2000 SGD steps (lr 0.5) on XOR with MLP([2, 8, 2], 'tanh') the accuracy is "
                            f"{acc:.0%}, expected 100%: predictions {logits.argmax(1).tolist()}, labels {y.tolist()}")
