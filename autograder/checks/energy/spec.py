"""The energy assignment: from FLOPs to joules to CO2 (Strubell, Ganesh & McCallum, 2019; Patterson et al., 2021)."""

from autograder.spec import Assignment, Forbidden

SPEC = Assignment(
    slug="energy",
    order=160,
    milestone="Strubell, Ganesh & McCallum (2019); Patterson et al. (2021)",
    lecture="lectures/07-energy.md#from-flops-to-joules",
    budget_s=30,
    title="Energy: from FLOPs to joules to CO2 (Strubell et al., 2019; Patterson et al., 2021)",
    constraint="energy",
    framework="torch",
    targets=("count_flops", "training_flops", "energy_joules", "co2_kg"),
    forbidden=(
        Forbidden("torch.utils.flop_counter", "count the FLOPs yourself: PyTorch's FlopCounterMode is the checks' "
                                              "oracle"),
    ),
    summary="FLOPs of a forward pass per module (Linear, Conv2d, attention, LayerNorm), 6 N D for training, the "
            "energy of a run and its CO2.",
)
