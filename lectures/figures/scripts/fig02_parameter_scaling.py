"""Lecture 2: a scaling curve in the number of parameters, fitted on small models trained here.

Experiment: one-hidden-layer MLPs of growing width on scikit-learn's digits. Each model is
trained with Adam on a fixed training set; we keep the test cross-entropy at the step where the
validation loss was lowest (early stopping, so every size is compared at its best). We then fit
the saturating power law L(N) = L_inf + a * N^(-alpha) used by Kaplan et al. (2020) for
language models, by least squares on the log of the loss.
"""
import numpy as np
import torch

from _common import digits_split, parse_args, plt, save


def train_width(width, Xtr, ytr, Xva, yva, Xte, yte, steps, seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.ReLU(), torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.functional.cross_entropy
    best_val, best_test = float("inf"), float("inf")
    for step in range(steps):
        opt.zero_grad()
        loss_fn(model(Xtr), ytr).backward()  # full-batch: the training set is ~1000 digits
        opt.step()
        if step % 5 == 4:
            with torch.no_grad():
                val = loss_fn(model(Xva), yva).item()
                if val < best_val:
                    best_val, best_test = val, loss_fn(model(Xte), yte).item()
    n_params = sum(p.numel() for p in model.parameters())
    return n_params, best_test


def law(logN, l_inf, log_a, alpha):
    return l_inf + np.exp(log_a - alpha * logN)


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(1)
    Xtr, ytr, Xte, yte = digits_split(n_test=500)
    Xva, yva = Xtr[:300], ytr[:300]
    Xtr, ytr = Xtr[300:], ytr[300:]
    T = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt)  # noqa: E731
    Xtr, Xva, Xte = T(Xtr), T(Xva), T(Xte)
    ytr, yva, yte = T(ytr, torch.long), T(yva, torch.long), T(yte, torch.long)

    widths = [2, 8, 32] if args.fast else [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128]
    seeds = [0] if args.fast else [0, 1, 2]
    steps = 40 if args.fast else 600
    Ns, Ls = [], []
    for w in widths:
        runs = [train_width(w, Xtr, ytr, Xva, yva, Xte, yte, steps, s) for s in seeds]
        Ns.append(runs[0][0])
        Ls.append(float(np.mean([r[1] for r in runs])))
    Ns, Ls = np.array(Ns, float), np.array(Ls)

    # Fit by a grid search over the floor L_inf: for each candidate floor, log(L - L_inf) is
    # linear in log N, so (log a, alpha) follow from least squares; keep the best fit in log L.
    best = None
    for l_inf in np.linspace(0.0, 0.98 * Ls.min(), 200):
        slope, log_a = np.polyfit(np.log(Ns), np.log(Ls - l_inf), 1)
        err = np.sum((np.log(law(np.log(Ns), l_inf, log_a, -slope)) - np.log(Ls)) ** 2)
        if best is None or err < best[0]:
            best = (err, l_inf, log_a, -slope)
    _, l_inf, log_a, alpha = best
    print("N:", Ns.astype(int).tolist())
    print("L:", np.round(Ls, 4).tolist())
    print(f"fit: L_inf={l_inf:.4f} a={np.exp(log_a):.3f} alpha={alpha:.3f}")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(Ns, Ls, "o", color="tab:purple", label="MLPs trained here (test loss)")
    grid = np.geomspace(Ns.min(), Ns.max() * 4, 100)
    ax.plot(grid, law(np.log(grid), l_inf, log_a, alpha), "-", color="tab:purple", alpha=0.6,
            label=f"fit: $L = {l_inf:.3f} + {np.exp(log_a):.1f}\\,N^{{-{alpha:.2f}}}$")
    if l_inf > 0:
        ax.axhline(l_inf, color="gray", ls=":", lw=1, label="fitted floor $L_\\infty$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("test cross-entropy (nats)")
    ax.set_title("Loss vs model size on digits")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    save(fig, args.out, "02-parameter-scaling.png")


if __name__ == "__main__":
    main()
