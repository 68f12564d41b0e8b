"""Known bugs for `dlcourse verify`: each is the reference with one realistic mistake planted in it.

(what the bug is, text of solutions/vae/vae.py, what it becomes, the function or class whose checks must fail, words
its failure message must contain, or "" where no check names that mistake); the text must occur exactly once.
The project's harness (tests/checks/test_harness.py) plants each one and asserts that it loses points on the checks
of its target only. Not shipped to students (it is made from the reference).
"""

_STD = "std = torch.exp(0.5 * logvar)                       # (B, L), sigma = sqrt(exp(logvar))"
_Z = "return mu + std * eps                               # (B, L)"
_KL = "return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=-1)   # (B, L) -> (B,)"
_EPS = "        if eps is None:\n            eps = torch.randn_like(mu)                       # (B, L)\n"
_MU_LV = "mu, logvar = self.mu(h), self.logvar(h)              # (B, L), (B, L)"
_DECODE = "return self.decoder(z), mu, logvar                   # (B, D), (B, L), (B, L)"
_NLL = "nll = (F.softplus(recon_logits) - x * recon_logits).sum(dim=-1)   # (B,), -log p(x | z)"
_LOSS = "return (nll + kl_divergence(mu, logvar)).mean()                    # ()"
_DRAW = "z = torch.randn(n, model.mu.out_features, generator=generator, device=device)   # (n, L)"
_PROBS = "return torch.sigmoid(model.decoder(z))                                        # (n, D)"

BUGS = [
    # reparameterize
    ("std = exp(logvar)", _STD, "std = torch.exp(logvar)", "reparameterize", "exp(logvar) used as the standard"),
    ("logvar as the standard deviation", _STD, "std = logvar", "reparameterize", "logvar used as the standard"),
    ("reparameterize draws its own eps", _Z, "return mu + std * torch.randn_like(std)", "reparameterize", ""),
    ("std detached", _STD, "std = torch.exp(0.5 * logvar).detach()", "reparameterize",
     "not differentiable in mu and logvar"),
    # kl_divergence
    ("KL sign flipped", _KL, "return 0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=-1)", "kl_divergence",
     "the sign flipped"),
    ("KL averaged over the latent dims", _KL, "return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).mean(dim=-1)",
     "kl_divergence", "averaged over the latent dimensions"),
    ("KL without the 1/2", _KL, "return -(1 + logvar - mu ** 2 - logvar.exp()).sum(dim=-1)", "kl_divergence",
     "the factor 1/2 left out"),
    ("KL with the standard deviation for the variance", _KL,
     "return -0.5 * (1 + logvar - mu ** 2 - (0.5 * logvar).exp()).sum(dim=-1)", "kl_divergence",
     "the standard deviation"),
    ("KL summed over the batch too", _KL, "return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum()",
     "kl_divergence", "expected (3,)"),
    # VAE
    ("eps ignored when given", _EPS, "        eps = torch.randn_like(mu)\n", "VAE", "eps ignored when given"),
    ("logvar from the mu layer", _MU_LV, "mu, logvar = self.mu(h), self.mu(h)", "VAE", "logvar computed with the mu"),
    ("VAE decodes probabilities", _DECODE, "return torch.sigmoid(self.decoder(z)), mu, logvar", "VAE",
     "passed through a sigmoid"),
    ("VAE decodes the mean", "z = reparameterize(mu, logvar, eps)                  # (B, L)", "z = mu", "VAE",
     "z = mu decoded"),
    ("VAE without the encoder's ReLU", "self.encoder = nn.Sequential(nn.Linear(data_dim, hidden_dim), nn.ReLU())",
     "self.encoder = nn.Sequential(nn.Linear(data_dim, hidden_dim))", "VAE", ""),
    ("one eps for the whole batch", _EPS,
     "        if eps is None:\n            eps = torch.randn_like(mu[:1]).expand_as(mu)\n", "VAE", "covariance"),
    # elbo_loss
    ("reconstruction averaged over the pixels", _NLL,
     "nll = (F.softplus(recon_logits) - x * recon_logits).mean(dim=-1)", "elbo_loss",
     "averaged over the data dimensions while the KL is summed"),
    ("sigmoid then log in the likelihood", _NLL,
     "p = torch.sigmoid(recon_logits)\n    nll = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=-1)",
     "elbo_loss", "a sigmoid followed by a log"),
    ("summed over the batch", _LOSS, "return (nll + kl_divergence(mu, logvar)).sum()", "elbo_loss",
     "summed over the batch"),
    ("KL subtracted", _LOSS, "return (nll - kl_divergence(mu, logvar)).mean()", "elbo_loss", "the KL subtracted"),
    ("KL left out", _LOSS, "return nll.mean()", "elbo_loss", "the KL term left out"),
    ("squared error instead of the likelihood", _NLL,
     "nll = ((torch.sigmoid(recon_logits) - x) ** 2).sum(dim=-1)", "elbo_loss", "the squared error"),
    ("the ELBO, not its negative", _LOSS, "return -(nll + kl_divergence(mu, logvar)).mean()", "elbo_loss",
     "the ELBO itself"),
    ("torch.distributions' KL", _KL,
     "from torch.distributions import Normal, kl_divergence as kl\n"
     "    q = Normal(mu, torch.exp(0.5 * logvar))\n"
     "    return kl(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(dim=-1)", "kl_divergence", "forbidden"),
    # sample
    ("sample returns logits", _PROBS, "return model.decoder(z)", "sample", "apply a sigmoid"),
    ("sample ignores the generator", _DRAW, "z = torch.randn(n, model.mu.out_features, device=device)", "sample",
     "all randomness must come from the generator"),
    ("sample draws uniform z", _DRAW,
     "z = torch.rand(n, model.mu.out_features, generator=generator, device=device)", "sample", "torch.rand"),
    ("sample seeds its own generator", _DRAW,
     "z = torch.randn(n, model.mu.out_features, generator=generator or torch.Generator(device=device).manual_seed(0), "
     "device=device)", "sample", "do not seed one inside sample"),
    ("sample scales z by 0.5", _DRAW,
     "z = 0.5 * torch.randn(n, model.mu.out_features, generator=generator, device=device)", "sample", "covariance"),
]

# The end-to-end run is left out of the bugs' grading for speed: each bug is graded on the quick checks of its own
# target (the engine adds the target's core checks).
_QUICK = {
    "reparameterize": ["reparameterize:"],
    "kl_divergence": ["kl_divergence:"],
    "VAE": ["VAE:"],
    "elbo_loss": ["elbo_loss: the", "elbo_loss: finite", "elbo_loss: matches"],
    "sample": ["sample:"],
}
SELECT = {name: _QUICK[target] for name, _old, _new, target, _says in BUGS}
