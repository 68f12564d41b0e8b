"""Lecture 4: the forward (noising) process of a diffusion model.

Calculation: the cumulative signal level alpha_bar_t = prod_{s<=t} (1 - beta_s) for the linear
schedule of Ho, Jain & Abbeel (2020) (beta from 1e-4 to 0.02 over T = 1000 steps) and the cosine
schedule of Nichol & Dhariwal (2021) (alpha_bar_t = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2),
s = 0.008, beta clipped at 0.999). We also draw x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
for one scikit-learn digit at several t, with the same noise eps for both schedules.
"""
import numpy as np
from _common import load_digits_arrays, parse_args, plt, save

T_STEPS = 1000


def linear_alpha_bar(T=T_STEPS):
    betas = np.linspace(1e-4, 0.02, T)
    return np.cumprod(1.0 - betas)


def cosine_alpha_bar(T=T_STEPS, s=0.008):
    t = np.arange(T + 1)
    f = np.cos(((t / T + s) / (1 + s)) * np.pi / 2) ** 2
    betas = np.clip(1.0 - f[1:] / f[:-1], 0.0, 0.999)
    return np.cumprod(1.0 - betas)


def main():
    args = parse_args(__doc__)
    ab = {"linear (Ho et al., 2020)": linear_alpha_bar(), "cosine (Nichol & Dhariwal, 2021)": cosine_alpha_bar()}
    x0 = load_digits_arrays()[0][0].reshape(8, 8) / 16.0 * 2.0 - 1.0  # an 8x8 "0", scaled to [-1, 1] as in DDPM
    eps = np.random.default_rng(0).standard_normal(x0.shape)
    shown = [0, 50, 100, 250, 500, 750, 999] if not args.fast else [0, 250, 999]

    fig = plt.figure(figsize=(11, 3.4))
    gs = fig.add_gridspec(2, 1 + len(shown), width_ratios=[4] + [1] * len(shown), wspace=0.15)
    ax = fig.add_subplot(gs[:, 0])
    t = np.arange(1, T_STEPS + 1)
    for (name, a), c in zip(ab.items(), ("tab:red", "tab:blue")):
        ax.plot(t, a, color=c, label=name)
    ax.set_xlabel("diffusion step t")
    ax.set_ylabel(r"signal level $\bar\alpha_t$")
    ax.set_title("Noise schedules")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    for row, (name, a) in enumerate(ab.items()):
        for col, step in enumerate(shown):
            sub = fig.add_subplot(gs[row, col + 1])
            xt = np.sqrt(a[step]) * x0 + np.sqrt(1 - a[step]) * eps
            sub.imshow(xt, cmap="gray", vmin=-2, vmax=2)
            sub.set_xticks([])
            sub.set_yticks([])
            if row == 0:
                sub.set_title(f"t={step + 1}", fontsize=8)
            if col == 0:
                sub.set_ylabel(name.split(" ")[0], fontsize=8, labelpad=6)
    save(fig, args.out, "04-ddpm-noise-schedule.png")


if __name__ == "__main__":
    main()
