"""The gan assignment: generative adversarial networks (Goodfellow et al., 2014)."""

from autograder.spec import Assignment, Forbidden

_OWN_BCE = ("write the binary cross-entropy on logits yourself, with softplus or logsigmoid (Goodfellow et al., "
            "2014, eq. 1)")

SPEC = Assignment(
    slug="gan",
    order=90,
    milestone="Goodfellow et al. (2014)",
    lecture="lectures/04-architecture.md#generative-adversarial-networks",
    budget_s=30,
    title="Generative adversarial networks (Goodfellow et al., 2014)",
    constraint="architecture (harnessing randomness: a learned sampler trained through a game)",
    framework="torch",
    targets=("discriminator_loss", "generator_loss", "Generator", "Discriminator", "train_step"),
    forbidden=(
        Forbidden("torch.nn.functional.binary_cross_entropy*", _OWN_BCE),
        Forbidden("torch.nn.BCELoss", _OWN_BCE),
        Forbidden("torch.nn.BCEWithLogitsLoss", _OWN_BCE),
        Forbidden("torch.nn.modules.loss.BCE*", _OWN_BCE),
        Forbidden("torch.binary_cross_entropy*", _OWN_BCE),
    ),
    summary="The discriminator's and the generator's losses on logits (non-saturating and minimax), two MLPs, and "
            "one round of the game; a generator learns a ring of 8 Gaussians.",
)
