"""Known bugs of the energy assignment, planted one at a time in solutions/energy/energy.py.

(what the bug is, text of the reference, what it becomes, the function whose checks must fail, words its failure
message must contain). Not shipped to students.
"""

_LINEAR = "return 2 * rows * module.in_features * module.out_features"
_CONV = "return 2 * output.numel() * per_output"
_ATTN = "return projections + scores + mixing"
_ENERGY = "return seconds * float(watts) * float(pue)"

BUGS = [
    # ---------------------------------------------------------------- count_flops
    ("a multiply-add counted as 1 FLOP", _LINEAR, "return rows * module.in_features * module.out_features",
     "count_flops", "a multiply-add counts as 2 FLOPs"),
    ("Linear bias counted", _LINEAR, _LINEAR + " + (rows * module.out_features if module.bias is not None else 0)",
     "count_flops", ""),
    ("Conv2d groups ignored", "per_output = (module.in_channels // module.groups) * kh * kw",
     "per_output = module.in_channels * kh * kw", "count_flops", "groups ignored"),
    ("Conv2d stride ignored", _CONV,
     "return 2 * inputs[0].shape[0] * module.out_channels * inputs[0].shape[2] * inputs[0].shape[3] * per_output",
     "count_flops", "stride ignored"),
    ("attention matmuls left out", _ATTN, "return projections", "count_flops", "Q K^T and A V are left out"),
    ("keys as long as the queries", "    projections = 2 * N * L * E * E", "    S = L\n    projections = 2 * N * L * E * E",
     "count_flops", ""),
    ("batch_first ignored", "    elif module.batch_first:  # (N, L, E), (N, S, kdim)", "    elif False:",
     "count_flops", ""),
    ("LayerNorm's affine parameters not counted", "return x.numel() * (LAYERNORM_FLOPS + affine)",
     "return x.numel() * LAYERNORM_FLOPS", "count_flops", "weight and bias) are not counted"),
    ("a second call overwrites the first", "counts[name] = counts.get(name, 0) + int(formula(module, inputs, output))",
     "counts[name] = int(formula(module, inputs, output))", "count_flops", "applied twice"),
    ("hooks left on the model", "        for handle in handles:\n            handle.remove()\n",
     "        pass\n", "count_flops", "hooks left"),
    ("FlopCounterMode used", "    counts = {}\n\n    def hook_for",
     "    from torch.utils.flop_counter import FlopCounterMode  # noqa: F401\n    counts = {}\n\n    def hook_for",
     "count_flops", "forbidden"),
    # ---------------------------------------------------------------- training_flops
    ("2 N D", "return 6.0 * float(n_params) * float(n_tokens)", "return 2.0 * float(n_params) * float(n_tokens)",
     "training_flops", "forward pass only"),
    ("an int for int arguments", "return 6.0 * float(n_params) * float(n_tokens)", "return 6 * n_params * n_tokens",
     "training_flops", "expected a float"),
    ("no ValueError for negative N", "if n_params < 0 or n_tokens < 0:", "if n_tokens < 0:", "training_flops",
     "expected a ValueError"),
    # ---------------------------------------------------------------- energy_joules
    ("multiplied by the utilisation", "seconds = float(flops) / (float(flops_per_second) * float(utilisation))",
     "seconds = float(flops) / float(flops_per_second) * float(utilisation)", "energy_joules",
     "multiplied by the utilisation"),
    ("PUE ignored", _ENERGY, "return seconds * float(watts)", "energy_joules", "PUE is ignored"),
    ("watt-hours", _ENERGY, "return seconds * float(watts) * float(pue) / 3600", "energy_joules", "watt-hours"),
    ("utilisation above 1 accepted", "not 0 < utilisation <= 1", "not 0 < utilisation", "energy_joules",
     "expected a ValueError"),
    # ---------------------------------------------------------------- co2_kg
    ("grams not converted to kilograms", "return float(joules) / JOULES_PER_KWH * float(grams_per_kwh) / 1000.0",
     "return float(joules) / JOULES_PER_KWH * float(grams_per_kwh)", "co2_kg", "factor of 1000"),
    ("per MWh", "return float(joules) / JOULES_PER_KWH * float(grams_per_kwh) / 1000.0",
     "return float(joules) / (JOULES_PER_KWH * 1000) * float(grams_per_kwh) / 1000.0", "co2_kg", "factor of 1/1000"),
    ("no ValueError for negative energy", "if joules < 0 or grams_per_kwh < 0:", "if grams_per_kwh < 0:", "co2_kg",
     "expected a ValueError"),
]

# The checks each bug is graded on in the project's tests (the target's core checks are always added).
SELECT = {
    "a multiply-add counted as 1 FLOP": ["count_flops: Linear layers"],
    "Linear bias counted": ["count_flops: Linear layers"],
    "Conv2d groups ignored": ["count_flops: Conv2d"],
    "Conv2d stride ignored": ["count_flops: Conv2d"],
    "attention matmuls left out": ["count_flops: MultiheadAttention"],
    "keys as long as the queries": ["count_flops: MultiheadAttention"],
    "batch_first ignored": ["count_flops: MultiheadAttention"],
    "LayerNorm's affine parameters not counted": ["count_flops: LayerNorm"],
    "a second call overwrites the first": ["count_flops: Linear layers"],
    "hooks left on the model": ["count_flops: removes its hooks"],
    "FlopCounterMode used": ["count_flops: Linear layers"],
    "2 N D": ["training_flops: 6 N D"],
    "an int for int arguments": ["training_flops: a float"],
    "no ValueError for negative N": ["training_flops: a float"],
    "multiplied by the utilisation": ["energy_joules: flops /"],
    "PUE ignored": ["energy_joules: flops /"],
    "watt-hours": ["energy_joules: flops /"],
    "utilisation above 1 accepted": ["energy_joules: utilisation outside"],
    "grams not converted to kilograms": ["co2_kg: joules to kWh"],
    "per MWh": ["co2_kg: joules to kWh"],
    "no ValueError for negative energy": ["co2_kg: a float"],
}
