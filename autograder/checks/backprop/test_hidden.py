"""Hidden checks for backprop: run only by `dlcourse grade`, on inputs drawn from the grading seed.

Each check runs the same probe on the submission (in the sandbox) and on the reference (here), and compares.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from autograder.checking import check
from autograder.compare import describe, expect_close, expect_gradients, expect_true, numerical_gradient

SHAPES = [(1, 1, 1), (3, 7, 2), (16, 10, 5), (64, 32, 10)]


def _zeros_in(rng, x, frac=0.2):
    x = x.copy()
    x[rng.random(x.shape) < frac] = 0.0
    return x


def probe_linear(m, x, W, b, dout):
    out, cache = m.linear_forward(x, W, b)
    return out, m.linear_backward(dout, cache)


@check("linear_forward: matches the reference on random batches of several shapes", points=1, core=True)
def test_linear_forward(student, reference, rng):
    for n, d, k in SHAPES:
        x, W, b = _zeros_in(rng, rng.normal(size=(n, d))), rng.normal(size=(d, k)), rng.normal(size=k)
        out, _ = student.run(probe_linear, x, W, b, np.ones((n, k)))
        want, _ = probe_linear(reference, x, W, b, np.ones((n, k)))
        expect_close(out, want, name="out", inputs=f"x {describe(x)}, W {describe(W)}, b {describe(b)}")


@check("linear_backward: dx, dW, db match the reference on random batches", points=2, core=True)
def test_linear_backward(student, reference, rng):
    for n, d, k in SHAPES:
        x, W, b = _zeros_in(rng, rng.normal(size=(n, d))), rng.normal(size=(d, k)), rng.normal(size=k)
        dout = rng.normal(size=(n, k))
        _, got = student.run(probe_linear, x, W, b, dout)
        _, want = probe_linear(reference, x, W, b, dout)
        inputs = f"x {describe(x)} with exact zeros, W {describe(W)}, dout {describe(dout)}"
        expect_close(list(got), list(want), name="(dx, dW, db)", inputs=inputs)


@check("linear_backward: agrees with finite differences", points=1)
def test_linear_backward_numeric(student, rng):
    x, W, b, dout = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2), rng.normal(size=(3, 2))
    _, (dx, dW, db) = student.run(probe_linear, x, W, b, dout)
    loss = lambda x_, W_, b_: float(((x_ @ W_ + b_) * dout).sum())  # noqa: E731  scalar whose gradient is asked
    expect_gradients(dx, numerical_gradient(lambda v: loss(v, W, b), x), name="dx")
    expect_gradients(dW, numerical_gradient(lambda v: loss(x, v, b), W), name="dW")
    expect_gradients(db, numerical_gradient(lambda v: loss(x, W, v), b), name="db")


def probe_activation(m, name, x, dout):
    out, cache = getattr(m, f"{name}_forward")(x)
    return out, getattr(m, f"{name}_backward")(dout, cache)


def _activation(student, reference, rng, name):
    x = _zeros_in(rng, rng.normal(size=(9, 11)) * 4)
    x[0, :4] = [-1e4, 1e4, -750.0, 750.0]
    dout = rng.normal(size=x.shape)
    got = student.run(probe_activation, name, x, dout)
    want = probe_activation(reference, name, x, dout)
    return got, want, "x (9, 11) with exact zeros and entries of +-1e4 and +-750"


for _act in ("relu", "sigmoid", "tanh"):
    def _fwd(student, reference, rng, _name=_act):
        (out, _), (want, _), inputs = _activation(student, reference, rng, _name)
        expect_close(out, want, name=f"{_name}(x)", inputs=inputs)

    def _bwd(student, reference, rng, _name=_act):
        (_, dx), (_, want), inputs = _activation(student, reference, rng, _name)
        expect_close(dx, want, name=f"{_name}_backward dx", inputs=inputs)

    globals()[f"test_{_act}_forward"] = check(f"{_act}_forward: matches the reference, extremes included",
                                              points=1, core=True)(_fwd)
    globals()[f"test_{_act}_backward"] = check(f"{_act}_backward: matches the reference, extremes included",
                                               points=1, core=True)(_bwd)
del _fwd, _bwd


@check("softmax_cross_entropy: matches the reference on random and huge logits", points=2, core=True)
def test_softmax_cross_entropy(student, reference, rng):
    for scale in (1.0, 30.0, 1e4):
        n, c = int(rng.integers(1, 20)), int(rng.integers(2, 12))
        logits, y = rng.normal(size=(n, c)) * scale, rng.integers(0, c, size=n)
        loss, grad = student.softmax_cross_entropy(logits, y)
        want_loss, want_grad = reference.softmax_cross_entropy(logits, y)
        inputs = f"logits {describe(logits)} scaled by {scale:g}"
        expect_close(np.float64(loss), np.float64(want_loss), name="loss", inputs=inputs)
        expect_close(grad, want_grad, name="dlogits", inputs=inputs)


def probe_mlp(m, sizes, activation, params, x, dlogits):
    net = m.MLP(sizes, activation=activation, seed=0)
    for k in params:
        net.params[k] = params[k].copy()
    logits = net.forward(x)
    return logits, net.backward(dlogits)


@check("MLP: forward and backward match the reference for 1 to 3 hidden layers and each activation", points=3, core=True)
def test_mlp(student, reference, rng):
    for depth in (1, 2, 3):
        for activation in ("relu", "sigmoid", "tanh"):
            sizes = [int(rng.integers(2, 9)) for _ in range(depth + 2)]
            params = {}
            for i in range(1, len(sizes)):
                params[f"W{i}"] = rng.normal(size=(sizes[i - 1], sizes[i]))
                params[f"b{i}"] = rng.normal(size=sizes[i])
            x, dlogits = _zeros_in(rng, rng.normal(size=(5, sizes[0]))), rng.normal(size=(5, sizes[-1]))
            got = student.run(probe_mlp, sizes, activation, params, x, dlogits)
            want = probe_mlp(reference, sizes, activation, params, x, dlogits)
            inputs = f"MLP({sizes}, activation={activation!r}) with given params, x (5, {sizes[0]})"
            expect_close(got[0], want[0], name="logits", inputs=inputs)
            expect_close(got[1], want[1], name="grads", inputs=inputs)


@check("sgd_step: matches the reference update", points=1, core=True)
def test_sgd_step(student, reference, rng):
    params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=3), "W2": rng.normal(size=(3, 2))}
    grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
    lr = float(rng.uniform(0.01, 1.0))

    def probe(m, params, grads, lr):
        m.sgd_step(params, grads, lr)
        return params

    got = student.run(probe, params, grads, lr)
    want = {k: v.copy() for k, v in params.items()}
    reference.sgd_step(want, grads, lr)
    expect_close(got, want, name=f"params after sgd_step(lr={lr:.3f})")


def probe_train_digits(m, x, y, epochs, lr, batch, seed, params):
    """The trusted training loop, from the starting parameters the grader chose (sent in)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    net = m.MLP([64, 128, 10], activation="relu", seed=seed)
    for k in params:
        net.params[k] = params[k].copy()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            _, dlogits = m.softmax_cross_entropy(net.forward(x[idx]), y[idx])
            m.sgd_step(net.params, net.backward(dlogits), lr)
    return net.params


@check("MLP: trains to at least 97% test accuracy on the 8x8 digits", points=4, timeout=120,
       needs=("softmax_cross_entropy", "sgd_step"))
def test_mlp_digits(student, reference):
    digits = load_digits()  # bundled with scikit-learn: no download
    x_tr, x_te, y_tr, y_te = train_test_split(digits.data, digits.target, test_size=0.25, random_state=0,
                                              stratify=digits.target)
    mean, scale = x_tr.mean(axis=0), x_tr.std(axis=0) + 1.0  # standardise with training statistics only
    x_tr, x_te = (x_tr - mean) / scale, (x_te - mean) / scale
    # A fixed split and seed: a correct implementation reaches about 98% here, whatever the grading seed.
    g = np.random.default_rng(1)
    start = {"W1": g.normal(0.0, np.sqrt(2.0 / 64), size=(64, 128)), "b1": np.zeros(128),
             "W2": g.normal(0.0, np.sqrt(2.0 / 128), size=(128, 10)), "b2": np.zeros(10)}
    params = student.run(probe_train_digits, x_tr, y_tr, 40, 0.05, 32, 1, start, _timeout=90)
    # The trained parameters come back; the test accuracy is computed here, with trusted code, on data the
    # sandbox never saw.
    net = reference.MLP([64, 128, 10], activation="relu")
    expect_true(isinstance(params, dict) and set(params) == set(net.params),
                f"the trained MLP's params should have keys {sorted(net.params)}")
    net.params = params
    acc = float((net.forward(x_te).argmax(axis=1) == y_te).mean())
    expect_true(acc >= 0.97, f"test accuracy after 40 epochs of SGD (lr 0.05, batch 32) with MLP([64, 128, 10]) "
                             f"is {acc:.1%}, expected at least 97%: check the backward passes and the loss gradient")
