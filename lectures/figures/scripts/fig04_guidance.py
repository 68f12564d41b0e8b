"""Lecture 4: classifier guidance (Dhariwal & Nichol, 2021) on a toy where every quantity is exact.

The data are two classes in the plane, each a mixture of isotropic Gaussians. Under the forward process
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, each component stays Gaussian, so the noised density, its score
and the classifier p(y | x_t) are known in closed form at every step. Sampling is DDPM's ancestral sampler
(Ho et al., 2020) with the guided noise estimate
    eps_hat = eps(x_t) - s sqrt(1 - abar_t) grad log p(y | x_t),   eps(x_t) = -sqrt(1 - abar_t) grad log p(x_t),
for guidance scales s = 0 (unconditional), 1 (the exact class-conditional) and 4. No network is trained.
"""
import numpy as np

from _common import parse_args, plt, save

# (mean, class, weight) of each component; all components have standard deviation SIGMA0
COMPONENTS = [((-2.0, 1.0), 0, 0.3), ((-0.6, -1.6), 0, 0.2), ((2.0, 0.2), 1, 0.3), ((0.4, 1.8), 1, 0.2)]
SIGMA0 = 0.35
SCALES = (0.0, 1.0, 4.0)
TARGET = 0


def log_components(x, abar):
    """log(w_k N(x; sqrt(abar) mu_k, s2 I)) for every component (n, K), the means (K, 2) and the variance s2."""
    mu = np.array([c[0] for c in COMPONENTS]) * np.sqrt(abar)
    s2 = abar * SIGMA0**2 + (1 - abar)
    w = np.array([c[2] for c in COMPONENTS])
    d2 = ((x[:, None, :] - mu[None]) ** 2).sum(-1)
    return np.log(w)[None] - d2 / (2 * s2) - np.log(2 * np.pi * s2), mu, s2


def scores(x, abar):
    """grad log p(x_t) and grad log p(x_t | y = TARGET)."""
    logp, mu, s2 = log_components(x, abar)
    grads = (mu[None] - x[:, None, :]) / s2  # (n, K, 2): the score of each component
    in_class = np.array([c[1] == TARGET for c in COMPONENTS])

    def mixture_score(mask):
        lp = np.where(mask[None], logp, -np.inf)
        r = np.exp(lp - lp.max(1, keepdims=True))
        r /= r.sum(1, keepdims=True)
        return (r[..., None] * grads).sum(1)

    return mixture_score(np.ones(len(COMPONENTS), bool)), mixture_score(in_class)


def sample(n, scale, rng, T=1000):
    betas = np.linspace(1e-4, 0.02, T)
    alphas = 1 - betas
    abars = np.cumprod(alphas)
    x = rng.standard_normal((n, 2))
    for t in range(T - 1, -1, -1):
        s_all, s_y = scores(x, abars[t])
        # eps_hat = -sqrt(1 - abar) (score_all + s (score_y - score_all)): grad log p(y|x) = score_y - score_all
        eps_hat = -np.sqrt(1 - abars[t]) * (s_all + scale * (s_y - s_all))
        x = (x - betas[t] / np.sqrt(1 - abars[t]) * eps_hat) / np.sqrt(alphas[t])
        if t > 0:
            x = x + np.sqrt(betas[t]) * rng.standard_normal(x.shape)
    return x


def main():
    args = parse_args(__doc__)
    rng = np.random.default_rng(0)
    n = 200 if args.fast else 1500
    T = 100 if args.fast else 1000
    # the data themselves, for the background
    comp = rng.choice(len(COMPONENTS), size=4000, p=[c[2] for c in COMPONENTS])
    data = np.array([COMPONENTS[k][0] for k in comp]) + SIGMA0 * rng.standard_normal((4000, 2))
    labels = np.array([COMPONENTS[k][1] for k in comp])

    fig, axes = plt.subplots(1, len(SCALES), figsize=(12, 4.2), sharex=True, sharey=True)
    for ax, s in zip(axes, SCALES):
        for y, c in ((0, "tab:blue"), (1, "tab:orange")):
            pts = data[labels == y]
            ax.scatter(pts[:, 0], pts[:, 1], s=2, color=c, alpha=0.12)
        x = sample(n, s, rng, T)
        logp, mu, _ = log_components(x, 1.0)  # the data density: which component, and class, is each sample in?
        nearest = logp.argmax(1)
        frac = np.mean([COMPONENTS[k][1] == TARGET for k in nearest])
        spread = np.sqrt(np.mean(((x - mu[nearest]) ** 2).sum(1) / 2))  # per-coordinate std around the component
        ax.scatter(x[:, 0], x[:, 1], s=2, color="k", alpha=0.5)
        label = "unconditional" if s == 0 else ("exact class-conditional" if s == 1 else "sharpened")
        ax.set_title(f"guidance scale s = {s:g} ({label})\n{frac:.0%} in class 0; spread {spread:.2f} "
                     f"(data: {SIGMA0:g})", fontsize=10)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-3.5, 3.5)
        ax.set_aspect("equal")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("class 0 (blue) and class 1 (orange); samples in black")
    fig.suptitle("Classifier guidance towards class 0, with the exact score and classifier", fontsize=11)
    save(fig, args.out, "04-guidance.png")


if __name__ == "__main__":
    main()
