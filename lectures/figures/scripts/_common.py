"""Shared helpers for the lecture figure scripts.

Every script accepts ``--out DIR`` (default: ``lectures/figures``) and ``--fast``
(or the environment variable ``DLCOURSE_FAST=1``), which shrinks the experiment so
that it finishes in a few seconds; the committed figures come from full runs.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render straight to files
import matplotlib.pyplot as plt  # noqa: E402

FIGURES_DIR = Path(__file__).resolve().parents[1]  # lectures/figures
DPI = 100


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=FIGURES_DIR,
                        help="directory the PNG is written to (default: lectures/figures)")
    parser.add_argument("--fast", action="store_true",
                        help="small, quick version of the experiment (also DLCOURSE_FAST=1)")
    args = parser.parse_args()
    args.fast = args.fast or os.environ.get("DLCOURSE_FAST", "") not in ("", "0")
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save(fig: "plt.Figure", out: Path, name: str) -> Path:
    path = Path(out) / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")
    return path


def load_digits_arrays():
    """scikit-learn's bundled 8x8 digits as (X, y), X in [0, 16].

    Reads the CSV that ships inside scikit-learn directly, which avoids importing the whole
    library (seconds on a busy machine); falls back to ``sklearn.datasets.load_digits``.
    """
    import importlib.util

    import numpy as np

    spec = importlib.util.find_spec("sklearn")
    if spec and spec.submodule_search_locations:
        csv = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        if csv.is_file():
            data = np.loadtxt(csv, delimiter=",")
            return data[:, :-1], data[:, -1].astype("int64")
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def digits_split(n_test: int = 500, seed: int = 0):
    """The digits, scaled to [0, 1], split at random into train and test."""
    import numpy as np

    X, y = load_digits_arrays()
    X = X.astype("float32") / 16.0
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    test, train = perm[:n_test], perm[n_test:]
    return X[train], y[train], X[test], y[test]
