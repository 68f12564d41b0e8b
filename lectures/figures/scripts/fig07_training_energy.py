"""Lecture 7: from training compute to energy and emissions.

Calculation: energy = (C / (peak * MFU)) * P_gpu * PUE, with C = 6ND, the A100's dense bf16
peak (312 TFLOP/s), a utilisation MFU = 45%, 400 W per GPU and a data-centre PUE of 1.1; emissions
= energy * carbon intensity (0.385 kgCO2eq/kWh). The assumptions are those of Touvron et al.
(2023), whose reported LLaMA figures we plot beside the estimates. GPT-3's reported energy and
emissions (Patterson et al., 2021) come from V100 GPUs; its bar is what the same run would
cost on A100s under our assumptions.

The arithmetic is the energy assignment's: `training_flops`, `energy_joules` and `co2_kg` of the reference
(solutions/energy/energy.py), or of your own assignments/energy/energy.py where the reference is not shipped.
"""
import importlib.util
from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from _common import parse_args, plt, save
from _models import A100_PEAK_BF16, A100_WATTS, GPT3_REPORTED, KG_CO2_PER_KWH, LLAMA_REPORTED, MODELS, PUE

MFU = 0.45
ROOT = Path(__file__).resolve().parents[3]


def _energy_module():
    """The energy assignment's functions: the reference where it exists, else the student's module."""
    for path in (ROOT / "solutions" / "energy" / "energy.py", ROOT / "assignments" / "energy" / "energy.py"):
        if path.is_file():
            spec = importlib.util.spec_from_file_location("energy_for_fig07", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise SystemExit("energy.py not found: this figure uses the energy assignment's functions")


E = _energy_module()
training_flops = E.training_flops


def energy_mwh(C, mfu=MFU):
    joules = [E.energy_joules(float(c), A100_PEAK_BF16, mfu, A100_WATTS, pue=PUE) for c in np.atleast_1d(C)]
    return np.array(joules) / 3.6e9  # J -> MWh


def emissions_t(mwh):
    """tCO2eq of `mwh` megawatt-hours at KG_CO2_PER_KWH (co2_kg takes grams per kWh)."""
    return np.array([E.co2_kg(m * 3.6e9, KG_CO2_PER_KWH * 1000.0) for m in np.atleast_1d(mwh)]) / 1000.0


def main():
    args = parse_args(__doc__)
    names = list(MODELS)
    C = np.array([training_flops(*MODELS[n][:2]) for n in names])
    est = energy_mwh(C)
    rep = {n: LLAMA_REPORTED[n][1:] for n in LLAMA_REPORTED}
    rep["GPT-3 175B"] = (GPT3_REPORTED["mwh"], GPT3_REPORTED["tco2e"])
    for n, e in zip(names, est):
        r = rep.get(n)
        print(f"{n:15s} estimate {e:7.0f} MWh {emissions_t(e)[0]:6.0f} tCO2eq"
              + (f" | reported {r[0]} MWh, {r[1]} tCO2eq" if r else ""))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"wspace": 0.35})
    y = np.arange(len(names))
    for ax, k, values, unit, lim in ((axes[0], 0, est, "energy (MWh)", (10, 3000)),
                                     (axes[1], 1, emissions_t(est), "emissions (tCO$_2$eq)", (4, 1200))):
        ax.barh(y, values, color="tab:olive", alpha=0.85,
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
