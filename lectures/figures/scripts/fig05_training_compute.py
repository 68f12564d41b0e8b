"""Lecture 5: the 6*N*D estimate of training compute, and what it means in GPU-hours.

Calculation: for language models of published size N (parameters) and training set D (tokens),
C = 6 N D floating-point operations. Dividing by the A100's dense bf16 peak (312 TFLOP/s) times a
model-FLOPs utilisation (MFU) gives GPU-hours. For the LLaMA models, whose papers report their
GPU-hours, we invert the calculation and print the utilisation they achieved.
"""
import numpy as np

from _common import parse_args, plt, save
from _models import A100_PEAK_BF16, GPT3_REPORTED, LLAMA_REPORTED, MODELS, training_flops


def main():
    args = parse_args(__doc__)
    names = list(MODELS)
    C = np.array([training_flops(*MODELS[n][:2]) for n in names])
    print(f"GPT-3: 6ND = {C[0]:.3g} FLOPs (reported {GPT3_REPORTED['flops']:.3g})")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"wspace": 0.3})
    y = np.arange(len(names))
    ax0.barh(y, C, color="tab:purple", alpha=0.8)
    for i, c in enumerate(C):
        ax0.text(c * 1.1, i, f"{c:.2g}", va="center", fontsize=8)
    ax0.set_yticks(y, [f"{n}\n({MODELS[n][2]})" for n in names], fontsize=7)
    ax0.invert_yaxis()
    ax0.set_xscale("log")
    ax0.set_xlim(1e22, 3e24)
    ax0.set_xlabel("training compute C = 6ND (FLOPs)")
    ax0.set_title("Training compute of published models")

    mfus = (0.3, 0.5)
    for k, (mfu, c) in enumerate(zip(mfus, ("tab:orange", "tab:blue"))):
        gpu_h = C / (A100_PEAK_BF16 * mfu) / 3600.0
        ax1.barh(y + (k - 0.5) * 0.27, gpu_h, height=0.27, color=c, alpha=0.8,
                 label=f"6ND at {int(100 * mfu)}% of A100 bf16 peak")
    rep = [(i, LLAMA_REPORTED[n][0]) for i, n in enumerate(names) if n in LLAMA_REPORTED]
    ax1.plot([r[1] for r in rep], [r[0] + 0.4 for r in rep], "kD", ms=5, label="reported A100 GPU-hours")
    for i, n in enumerate(names):
        if n in LLAMA_REPORTED:
            mfu = C[i] / (LLAMA_REPORTED[n][0] * 3600.0 * A100_PEAK_BF16)
            print(f"{n}: implied utilisation {100 * mfu:.0f}%")
            ax1.text(LLAMA_REPORTED[n][0] * 1.3, i + 0.4, f"implied MFU {100 * mfu:.0f}%",
                     va="center", fontsize=7)
    ax1.set_yticks(y, names, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xscale("log")
    ax1.set_xlim(3e4, 3e7)
    ax1.set_xlabel("A100 GPU-hours (hypothetical for models not trained on A100s)")
    ax1.set_title("What the compute costs in GPU-hours")
    ax1.legend(fontsize=7, loc="upper right")
    ax1.grid(True, axis="x", which="both", alpha=0.3)
    save(fig, args.out, "05-training-compute.png")


if __name__ == "__main__":
    main()
