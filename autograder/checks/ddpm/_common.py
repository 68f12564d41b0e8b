"""Shared by the public and hidden checks of `ddpm`: the probes (run in the sandbox with the submission, or here with
the reference), the stored values of the public checks and the trusted statistics (run here, in the grader's
process).

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its
body and calls nothing else from this file. Every probe that needs a schedule builds a plain namespace from the
tensors it is given (never the submission's NoiseSchedule), so a bug in one function does not spill into the checks
of another. The check files load this module by path (`load_common()` there).

No formula of a graded function is written here (this file ships to students): the public checks' expected values
are stored as data, generated from the reference (`expected_values.py`, kept by the course staff); the statistics
of the sampler are the closed-form moments of Gaussian data (Ho, Jain & Abbeel, 2020, Algorithm 2).
"""

import math

import torch

# ----------------------------------------------------------------------------------------------- probes


def probe_schedule(m, betas):
    """The submission's NoiseSchedule(betas), as a dict of its five attributes."""
    s = m.NoiseSchedule(betas)
    return {k: getattr(s, k, None) for k in ("betas", "alphas", "alpha_bars", "alpha_bars_prev",
                                              "posterior_variance")}


def probe_q_sample(m, x0, t, noise, tensors):
    import types

    sched = types.SimpleNamespace(**tensors, T=tensors["betas"].shape[0])
    return m.q_sample(x0, t, noise, sched)


def probe_loss(m, x0, t, noise, tensors, w):
    """ddpm_loss with a small trusted denoiser eps(x, t) = tanh(w * x + t / T); the loss and d loss / d w."""
    import types

    import torch

    T = tensors["betas"].shape[0]
    sched = types.SimpleNamespace(**tensors, T=T)
    w = w.detach().clone().requires_grad_(True)

    def model(x, t):
        tt = (t.to(x.dtype) / T).reshape(-1, *([1] * (x.dim() - 1)))
        return torch.tanh(w * x + tt)

    loss = m.ddpm_loss(model, x0, t, noise, sched)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return loss, None
    loss.backward()
    return loss.detach(), w.grad


def probe_p_sample(m, x_t, t, noise, tensors):
    """p_sample with the trusted denoiser eps(x, t) = 0.5 tanh(x) + 0.3 cos(3 t / T)."""
    import types

    import torch

    T = tensors["betas"].shape[0]
    sched = types.SimpleNamespace(**tensors, T=T)

    def model(x, t):
        tt = (t.to(x.dtype) / T).reshape(-1, *([1] * (x.dim() - 1)))
        return 0.5 * torch.tanh(x) + 0.3 * torch.cos(3.0 * tt)

    with torch.no_grad():
        return m.p_sample(model, x_t, t, noise, sched)


def probe_sample_gaussian(m, n, mu, weights, tensors, seed):
    """sample() with the exact noise predictor of Gaussian data N(mu, Sigma):

        eps*(x_t, t) = sqrt(1 - a_t) C_t^{-1} (x_t - sqrt(a_t) mu),    C_t = a_t Sigma + (1 - a_t) I,  a_t = alpha_bar_t

    `weights[t]` holds sqrt(1 - a_t) C_t^{-1} (T, D, D), computed by the trusted side.
    """
    import types

    import torch

    T = tensors["betas"].shape[0]
    sched = types.SimpleNamespace(**tensors, T=T)
    root_ab = tensors["alpha_bars"].sqrt()

    def model(x, t):
        r = x.double() - root_ab[t][:, None] * mu           # (B, D)
        return (weights[t] * r[:, None, :]).sum(-1).to(x.dtype)  # (B, D)

    g = torch.Generator(device=mu.device).manual_seed(seed)
    return m.sample(model, (n, mu.shape[0]), sched, generator=g)


def probe_sample_seeds(m, tensors, seeds):
    """sample() of a fixed linear denoiser, once per seed, with the global RNG reseeded in between."""
    import types

    import torch

    sched = types.SimpleNamespace(**tensors, T=tensors["betas"].shape[0])

    def model(x, t):
        return 0.3 * x

    out = []
    for i, s in enumerate(seeds):
        torch.manual_seed(1000 + i)  # the global RNG moves; the samples must not
        g = None if s is None else torch.Generator(device=tensors["betas"].device).manual_seed(s)
        out.append(m.sample(model, (6, 3), sched, generator=g))
    return out


def probe_sample_steps(m, tensors, shape, seed):
    """sample() with a trusted denoiser that records the steps t it is called at (one list per call)."""
    import types

    import torch

    sched = types.SimpleNamespace(**tensors, T=tensors["betas"].shape[0])
    calls = []

    def model(x, t):
        calls.append(t.detach().cpu().reshape(-1).tolist())
        return 0.1 * x

    g = torch.Generator(device=tensors["betas"].device).manual_seed(seed)
    out = m.sample(model, shape, sched, generator=g)
    return out, calls


def probe_train_2d(m, data, T, steps, batch, lr, hidden, seed, n_samples):
    """The trusted training loop, built from the submission's cosine_beta_schedule, NoiseSchedule and ddpm_loss
    (and sample, when n_samples > 0). Returns the trained weights, and the samples when asked."""
    import math

    import torch

    torch.manual_seed(seed)
    device = data.device
    sched = m.NoiseSchedule(m.cosine_beta_schedule(T).to(device))
    freqs = torch.arange(1, 5, device=device, dtype=torch.float32) * math.pi  # time features sin/cos(k pi t / T)
    net = torch.nn.Sequential(
        torch.nn.Linear(2 + 8, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, hidden), torch.nn.SiLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, 2),
    ).to(device)

    def model(x, t):
        u = (t.to(x.dtype) / T)[:, None] * freqs
        return net(torch.cat([x, u.sin(), u.cos()], 1))

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for i in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * (1 - i / steps)  # linear decay to 0
        x0 = data[torch.randint(0, data.shape[0], (batch,), device=device)]
        t = torch.randint(0, T, (batch,), device=device)
        loss = m.ddpm_loss(model, x0, t, torch.randn_like(x0), sched)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = {"state": {k: v.detach() for k, v in net.state_dict().items()}}
    if n_samples:
        g = torch.Generator(device=device).manual_seed(seed + 1)
        out["samples"] = m.sample(model, (n_samples, 2), sched, generator=g)
    return out


# ----------------------------------------------------------------------------------------------- stored values
#
# The public checks judge the schedule, q_sample, ddpm_loss and p_sample against values stored as data
# (`public_expected.npz`: the fixed inputs and what the reference gives for them, with the known wrong variants),
# generated from the reference by `expected_values.py`, which stays with the course staff: a formula here would
# answer every input for a student reading it.

_STORED = {}


def _load():
    if not _STORED:
        import os

        import numpy as np

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "public_expected.npz")
        with np.load(path, allow_pickle=False) as data:
            _STORED.update({k: data[k] for k in data.files})
    return _STORED


def stored(key, device="cpu"):
    """A stored input or expected value, as a tensor on `device`."""
    return torch.from_numpy(_load()[key].copy()).to(device)


def stored_schedule(key, device="cpu"):
    """The five schedule tensors stored under `key`, float64 on `device` (a probe's `tensors`)."""
    return {name: stored(f"{key}.{name}", device) for name in ("betas", "alphas", "alpha_bars", "alpha_bars_prev",
                                                               "posterior_variance")}


def stored_mistakes(key, device="cpu"):
    """{known mistake: the value it gives} stored under `key`."""
    names = [str(n) for n in _load()[f"{key}.mistake_names"]]
    return {name: stored(f"{key}.mistake{i}", device) for i, name in enumerate(names)}


def gaussian_denoiser_weights(tensors, sigma):
    """W_t = sqrt(1 - a_t) C_t^{-1}, C_t = a_t Sigma + (1 - a_t) I: the exact noise predictor of N(mu, Sigma)."""
    ab = tensors["alpha_bars"].cpu()
    eye = torch.eye(sigma.shape[0], dtype=torch.float64)
    c_inv = torch.linalg.inv(ab[:, None, None] * sigma + (1 - ab)[:, None, None] * eye)  # (T, D, D)
    return (1 - ab).sqrt()[:, None, None] * c_inv


def gaussian_reverse_moments(tensors, mu, sigma, forwards=False):
    """Exact mean and covariance of x_0 from the ancestral sampler with the exact Gaussian noise predictor.

    Every reverse step is affine in x plus Gaussian noise, x <- A_t x + c_t + s_t z with
    A_t = (I - beta_t C_t^{-1}) / sqrt(alpha_t), c_t = beta_t C_t^{-1} sqrt(a_t) mu / sqrt(alpha_t),
    s_t^2 = posterior variance (0 at t = 0), so the moments propagate in closed form from N(0, I).
    `forwards=True` gives the moments of the known mistake of running the loop from t = 0 up to T - 1.
    """
    t64 = {k: v.cpu().double() for k, v in tensors.items()}
    D = mu.shape[0]
    eye = torch.eye(D, dtype=torch.float64)
    m, S = torch.zeros(D, dtype=torch.float64), eye.clone()
    steps = range(t64["betas"].shape[0])
    for t in (steps if forwards else reversed(steps)):
        b, a, ab = t64["betas"][t], t64["alphas"][t], t64["alpha_bars"][t]
        c_inv = torch.linalg.inv(ab * sigma + (1 - ab) * eye)
        A = (eye - b * c_inv) / a.sqrt()
        c = b * c_inv @ (ab.sqrt() * mu) / a.sqrt()
        m = A @ m + c
        S = A @ S @ A.T + (t64["posterior_variance"][t] if t > 0 else 0.0) * eye
    return m, S


def moment_mismatch(samples, m, S, z=5.0):
    """'' when the sample mean and covariance are within z standard errors of (m, S), else a description."""
    x = samples.detach().double().cpu()
    n = x.shape[0]
    emp_m, emp_S = x.mean(0), torch.cov(x.T)
    se_m = (S.diagonal() / n).sqrt()
    se_S = ((S.diagonal()[:, None] * S.diagonal()[None, :] + S ** 2) / n).sqrt()
    problems = []
    zm = ((emp_m - m).abs() / se_m)
    if (zm > z).any():
        problems.append(f"sample mean {_vec(emp_m)}, expected {_vec(m)} (off by {zm.max():.1f} standard errors)")
    zS = ((emp_S - S).abs() / se_S)
    if (zS > z).any():
        i, j = divmod(int(zS.argmax()), S.shape[0])
        problems.append(f"sample covariance {_mat(emp_S)}, expected {_mat(S)} (entry ({i}, {j}) off by "
                        f"{zS.max():.1f} standard errors)")
    if not torch.isfinite(x).all():
        problems.insert(0, "the samples contain NaN or Inf")
    return "; ".join(problems)


def _vec(v):
    return "[" + ", ".join(f"{float(a):.3f}" for a in v) + "]"


def _mat(M):
    return "[" + ", ".join(_vec(r) for r in M) + "]"


# ----------------------------------------------------------------------------------------------- end to end

T_2D, STEPS_2D, BATCH_2D, LR_2D, HIDDEN_2D, N_SAMPLES_2D = 50, 600, 512, 6e-3, 64, 2000


def ring_data(n, seed, device="cpu"):
    """n points of a mixture of 6 Gaussians (std 0.2) centred on a circle of radius 2, float32."""
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(0, 6, (n,), generator=g)
    angle = k.double() * (2 * math.pi / 6)
    centres = torch.stack([angle.cos(), angle.sin()], 1) * 2.0
    return (centres + 0.2 * torch.randn(n, 2, generator=g, dtype=torch.float64)).float().to(device)


def trusted_denoiser(state, T):
    """The network of probe_train_2d, rebuilt here from its returned weights (a plain function of x and t)."""
    state = {k: v.detach() for k, v in state.items()}
    layers = sorted({int(k.split(".")[0]) for k in state})
    expected = {f"{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")}
    if set(state) != expected:
        raise ValueError(f"the trained weights have keys {sorted(state)}, expected {sorted(expected)}")

    def model(x, t):
        freqs = torch.arange(1, 5, device=x.device, dtype=x.dtype) * math.pi
        u = (t.to(x.dtype) / T)[:, None] * freqs
        h = torch.cat([x, u.sin(), u.cos()], 1)
        for i in layers:
            h = torch.nn.functional.linear(h, state[f"{i}.weight"].to(x.device), state[f"{i}.bias"].to(x.device))
            if i != layers[-1]:
                h = torch.nn.functional.silu(h)
        return h

    return model


def mmd(x, y, scales=(0.2, 0.5, 1.0, 2.0)):
    """Unbiased squared maximum mean discrepancy (Gretton et al., 2012) with a sum of Gaussian kernels, float64."""
    x, y = x.detach().double().cpu(), y.detach().double().cpu()
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        return float("inf")

    def k(a, b):
        d2 = torch.cdist(a, b) ** 2
        return sum(torch.exp(-d2 / (2 * s * s)) for s in scales)

    n, m_ = x.shape[0], y.shape[0]
    kxx = (k(x, x).sum() - len(scales) * n) / (n * (n - 1))
    kyy = (k(y, y).sum() - len(scales) * m_) / (m_ * (m_ - 1))
    return float(kxx + kyy - 2 * k(x, y).mean())


