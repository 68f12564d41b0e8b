"""Lecture 6: spending a fixed compute budget well (compute-optimal model size).

Calculation: Hoffmann et al. (2022, "Chinchilla", Approach 3) fit the final loss of language
models with N parameters trained on D tokens as

    L(N, D) = E + A / N^alpha + B / D^beta,   E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28.

With the budget constraint C = 6 N D, each budget gives an "iso-FLOP" curve L(N, C / (6N)); its
minimum is the compute-optimal size N*(C) = G (C/6)^(beta/(alpha+beta)), with
G = (alpha A / (beta B))^(1/(alpha+beta)). We plot the iso-FLOP curves, the optimum, and where
GPT-3 and Chinchilla sit.
"""
import numpy as np

from _common import parse_args, plt, save

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28


def loss(N, D):
    return E + A / N**ALPHA + B / D**BETA


def n_opt(C):
    G = (ALPHA * A / (BETA * B)) ** (1.0 / (ALPHA + BETA))
    return G * (C / 6.0) ** (BETA / (ALPHA + BETA))


def main():
    args = parse_args(__doc__)
    budgets = [1e19, 1e21, 1e23, 1e25] if args.fast else [1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25]
    N = np.geomspace(1e7, 1e13, 400)
    cmap = plt.get_cmap("viridis")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"wspace": 0.25})
    for i, C in enumerate(budgets):
        col = cmap(i / max(1, len(budgets) - 1))
        ax0.plot(N, loss(N, C / (6 * N)), color=col, label=f"C = {C:.0e} FLOPs")
        n = n_opt(C)
        ax0.plot(n, loss(n, C / (6 * n)), "o", color=col, mec="k")
    for name, n, d, m in (("GPT-3", 175e9, 300e9, "s"), ("Chinchilla", 70e9, 1.4e12, "*")):
        C = 6 * n * d
        ax0.plot(n, loss(n, d), m, color="tab:red", ms=10, mec="k",
                 label=f"{name}: N={n / 1e9:.0f}B, D={d / 1e9:.0f}B, L={loss(n, d):.3f}")
        print(f"{name}: C={C:.2e}, predicted loss {loss(n, d):.3f}, N*(C)={n_opt(C) / 1e9:.0f}B, "
              f"D*(C)={C / 6 / n_opt(C) / 1e9:.0f}B tokens")
    ax0.set_xscale("log")
    ax0.set_ylim(1.8, 4.5)
    ax0.set_xlabel("parameters N (with D = C / 6N tokens)")
    ax0.set_ylabel("predicted loss L(N, D)")
    ax0.set_title("Iso-FLOP curves of the Chinchilla loss fit")
    ax0.legend(fontsize=6.5, ncol=2)
    ax0.grid(True, which="major", alpha=0.3)

    Cs = np.geomspace(1e18, 1e26, 100)
    ax1.plot(Cs, n_opt(Cs), color="tab:blue", label="compute-optimal parameters N*(C)")
    ax1.plot(Cs, Cs / 6 / n_opt(Cs), color="tab:green", label="compute-optimal tokens D*(C)")
    for name, n, d, m in (("GPT-3", 175e9, 300e9, "s"), ("Chinchilla", 70e9, 1.4e12, "*")):
        ax1.plot(6 * n * d, n, m, color="tab:blue", ms=9, mec="k")
        ax1.plot(6 * n * d, d, m, color="tab:green", ms=9, mec="k")
        ax1.annotate(name, (6 * n * d, n), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("compute budget C (FLOPs)")
    ax1.set_ylabel("parameters / tokens")
    ax1.set_title(r"Optimal allocation: $N^* \propto C^{%.2f}$" % (BETA / (ALPHA + BETA)))
    ax1.legend(fontsize=8)
    ax1.grid(True, which="major", alpha=0.3)
    save(fig, args.out, "06-compute-optimal.png")


if __name__ == "__main__":
    main()
