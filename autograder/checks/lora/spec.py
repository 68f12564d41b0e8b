from autograder.spec import Assignment, Forbidden

SPEC = Assignment(
    slug="lora",
    order=130,
    milestone="Hu et al. (2021)",
    lecture="lectures/02-parameters.md#lora",
    budget_s=30,
    title="LoRA: low-rank adaptation (Hu et al., 2021)",
    constraint="parameters and compute",
    framework="torch",
    targets=("LoRALinear", "apply_lora", "merge_lora", "lora_state_dict", "count_trainable_parameters"),
    forbidden=(
        Forbidden("peft", "write LoRA yourself: the Hugging Face PEFT library is not allowed"),
        Forbidden("loralib", "write LoRA yourself: Microsoft's loralib is not allowed"),
        Forbidden("torch.nn.utils.parametrize.*parametrization*",
                  "build the low-rank path as an explicit module (LoRALinear), not as a parametrization"),
    ),
)
