"""The vae assignment: variational autoencoders (Kingma & Welling, 2013)."""

from autograder.spec import Assignment, Forbidden

_OWN_KL = "write the Gaussian KL in closed form yourself (Kingma & Welling, 2013, Appendix B)"

SPEC = Assignment(
    slug="vae",
    order=80,
    milestone="Kingma & Welling (2013)",
    lecture="lectures/04-architecture.md#variational-autoencoders",
    budget_s=30,
    title="Variational autoencoders (Kingma & Welling, 2013)",
    constraint="architecture (harnessing randomness: a latent space you can sample)",
    framework="torch",
    targets=("reparameterize", "kl_divergence", "VAE", "elbo_loss", "sample"),
    forbidden=(
        Forbidden("torch.distributions.kl_divergence", _OWN_KL),
        Forbidden("torch.distributions.kl.*", _OWN_KL),
    ),
    summary="The reparameterization trick, the Gaussian KL, an MLP VAE, the negative ELBO with a Bernoulli decoder "
            "and sampling; a VAE learns the 8x8 digits.",
)
