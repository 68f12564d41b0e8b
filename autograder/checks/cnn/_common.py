"""Shared by the public and hidden checks of `cnn`: the probes (run in the sandbox with the submission, or here with
the reference), the trusted network built from PyTorch's own layers, and the digits with torchvision's random
shifts. Nothing here implements a convolution or a pooling: the oracles are F.conv2d and F.max_pool2d, run in the
trusted process.

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its
body and calls nothing else from this file.
"""

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- probes


def probe_conv(m, x, weight, bias=None, stride=1, padding=0, grad_out=None):
    """conv2d(x, weight, bias, stride=, padding=); with `grad_out`, also the gradients of sum(out * grad_out)
    with respect to x, weight and bias."""
    import torch

    if grad_out is not None:
        x, weight = x.detach().clone().requires_grad_(True), weight.detach().clone().requires_grad_(True)
        bias = None if bias is None else bias.detach().clone().requires_grad_(True)
    out = m.conv2d(x, weight, bias, stride=stride, padding=padding)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"conv2d must return a tensor, got {type(out).__name__}")
    answer = {"out": out.detach()}
    if grad_out is not None:
        if not out.requires_grad:
            return dict(answer, dx=None, dweight=None, dbias=None)
        (out * grad_out).sum().backward()
        answer.update(dx=x.grad, dweight=weight.grad, dbias=None if bias is None else bias.grad)
    return answer


def probe_pool(m, x, kernel_size, stride=None, grad_out=None, pass_stride=True):
    """max_pool2d(x, kernel_size[, stride]); with `grad_out`, also the gradient of sum(out * grad_out) for x."""
    import torch

    if grad_out is not None:
        x = x.detach().clone().requires_grad_(True)
    out = m.max_pool2d(x, kernel_size, stride) if pass_stride else m.max_pool2d(x, kernel_size)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"max_pool2d must return a tensor, got {type(out).__name__}")
    answer = {"out": out.detach()}
    if grad_out is not None:
        if not out.requires_grad:
            return dict(answer, dx=None)
        (out * grad_out).sum().backward()
        answer["dx"] = x.grad
    return answer


def probe_conv_layer(m, args, kwargs, state=None, x=None, grad_out=None):
    """Conv2d(*args, **kwargs): its parameters' names and shapes, its state_dict, and, with `state` and `x`, its
    output (and the gradients of sum(out * grad_out) for x and every parameter) after loading `state`."""
    import torch

    layer = m.Conv2d(*args, **kwargs)
    answer = {"classes": [c.__name__ for c in type(layer).__mro__],
              "shapes": {n: list(p.shape) for n, p in layer.named_parameters()},
              "state": {k: v.detach().clone() for k, v in layer.state_dict().items()},
              "bias_attr": "missing" if not hasattr(layer, "bias") else
              ("None" if layer.bias is None else type(layer.bias).__name__)}
    if state is not None:
        layer = layer.to(device=x.device, dtype=x.dtype)
        layer.load_state_dict(state)
        if grad_out is not None:
            x = x.detach().clone().requires_grad_(True)
        out = layer(x)
        answer["out"] = out.detach()
        if grad_out is not None:
            (out * grad_out).sum().backward()
            answer["dx"] = x.grad
            answer["dparams"] = {n: p.grad for n, p in layer.named_parameters()}
    return answer


def probe_conv_init(m, args, kwargs, seed):
    """The parameters of a freshly made Conv2d(*args, **kwargs), under torch.manual_seed(seed)."""
    import torch

    torch.manual_seed(seed)
    layer = m.Conv2d(*args, **kwargs)
    return {n: p.detach().clone() for n, p in layer.named_parameters()}


def probe_cnn(m, num_classes, state, x, grad_out=None, train=False):
    """SmallCNN(num_classes) loaded with `state`, applied to x; its parameters' shapes; with `grad_out`, the
    gradients of sum(logits * grad_out) for x and every parameter."""
    import torch

    model = m.SmallCNN(num_classes)
    answer = {"shapes": {n: list(p.shape) for n, p in model.named_parameters()},
              "classes": [c.__name__ for c in type(model).__mro__]}
    if state is None:
        return answer
    model = model.to(device=x.device, dtype=x.dtype)
    model.load_state_dict(state)
    model.train(train)
    if grad_out is not None:
        x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"SmallCNN.forward must return a tensor of logits, got {type(logits).__name__}")
    answer["logits"] = logits.detach()
    if grad_out is not None:
        (logits * grad_out).sum().backward()
        answer["dx"] = x.grad
        answer["dparams"] = {n: p.grad for n, p in model.named_parameters()}
    return answer


def probe_train_cnn(m, state, epochs_of_images, labels, batch_size, lr, seed):
    """The trusted training loop, run with the submission's SmallCNN (so its Conv2d, conv2d and max_pool2d):
    start from the grader's parameters `state`, one pass per tensor of `epochs_of_images` (E, N, 1, 8, 8, each
    already shifted by the grader), shuffled mini-batches, Adam with a learning rate decaying linearly to 0.
    Returns the trained parameters (never a metric: the grader measures the accuracy itself)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    device = epochs_of_images.device
    model = m.SmallCNN(10).to(device)
    model.load_state_dict(state)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = labels.shape[0]
    per_epoch = (n + batch_size - 1) // batch_size
    total, step = epochs_of_images.shape[0] * per_epoch, 0
    for images in epochs_of_images:
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            for group in opt.param_groups:
                group["lr"] = lr * (1.0 - step / total)
            step += 1
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {k: v.detach() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------- trusted side

CNN_SHAPES = {"conv1.weight": (16, 1, 3, 3), "conv1.bias": (16,), "conv2.weight": (32, 16, 3, 3),
              "conv2.bias": (32,), "fc.weight": (10, 128), "fc.bias": (10,)}


def cnn_shapes(num_classes=10):
    shapes = dict(CNN_SHAPES)
    shapes["fc.weight"], shapes["fc.bias"] = (num_classes, 128), (num_classes,)
    return shapes


def random_cnn_state(gen, num_classes=10, device="cpu", dtype=torch.float32):
    """A SmallCNN state_dict drawn as PyTorch initialises it (uniform in +-1/sqrt(fan_in), biases included)."""
    state = {}
    for name, shape in cnn_shapes(num_classes).items():
        fan_in = shape[1] * (shape[2] * shape[3] if len(shape) == 4 else 1) if len(shape) > 1 else None
        if fan_in is None:  # a bias: the fan-in of its weight
            w = cnn_shapes(num_classes)[name.replace("bias", "weight")]
            fan_in = w[1] * (w[2] * w[3] if len(w) == 4 else 1)
        bound = fan_in ** -0.5
        state[name] = ((torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound).to(device, dtype)
    return state


def trusted_cnn(state, x, pool=None):
    """SmallCNN's forward pass from PyTorch's own layers (F.conv2d, F.max_pool2d): the oracle. `pool` replaces
    the pooling (to name a known wrong variant)."""
    pool = pool or (lambda t: F.max_pool2d(t, 2))
    h = pool(torch.relu(F.conv2d(x, state["conv1.weight"], state["conv1.bias"], padding=1)))
    h = pool(torch.relu(F.conv2d(h, state["conv2.weight"], state["conv2.bias"], padding=1)))
    return F.linear(h.flatten(1), state["fc.weight"], state["fc.bias"])


def cnn_mistakes(state, x):
    """SmallCNN's known wrong variants, as logits."""
    w = {k: v for k, v in state.items()}
    flat_hw = lambda h: h.permute(0, 2, 3, 1).flatten(1)  # noqa: E731  (row, column, channel) order
    h = F.max_pool2d(torch.relu(F.conv2d(x, w["conv1.weight"], w["conv1.bias"], padding=1)), 2)
    h = F.max_pool2d(torch.relu(F.conv2d(h, w["conv2.weight"], w["conv2.bias"], padding=1)), 2)
    no_relu = F.max_pool2d(F.conv2d(F.max_pool2d(F.conv2d(x, w["conv1.weight"], w["conv1.bias"], padding=1), 2),
                                    w["conv2.weight"], w["conv2.bias"], padding=1), 2)
    return {
        "the features flattened in (row, column, channel) order instead of x.flatten(1)'s (channel, row, column)":
            F.linear(flat_hw(h), w["fc.weight"], w["fc.bias"]),
        "no ReLU after the convolutions": F.linear(no_relu.flatten(1), w["fc.weight"], w["fc.bias"]),
        "average pooling instead of max pooling": trusted_cnn(state, x, pool=lambda t: F.avg_pool2d(t, 2)),
    }


def load_state_for_check(state, num_classes=10, device="cpu"):
    """`state` (what came back from the sandbox) checked to be SmallCNN's parameters, as float32 on `device`;
    returns (state, problem)."""
    shapes = cnn_shapes(num_classes)
    if not isinstance(state, dict) or set(state) != set(shapes):
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        return None, f"the trained model's parameters are {got}, expected {sorted(shapes)}"
    clean = {}
    for k, shape in shapes.items():
        v = state[k]
        if not isinstance(v, torch.Tensor) or tuple(v.shape) != shape:
            return None, f"the trained parameter {k} is not a tensor of shape {shape}"
        if not bool(torch.isfinite(v).all()):
            return None, f"the trained parameter {k} contains NaN or Inf: training diverged"
        clean[k] = v.detach().to(device=device, dtype=torch.float32)
    return clean, None


def accuracy(state, images, labels):
    with torch.no_grad():
        return (trusted_cnn(state, images).argmax(1) == labels).double().mean().item()


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_mistakes(x, w, b, stride, padding):
    """Known wrong variants of conv2d, computed with F.conv2d (same shapes as the right answer)."""
    ph, pw = pair(padding)
    out = {"the kernel is flipped (that is a true convolution; conv2d, like F.conv2d, is a cross-correlation)":
           F.conv2d(x, w.flip(2, 3), b, stride, padding)}
    if ph or pw:
        both = f"pad {ph} rows and {pw} columns on each side"
        out[f"the padding is applied on one side only, all of it above and left of the image ({both})"] = F.conv2d(
            F.pad(x, (2 * pw, 0, 2 * ph, 0)), w, b, stride)
        out[f"the padding is applied on one side only, all of it below and right of the image ({both})"] = F.conv2d(
            F.pad(x, (0, 2 * pw, 0, 2 * ph)), w, b, stride)
    if b is not None:
        plain = F.conv2d(x, w, None, stride, padding)
        if plain.shape[-1] == b.shape[0]:
            out["the bias is added per position (along the width) instead of per output channel"] = (
                plain + b.view(1, 1, 1, -1))
        out["the bias is missing"] = plain
    if x.shape[1] > 1:
        # columns gathered kernel-offset first, then channel, while the weights are flattened channel first
        C_in, kH, kW = w.shape[1:]
        mixed = w.reshape(w.shape[0], C_in * kH * kW).reshape(w.shape[0], kH * kW, C_in).transpose(1, 2)
        out["channels and kernel positions mixed up in the im2col reshape"] = F.conv2d(
            x, mixed.reshape(w.shape), b, stride, padding)
    return out


# ----------------------------------------------------------------------------------------------- data

EPOCHS, BATCH, LR = 16, 128, 0.01
SHIFT_GROUP = 16  # torchvision's transform draws one shift per call: one call per group of 16 images


def shifted_epochs(images, epochs, seed, p=0.5):
    """`epochs` copies of the training images, each group of SHIFT_GROUP images shifted by up to one pixel with
    probability p: torchvision's RandomCrop(8, padding=1) (the random-crop augmentation of Krizhevsky et al.,
    2012, Section 4.1, scaled down to 8x8 images)."""
    from torchvision.transforms import v2

    shift = v2.RandomApply([v2.RandomCrop(images.shape[-1], padding=1)], p=p)
    with torch.random.fork_rng(devices=[]):  # torchvision's transforms draw from the global generator
        torch.manual_seed(seed)
        return torch.stack([torch.cat([shift(images[i:i + SHIFT_GROUP])
                                       for i in range(0, len(images), SHIFT_GROUP)]) for _ in range(epochs)])
