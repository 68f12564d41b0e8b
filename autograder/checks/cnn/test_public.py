"""Public checks for cnn: what `dlcourse check cnn` runs, and what students can read.

The oracles are PyTorch's own layers (F.conv2d, F.max_pool2d, nn.Conv2d), which the submission may not use but the
grader may, and autograd through them; they run here, in the trusted process, on the same inputs. The submission
runs in the sandbox and only its values come back. The end-to-end check trains the submission's network in the
sandbox and measures the accuracy of the weights it returns here, with F.conv2d.
"""

import torch
import torch.nn.functional as F

from autograder.checking import check, fail, load_sibling
from autograder.compare import describe, expect_close, expect_true

C = load_sibling(__file__, "_common")
probe_conv, probe_pool, probe_conv_layer, probe_conv_init = (C.probe_conv, C.probe_pool, C.probe_conv_layer,
                                                             C.probe_conv_init)
probe_cnn, probe_train_cnn = C.probe_cnn, C.probe_train_cnn


def gen():
    """Public checks use fixed inputs: the same for every student."""
    return torch.Generator().manual_seed(1989)


def randn(g, *shape, device="cpu", dtype=torch.float32):
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def compare_conv(got, x, w, b, stride, padding, inputs):
    want = F.conv2d(x, w, b, stride, padding)
    expect_close(got["out"], want, name="conv2d output", inputs=inputs,
                 mistakes=C.conv_mistakes(x, w, b, stride, padding))


# ------------------------------------------------------------------------------------------------- conv2d

CONV_CASES = [  # (x shape, weight shape, bias, stride, padding)
    ((2, 2, 6, 6), (6, 2, 3, 3), True, 1, 1),  # W_out == C_out: a bias added along the width still runs
    ((2, 1, 8, 8), (4, 1, 3, 3), True, 1, 0),
    ((2, 3, 7, 9), (5, 3, 3, 3), True, 1, 1),
    ((1, 2, 9, 9), (3, 2, 3, 3), False, 2, 1),
    ((2, 4, 10, 7), (2, 4, 2, 3), True, (2, 1), (0, 2)),
    ((3, 2, 6, 6), (6, 2, 1, 1), True, 1, 0),
    ((1, 3, 11, 8), (4, 3, 5, 4), True, (3, 2), (2, 1)),
]


def _case_words(xs, ws, bias, stride, padding):
    return (f"x {xs}, weight {ws}, bias {'(%d,)' % ws[0] if bias else 'None'}, stride={stride}, "
            f"padding={padding}")


@check("conv2d: agrees with F.conv2d for several shapes, strides and paddings, with and without bias (float64)",
       points=4, core=True)
def test_conv_values(student, device):
    g = gen()
    for xs, ws, bias, stride, padding in CONV_CASES:
        f64 = dict(device=device, dtype=torch.float64)
        x, w = randn(g, *xs, **f64), randn(g, *ws, **f64)
        b = randn(g, ws[0], **f64) if bias else None
        got = student.run(probe_conv, x, w, b, stride=stride, padding=padding)
        compare_conv(got, x, w, b, stride, padding, "float64 " + _case_words(xs, ws, bias, stride, padding))


@check("conv2d: output sizes floor((H + 2p - k) / s) + 1 for strides 2 and 3 on odd and even inputs", points=2,
       core=True)
def test_conv_output_size(student, device):
    g = gen()
    for H, W, k, s, p in ((7, 8, 3, 2, 0), (8, 7, 3, 2, 1), (10, 11, 3, 3, 0), (9, 6, 2, 3, 1), (5, 5, 5, 2, 2)):
        x, w = randn(g, 1, 2, H, W, device=device, dtype=torch.float64), randn(g, 3, 2, k, k, device=device,
                                                                               dtype=torch.float64)
        got = student.run(probe_conv, x, w, None, stride=s, padding=p)
        want = F.conv2d(x, w, None, s, p)
        words = f"float64 x (1, 2, {H}, {W}), weight (3, 2, {k}, {k}), stride={s}, padding={p}"
        out = got["out"]
        if isinstance(out, torch.Tensor) and tuple(out.shape) != tuple(want.shape):
            fail(f"conv2d output has shape {tuple(out.shape)}, expected {tuple(want.shape)}: H_out = floor((H + 2p "
                 f"- k) / s) + 1 = floor(({H} + {2 * p} - {k}) / {s}) + 1 = {want.shape[2]}\n  input: {words}")
        compare_conv(got, x, w, None, s, p, words)


@check("conv2d: gradients for x, weight and bias agree with autograd through F.conv2d", points=3, core=True)
def test_conv_gradients(student, device):
    g = gen()
    f64 = dict(device=device, dtype=torch.float64)
    for xs, ws, stride, padding in (((2, 3, 6, 7), (4, 3, 3, 3), 1, 1), ((2, 2, 9, 8), (3, 2, 3, 2), (2, 3), (1, 0))):
        x, w, b = randn(g, *xs, **f64), randn(g, *ws, **f64), randn(g, ws[0], **f64)
        want = F.conv2d(x, w, b, stride, padding)
        grad_out = randn(g, *want.shape, **f64)
        got = student.run(probe_conv, x, w, b, stride=stride, padding=padding, grad_out=grad_out)
        words = "float64 " + _case_words(xs, ws, True, stride, padding) + ", a random upstream gradient"
        compare_conv(got, x, w, b, stride, padding, words)
        if got.get("dx") is None:
            fail(f"x.grad is None after conv2d(x, weight, bias).backward(g): the output was cut off from the inputs "
                 f"(use differentiable torch operations only)\n  input: {words}")
        ts = [t.clone().requires_grad_(True) for t in (x, w, b)]
        (F.conv2d(*ts, stride=stride, padding=padding) * grad_out).sum().backward()
        for key, t in zip(("dx", "dweight", "dbias"), ts):
            expect_close(got[key], t.grad, name=f"gradient {key}", inputs=words)


@check("conv2d: float32 inputs give a float32 output that agrees with F.conv2d", points=1)
def test_conv_float32(student, device):
    g = gen()
    x, w, b = randn(g, 4, 3, 8, 8, device=device), randn(g, 8, 3, 3, 3, device=device), randn(g, 8, device=device)
    got = student.run(probe_conv, x, w, b, stride=1, padding=1)
    compare_conv(got, x, w, b, 1, 1, "float32 x (4, 3, 8, 8), weight (8, 3, 3, 3), bias (8,), padding=1")


@check("conv2d: a shifted input gives a shifted output away from the border (translation equivariance)", points=2)
def test_conv_equivariance(student, device):
    g = gen()
    x = randn(g, 1, 2, 12, 12, device=device, dtype=torch.float64)
    w, b = randn(g, 3, 2, 3, 3, device=device, dtype=torch.float64), randn(g, 3, device=device, dtype=torch.float64)
    dy, dx = 2, 3
    shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    out = student.run(probe_conv, x, w, b, stride=1, padding=1)["out"]
    out_shifted = student.run(probe_conv, shifted, w, b, stride=1, padding=1)["out"]
    if not (isinstance(out, torch.Tensor) and isinstance(out_shifted, torch.Tensor)) or out.shape != (1, 3, 12, 12):
        fail(f"conv2d(x (1, 2, 12, 12), weight (3, 2, 3, 3), padding=1) returned {describe(out)}, expected a tensor "
             "of shape (1, 3, 12, 12)")
    # Away from the border (and from the wrapped-around rows/columns of the roll), out(shift(x)) = shift(out(x)).
    inner = (slice(None), slice(None), slice(dy + 1, 11), slice(dx + 1, 11))
    expect_close(out_shifted[inner], torch.roll(out, shifts=(dy, dx), dims=(2, 3))[inner],
                 name=f"conv2d(x shifted by ({dy}, {dx}) pixels) away from the border",
                 inputs="float64 x (1, 2, 12, 12) and the same image shifted down 2 and right 3 pixels; weight "
                        "(3, 2, 3, 3), padding=1. The same filter at every position makes the output shift with "
                        "the input")


# ------------------------------------------------------------------------------------------------- max_pool2d

POOL_CASES = [  # (x shape, kernel_size, stride, pass stride)
    ((2, 3, 8, 8), 2, None, False),
    ((1, 2, 9, 7), 3, None, False),
    ((2, 2, 8, 10), (2, 3), None, True),
    ((1, 3, 9, 9), 3, 2, True),
    ((2, 1, 7, 8), (3, 2), (2, 1), True),
]


def pool_mistakes(x, k, s):
    s = k if s is None else s
    return {"average instead of maximum": F.avg_pool2d(x, k, s),
            "stride 1 instead of the kernel size (stride defaults to kernel_size)": F.max_pool2d(x, k, 1)}


@check("max_pool2d: agrees with F.max_pool2d for several kernels and strides (stride defaults to kernel_size)",
       points=3, core=True)
def test_pool_values(student, device):
    g = gen()
    for xs, k, s, pass_stride in POOL_CASES:
        x = randn(g, *xs, device=device, dtype=torch.float64)
        got = student.run(probe_pool, x, k, s, pass_stride=pass_stride)
        call = f"max_pool2d(x, {k}" + (f", {s})" if pass_stride else ")")
        want = F.max_pool2d(x, k, s)
        out = got["out"]
        if isinstance(out, torch.Tensor) and out.shape != want.shape and s is None and \
                out.shape == F.max_pool2d(x, k, 1).shape:
            fail(f"{call} has shape {tuple(out.shape)}, expected {tuple(want.shape)}: this matches a known mistake, "
                 f"stride 1 instead of the kernel size (stride defaults to kernel_size)\n  input: float64 x {xs}")
        expect_close(out, want, name=f"{call} output", inputs=f"float64 x {xs}", mistakes=pool_mistakes(x, k, s))


@check("max_pool2d: the gradient goes to the maximum of each window, and to one element only on ties", points=3,
       core=True)
def test_pool_gradients(student, device):
    g = gen()
    for xs, k, s, words in (((2, 3, 8, 8), 2, None, "random values (no ties)"),
                            ((2, 2, 6, 6), 2, None, "integers 0..2, so many windows have tied maxima"),
                            ((1, 2, 7, 7), 3, 2, "integers 0..2 and overlapping windows (stride 2 < kernel 3)")):
        x = randn(g, *xs, device=device, dtype=torch.float64)
        if "integers" in words:
            x = torch.randint(0, 3, xs, generator=g).to(device=device, dtype=torch.float64)
        want = F.max_pool2d(x, k, s)
        grad_out = randn(g, *want.shape, device=device, dtype=torch.float64)
        got = student.run(probe_pool, x, k, s, grad_out=grad_out)
        inputs = f"float64 x {xs} of {words}, kernel_size={k}, stride={s}, a random upstream gradient"
        expect_close(got["out"], want, name="max_pool2d output", inputs=inputs)
        if got.get("dx") is None:
            fail(f"x.grad is None after max_pool2d(x).backward(g): the output was cut off from x\n  input: {inputs}")
        xt = x.clone().requires_grad_(True)
        (F.max_pool2d(xt, k, s) * grad_out).sum().backward()
        mistakes = {}
        if s is None:  # spread evenly over the window, or split among the tied maxima
            def spread(t):  # each window's value copied onto its k x k inputs (zeros where no window reaches)
                up = t.repeat_interleave(k, 2).repeat_interleave(k, 3)
                return F.pad(up, (0, x.shape[3] - up.shape[3], 0, x.shape[2] - up.shape[2]))

            mistakes["the gradient is spread over the whole window instead of going to its maximum"] = \
                spread(grad_out / (k * k))
            tied = (x == spread(want)).double() * spread(torch.ones_like(want))  # the maxima of each window
            count = F.avg_pool2d(tied, k) * (k * k)  # how many inputs tie for each window's maximum
            mistakes["the gradient of tied maxima is split among them (as amax does); it must go to one of them "
                      "only, the first in row-major order"] = tied * spread(grad_out / count)
        expect_close(got["dx"], xt.grad, name="gradient of max_pool2d for x", inputs=inputs, mistakes=mistakes)


# ------------------------------------------------------------------------------------------------- Conv2d


@check("Conv2d: loaded with nn.Conv2d's state_dict, gives nn.Conv2d's output and gradients", points=3, core=True)
def test_layer_vs_torch(student, device):
    torch.manual_seed(1989)
    g = gen()
    for args, kwargs, xs in (((3, 5, 3), dict(padding=1), (2, 3, 7, 7)),
                             ((2, 4, (3, 2)), dict(stride=2, padding=(1, 0), bias=False), (2, 2, 9, 8)),
                             ((1, 3, 5), dict(stride=(1, 2)), (1, 1, 9, 11))):
        ref = torch.nn.Conv2d(*args, **kwargs).to(device=device, dtype=torch.float64)
        state = {k: v.detach().clone() for k, v in ref.state_dict().items()}
        x = randn(g, *xs, device=device, dtype=torch.float64)
        want = ref(x)
        grad_out = randn(g, *want.shape, device=device, dtype=torch.float64)
        xr = x.clone().requires_grad_(True)
        (ref(xr) * grad_out).sum().backward()
        words = f"Conv2d{args + tuple(f'{k}={v}' for k, v in kwargs.items())} in float64, x {xs}"
        got = student.run(probe_conv_layer, args, kwargs, state, x, grad_out)
        expect_close(got["out"], want.detach(), name="Conv2d output", inputs=words)
        expect_close(got["dx"], xr.grad, name="gradient for x", inputs=words)
        expect_close(got["dparams"], {n: p.grad for n, p in ref.named_parameters()},
                     name="gradients of the parameters", inputs=words)


@check("Conv2d: weight (out, in, kH, kW) and bias (out,) or None; its state_dict loads into nn.Conv2d and back",
       points=2)
def test_layer_state_dict(student, device):
    for args, kwargs in (((3, 8, 3), {}), ((4, 6, (2, 5)), dict(stride=2, padding=1, bias=False))):
        got = student.run(probe_conv_layer, args, kwargs)
        words = f"Conv2d{args + tuple(f'{k}={v}' for k, v in kwargs.items())}"
        expect_true("Module" in got["classes"], f"{words} must be a torch.nn.Module")
        ref = torch.nn.Conv2d(*args, **kwargs)
        want = {n: list(p.shape) for n, p in ref.named_parameters()}
        expect_true(got["shapes"] == want, f"{words} has parameters {got['shapes']}, expected exactly {want} "
                                           "(the names and shapes of nn.Conv2d's)")
        if not kwargs.get("bias", True):
            expect_true(got["bias_attr"] == "None", f"{words}.bias is {got['bias_attr']}, expected None (register "
                                                    "it with self.register_parameter('bias', None), as nn.Conv2d "
                                                    "does)")
        try:
            ref.load_state_dict(got["state"])  # its state_dict loads into nn.Conv2d...
        except (RuntimeError, KeyError) as exc:
            fail(f"the state_dict of your {words} does not load into nn.Conv2d: {str(exc).splitlines()[0]}")
        back = student.run(probe_conv_layer, args, kwargs, {k: v.clone() for k, v in ref.state_dict().items()},
                           torch.zeros(1, args[0], 6, 6, device=device))  # ...and nn.Conv2d's into yours
        expect_true(set(back["state"]) == set(ref.state_dict()),
                    f"the state_dict keys of your {words} are {sorted(back['state'])}, expected "
                    f"{sorted(ref.state_dict())}")


@check("Conv2d: initialised like nn.Conv2d, uniform in +-1/sqrt(fan_in) for the weight and the bias", points=2)
def test_layer_init(student):
    args, kwargs = (32, 64, 3), {}
    got = student.run(probe_conv_init, args, kwargs, 1989)
    fan_in = 32 * 3 * 3
    bound = fan_in ** -0.5
    for name, n in (("weight", 64 * 32 * 9), ("bias", 64)):
        value = got.get(name)
        if not isinstance(value, torch.Tensor):
            fail(f"Conv2d(32, 64, 3).{name} is {describe(value)}, expected a parameter")
        value = value.double()
        top = value.abs().max().item()
        expect_true(top <= bound * (1 + 1e-6), f"Conv2d(32, 64, 3).{name} has a value of size {top:.4f}, outside "
                                               f"+-1/sqrt(fan_in) = +-{bound:.4f} (fan_in = 32 * 3 * 3 = {fan_in})")
        # Uniform on [-a, a]: variance a^2 / 3; the sample variance of n values is within 5 standard errors.
        var, want = value.var().item(), bound ** 2 / 3
        se = want * (0.8 / n) ** 0.5  # Var of the sample variance of U(-a, a): (4/5) a^4 / 9 / n = (0.8 / n) want^2
        expect_true(abs(var - want) <= 5 * se + 1e-12,
                    f"Conv2d(32, 64, 3).{name} has variance {var:.3g}, expected about {want:.3g} = (1/sqrt(fan_in))^2"
                    f" / 3 for values uniform in +-1/sqrt(fan_in) (as nn.Conv2d draws them)")
        expect_true(abs(value.mean().item()) <= 5 * (want / n) ** 0.5,
                    f"Conv2d(32, 64, 3).{name} has mean {value.mean().item():.3g}, expected about 0")


# ------------------------------------------------------------------------------------------------- SmallCNN


@check("SmallCNN: with given weights, its logits agree with the same network built from F.conv2d and F.max_pool2d",
       points=3, core=True)
def test_cnn_logits(student, device):
    g = gen()
    state = C.random_cnn_state(g, 10, device, torch.float64)
    x = torch.rand(5, 1, 8, 8, generator=g, dtype=torch.float64).to(device)
    grad_out = randn(g, 5, 10, device=device, dtype=torch.float64)
    got = student.run(probe_cnn, 10, state, x, grad_out)
    words = "SmallCNN(10) in float64 with random weights, x: 5 random 8x8 images in [0, 1]"
    expect_close(got["logits"], C.trusted_cnn(state, x), name="SmallCNN logits", inputs=words,
                 mistakes=C.cnn_mistakes(state, x))
    params = {k: v.clone().requires_grad_(True) for k, v in state.items()}
    xr = x.clone().requires_grad_(True)
    (C.trusted_cnn(params, xr) * grad_out).sum().backward()
    expect_close(got["dx"], xr.grad, name="gradient of the logits for the images", inputs=words)
    expect_close(got["dparams"], {k: v.grad for k, v in params.items()}, name="gradients of the parameters",
                 inputs=words)


@check("SmallCNN: parameters conv1, conv2 and fc with the contract's shapes, for any num_classes", points=1)
def test_cnn_layout(student):
    for num_classes in (10, 3):
        got = student.run(probe_cnn, num_classes, None, None)
        want = {k: list(v) for k, v in C.cnn_shapes(num_classes).items()}
        expect_true("Module" in got["classes"], "SmallCNN must be a torch.nn.Module")
        expect_true(got["shapes"] == want, f"SmallCNN({num_classes}) has parameters {got['shapes']}, expected "
                                           f"exactly {want}")


_E2E = {}


@check("SmallCNN: trained on the digits with torchvision's random shifts, reaches >= 97% test accuracy", points=4,
       timeout=240, needs=("conv2d", "max_pool2d", "Conv2d"))
def test_cnn_trains(student, seed, device):
    from dlcourse.datasets import digits_tensors

    x_tr, y_tr = digits_tensors(train=True)
    x_te, y_te = digits_tensors(train=False)
    init_seed = seed % 100_000
    epochs = C.shifted_epochs(x_tr, C.EPOCHS, init_seed).to(device)
    state = C.random_cnn_state(torch.Generator().manual_seed(init_seed), 10, device, torch.float32)
    trained = student.run(probe_train_cnn, state, epochs, y_tr.to(device), C.BATCH, C.LR, init_seed, _timeout=120)
    clean, problem = C.load_state_for_check(trained, 10, device)
    if problem:
        fail(problem)
    # Measured here, with F.conv2d and F.max_pool2d: only the trained weights come from the sandbox.
    acc = C.accuracy(clean, x_te.to(device), y_te.to(device))
    expect_true(acc >= 0.97,
                f"after {C.EPOCHS} epochs of Adam (batches of {C.BATCH}, learning rate {C.LR} decaying to 0) on the "
                f"1438 training digits, each group of {C.SHIFT_GROUP} images shifted by up to one pixel with "
                f"probability 1/2 (torchvision's RandomCrop(8, padding=1)), your SmallCNN reaches {acc:.1%} test "
                f"accuracy on the 359 test digits, measured with F.conv2d and F.max_pool2d on the trained weights; "
                f"at least 97% is expected. Check that training through your conv2d and max_pool2d computes what "
                f"F.conv2d and F.max_pool2d compute, gradients included.")
