"""Shared by the public and hidden checks of the optimizers assignment: the probes (they run in the sandbox with the
student's module, and here with torch.optim or the reference as the oracle) and the problems they run on.

A probe never judges: it builds the optimizer, feeds it the gradients it is given, and returns the parameters it
produced. Every verdict is made in the check, in the trusted process, by running the very same probe with
`torch.optim` (public checks) or the reference (hidden checks) in the student's place.
"""

import types

import numpy as np
import torch

from autograder.checking import fail

TIMEOUT = 30  # s of sandbox CPU per call


def torch_optim():
    """torch.optim's SGD, Adam and AdamW under the names the student's module uses: the oracle."""
    return types.SimpleNamespace(SGD=torch.optim.SGD, Adam=torch.optim.Adam, AdamW=torch.optim.AdamW)


# ----------------------------------------------------------------------------------------------- probes

def probe_trajectory(m, cls, params, grads, kwargs, groups=None, present=None, resume_at=None, closure_value=None):
    """Run `m.<cls>` for len(grads[0]) steps on copies of `params`, feeding the given gradients.

    grads[i][t] is the gradient of parameter i at step t; present[i][t] == 0 means parameter i has no gradient
    (p.grad is None) at step t. groups: None (one group, `kwargs` are the hyper-parameters) or a list of
    (parameter indices, overrides) that become parameter-group dicts, `kwargs` being the defaults. resume_at: after
    that many steps, save state_dict(), build a fresh optimizer on copies of the parameters, load the state dict
    into it and continue with the fresh one. Returns the parameters after every step ({"params": [(T, *shape)]}),
    and what step(closure) returned when closure_value is given.
    """
    import torch

    # torch.optim.Optimizer's methods import torch._dynamo on their first call (seconds of CPU) only to mark
    # themselves as not compilable; nothing is compiled here, so skip that import (no effect on any value).
    for _name in ("add_param_group", "state_dict", "load_state_dict", "zero_grad"):
        _inner = getattr(getattr(torch.optim.Optimizer, _name, None), "__wrapped__", None)
        if _inner is not None and not hasattr(_inner, "__dynamo_disable"):
            try:
                setattr(_inner, "__dynamo_disable", _inner)
            except (AttributeError, TypeError):
                pass

    ps = [p.detach().clone().requires_grad_(True) for p in params]

    def build(tensors):
        if groups is None:
            return getattr(m, cls)(tensors, **kwargs)
        return getattr(m, cls)([dict({"params": [tensors[i] for i in idx]}, **over) for idx, over in groups],
                               **kwargs)

    opt = build(ps)
    steps = grads[0].shape[0]
    history = [[] for _ in ps]
    out = {}
    for t in range(steps):
        if resume_at is not None and t == resume_at:
            saved = opt.state_dict()
            ps = [p.detach().clone().requires_grad_(True) for p in ps]
            opt = build(ps)
            opt.load_state_dict(saved)
        for i, p in enumerate(ps):
            p.grad = None if (present is not None and not present[i][t]) else grads[i][t].clone()
        if closure_value is not None and t == 0:
            ret = opt.step(lambda: torch.tensor(closure_value))
            out["closure_returned"] = ret if isinstance(ret, torch.Tensor) or ret is None else repr(ret)
        else:
            opt.step()
        for i, p in enumerate(ps):
            history[i].append(p.detach().clone())
    out["params"] = [torch.stack(h) for h in history]
    return out


def probe_invalid(m, cls, cases):
    """Construct m.<cls> with each set of keyword arguments; return the exception type name each raised ('' if none)."""
    import torch

    # torch.optim.Optimizer's methods import torch._dynamo on their first call (seconds of CPU) only to mark
    # themselves as not compilable; nothing is compiled here, so skip that import (no effect on any value).
    for _name in ("add_param_group", "state_dict", "load_state_dict", "zero_grad"):
        _inner = getattr(getattr(torch.optim.Optimizer, _name, None), "__wrapped__", None)
        if _inner is not None and not hasattr(_inner, "__dynamo_disable"):
            try:
                setattr(_inner, "__dynamo_disable", _inner)
            except (AttributeError, TypeError):
                pass

    names = []
    for kwargs in cases:
        w = torch.zeros(3, requires_grad=True)
        try:
            getattr(m, cls)([w], **kwargs)
            names.append("")
        except Exception as exc:  # noqa: BLE001 - the type is the data
            names.append(type(exc).__name__)
    return names


def probe_train(m, cls, kwargs, state, x, y, batches, depth, width):
    """Train a plain tanh MLP (64 -> width x depth -> 10, no normalisation, no skip connection) with m.<cls> on
    the given mini-batches, from the given starting parameters; return the trained parameters (never a metric)."""
    import torch

    # torch.optim.Optimizer's methods import torch._dynamo on their first call (seconds of CPU) only to mark
    # themselves as not compilable; nothing is compiled here, so skip that import (no effect on any value).
    for _name in ("add_param_group", "state_dict", "load_state_dict", "zero_grad"):
        _inner = getattr(getattr(torch.optim.Optimizer, _name, None), "__wrapped__", None)
        if _inner is not None and not hasattr(_inner, "__dynamo_disable"):
            try:
                setattr(_inner, "__dynamo_disable", _inner)
            except (AttributeError, TypeError):
                pass
    from torch import nn

    layers, d = [], x.shape[1]
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.Tanh()]
        d = width
    layers.append(nn.Linear(d, 10))
    model = nn.Sequential(*layers).to(x.device)
    model.load_state_dict(state)
    opt = getattr(m, cls)(model.parameters(), **kwargs)
    for idx in batches:
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------- problems

def random_problem(rng, device, dtype, steps, shapes=((5, 3), (4,), (2, 3, 2)), scales=(1.0, 1e-2, 30.0)):
    """Starting parameters and a sequence of gradients of very different scales per parameter (Adam's point)."""
    params = [torch.tensor(rng.standard_normal(s), dtype=dtype, device=device) for s in shapes]
    grads = [torch.tensor(rng.standard_normal((steps, *s)) * sc, dtype=dtype, device=device)
             for s, sc in zip(shapes, scales)]
    return params, grads


def trajectories(result, n_params, name):
    """The (T, *shape) parameter histories from a probe's result, or a failure saying what came back instead."""
    if not isinstance(result, dict) or not isinstance(result.get("params"), list) or \
            len(result["params"]) != n_params:
        fail(f"{name}: the optimizer run did not give back its parameters")
    return result["params"]


def describe_kwargs(kwargs, groups=None):
    text = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "the defaults"
    if groups:
        text += "; parameter groups " + "; ".join(f"params {list(i)} with {o}" for i, o in groups)
    return text


def first_difference(got, want, rtol, atol):
    """(step, parameter index) of the first step where a trajectory leaves the expected one, or None."""
    steps = want[0].shape[0]
    for t in range(steps):
        for i, (g, w) in enumerate(zip(got, want)):
            g64, w64 = g[t].double().cpu(), w[t].double().cpu()
            if g64.shape != w64.shape or not torch.allclose(g64, w64, rtol=rtol, atol=atol, equal_nan=False):
                return t, i
    return None


def digits(device):
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1] (loaded here, in the trusted process)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (torch.tensor(X / 16.0, dtype=torch.float32, device=device),
            torch.tensor(y, dtype=torch.int64, device=device))


def deep_mlp_state(depth, width, seed, device):
    """Starting parameters of the plain tanh MLP of probe_train (PyTorch's default initialisation, seeded)."""
    from torch import nn

    torch.manual_seed(seed)
    layers, d = [], 64
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.Tanh()]
        d = width
    layers.append(nn.Linear(d, 10))
    return {k: v.to(device) for k, v in nn.Sequential(*layers).state_dict().items()}


def loss_of(state, x, y, depth, width):
    """Cross-entropy of the MLP with the given parameters on (x, y), computed here."""
    from torch import nn

    layers, d = [], 64
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.Tanh()]
        d = width
    layers.append(nn.Linear(d, 10))
    model = nn.Sequential(*layers).to(x.device)
    want = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(want) or any(
            not isinstance(state[k], torch.Tensor) or state[k].shape != want[k].shape for k in want):
        fail("the training run did not give back the MLP's parameters")
    model.load_state_dict({k: v.to(device=x.device, dtype=torch.float32) for k, v in state.items()})
    with torch.no_grad():
        loss = nn.functional.cross_entropy(model(x), y).item()
        acc = (model(x).argmax(1) == y).double().mean().item()
    return (loss if np.isfinite(loss) else float("inf")), acc
