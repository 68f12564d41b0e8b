"""Lecture 1: test error falls as a power law in the amount of training data.

Experiment: classifiers trained on n examples of scikit-learn's 8x8 digits, evaluated on a
fixed held-out set of 500 digits, for growing n. We fit err(n) ~ a * n^(-b) on a log-log
scale to each model's curve.
"""
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from _common import digits_split, parse_args, plt, save


def main():
    args = parse_args(__doc__)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    Xtr, ytr, Xte, yte = digits_split()
    sizes = [40, 160] if args.fast else [20, 40, 80, 160, 320, 640, 1280]
    seeds = [0] if args.fast else [0, 1, 2, 3, 4]
    max_iter = 20 if args.fast else 400
    models = {
        "logistic regression": lambda s: LogisticRegression(C=1.0, max_iter=max_iter),
        "MLP (1 hidden layer, 128 units)": lambda s: MLPClassifier(
            (128,), alpha=1e-3, max_iter=max_iter, random_state=s),
    }
    errs = {k: [] for k in models}
    for n in sizes:
        for name, make in models.items():
            e = []
            for s in seeds:
                idx = np.random.default_rng(s).permutation(len(Xtr))[:n]
                clf = make(s).fit(Xtr[idx], ytr[idx])
                e.append(1.0 - clf.score(Xte, yte))
            errs[name].append(np.mean(e))

    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, e), c in zip(errs.items(), ("tab:blue", "tab:red")):
        e = np.maximum(np.array(e), 1e-3)
        slope, icpt = np.polyfit(np.log(sizes), np.log(e), 1)
        ax.plot(sizes, e, "o", color=c, label=f"{name}")
        fit_n = np.geomspace(sizes[0], sizes[-1], 50)
        ax.plot(fit_n, np.exp(icpt) * fit_n**slope, "-", color=c, alpha=0.6,
                label=f"fit: err $\\propto n^{{{slope:.2f}}}$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training examples n")
    ax.set_ylabel("test error (500 held-out digits)")
    ax.set_title("More data, lower error: a power law")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    save(fig, args.out, "01-data-scaling.png")


if __name__ == "__main__":
    main()
