"""Public checks for optimizers (SGD, Adam, AdamW): what `dlcourse check optimizers` runs, and what students read.

The oracle is torch.optim itself: every check runs the same probe twice, once in the sandbox with your classes and
once here with torch.optim.SGD / Adam / AdamW in their place, on the same starting parameters and the same
sequence of gradients, and compares the parameters after every step. The end-to-end checks train on scikit-learn's
8x8 digits from starting parameters sent in; the loss and the weight norm are computed here from the parameters
that come back.
"""

import torch

from autograder.checking import check, fail, load_sibling
from autograder.compare import expect_close, expect_true

C = load_sibling(__file__, "_common")

STEPS = 40


def _compare(student, cls, kwargs, rng, device, dtype=torch.float64, steps=STEPS, groups=None, present=None,
             mistakes=None, what="", resume_at=None, problem=None):
    """Run `cls` in the sandbox and torch.optim's class here on one problem; fail at the first step that differs."""
    params, grads = problem or C.random_problem(rng, device, dtype, steps)
    args = (cls, params, grads, kwargs)
    extra = dict(groups=groups, present=present, resume_at=resume_at)
    got = C.trajectories(student.run(C.probe_trajectory, *args, **extra, _timeout=C.TIMEOUT), len(params),
                         f"{cls}({C.describe_kwargs(kwargs, groups)})")
    want = C.probe_trajectory(C.torch_optim(), *args, groups=groups, present=present)["params"]
    setting = (f"{cls}({C.describe_kwargs(kwargs, groups)}) on {len(params)} {str(dtype)[6:]} parameters of shapes "
               f"{[tuple(p.shape) for p in params]}, {steps} steps of random gradients of scales 1, 1e-2 and 30"
               + (f"; {what}" if what else ""))
    for i, (g, w) in enumerate(zip(got, want)):
        if not isinstance(g, torch.Tensor) or g.shape != w.shape:
            fail(f"{cls}: parameter {i} came back as {type(g).__name__} of shape "
                 f"{tuple(getattr(g, 'shape', ()))}, expected a tensor of shape {tuple(w.shape)}")
    rtol, atol = (1e-9, 1e-11) if dtype == torch.float64 else (1e-4, 1e-6)
    first = C.first_difference(got, want, rtol, atol)
    if first is None:
        return
    t, i = first
    named = {}
    for description, variant in (mistakes or {}).items():  # a known mistake matches that parameter's whole run
        v_args, v_extra = variant(args, dict(groups=groups, present=present))
        wrong = C.probe_trajectory(*v_args, **v_extra)["params"]
        if C.first_difference([got[i]], [wrong[i]], max(rtol, 1e-6), max(atol, 1e-8)) is None:
            named = {description: got[i][t]}
            break
    expect_close(got[i][t], want[i][t], rtol=rtol, atol=atol, mistakes=named,
                 name=f"parameter {i} after step {t + 1} (first step that differs from torch.optim.{cls})",
                 inputs=setting)


def _with(cls_name, torch_cls, **over):
    """A known wrong variant of the update, made with torch.optim itself (another class or other settings)."""
    def variant(args, extra):
        _, params, grads, kwargs = args
        return (C.torch_optim(), cls_name if torch_cls is None else torch_cls, params, grads,
                dict(kwargs, **over)), extra
    return variant


def _none_as_zero(args, extra):
    """The wrong variant where a missing gradient is treated as a zero gradient (the parameter still updated)."""
    cls, params, grads, kwargs = args
    present = extra["present"]
    zeroed = [torch.stack([g[t] if present[i][t] else torch.zeros_like(g[t]) for t in range(g.shape[0])])
              for i, g in enumerate(grads)]
    return (C.torch_optim(), cls, params, zeroed, kwargs), dict(extra, present=None)


def _defaults_only(args, extra):
    """The wrong variant where every parameter group runs with the defaults (the group dicts' settings unread)."""
    return (C.torch_optim(), *args), dict(extra, groups=[(idx, {}) for idx, _ in extra["groups"]])


def _invalid(student, cls, cases):
    names = student.run(C.probe_invalid, cls, cases, _timeout=C.TIMEOUT)
    if not isinstance(names, list) or len(names) != len(cases):
        fail(f"{cls}: constructing the optimizer with invalid hyper-parameters did not run")
    for kwargs, name in zip(cases, names):
        expect_true(name == "ValueError", f"{cls}([w], {C.describe_kwargs(kwargs)}) raised "
                    f"{name or 'nothing'}, expected a ValueError (as torch.optim.{cls} does)")


# ----------------------------------------------------------------------------------------------- SGD

@check("SGD: updates match torch.optim.SGD over 40 steps (plain, momentum, weight decay, both)", points=3,
       core=True)
def test_sgd_matches_torch(student, rng, device):
    for kwargs in (dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.1, weight_decay=0.1),
                   dict(lr=0.02, momentum=0.8, weight_decay=0.05)):
        mistakes = {}
        if kwargs.get("momentum"):
            mistakes["momentum ignored"] = _with("SGD", None, momentum=0.0)
            mistakes["momentum buffer dampened as a moving average: b = mu b + (1 - mu) g"] = \
                _with("SGD", None, dampening=kwargs["momentum"])
            mistakes["Nesterov momentum instead of heavy ball"] = _with("SGD", None, nesterov=True)
        if kwargs.get("weight_decay"):
            mistakes["weight_decay ignored"] = _with("SGD", None, weight_decay=0.0)
        _compare(student, "SGD", kwargs, rng, device, mistakes=mistakes)
    _compare(student, "SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01), rng, device, dtype=torch.float32,
             what="float32")


@check("SGD: parameter groups keep their own lr, momentum and weight_decay", points=1, core=True)
def test_sgd_groups(student, rng, device):
    groups = [([0], {"lr": 0.3}), ([1, 2], {"momentum": 0.5, "weight_decay": 0.2})]
    _compare(student, "SGD", dict(lr=0.05, momentum=0.9), rng, device, groups=groups,
             mistakes={"every group uses the defaults (read lr, momentum and weight_decay from each group dict)":
                       _defaults_only})


@check("SGD: parameters without a gradient are left alone (and keep their momentum); step(closure) returns the loss",
       points=1)
def test_sgd_skips(student, rng, device):
    steps = 20
    present = [[1] * steps, [int(t % 3 != 1) for t in range(steps)], [0] * steps]
    _compare(student, "SGD", dict(lr=0.1, momentum=0.9), rng, device, steps=steps, present=present,
             mistakes={"a parameter whose .grad is None was updated as if its gradient were zero (skip it)":
                       _none_as_zero},
             what="parameter 1 has no gradient at steps 2, 5, 8, ...; parameter 2 never has one")
    params, grads = C.random_problem(rng, device, torch.float64, 2)
    r = student.run(C.probe_trajectory, "SGD", params, grads, dict(lr=0.1), closure_value=2.5, _timeout=C.TIMEOUT)
    expect_close(r.get("closure_returned") if isinstance(r, dict) else r, torch.tensor(2.5),
                 name="SGD.step(closure)'s return value", inputs="a closure returning torch.tensor(2.5)")


@check("SGD: the momentum buffer is in self.state: state_dict() and load_state_dict() resume training exactly",
       points=1)
def test_sgd_state_dict(student, rng, device):
    _compare(student, "SGD", dict(lr=0.05, momentum=0.9), rng, device, steps=20, resume_at=10,
             what="after 10 steps, state_dict() is loaded into a fresh SGD that does the last 10 steps")


@check("SGD: a negative lr, momentum or weight_decay raises ValueError", points=1)
def test_sgd_invalid(student):
    _invalid(student, "SGD", [dict(lr=-0.1), dict(lr=0.1, momentum=-0.5), dict(lr=0.1, weight_decay=-1.0)])


# ----------------------------------------------------------------------------------------------- Adam

@check("Adam: the first step moves every parameter by lr * sign(g) (bias correction, Kingma & Ba Section 3)",
       points=1, core=True)
def test_adam_first_step(student, rng, device):
    lr, b1, b2 = 0.01, 0.9, 0.999
    params, grads = C.random_problem(rng, device, torch.float64, 1)
    r = C.trajectories(student.run(C.probe_trajectory, "Adam", params, grads, dict(lr=lr), _timeout=C.TIMEOUT),
                       len(params), "Adam(lr=0.01)")
    for i, (p, g, got) in enumerate(zip(params, grads, r)):
        # m^ = g and v^ = g^2 after one step, so the update is lr * g / (|g| + eps): lr * sign(g), up to eps
        expected = p - lr * g[0] / (g[0].abs() + 1e-8)
        no_correction = p - lr * (1 - b1) * g[0] / ((1 - b2) ** 0.5 * g[0].abs() + 1e-8)
        expect_close(got[0] if isinstance(got, torch.Tensor) and got.dim() > 0 else got, expected,
                     name=f"parameter {i} after Adam's first step", rtol=1e-9, atol=1e-11,
                     inputs=f"Adam(lr={lr}) with the default betas, one random gradient of shape {tuple(p.shape)}",
                     mistakes={"no bias correction: divide m by 1 - beta1^t and v by 1 - beta2^t (here the step "
                               "is (1 - beta1) / sqrt(1 - beta2) = 3.16 times too large)": no_correction})


@check("Adam: updates match torch.optim.Adam over 40 steps (defaults, other betas and eps, L2 weight decay)",
       points=3, core=True)
def test_adam_matches_torch(student, rng, device):
    configs = [dict(lr=0.01), dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3), dict(lr=0.01, weight_decay=0.1), dict()]
    for kwargs in configs:
        mistakes = {"weight decay applied decoupled, as in AdamW (Adam adds weight_decay * p to the gradient)":
                    _with("Adam", "AdamW", weight_decay=kwargs.get("weight_decay", 0.0)),
                    "betas swapped (beta1 is the first moment's)":
                    _with("Adam", None, betas=tuple(reversed(kwargs.get("betas", (0.9, 0.999)))))}
        if kwargs.get("weight_decay"):
            mistakes["weight_decay ignored"] = _with("Adam", None, weight_decay=0.0)
        if not kwargs:
            mistakes["default lr is not 1e-3"] = _with("Adam", None, lr=1e-2)
        _compare(student, "Adam", kwargs, rng, device, mistakes=mistakes)
    _compare(student, "Adam", dict(lr=0.01, weight_decay=0.01), rng, device, dtype=torch.float32, what="float32")


@check("Adam: parameters without a gradient are skipped, and their step count t does not advance", points=1)
def test_adam_skips(student, rng, device):
    steps = 20
    present = [[1] * steps, [int(t % 3 != 1) for t in range(steps)], [0] * steps]
    _compare(student, "Adam", dict(lr=0.01), rng, device, steps=steps, present=present,
             mistakes={"a parameter whose .grad is None was updated as if its gradient were zero (skip it)":
                       _none_as_zero},
             what="parameter 1 has no gradient at steps 2, 5, 8, ... (its t counts its own updates); parameter 2 "
                  "never has one")


@check("Adam: parameter groups keep their own hyper-parameters; step(closure) returns the loss", points=1)
def test_adam_groups(student, rng, device):
    groups = [([0], {"lr": 0.05, "betas": (0.5, 0.9)}), ([1, 2], {"weight_decay": 0.2})]
    _compare(student, "Adam", dict(lr=0.01), rng, device, groups=groups, steps=20,
             mistakes={"every group uses the defaults (read the settings from each group dict)": _defaults_only})
    params, grads = C.random_problem(rng, device, torch.float64, 2)
    r = student.run(C.probe_trajectory, "Adam", params, grads, dict(lr=0.1), closure_value=1.5, _timeout=C.TIMEOUT)
    expect_close(r.get("closure_returned") if isinstance(r, dict) else r, torch.tensor(1.5),
                 name="Adam.step(closure)'s return value", inputs="a closure returning torch.tensor(1.5)")


@check("Adam: t, m and v are in self.state: state_dict() and load_state_dict() resume training exactly", points=1)
def test_adam_state_dict(student, rng, device):
    _compare(student, "Adam", dict(lr=0.01), rng, device, steps=20, resume_at=10,
             what="after 10 steps, state_dict() is loaded into a fresh Adam that does the last 10 steps")


@check("Adam: invalid lr, betas, eps or weight_decay raise ValueError", points=1)
def test_adam_invalid(student):
    _invalid(student, "Adam", [dict(lr=-1e-3), dict(betas=(1.0, 0.999)), dict(betas=(0.9, -0.1)), dict(eps=-1e-8),
                               dict(weight_decay=-0.1)])


DEPTH, WIDTH, E2E_STEPS, BATCH = 8, 32, 100, 64
ADAM_LR, SGD_LR = 3e-3, 0.1


def _batches(seed, n, device):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (E2E_STEPS, BATCH), generator=g).to(device)


_SGD_BASELINE = {}


@check("Adam: trains a deep plain tanh MLP on the digits much faster than SGD with the same budget", points=3,
       timeout=240)
def test_adam_end_to_end(student, seed, device):
    x, y = C.digits(device)
    init_seed = seed % 1000
    state = C.deep_mlp_state(DEPTH, WIDTH, init_seed, device)
    batches = _batches(init_seed, len(x), device)
    args = (state, x, y, batches, DEPTH, WIDTH)
    trained = student.run(C.probe_train, "Adam", dict(lr=ADAM_LR), *args, _timeout=120)
    loss, acc = C.loss_of(trained, x, y, DEPTH, WIDTH)
    key = (init_seed, device)
    if key not in _SGD_BASELINE:  # torch.optim.SGD on the same batches, run here
        base = C.probe_train(C.torch_optim(), "SGD", dict(lr=SGD_LR), *args)
        _SGD_BASELINE[key] = C.loss_of(base, x, y, DEPTH, WIDTH)
    sgd_loss, sgd_acc = _SGD_BASELINE[key]
    start_loss, _ = C.loss_of(state, x, y, DEPTH, WIDTH)
    setting = (f"an MLP 64-{'-'.join([str(WIDTH)] * DEPTH)}-10 with tanh (no normalisation, no skip connection), "
               f"{E2E_STEPS} steps on mini-batches of {BATCH} digits from the same start (loss {start_loss:.3f}). "
               f"torch.optim.SGD(lr={SGD_LR}): loss {sgd_loss:.3f}, accuracy {sgd_acc:.1%}; your Adam(lr={ADAM_LR}): "
               f"loss {loss:.3f}, accuracy {acc:.1%}")
    expect_true(loss <= 1.8 and loss <= sgd_loss - 0.4,
                f"your Adam did not bring the training loss below 1.8 and at least 0.4 below SGD's: {setting}")


# ----------------------------------------------------------------------------------------------- AdamW

@check("AdamW: updates match torch.optim.AdamW over 40 steps (default, weak and strong decoupled decay)", points=3,
       core=True)
def test_adamw_matches_torch(student, rng, device):
    configs = [dict(lr=0.01, weight_decay=0.1), dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=1.0),
               dict()]
    for kwargs in configs:
        wd = kwargs.get("weight_decay", 1e-2)
        lr = kwargs.get("lr", 1e-3)
        mistakes = {"weight decay added to the gradient (L2, as in Adam) instead of decoupled":
                    _with("AdamW", "Adam", weight_decay=wd),
                    "the decay is not multiplied by lr: p <- p (1 - lr * weight_decay)":
                    _with("AdamW", None, weight_decay=wd / lr),
                    "weight_decay ignored": _with("AdamW", None, weight_decay=0.0)}
        if not kwargs:
            mistakes = {"the default weight_decay is not 1e-2": _with("AdamW", None, weight_decay=0.0), **mistakes}
        _compare(student, "AdamW", kwargs, rng, device, mistakes=mistakes)
    _compare(student, "AdamW", dict(lr=0.01, weight_decay=0.1), rng, device, dtype=torch.float32, what="float32")


@check("AdamW: parameters without a gradient are skipped (no decay either), parameter groups keep their settings; "
       "step(closure) returns the loss", points=1)
def test_adamw_skips_and_groups(student, rng, device):
    steps = 20
    present = [[1] * steps, [int(t % 3 != 1) for t in range(steps)], [0] * steps]
    _compare(student, "AdamW", dict(lr=0.01, weight_decay=0.5), rng, device, steps=steps, present=present,
             mistakes={"a parameter whose .grad is None was updated (or decayed) as if its gradient were zero "
                       "(skip it)": _none_as_zero},
             what="parameter 1 has no gradient at steps 2, 5, 8, ...; parameter 2 never has one")
    groups = [([0], {"weight_decay": 0.0}), ([1, 2], {"lr": 0.05, "weight_decay": 0.3})]
    _compare(student, "AdamW", dict(lr=0.01), rng, device, groups=groups, steps=20,
             mistakes={"every group uses the defaults (read the settings from each group dict)": _defaults_only})
    params, grads = C.random_problem(rng, device, torch.float64, 2)
    r = student.run(C.probe_trajectory, "AdamW", params, grads, dict(lr=0.1), closure_value=0.75, _timeout=C.TIMEOUT)
    expect_close(r.get("closure_returned") if isinstance(r, dict) else r, torch.tensor(0.75),
                 name="AdamW.step(closure)'s return value", inputs="a closure returning torch.tensor(0.75)")


@check("AdamW: t, m and v are in self.state: state_dict() and load_state_dict() resume training exactly", points=1)
def test_adamw_state_dict(student, rng, device):
    _compare(student, "AdamW", dict(lr=0.01, weight_decay=0.1), rng, device, steps=20, resume_at=10,
             what="after 10 steps, state_dict() is loaded into a fresh AdamW that does the last 10 steps")


@check("AdamW: invalid lr, betas, eps or weight_decay raise ValueError", points=1)
def test_adamw_invalid(student):
    _invalid(student, "AdamW", [dict(lr=-1e-3), dict(betas=(0.9, 1.0)), dict(eps=-1.0), dict(weight_decay=-0.01)])


LIN_STEPS, LIN_N, LIN_LR, LIN_WD = 100, 500, 1e-2, 0.1
_LINEAR = {}


def _weight_norm(state):
    if not isinstance(state, dict) or not isinstance(state.get("0.weight"), torch.Tensor) or \
            state["0.weight"].shape != (10, 64):
        fail("the training run did not give back the linear classifier's weight (10, 64)")
    return state["0.weight"].double().norm().item()


@check("AdamW: decoupled decay differs measurably from Adam's L2 on the digits (weight norm as torch's AdamW)",
       points=3, timeout=240)
def test_adamw_end_to_end(student, seed, device):
    x, y = C.digits(device)
    x, y = x[:LIN_N], y[:LIN_N]
    init_seed = seed % 1000
    state = C.deep_mlp_state(0, 0, init_seed, device)  # depth 0: a linear classifier 64 -> 10
    batches = torch.arange(LIN_N, device=device).expand(LIN_STEPS, LIN_N)  # full batch
    args = (state, x, y, batches, 0, 0)
    kwargs = dict(lr=LIN_LR, weight_decay=LIN_WD)
    trained = student.run(C.probe_train, "AdamW", kwargs, *args, _timeout=120)
    norm = _weight_norm(trained)
    loss, _ = C.loss_of(trained, x, y, 0, 0)
    key = (init_seed, device)
    if key not in _LINEAR:  # torch.optim's AdamW and Adam (L2) on the same problem, run here
        runs = {name: C.probe_train(C.torch_optim(), name, kwargs, *args) for name in ("AdamW", "Adam")}
        _LINEAR[key] = {name: (_weight_norm(s), C.loss_of(s, x, y, 0, 0)[0]) for name, s in runs.items()}
    (w_norm, w_loss), (l2_norm, l2_loss) = _LINEAR[key]["AdamW"], _LINEAR[key]["Adam"]
    setting = (f"a linear classifier 64 -> 10 trained full batch on {LIN_N} digits for {LIN_STEPS} steps with "
               f"lr={LIN_LR}, weight_decay={LIN_WD}. torch.optim.AdamW: weight norm {w_norm:.3f}, loss {w_loss:.3f}; "
               f"torch.optim.Adam (L2): weight norm {l2_norm:.3f}, loss {l2_loss:.3f}; your AdamW: weight norm "
               f"{norm:.3f}, loss {loss:.3f}")
    if abs(norm - l2_norm) <= 0.02 * l2_norm:
        fail(f"your AdamW shrinks the weights as Adam with L2 does: the decay goes through the gradient, where "
             f"Adam's 1 / sqrt(v^) rescales it; AdamW decouples it. {setting}")
    expect_true(abs(norm - w_norm) <= 0.02 * w_norm and abs(loss - w_loss) <= 0.02 * w_loss + 1e-3,
                f"your AdamW's trained weight norm or loss is more than 2% away from torch.optim.AdamW's: {setting}")
