"""Shared by the public and hidden checks of `gan`: the probes (run in the sandbox with the submission, or here with
the reference) and the trusted formulas (run here, in the grader's process).

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its
body and calls nothing else from this file. The probes of `train_step` build their own generator and discriminator
(the contract's layout, weights sent in by the grader), their own recording SGD optimizers, and put trusted losses
in place of the submission's `discriminator_loss` and `generator_loss` while train_step runs, so that train_step
is judged on its own: a mistake in a loss or in a module loses points on that function only.

The formulas are those the assignment states: Goodfellow et al. (2014), eq. 1, Section 3 (the non-saturating
generator loss) and Algorithm 1 (k = 1).
"""

import math

import torch
import torch.nn.functional as F

from autograder.compare import expect_close, expect_true, mismatch

# ----------------------------------------------------------------------------------------------- probes


def probe_disc_loss(m, real, fake):
    """discriminator_loss on leaf copies of the logits: (loss, d loss / d real, d loss / d fake)."""
    import torch

    r = real.detach().clone().requires_grad_(True)
    f = fake.detach().clone().requires_grad_(True)
    loss = m.discriminator_loss(r, f)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return loss, None, None
    loss.backward()
    return loss.detach(), r.grad, f.grad


def probe_gen_loss(m, fake, non_saturating):
    """generator_loss on a leaf copy of the logits: (loss, d loss / d fake). non_saturating None: the default."""
    import torch

    f = fake.detach().clone().requires_grad_(True)
    loss = m.generator_loss(f) if non_saturating is None else m.generator_loss(f, non_saturating=non_saturating)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return loss, None
    loss.backward()
    return loss.detach(), f.grad


def probe_module(m, kind, dims, state, inputs):
    """Build the submission's Generator or Discriminator, load `state`, run it on each input.

    Returns {"names": {parameter name: shape}, "out": [output per input], "grad": d sum(out[0]) / d inputs[0]}."""
    import torch

    cls = m.Generator if kind == "Generator" else m.Discriminator
    net = cls(*dims)
    names = {k: list(v.shape) for k, v in net.state_dict().items()}
    ref = inputs[0]
    net = net.to(dtype=ref.dtype, device=ref.device)
    if sorted(names) != sorted(state) or any(names[k] != list(state[k].shape) for k in state):
        return {"names": names, "out": None, "grad": None}  # the trusted side reports the layout
    net.load_state_dict(state)
    outs = []
    for x in inputs:
        with torch.no_grad():
            outs.append(net(x))
    x = ref.detach().clone().requires_grad_(True)
    y = net(x)
    grad = None
    if isinstance(y, torch.Tensor) and y.requires_grad:
        y.sum().backward()
        grad = x.grad
    return {"names": names, "out": outs, "grad": grad}


def probe_train_step(m, g_state, d_state, real, z_d, z_g, non_saturating, lr, stale):
    """One call of the submission's train_step on trusted MLPs with recording SGD optimizers and trusted losses.

    `stale` ({"G": [...], "D": [...]} or None) is written into the parameters' .grad before the call: leftovers of
    an earlier update. Each optimizer step records every gradient of both networks at that moment.
    Returns {"returned", "log": [{"opt", "G", "D"}], "G": final state, "D": final state}.
    """
    import torch
    import torch.nn.functional as F

    class MLP(torch.nn.Module):
        def __init__(self, sizes, squeeze):
            super().__init__()
            layers = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(torch.nn.Linear(a, b))
                if i < len(sizes) - 2:
                    layers.append(torch.nn.LeakyReLU(0.2))
            self.net = torch.nn.Sequential(*layers)
            self.squeeze = squeeze

        def forward(self, x):
            y = self.net(x)
            return y.squeeze(-1) if self.squeeze else y

    def sizes(state, squeeze):
        w = [state[f"net.{i}.weight"] for i in (0, 2, 4)]
        return [w[0].shape[1], w[0].shape[0], w[1].shape[0], w[2].shape[0]]

    dtype, device = real.dtype, real.device
    G = MLP(sizes(g_state, False), False).to(dtype=dtype, device=device)
    D = MLP(sizes(d_state, True), True).to(dtype=dtype, device=device)
    G.load_state_dict(g_state)
    D.load_state_dict(d_state)
    if stale is not None:
        for net, key in ((G, "G"), (D, "D")):
            for p, s in zip(net.parameters(), stale[key]):
                p.grad = s.detach().clone()

    log = []

    def grads(net):
        return [None if p.grad is None else p.grad.detach().clone() for p in net.parameters()]

    class Recording:
        """Plain SGD that records every gradient of both networks when it steps (no torch.optim: importing it
        costs seconds)."""

        def __init__(self, params, name):
            self.params, self.name = list(params), name

        def zero_grad(self, set_to_none=True):
            for p in self.params:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

        def step(self, closure=None):
            log.append({"opt": self.name, "G": grads(G), "D": grads(D)})
            with torch.no_grad():
                for p in self.params:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-lr)

    def d_loss(real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(fake_logits, non_saturating=True):
        return F.softplus(-fake_logits).mean() if non_saturating else -F.softplus(fake_logits).mean()

    saved = {k: getattr(m, k, None) for k in ("discriminator_loss", "generator_loss")}
    m.discriminator_loss, m.generator_loss = d_loss, g_loss
    try:
        opt_G, opt_D = Recording(G.parameters(), "G"), Recording(D.parameters(), "D")
        if non_saturating is None:
            returned = m.train_step(G, D, opt_G, opt_D, real, z_d, z_g)
        else:
            returned = m.train_step(G, D, opt_G, opt_D, real, z_d, z_g, non_saturating=non_saturating)
    finally:
        for k, v in saved.items():
            setattr(m, k, v)
    if isinstance(returned, (tuple, list)):
        returned = tuple(r.detach() if isinstance(r, torch.Tensor) else r for r in returned)
    return {"returned": returned, "log": log,
            "G": {k: v.detach() for k, v in G.state_dict().items()},
            "D": {k: v.detach() for k, v in D.state_dict().items()}}


def probe_train_gan(m, g_state, d_state, data, z, lr, betas):
    """The trusted training loop: trusted MLPs (weights sent in) and Adam, the submission's train_step and losses.
    data: (steps, B, 2) real batches; z: (steps, 2, B, latent) noise for the D and G steps. Returns G's weights and
    the losses train_step reported (for the message only)."""
    import torch

    class MLP(torch.nn.Module):
        def __init__(self, sizes, squeeze):
            super().__init__()
            layers = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(torch.nn.Linear(a, b))
                if i < len(sizes) - 2:
                    layers.append(torch.nn.LeakyReLU(0.2))
            self.net = torch.nn.Sequential(*layers)
            self.squeeze = squeeze

        def forward(self, x):
            y = self.net(x)
            return y.squeeze(-1) if self.squeeze else y

    def sizes(state):
        w = [state[f"net.{i}.weight"] for i in (0, 2, 4)]
        return [w[0].shape[1], w[0].shape[0], w[1].shape[0], w[2].shape[0]]

    G = MLP(sizes(g_state), False).to(dtype=data.dtype, device=data.device)
    D = MLP(sizes(d_state), True).to(dtype=data.dtype, device=data.device)
    G.load_state_dict(g_state)
    D.load_state_dict(d_state)
    class Adam:
        """Adam (Kingma & Ba, 2015), as torch.optim.Adam computes it, without importing torch.optim."""

        def __init__(self, params):
            self.params, self.t = list(params), 0
            self.m = [torch.zeros_like(p) for p in self.params]
            self.v = [torch.zeros_like(p) for p in self.params]

        def zero_grad(self, set_to_none=True):
            for p in self.params:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

        def step(self, closure=None):
            self.t += 1
            b1, b2 = betas
            with torch.no_grad():
                for p, m, v in zip(self.params, self.m, self.v):
                    if p.grad is None:
                        continue
                    m.mul_(b1).add_(p.grad, alpha=1 - b1)
                    v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                    denom = (v / (1 - b2 ** self.t)).sqrt_().add_(1e-8)
                    p.addcdiv_(m, denom, value=-lr / (1 - b1 ** self.t))

    opt_G, opt_D = Adam(G.parameters()), Adam(D.parameters())
    losses = []
    for i in range(data.shape[0]):
        losses.append(m.train_step(G, D, opt_G, opt_D, data[i], z[i, 0], z[i, 1]))
    tail = losses[-50:]
    return {"G": {k: v.detach() for k, v in G.state_dict().items()},
            "losses": [[float(a) for a in t] for t in tail if isinstance(t, (tuple, list)) and len(t) == 2]}


# ----------------------------------------------------------------------------------------------- trusted formulas

def bce_disc(real, fake):
    """The discriminator's loss with PyTorch's own binary cross-entropy on logits, in float64."""
    r, f = real.double(), fake.double()
    return (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
            + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))


def bce_gen(fake, non_saturating=True):
    """The generator's loss with PyTorch's binary cross-entropy on logits, in float64: -mean log D(G(z)) or
    mean log(1 - D(G(z)))."""
    f = fake.double()
    if non_saturating:
        return F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
    return -F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))


def value_and_grads(fn, *tensors):
    """fn(*tensors) and its gradients with respect to each tensor, float64, by autograd."""
    leaves = [t.detach().double().clone().requires_grad_(True) for t in tensors]
    out = fn(*leaves)
    out.backward()
    return out.detach(), [torch.zeros_like(x) if x.grad is None else x.grad for x in leaves]


def disc_loss_mistakes(real, fake):
    """Known wrong discriminator losses, each with its gradients: {description: (loss, d real, d fake)}."""
    sp = F.softplus

    def variants():
        yield ("real and fake labels swapped (real must be labelled 1, fake 0)",
               lambda r, f: sp(r).mean() + sp(-f).mean())
        yield ("averaged over the two batches together instead of each averaged over its own batch and the two "
               "summed", lambda r, f: torch.cat([sp(-r), sp(f)]).mean())
        yield "summed over the batch instead of averaged", lambda r, f: sp(-r).sum() + sp(f).sum()
        yield ("the sign flipped (the value function itself, which D maximises, instead of the loss to minimise)",
               lambda r, f: -(sp(-r).mean() + sp(f).mean()))
        yield "the fake term left out", lambda r, f: sp(-r).mean()

    out = {}
    for name, fn in variants():
        value, (gr, gf) = value_and_grads(fn, real, fake)
        out[name] = (value, gr, gf)
    return out


def gen_loss_mistakes(fake, non_saturating):
    """Known wrong generator losses for the asked form: {description: (loss, d fake)}."""
    sp = F.softplus
    fns = {}
    if non_saturating:
        fns["the minimax (saturating) form mean log(1 - D(G(z))) returned when non_saturating=True"] = \
            lambda f: -sp(f).mean()
        fns["the sign flipped (mean log D(G(z)) instead of -mean log D(G(z)))"] = lambda f: -sp(-f).mean()
        fns["the fake samples labelled 0 (that is the discriminator's term, -mean log(1 - D(G(z))))"] = \
            lambda f: sp(f).mean()
        fns["summed over the batch instead of averaged"] = lambda f: sp(-f).sum()
    else:
        fns["the non-saturating form -mean log D(G(z)) returned when non_saturating=False"] = \
            lambda f: sp(-f).mean()
        fns["the sign flipped (-mean log(1 - D(G(z))) instead of mean log(1 - D(G(z))))"] = lambda f: sp(f).mean()
        fns["summed over the batch instead of averaged"] = lambda f: -sp(f).sum()
    out = {}
    for name, fn in fns.items():
        value, (g,) = value_and_grads(fn, fake)
        out[name] = (value, g)
    return out


def mlp(state, x, squeeze=False, slope=0.2, final=None):
    """The contract's MLP (Linear, LeakyReLU(slope), Linear, LeakyReLU(slope), Linear) from a state dict."""
    h = x
    for i in (0, 2, 4):
        h = F.linear(h, state[f"net.{i}.weight"], state[f"net.{i}.bias"])
        if i != 4:
            h = F.relu(h) if slope == 0 else F.leaky_relu(h, slope)
    if final == "tanh":
        h = torch.tanh(h)
    if final == "sigmoid":
        h = torch.sigmoid(h)
    return h.squeeze(-1) if squeeze else h


def random_state(sizes, gen, dtype=torch.float64, scale=1.0):
    """A state dict for the contract's MLP with the given layer sizes (net.0, net.2, net.4), PyTorch's default
    initialisation range scaled by `scale`."""
    state = {}
    for i, (a, b) in zip((0, 2, 4), zip(sizes[:-1], sizes[1:])):
        bound = scale / math.sqrt(a)
        state[f"net.{i}.weight"] = (torch.rand(b, a, generator=gen, dtype=dtype) * 2 - 1) * bound
        state[f"net.{i}.bias"] = (torch.rand(b, generator=gen, dtype=dtype) * 2 - 1) * bound
    return state


def state_shapes(sizes):
    return {f"net.{i}.{p}": ([b, a] if p == "weight" else [b])
            for i, (a, b) in zip((0, 2, 4), zip(sizes[:-1], sizes[1:])) for p in ("weight", "bias")}


def expected_train_step(g_state, d_state, real, z_d, z_g, non_saturating, lr, stale, variant=None):
    """What one train_step does with plain SGD (float64, autograd), and known wrong variants.

    Returns {"d_grad": D's gradients at D's step, "g_grad": G's gradients at G's step, "g_at_d": G's gradients at
    D's step (those it had before the call, when nothing reaches G), "D": D's state after D's step, "G": G's state
    after G's step, "d_loss", "g_loss"}. Variants: "d_uses_z_g", "g_uses_z_d", "d_not_zeroed", "g_not_zeroed",
    "g_before_d", "flip_loss" (the other generator loss), "not_detached" (G's gradients at D's step).
    """
    ns = True if non_saturating is None else non_saturating
    if variant == "flip_loss":
        ns = not ns
    G = {k: v.detach().double().clone().requires_grad_(True) for k, v in g_state.items()}
    D = {k: v.detach().double().clone().requires_grad_(True) for k, v in d_state.items()}
    real, z_d, z_g = real.double(), z_d.double(), z_g.double()
    gnames, dnames = list(G), list(D)

    zd = z_g if variant == "d_uses_z_g" else z_d
    fake = mlp(G, zd)
    if variant != "not_detached":
        fake = fake.detach()
    ld = bce_disc(mlp(D, real, True), mlp(D, fake, True))
    ld.backward()
    d_grad = [D[k].grad.clone() for k in dnames]
    g_at_d = [None if G[k].grad is None else G[k].grad.clone() for k in gnames]
    if stale is not None:
        g_at_d = [s.double() if g is None else g + s.double() for g, s in zip(g_at_d, stale["G"])]
        if variant == "d_not_zeroed":
            d_grad = [g + s.double() for g, s in zip(d_grad, stale["D"])]
    d_new = {k: (D[k] - lr * g).detach() for k, g in zip(dnames, d_grad)}
    for v in G.values():
        v.grad = None

    zg = z_d if variant == "g_uses_z_d" else z_g
    d_for_g = {k: v.detach() for k, v in D.items()} if variant == "g_before_d" else d_new
    lg = bce_gen(mlp(d_for_g, mlp(G, zg), True), ns)
    lg.backward()
    g_grad = [G[k].grad.clone() for k in gnames]
    if stale is not None and variant == "g_not_zeroed":
        g_grad = [g + s.double() for g, s in zip(g_grad, stale["G"])]
    g_new = {k: (G[k] - lr * g).detach() for k, g in zip(gnames, g_grad)}
    return {"d_grad": d_grad, "g_grad": g_grad, "g_at_d": g_at_d, "D": d_new, "G": g_new,
            "d_loss": float(ld), "g_loss": float(lg)}


def stale_grads(g_state, d_state, gen):
    """Leftover gradients to put in .grad before train_step (float64, the size of real gradients)."""
    return {key: [torch.randn(v.shape, generator=gen, dtype=torch.float64) * 0.5 for v in state.values()]
            for key, state in (("G", g_state), ("D", d_state))}


# ----------------------------------------------------------------------------------------------- end to end

RADIUS, STD, N_MODES = 2.0, 0.05, 8
LATENT, HIDDEN, BATCH, STEPS, LR, BETAS = 2, 128, 256, 800, 1e-3, (0.5, 0.9)
N_EVAL, NEAR = 2000, 0.3


def mode_centres():
    a = torch.arange(N_MODES, dtype=torch.float64) * (2 * math.pi / N_MODES)
    return torch.stack([a.cos(), a.sin()], 1) * RADIUS


def ring_of_gaussians(n, gen):
    """n points of the ring of 8 Gaussians (radius 2, std 0.05), float64."""
    k = torch.randint(0, N_MODES, (n,), generator=gen)
    return mode_centres()[k] + STD * torch.randn(n, 2, generator=gen, dtype=torch.float64)


def e2e_inputs(seed):
    """Initial weights, real batches and noise for the end-to-end run, all drawn here from `seed`."""
    gen = torch.Generator().manual_seed(seed)
    g_state = {k: v.float() for k, v in random_state([LATENT, HIDDEN, HIDDEN, 2], gen).items()}
    d_state = {k: v.float() for k, v in random_state([2, HIDDEN, HIDDEN, 1], gen).items()}
    data = ring_of_gaussians(STEPS * BATCH, gen).float().reshape(STEPS, BATCH, 2)
    z = torch.randn(STEPS, 2, BATCH, LATENT, generator=gen)
    z_eval = torch.randn(N_EVAL, LATENT, generator=gen)
    return g_state, d_state, data, z, z_eval


def mode_coverage(g_state, z_eval):
    """Computed here from the returned weights: (modes covered, fraction of samples near a mode, samples).

    A sample is near a mode when it lies within NEAR of its centre (6 standard deviations of the data; the modes are
    1.53 apart); a mode is covered when at least a quarter of its fair share of the samples is near it."""
    expected = state_shapes([LATENT, HIDDEN, HIDDEN, 2])
    got = {k: list(v.shape) for k, v in g_state.items()} if isinstance(g_state, dict) else None
    if got != expected:
        raise ValueError(f"the trained generator's weights have shapes {got}, expected {expected}")
    with torch.no_grad():
        x = mlp({k: v.detach().double().cpu() for k, v in g_state.items()}, z_eval.double())
    if not torch.isfinite(x).all():
        return 0, 0.0, x
    dist = torch.cdist(x, mode_centres())
    near, idx = dist.min(1)
    good = near < NEAR
    counts = torch.bincount(idx[good], minlength=N_MODES)
    covered = int((counts >= 0.25 * N_EVAL / N_MODES).sum())
    return covered, float(good.double().mean()), x


# ----------------------------------------------------------------------------------------------- train_step verdicts
# Each takes the probe's result and the inputs it was given, and raises (via autograder.compare) when wrong.

def train_step_case(gen, non_saturating, latent=3, hidden=6, data_dim=2, sizes=(5, 4, 6), lr=0.1):
    """Inputs for one isolated train_step call: float64 weights, data, two noises of different batch sizes (so
    that a mix-up of z_d and z_g changes the numbers), stale gradients."""
    g_state = random_state([latent, hidden, hidden, data_dim], gen, scale=1.5)
    d_state = random_state([data_dim, hidden, hidden, 1], gen, scale=1.5)
    real = torch.randn(sizes[0], data_dim, generator=gen, dtype=torch.float64) + 1.0
    z_d = torch.randn(sizes[1], latent, generator=gen, dtype=torch.float64)
    z_g = torch.randn(sizes[2], latent, generator=gen, dtype=torch.float64)
    stale = stale_grads(g_state, d_state, gen)
    return {"g_state": g_state, "d_state": d_state, "real": real, "z_d": z_d, "z_g": z_g,
            "non_saturating": non_saturating, "lr": lr, "stale": stale}


def case_args(case, device="cpu"):
    to = (lambda v: v.to(device))
    return (({k: to(v) for k, v in case["g_state"].items()}), {k: to(v) for k, v in case["d_state"].items()},
            to(case["real"]), to(case["z_d"]), to(case["z_g"]), case["non_saturating"], case["lr"],
            {k: [to(t) for t in v] for k, v in case["stale"].items()})


def case_expected(case, variant=None):
    return expected_train_step(case["g_state"], case["d_state"], case["real"], case["z_d"], case["z_g"],
                               case["non_saturating"], case["lr"], case["stale"], variant)


def describe_case(case):
    ns = case["non_saturating"]
    flag = "the default non_saturating" if ns is None else f"non_saturating={ns}"
    w0 = case["g_state"]["net.0.weight"]
    dims = f"latent {w0.shape[1]}, hidden {w0.shape[0]}, data {case['real'].shape[1]}"
    return (f"trusted float64 MLPs ({dims}), plain SGD (lr {case['lr']}), real of shape "
            f"{tuple(case['real'].shape)}, z_d of shape {tuple(case['z_d'].shape)}, z_g of shape "
            f"{tuple(case['z_g'].shape)}, {flag}, leftover gradients in every .grad before the call")


def _steps(out, name):
    return [e for e in out["log"] if e["opt"] == name]


def to_cpu(value):
    """The probe's result with every tensor on the CPU, where the trusted expectations are computed."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu(v) for v in value)
    return value


def judge_d_step(out, case):
    out = to_cpu(out)
    d_steps = _steps(out, "D")
    expect_true(d_steps, "train_step never called opt_D.step(): the discriminator was not updated"
                         f"\n  input: {describe_case(case)}")
    want = case_expected(case)
    mistakes = {
        "D's update used G(z_g), the generator step's noise, instead of G(z_d)":
            case_expected(case, "d_uses_z_g")["d_grad"],
        "the gradients were not zeroed before D's update (the leftover .grad values were added to the new ones)":
            case_expected(case, "d_not_zeroed")["d_grad"],
    }
    expect_close([g for g in d_steps[0]["D"]], want["d_grad"],
                 name="D's gradients at opt_D.step() (the gradient of discriminator_loss(D(real), D(G(z_d))))",
                 mistakes=mistakes, inputs=describe_case(case))


def judge_g_step(out, case):
    out = to_cpu(out)
    g_steps = _steps(out, "G")
    expect_true(g_steps, "train_step never called opt_G.step(): the generator was not updated"
                         f"\n  input: {describe_case(case)}")
    want = case_expected(case)
    ns = True if case["non_saturating"] is None else case["non_saturating"]
    other = "minimax (saturating)" if ns else "non-saturating"
    mistakes = {
        "G's update used G(z_d), the discriminator step's noise, instead of a fresh G(z_g)":
            case_expected(case, "g_uses_z_d")["g_grad"],
        f"the {other} generator loss was used: pass non_saturating on to generator_loss":
            case_expected(case, "flip_loss")["g_grad"],
        "the gradients were not zeroed before G's update (the leftover .grad values were added to the new ones)":
            case_expected(case, "g_not_zeroed")["g_grad"],
        "G's gradient was computed through D before D's update: update D first, then compute the generator loss":
            case_expected(case, "g_before_d")["g_grad"],
    }
    expect_close([g for g in g_steps[0]["G"]], want["g_grad"],
                 name="G's gradients at opt_G.step() (the gradient of generator_loss(D(G(z_g))) through the updated D)",
                 mistakes=mistakes, inputs=describe_case(case))
    order = [e["opt"] for e in out["log"]]
    expect_true("D" not in order or order.index("G") > order.index("D"),
                "opt_G.step() was called before opt_D.step(): update the discriminator first")


def judge_detached(out, case):
    out = to_cpu(out)
    d_steps = _steps(out, "D")
    expect_true(d_steps, "train_step never called opt_D.step()")
    seen = d_steps[0]["G"]
    for i, (g, s) in enumerate(zip(seen, case["stale"]["G"])):
        if g is None or not bool(g.abs().max() > 0):
            continue  # zeroed (or set to None) before: nothing reached G
        if mismatch(g, s.to(g.device), rtol=1e-9, atol=1e-12) is None:
            continue  # the leftovers, untouched
        expect_true(False, f"G's gradient of parameter {i} changed during D's update (at opt_D.step(), its largest "
                           f"entry is {float(g.abs().max()):.4g}): the discriminator loss was backpropagated into "
                           "the generator. Detach the fake batch in D's step (G(z_d).detach(), or make it under "
                           f"torch.no_grad()): the fake batch was not detached.\n  input: {describe_case(case)}")


def judge_d_untouched(out, case):
    out = to_cpu(out)
    n_d, n_g = len(_steps(out, "D")), len(_steps(out, "G"))
    expect_true(n_d == 1, f"opt_D.step() was called {n_d} times in one train_step, expected once: D's parameters "
                          f"must not change in G's update\n  input: {describe_case(case)}")
    expect_true(n_g == 1, f"opt_G.step() was called {n_g} times in one train_step, expected once"
                          f"\n  input: {describe_case(case)}")
    want = case_expected(case)
    expect_close(out["D"], want["D"], name="D's parameters after train_step (they must be those after D's update)",
                 inputs=describe_case(case))
    expect_close(out["G"], want["G"], name="G's parameters after train_step", inputs=describe_case(case))


def judge_returned(out, case):
    got = out["returned"]
    want = case_expected(case)
    expect_true(isinstance(got, (tuple, list)) and len(got) == 2,
                f"train_step should return a tuple (d_loss, g_loss), got {type(got).__name__}"
                + (f" of {len(got)} items" if isinstance(got, (tuple, list)) else ""))
    for name, value, exp in (("d_loss", got[0], want["d_loss"]), ("g_loss", got[1], want["g_loss"])):
        expect_true(type(value) is float,
                    f"train_step returned {name} as {type(value).__name__}, expected a Python float (loss.item()): a "
                    "tensor keeps the whole graph alive from one step to the next")
        expect_true(math.isclose(value, exp, rel_tol=1e-7, abs_tol=1e-9),
                    f"train_step returned {name} = {value:.8g}, expected {exp:.8g} (the loss measured before its "
                    f"update)\n  input: {describe_case(case)}")
