"""Lecture 7: from training compute to energy and emissions.

Calculation: energy = (C / (peak * MFU)) * P_gpu * PUE, with C = 6ND, the A100's dense bf16
peak (312 TFLOP/s), a utilisation MFU = 45%, 400 W per GPU and a data-centre PUE of 1.1; emissions
= energy * carbon intensity (0.385 kgCO2eq/kWh). The assumptions are those of Touvron et al.
(2023), whose reported LLaMA figures we plot beside the estimates. GPT-3's reported energy and
emissions (Patterson et al., 2021) come from V100 GPUs; its bar is what the same run would
cost on A100s under our assumptions.
"""
import numpy as np
from matplotlib.ticker import NullFormatter

from _common import parse_args, plt, save
from _models import (A100_PEAK_BF16, A100_WATTS, GPT3_REPORTED, KG_CO2_PER_KWH, LLAMA_REPORTED,
                     MODELS, PUE, training_flops)

MFU = 0.45


def energy_mwh(C, mfu=MFU):
    gpu_hours = C / (A100_PEAK_BF16 * mfu) / 3600.0
    return gpu_hours * A100_WATTS * PUE / 1e6  # W*h -> MWh


def main():
    args = parse_args(__doc__)
    names = list(MODELS)
    C = np.array([training_flops(*MODELS[n][:2]) for n in names])
    est = energy_mwh(C)
    rep = {n: LLAMA_REPORTED[n][1:] for n in LLAMA_REPORTED}
    rep["GPT-3 175B"] = (GPT3_REPORTED["mwh"], GPT3_REPORTED["tco2e"])
    for n, e in zip(names, est):
        r = rep.get(n)
        print(f"{n:15s} estimate {e:7.0f} MWh {e * KG_CO2_PER_KWH:6.0f} tCO2eq"
              + (f" | reported {r[0]} MWh, {r[1]} tCO2eq" if r else ""))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"wspace": 0.35})
    y = np.arange(len(names))
    for ax, k, scale, unit, lim in ((axes[0], 0, 1.0, "energy (MWh)", (10, 3000)),
                                    (axes[1], 1, KG_CO2_PER_KWH, "emissions (tCO$_2$eq)", (4, 1200))):
        ax.barh(y, est * scale, color="tab:olive", alpha=0.85,
                label=f"estimate: 6ND on A100s at {int(100 * MFU)}% MFU, 400 W, PUE {PUE}")
        ry = [i for i, n in enumerate(names) if n in rep]
        ax.plot([rep[names[i]][k] for i in ry], ry, "kD", ms=6, label="reported by the authors")
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlim(*lim)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(unit)
        ax.grid(True, axis="x", which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.17))
    axes[0].set_title("Training energy")
    axes[1].set_title(f"Training emissions at {KG_CO2_PER_KWH} kgCO$_2$eq/kWh")
    save(fig, args.out, "07-training-energy.png")


if __name__ == "__main__":
    main()
