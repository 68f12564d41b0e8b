"""Lecture 5: what data-parallel training costs in communication.

Left: bytes on the busiest link per step, for one parameter server (it receives every worker's gradient, P*M)
and for a ring all-reduce (each worker sends 2(P-1)/P * M; Patarasuk & Yuan, 2009). Right: scaling efficiency of
data-parallel training, compute / (compute + all-reduce) without overlap and compute / max(compute, all-reduce)
with it, for fast (NVLink-class) and slow (100 Gbit/s Ethernet) links. Everything is computed from the formulas of
the lecture: T_allreduce = 2 (P-1) (alpha + M / (P beta)), T_compute = 6 N tokens / (R * MFU).
"""
import numpy as np

from _common import parse_args, plt, save

N = 1.5e9  # parameters (GPT-2 XL size)
BYTES = 2  # 16-bit gradients
M = N * BYTES
TOKENS_PER_GPU = 8 * 1024
PEAK, MFU = 312e12, 0.5  # A100 bf16 dense
LINKS = {  # name: (bandwidth in bytes/s, latency per message in s)
    "NVLink-class, 300 GB/s": (300e9, 5e-6),
    "Ethernet 100 Gbit/s": (12.5e9, 50e-6),
}


def ring_bytes(p):
    return 2 * (p - 1) / p * M


def allreduce_time(p, beta, alpha):
    return 2 * (p - 1) * (alpha + M / (p * beta))


def main():
    args = parse_args(__doc__)
    p = np.unique(np.round(np.logspace(1, 10, 60 if not args.fast else 20, base=2))).astype(int)
    p = p[p >= 2]
    compute = 6 * N * TOKENS_PER_GPU / (PEAK * MFU)
    print(f"compute per step and GPU: {compute:.3f} s; ring all-reduce volume at P=1024: {ring_bytes(1024) / 1e9:.2f} GB")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    fig.subplots_adjust(wspace=0.3)
    ax0.loglog(p, p * M / 1e9, "o-", ms=3, label="parameter server (receives $PM$)")
    ax0.loglog(p, ring_bytes(p) / 1e9, "s-", ms=3, label="ring all-reduce (sends $2(P-1)M/P$)")
    ax0.set_xlabel("number of GPUs $P$")
    ax0.set_ylabel("GB on the busiest link per step")
    ax0.set_title(f"Communication per step ({N / 1e9:g}B parameters, fp16)", fontsize=10)
    ax0.legend(fontsize=8)
    ax0.grid(True, which="both", alpha=0.3)

    for k, (name, (beta, alpha)) in enumerate(LINKS.items()):
        comm = allreduce_time(p, beta, alpha)
        c = plt.get_cmap("tab10")(k)
        ax1.semilogx(p, compute / (compute + comm), "-", color=c, label=f"{name}, after backward")
        ax1.semilogx(p, compute / np.maximum(compute, comm), "--", color=c, label=f"{name}, overlapped")
    ax1.set_ylim(0, 1.05)
    ax1.set_xlabel("number of GPUs $P$")
    ax1.set_ylabel("scaling efficiency (compute / step time)")
    ax1.set_title(f"Data-parallel scaling (A100, {MFU:.0%} MFU, {TOKENS_PER_GPU} tokens/GPU)", fontsize=10)
    ax1.legend(fontsize=7, loc="lower left")
    ax1.grid(True, which="both", alpha=0.3)
    save(fig, args.out, "05-allreduce.png")


if __name__ == "__main__":
    main()
