"""Lecture 0: the true distribution, the empirical distribution, and the gap between them.

Experiment: the "reality" is a known 1-D mixture of two Gaussians. We draw n samples (the
empirical distribution), fit two density models to them, and measure the average negative
log-likelihood (NLL, in nats) on the training samples and on fresh samples from the truth.
The entropy H(p) of the true distribution is the floor no model can beat on fresh data.

  * a kernel density estimate with a narrow kernel (flexible: it can memorise the samples)
  * a 2-component Gaussian mixture (the right family, few parameters)
"""
import numpy as np
from sklearn.mixture import GaussianMixture

from _common import parse_args, plt, save

WEIGHTS = np.array([0.3, 0.7])
MEANS = np.array([-2.0, 1.0])
STDS = np.array([0.5, 1.0])


def sample(rng, n):
    comp = rng.choice(2, size=n, p=WEIGHTS)
    return rng.normal(MEANS[comp], STDS[comp])


def true_logpdf(x):
    dens = WEIGHTS * np.exp(-0.5 * ((x[:, None] - MEANS) / STDS) ** 2) / (STDS * np.sqrt(2 * np.pi))
    return np.log(dens.sum(axis=1))


def kde_logpdf(x, data, h):
    z = (x[:, None] - data[None, :]) / h  # (n_eval, n_data)
    logk = -0.5 * z**2 - np.log(h * np.sqrt(2 * np.pi))
    m = logk.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(logk - m).mean(axis=1, keepdims=True)))[:, 0]


def main():
    args = parse_args(__doc__)
    rng = np.random.default_rng(0)
    ns = [10, 100, 1000] if args.fast else [10, 30, 100, 300, 1000, 3000]
    reps = 1 if args.fast else 10
    n_fresh = 2000 if args.fast else 5000
    fresh = sample(rng, n_fresh)
    entropy = -true_logpdf(sample(rng, 200000 if not args.fast else 20000)).mean()

    res = {k: {"train": [], "test": []} for k in ("kde", "gmm")}
    for n in ns:
        acc = {k: {"train": [], "test": []} for k in res}
        for r in range(reps):
            data = sample(rng, n)
            acc["kde"]["train"].append(-kde_logpdf(data, data, 0.05).mean())
            acc["kde"]["test"].append(-kde_logpdf(fresh, data, 0.05).mean())
            gmm = GaussianMixture(2, random_state=r).fit(data[:, None])
            acc["gmm"]["train"].append(-gmm.score_samples(data[:, None]).mean())
            acc["gmm"]["test"].append(-gmm.score_samples(fresh[:, None]).mean())
        for k in res:
            for s in ("train", "test"):
                res[k][s].append(np.median(acc[k][s]))

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
    grid = np.linspace(-5, 5, 400)
    ax0.plot(grid, np.exp(true_logpdf(grid)), "k", lw=2, label="true $p(x)$")
    for n, c in ((20, "tab:orange"), (2000, "tab:blue")):
        d = sample(np.random.default_rng(n), n)
        ax0.hist(d, bins=40, range=(-5, 5), density=True, alpha=0.45, color=c,
                 label=f"empirical, n={n}")
    ax0.set_xlabel("x")
    ax0.set_ylabel("density")
    ax0.set_title("True vs empirical distribution")
    ax0.legend(fontsize=8)

    styles = {"kde": ("tab:red", "narrow-kernel KDE"), "gmm": ("tab:green", "2-Gaussian mixture")}
    for k, (c, name) in styles.items():
        ax1.plot(ns, res[k]["train"], "--o", color=c, ms=4, label=f"{name}: train NLL")
        ax1.plot(ns, res[k]["test"], "-o", color=c, ms=4, label=f"{name}: fresh-data NLL")
    ax1.axhline(entropy, color="k", lw=1, label=f"entropy $H(p)$ = {entropy:.2f}")
    ax1.set_xscale("log")
    ax1.set_ylim(entropy - 1.5, entropy + 2.0)
    ax1.set_xlabel("number of samples n")
    ax1.set_ylabel("average NLL (nats)")
    ax1.set_title("Fitting the empirical distribution")
    ax1.legend(fontsize=7)
    save(fig, args.out, "00-true-vs-empirical.png")


if __name__ == "__main__":
    main()
