"""Shared by the public and hidden checks of `vae`: the probes (run in the sandbox with the submission, or here with
the reference) and the trusted formulas and data (run here, in the grader's process).

Probes are self-contained: the sandbox receives only a probe's source, so each one imports what it needs in its
body and calls nothing else from this file. A probe that exercises one function puts trusted versions of the other
graded functions in its place while it runs (elbo_loss with a trusted kl_divergence, the VAE with a trusted
reparameterize), and sample and the end-to-end run get a trusted model with the contract's layout: a mistake in one
function loses points on that function only.

The formulas are those the assignment states: Kingma & Welling (2013), Section 2.4 (the reparameterization trick),
eq. 10 and Appendix B (the Gaussian KL), Appendix C.1 (the Bernoulli decoder).
"""

import math

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- probes


def probe_reparam(m, mu, logvar, eps, w):
    """z = reparameterize(mu, logvar, eps) and the gradients of sum(w * z) with respect to mu and logvar."""
    import torch

    mu = mu.detach().clone().requires_grad_(True)
    logvar = logvar.detach().clone().requires_grad_(True)
    z = m.reparameterize(mu, logvar, eps)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return z, None, None
    (w * z).sum().backward()
    return z.detach(), mu.grad, logvar.grad


def probe_kl(m, mu, logvar, w):
    """kl = kl_divergence(mu, logvar) and the gradients of sum(w * kl) with respect to mu and logvar."""
    import torch

    mu = mu.detach().clone().requires_grad_(True)
    logvar = logvar.detach().clone().requires_grad_(True)
    kl = m.kl_divergence(mu, logvar)
    if not isinstance(kl, torch.Tensor) or not kl.requires_grad:
        return kl, None, None
    (w * kl).sum().backward() if kl.shape == w.shape else kl.sum().backward()
    return kl.detach(), mu.grad, logvar.grad


def probe_elbo(m, logits, x, mu, logvar, kl):
    """elbo_loss with the submission's kl_divergence replaced by a stand-in that returns the KL values and
    gradients the grader computed (`kl` = (values (B,), d/d mu, d/d logvar), from torch.distributions): a KL
    mistake then costs kl_divergence's points only. Returns the loss and its gradients in logits, mu and logvar."""
    import torch

    values, d_mu, d_logvar = kl

    class GivenKL(torch.autograd.Function):
        @staticmethod
        def forward(ctx, mu_, logvar_):
            return values.to(dtype=mu_.dtype, device=mu_.device).clone()

        @staticmethod
        def backward(ctx, grad):  # grad (B,): the KL is a sum over the latent dimensions
            return (grad[:, None] * d_mu.to(grad.dtype), grad[:, None] * d_logvar.to(grad.dtype))

    leaves = [t.detach().clone().requires_grad_(True) for t in (logits, mu, logvar)]
    saved = getattr(m, "kl_divergence", None)
    m.kl_divergence = lambda mu_, logvar_: GivenKL.apply(mu_, logvar_)
    try:
        loss = m.elbo_loss(leaves[0], x, leaves[1], leaves[2])
    finally:
        m.kl_divergence = saved
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return loss, None
    loss.backward()
    return loss.detach(), [t.grad for t in leaves]


def given_kl(mu, logvar):
    """(KL values, d/d mu, d/d logvar) for probe_elbo, computed here with torch.distributions (kl_closed)."""
    mu_ = mu.detach().double().clone().requires_grad_(True)
    logvar_ = logvar.detach().double().clone().requires_grad_(True)
    values = kl_closed(mu_, logvar_)
    d_mu, d_logvar = torch.autograd.grad(values.sum(), (mu_, logvar_))  # each row's KL depends on its row only
    return (values.detach().to(mu.dtype).to(mu.device), d_mu.to(mu.dtype).to(mu.device),
            d_logvar.to(mu.dtype).to(mu.device))


def probe_vae(m, dims, state, x, eps, seed):
    """The submission's VAE(*dims) with `state` loaded (trusted reparameterize in place), run on x with eps (None:
    the VAE draws it, after torch.manual_seed(seed)). Returns parameter shapes, outputs, and d sum(recon) / d x."""
    import torch

    def reparameterize(mu, logvar, eps):
        return mu + torch.exp(0.5 * logvar) * eps

    saved = getattr(m, "reparameterize", None)
    m.reparameterize = reparameterize
    try:
        model = m.VAE(*dims)
        names = {k: list(v.shape) for k, v in model.state_dict().items()}
        model = model.to(dtype=x.dtype, device=x.device)
        if sorted(names) != sorted(state) or any(names[k] != list(state[k].shape) for k in state):
            return {"names": names, "out": None, "grad": None}  # the trusted side reports the layout
        model.load_state_dict(state)
        xx = x.detach().clone().requires_grad_(True)
        torch.manual_seed(seed)
        out = model(xx) if eps is None else model(xx, eps)
        grad = None
        if isinstance(out, (tuple, list)) and len(out) == 3 and isinstance(out[0], torch.Tensor) \
                and out[0].requires_grad:
            out[0].sum().backward()
            grad = xx.grad
        if isinstance(out, (tuple, list)):
            out = tuple(o.detach() if isinstance(o, torch.Tensor) else o for o in out)
    finally:
        m.reparameterize = saved
    return {"names": names, "out": out, "grad": grad}


def probe_sample(m, state, n, seeds, global_seed):
    """sample(model, n, generator) on a trusted model with the contract's attributes (encoder, mu, logvar, decoder)
    and `state`; once per seed (None: the global generator, after torch.manual_seed(global_seed + i))."""
    import torch

    class Model(torch.nn.Module):
        def __init__(self, d, h, latent):
            super().__init__()
            self.encoder = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU())
            self.mu = torch.nn.Linear(h, latent)
            self.logvar = torch.nn.Linear(h, latent)
            self.decoder = torch.nn.Sequential(torch.nn.Linear(latent, h), torch.nn.ReLU(), torch.nn.Linear(h, d))
            self.latent_dim = latent

    h, d = state["encoder.0.weight"].shape
    latent = state["mu.weight"].shape[0]
    ref = state["mu.weight"]
    model = Model(d, h, latent).to(device=ref.device)  # float32, as a trained model is
    model.load_state_dict(state)
    out = []
    for i, s in enumerate(seeds):
        torch.manual_seed(global_seed + i)  # the global RNG moves between calls; seeded samples must not
        g = None if s is None else torch.Generator(device=ref.device).manual_seed(s)
        out.append(m.sample(model, n, generator=g) if g is not None else m.sample(model, n))
    return out


def probe_train_vae(m, state, train_x, eps, batch, lr):
    """The trusted training loop: a trusted VAE (the contract's layout, weights sent in), Adam, the submission's
    elbo_loss as the objective. train_x: (steps, batch, D) batches; eps: (steps, batch, L). Returns the weights."""
    import torch

    class Model(torch.nn.Module):
        def __init__(self, d, h, latent):
            super().__init__()
            self.encoder = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU())
            self.mu = torch.nn.Linear(h, latent)
            self.logvar = torch.nn.Linear(h, latent)
            self.decoder = torch.nn.Sequential(torch.nn.Linear(latent, h), torch.nn.ReLU(), torch.nn.Linear(h, d))

        def forward(self, x, e):
            h = self.encoder(x)
            mu, logvar = self.mu(h), self.logvar(h)
            return self.decoder(mu + torch.exp(0.5 * logvar) * e), mu, logvar

    h, d = state["encoder.0.weight"].shape
    model = Model(d, h, state["mu.weight"].shape[0]).to(dtype=train_x.dtype, device=train_x.device)
    model.load_state_dict(state)
    # Adam (Kingma & Ba, 2015) as torch.optim.Adam computes it, written out: importing torch.optim costs seconds.
    params = list(model.parameters())
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    b1, b2 = 0.9, 0.999
    for i in range(train_x.shape[0]):
        x = train_x[i]
        logits, mu, logvar = model(x, eps[i])
        loss = m.elbo_loss(logits, x, mu, logvar)
        for p in params:
            p.grad = None
        loss.backward()
        t = i + 1
        with torch.no_grad():
            for p, (mom, vel) in zip(params, moments):
                if p.grad is None:
                    continue
                mom.mul_(b1).add_(p.grad, alpha=1 - b1)
                vel.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                p.addcdiv_(mom, (vel / (1 - b2 ** t)).sqrt_().add_(1e-8), value=-lr / (1 - b1 ** t))
    return {k: v.detach() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------- trusted formulas

def kl_closed(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per row, with torch.distributions (float64)."""
    from torch.distributions import Normal, kl_divergence

    mu, logvar = mu.double(), logvar.double()
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_divergence(q, p).sum(-1)


def kl_monte_carlo(mu, logvar, n, gen):
    """A Monte Carlo estimate of the same KL per row, E_q[log q(z) - log p(z)] with n samples, and its standard
    error (float64)."""
    from torch.distributions import Normal

    mu, logvar = mu.double(), logvar.double()
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((n,) + tuple(mu.shape), generator=gen, dtype=torch.float64)
    z = mu + std * eps                                                  # (n, B, L)
    q = Normal(mu, std)
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    terms = (q.log_prob(z) - p.log_prob(z)).sum(-1)                     # (n, B)
    return terms.mean(0), terms.std(0) / math.sqrt(n)


def kl_mistakes(mu, logvar):
    mu, logvar = mu.double(), logvar.double()
    inner = 1 + logvar - mu ** 2 - logvar.exp()
    return {
        "the sign flipped (KL is -1/2 sum(1 + logvar - mu^2 - exp(logvar)), which is >= 0)": 0.5 * inner.sum(-1),
        "averaged over the latent dimensions instead of summed": -0.5 * inner.mean(-1),
        "the factor 1/2 left out": -inner.sum(-1),
        "exp(0.5 * logvar) (the standard deviation) used where the variance exp(logvar) belongs":
            -0.5 * (1 + logvar - mu ** 2 - (0.5 * logvar).exp()).sum(-1),
    }


def bce_sum(logits, x):
    """The Bernoulli negative log-likelihood per row with PyTorch's own binary cross-entropy on logits (float64)."""
    return F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="none").sum(-1)


def elbo_value(logits, x, mu, logvar):
    return (bce_sum(logits, x) + kl_closed(mu, logvar)).mean()


def elbo_mistakes(logits, x, mu, logvar):
    """Known wrong negative ELBOs, each with its gradients: {description: [loss, [d logits, d mu, d logvar]]}."""
    def variants():
        yield ("the reconstruction term averaged over the data dimensions while the KL is summed (a mis-weighted "
               "ELBO: sum both over their dimensions)",
               lambda l, m_, v: (bce_sum(l, x) / x.shape[-1] + kl_closed(m_, v)).mean())
        yield "summed over the batch instead of averaged", lambda l, m_, v: (bce_sum(l, x) + kl_closed(m_, v)).sum()
        yield ("the KL subtracted instead of added (the loss is the reconstruction term plus the KL)",
               lambda l, m_, v: (bce_sum(l, x) - kl_closed(m_, v)).mean())
        yield "the KL term left out", lambda l, m_, v: bce_sum(l, x).mean()
        yield ("the squared error of sigmoid(logits) used instead of the Bernoulli negative log-likelihood",
               lambda l, m_, v: (((torch.sigmoid(l) - x.double()) ** 2).sum(-1) + kl_closed(m_, v)).mean())
        yield ("the ELBO itself returned instead of the negative ELBO",
               lambda l, m_, v: -(bce_sum(l, x) + kl_closed(m_, v)).mean())

    out = {}
    for name, fn in variants():
        value, grads = value_and_grads(fn, logits, mu, logvar)
        out[name] = [value, grads]
    return out


def value_and_grads(fn, *tensors):
    leaves = [t.detach().double().clone().requires_grad_(True) for t in tensors]
    out = fn(*leaves)
    out.backward()
    return out.detach(), [torch.zeros_like(x) if x.grad is None else x.grad for x in leaves]


def vae_forward(state, x, eps, variant=None):
    """The contract's VAE from its state dict (float64): (recon_logits, mu, logvar); known wrong variants."""
    s = {k: v.double() for k, v in state.items()}
    x = x.double()
    h = F.relu(F.linear(x, s["encoder.0.weight"], s["encoder.0.bias"]))
    mu = F.linear(h, s["mu.weight"], s["mu.bias"])
    logvar = F.linear(h, s["logvar.weight"], s["logvar.bias"])
    if variant == "logvar_from_mu":
        logvar = mu
    std = torch.exp(0.5 * logvar)
    z = mu if variant == "mean_only" else mu + std * eps.double()
    d = F.relu(F.linear(z, s["decoder.0.weight"], s["decoder.0.bias"]))
    logits = F.linear(d, s["decoder.2.weight"], s["decoder.2.bias"])
    if variant == "sigmoid":
        logits = torch.sigmoid(logits)
    return logits, mu, logvar


def vae_shapes(d, h, latent):
    return {"encoder.0.weight": [h, d], "encoder.0.bias": [h], "mu.weight": [latent, h], "mu.bias": [latent],
            "logvar.weight": [latent, h], "logvar.bias": [latent], "decoder.0.weight": [h, latent],
            "decoder.0.bias": [h], "decoder.2.weight": [d, h], "decoder.2.bias": [d]}


def random_vae_state(d, h, latent, gen, dtype=torch.float64, scale=1.0):
    """A state dict of the contract's VAE, PyTorch's default initialisation range scaled by `scale`."""
    state = {}
    for name, shape in vae_shapes(d, h, latent).items():
        fan_in = shape[1] if len(shape) == 2 else vae_shapes(d, h, latent)[name.replace("bias", "weight")][1]
        state[name] = (torch.rand(shape, generator=gen, dtype=dtype) * 2 - 1) * scale / math.sqrt(fan_in)
    return state


def invertible_decoder_state(latent, gen, spread=0.6):
    """A VAE state (data_dim = latent, hidden = 2 latent) whose decoder is an invertible affine map of z:
    decoder.0 = [I; -I] with no bias, so that ReLU keeps both halves of z, and decoder.2 = [A, -A] with bias b,
    so decoder(z) = A z + b. From decoded values the trusted side recovers z = A^{-1} (logits - b)."""
    L = latent
    state = random_vae_state(L, 2 * L, L, gen)
    eye = torch.eye(L, dtype=torch.float64)
    A = torch.linalg.qr(torch.randn(L, L, generator=gen, dtype=torch.float64))[0] * spread
    state["decoder.0.weight"] = torch.cat([eye, -eye], 0)
    state["decoder.0.bias"] = torch.zeros(2 * L, dtype=torch.float64)
    state["decoder.2.weight"] = torch.cat([A, -A], 1)
    state["decoder.2.bias"] = torch.randn(L, generator=gen, dtype=torch.float64) * 0.3
    return state, A


def recover_z(state, logits):
    A = state["decoder.2.weight"][:, : state["decoder.2.weight"].shape[1] // 2].double()
    return torch.linalg.solve(A, (logits.double() - state["decoder.2.bias"].double()).T).T


def standard_normal_mismatch(z, zscore=5.0):
    """'' when the rows of z look like draws of N(0, I) (mean and covariance within `zscore` standard errors),
    else a description."""
    z = z.detach().double().cpu()
    if not torch.isfinite(z).all():
        return "NaN or Inf in the values"
    n, L = z.shape
    mean, cov = z.mean(0), torch.cov(z.T)
    problems = []
    zm = mean.abs() / math.sqrt(1.0 / n)
    if (zm > zscore).any():
        problems.append(f"their mean is {[round(float(v), 3) for v in mean]}, expected 0 (off by {float(zm.max()):.1f} "
                        "standard errors)")
    se = torch.sqrt((torch.ones(L, L, dtype=torch.float64) + torch.eye(L, dtype=torch.float64)) / n)
    zc = (cov - torch.eye(L, dtype=torch.float64)).abs() / se
    if (zc > zscore).any():
        i, j = divmod(int(zc.argmax()), L)
        problems.append(f"their covariance is {[[round(float(v), 3) for v in row] for row in cov]}, expected the "
                        f"identity (entry ({i}, {j}) off by {float(zc.max()):.1f} standard errors)")
    return "; ".join(problems)


# ----------------------------------------------------------------------------------------------- end to end

HIDDEN, LATENT, BATCH, EPOCHS, LR, K_EVAL = 128, 8, 100, 20, 3e-3, 8


def digits():
    """The course's split of scikit-learn's 8x8 digits (every fifth image is a test image, as in dlcourse.datasets:
    1438 training and 359 test images), flattened to (N, 64) float32 in [0, 1]; loaded here, in the trusted
    process, straight from scikit-learn (bundled, no download)."""
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)       # (1797, 64)
    test = torch.arange(x.shape[0]) % 5 == 4
    return x[~test].contiguous(), x[test].contiguous()


def e2e_inputs(seed):
    """Initial weights, training batches (with their noise) and the held-out digits, all drawn here from `seed`."""
    train, held_out = digits()
    gen = torch.Generator().manual_seed(seed)
    n = train.shape[0]
    state = {k: v.float() for k, v in random_vae_state(train.shape[1], HIDDEN, LATENT, gen).items()}
    batches = torch.cat([train[torch.randperm(n, generator=gen)] for _ in range(EPOCHS)])
    steps = batches.shape[0] // BATCH
    batches = batches[: steps * BATCH].reshape(steps, BATCH, -1)
    eps = torch.randn(steps, BATCH, LATENT, generator=gen)
    eps_eval = torch.randn(K_EVAL, held_out.shape[0], LATENT, generator=gen)
    return state, batches, eps, held_out, eps_eval


def held_out_neg_elbo(state, held_out, eps_eval):
    """The negative ELBO per held-out digit, averaged over the digits and K_EVAL draws of eps, computed here from
    the returned weights with trusted formulas."""
    shapes = vae_shapes(held_out.shape[1], HIDDEN, LATENT)
    got = {k: list(v.shape) for k, v in state.items()} if isinstance(state, dict) else None
    if got != shapes:
        raise ValueError(f"the trained VAE's weights have shapes {got}, expected {shapes}")
    state = {k: v.detach().cpu() for k, v in state.items()}
    with torch.no_grad():
        vals = []
        for eps in eps_eval:
            logits, mu, logvar = vae_forward(state, held_out, eps)
            vals.append(elbo_value(logits, held_out, mu, logvar))
    value = float(torch.stack(vals).mean())
    return value if math.isfinite(value) else float("inf")
