"""Hidden checks for cnn: run only at grading. Random shapes, strides, paddings and weights drawn from the grading
seed; the submission is compared with the reference solution running the same probe here, in the trusted process,
and with PyTorch's own layers. Not shipped to students."""

import torch
import torch.nn.functional as F

from autograder.checking import check, load_sibling
from autograder.compare import expect_close

C = load_sibling(__file__, "_common")
probe_conv, probe_pool, probe_conv_layer, probe_cnn = C.probe_conv, C.probe_pool, C.probe_conv_layer, C.probe_cnn


def randn(g, *shape, device="cpu", dtype=torch.float64):
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def same(student, reference, probe, *args, name, inputs, mistakes=None, **kwargs):
    got = student.run(probe, *args, **kwargs)
    want = probe(reference, *args, **kwargs)
    if isinstance(got, dict) and isinstance(want, dict):  # the values only, not the class names
        got = {k: v for k, v in got.items() if k not in ("classes", "shapes")}
        want = {k: v for k, v in want.items() if k not in ("classes", "shapes")}
    expect_close(got, want, name=name, inputs=inputs, mistakes=mistakes)
    return got


def _random_conv_case(g):
    ri = lambda lo, hi: int(torch.randint(lo, hi + 1, (1,), generator=g))  # noqa: E731
    kH, kW = ri(1, 4), ri(1, 4)
    sH, sW = ri(1, 3), ri(1, 3)
    pH, pW = ri(0, 2), ri(0, 2)
    H, W = ri(max(kH, 3), 11), ri(max(kW, 3), 11)
    N, Cin, Cout = ri(1, 3), ri(1, 4), ri(1, 5)
    return (N, Cin, H, W), (Cout, Cin, kH, kW), (sH, sW), (pH, pW)


@check("conv2d: values and gradients match the reference on random shapes, strides and paddings", points=3,
       core=True)
def test_conv_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for i in range(6):
        xs, ws, stride, padding = _random_conv_case(g)
        dtype = (torch.float64, torch.float32)[i % 2]
        x, w = randn(g, *xs, device=device, dtype=dtype), randn(g, *ws, device=device, dtype=dtype)
        b = randn(g, ws[0], device=device, dtype=dtype) if i % 3 else None
        want = F.conv2d(x, w, b, stride, padding)
        grad_out = randn(g, *want.shape, device=device, dtype=dtype)
        words = f"{str(dtype)[6:]} x {xs}, weight {ws}, bias {'None' if b is None else (ws[0],)}, stride={stride}, " \
                f"padding={padding}"
        mistakes = {d: {"out": v} for d, v in C.conv_mistakes(x, w, b, stride, padding).items()}
        same(student, reference, probe_conv, x, w, b, stride=stride, padding=padding, grad_out=grad_out,
             name="conv2d", inputs=words, mistakes=mistakes)


@check("max_pool2d: values and gradients match the reference on random kernels, strides and ties", points=2,
       core=True)
def test_pool_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for i in range(5):
        ri = lambda lo, hi: int(torch.randint(lo, hi + 1, (1,), generator=g))  # noqa: E731
        k = (ri(1, 3), ri(1, 3))
        s = None if i % 2 == 0 else (ri(1, 3), ri(1, 3))
        xs = (ri(1, 3), ri(1, 3), ri(k[0], 9), ri(k[1], 9))
        x = torch.randint(0, 4, xs, generator=g).to(device=device, dtype=torch.float64) if i % 2 else \
            randn(g, *xs, device=device)
        want = F.max_pool2d(x, k, s)
        grad_out = randn(g, *want.shape, device=device)
        same(student, reference, probe_pool, x, k, s, grad_out=grad_out, name="max_pool2d",
             inputs=f"float64 x {xs} ({'integers 0..3, with ties' if i % 2 else 'random'}), kernel_size={k}, "
                    f"stride={s}")


@check("Conv2d: forward and gradients match the reference with random arguments and weights", points=2, core=True)
def test_layer_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for i in range(3):
        xs, ws, stride, padding = _random_conv_case(g)
        bias = i != 1
        args, kwargs = (ws[1], ws[0], (ws[2], ws[3])), dict(stride=stride, padding=padding, bias=bias)
        torch.manual_seed(seed + i)
        ref = torch.nn.Conv2d(*args, **kwargs).to(device=device, dtype=torch.float64)
        state = {k: v.detach().clone() for k, v in ref.state_dict().items()}
        x = randn(g, *xs, device=device)
        grad_out = randn(g, *ref(x).shape, device=device)
        got = student.run(probe_conv_layer, args, kwargs, state, x, grad_out)
        want = probe_conv_layer(reference, args, kwargs, state, x, grad_out)
        words = f"Conv2d{args} with stride={stride}, padding={padding}, bias={bias}, float64 x {xs}"
        for key in ("out", "dx", "dparams"):
            expect_close(got.get(key), want[key], name=f"Conv2d {key}", inputs=words)


@check("SmallCNN: logits and gradients match the reference with random weights and num_classes", points=2,
       core=True)
def test_cnn_random(student, reference, seed, device):
    g = torch.Generator().manual_seed(seed)
    for num_classes in (10, int(torch.randint(2, 20, (1,), generator=g))):
        state = C.random_cnn_state(g, num_classes, device, torch.float64)
        x = torch.rand(4, 1, 8, 8, generator=g, dtype=torch.float64).to(device)
        grad_out = randn(g, 4, num_classes, device=device)
        words = f"SmallCNN({num_classes}) in float64 with random weights, 4 random 8x8 images"
        mistakes = {d: {"logits": v} for d, v in C.cnn_mistakes(state, x).items()}
        same(student, reference, probe_cnn, num_classes, state, x, grad_out, name="SmallCNN", inputs=words,
             mistakes=mistakes)
