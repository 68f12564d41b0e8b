from autograder.spec import Assignment, Forbidden

_OWN_LOSS = "write the squared error of the noise prediction yourself (Ho et al., 2020, eq. 14)"
_NO_LIBRARY = "build the diffusion process yourself, not with a diffusion library"

SPEC = Assignment(
    slug="ddpm",
    order=100,
    milestone="Ho, Jain & Abbeel (2020); Nichol & Dhariwal (2021)",
    lecture="lectures/04-architecture.md#diffusion-and-ddpm",
    budget_s=60,
    title="Denoising diffusion (Ho, Jain & Abbeel, 2020), with the cosine schedule of Nichol & Dhariwal (2021)",
    constraint="architecture (harnessing randomness: start from noise, remove it step by step)",
    framework="torch",
    targets=("linear_beta_schedule", "cosine_beta_schedule", "NoiseSchedule", "q_sample", "ddpm_loss", "p_sample",
             "sample"),
    forbidden=(
        Forbidden("torch.nn.functional.mse_loss", _OWN_LOSS),
        Forbidden("torch.nn.MSELoss", _OWN_LOSS),
        Forbidden("diffusers", _NO_LIBRARY),
    ),
    summary="Noise schedules, the forward process, the noise-prediction loss and ancestral sampling; a small MLP "
            "learns a 2-D mixture.",
)
