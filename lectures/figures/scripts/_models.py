"""Published sizes of a few dense language models, with their sources (used by figures 05 and 07).

N: parameters; D: training tokens. GPU-hours and energy are the values the papers report.
"""

# name: (N, D, source)
MODELS = {
    "GPT-3 175B": (175e9, 300e9, "Brown et al., 2020"),
    "Gopher 280B": (280e9, 300e9, "Rae et al., 2021"),
    "Chinchilla 70B": (70e9, 1.4e12, "Hoffmann et al., 2022"),
    "LLaMA 7B": (6.7e9, 1.0e12, "Touvron et al., 2023"),
    "LLaMA 13B": (13.0e9, 1.0e12, "Touvron et al., 2023"),
    "LLaMA 33B": (32.5e9, 1.4e12, "Touvron et al., 2023"),
    "LLaMA 65B": (65.2e9, 1.4e12, "Touvron et al., 2023"),
}

# Reported A100-80GB GPU-hours, energy (MWh) and emissions (tCO2eq) for LLaMA
# (Touvron et al., 2023, Table 15: 400 W per GPU, PUE 1.1, 0.385 kgCO2eq/kWh).
LLAMA_REPORTED = {
    "LLaMA 7B": (82_432, 36, 14),
    "LLaMA 13B": (135_168, 59, 23),
    "LLaMA 33B": (530_432, 233, 90),
    "LLaMA 65B": (1_022_362, 449, 173),
}

# GPT-3: reported training compute 3.14e23 FLOPs (Brown et al., 2020); energy 1,287 MWh and
# 552 tCO2e on V100 GPUs (Patterson et al., 2021).
GPT3_REPORTED = {"flops": 3.14e23, "mwh": 1287, "tco2e": 552}

A100_PEAK_BF16 = 312e12   # FLOP/s, dense bf16 tensor-core peak (NVIDIA A100 datasheet)
A100_WATTS = 400          # W, SXM board power, the figure Touvron et al. (2023) use
PUE = 1.1                 # data-centre power usage effectiveness assumed by Touvron et al. (2023)
KG_CO2_PER_KWH = 0.385    # US-average carbon intensity used by Touvron et al. (2023)


def training_flops(n_params: float, n_tokens: float) -> float:
    """C ~ 6 N D: 2 FLOPs per parameter per token forward, 4 backward (Kaplan et al., 2020)."""
    return 6.0 * n_params * n_tokens
