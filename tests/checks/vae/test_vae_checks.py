"""What is specific to the vae checks (the harness in tests/checks/test_harness.py covers the reference, the
skeleton, hollow code and bugs.py): correct code written in other reasonable styles gets full marks, and the
end-to-end run stays within its time bound."""

from autograder import spec as specs
from autograder.grading import grade
from tests.helpers import mutate, reference_source, write_submission

SLUG = "vae"


def test_other_styles_get_full_marks(tmp_path):
    source = reference_source(SLUG)
    source = mutate(source,
                    "    std = torch.exp(0.5 * logvar)                       # (B, L), sigma = sqrt(exp(logvar))\n"
                    "    return mu + std * eps                               # (B, L)\n",
                    "    return torch.addcmul(mu, (0.5 * logvar).exp(), eps)\n")
    source = mutate(source, "return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=-1)   # (B, L) -> (B,)",
                    "return 0.5 * torch.sum(mu.pow(2) + logvar.exp() - logvar - 1, dim=1)")
    source = mutate(source,
                    "    nll = (F.softplus(recon_logits) - x * recon_logits).sum(dim=-1)   # (B,), -log p(x | z)\n"
                    "    return (nll + kl_divergence(mu, logvar)).mean()                    # ()\n",
                    "    bce = F.binary_cross_entropy_with_logits(recon_logits, x, reduction='sum')\n"
                    "    return (bce + kl_divergence(mu, logvar).sum()) / x.shape[0]\n")
    source = mutate(source, "z = torch.randn(n, model.mu.out_features, generator=generator, device=device)   # (n, L)",
                    "z = torch.randn((n, model.decoder[0].in_features), generator=generator, device=device)")
    path = write_submission(tmp_path, SLUG, source, "styles")
    report = grade(SLUG, path, seed=3, select=["reparameterize:", "kl_divergence:", "elbo_loss: the",
                                              "elbo_loss: finite", "elbo_loss: matches", "sample:"])
    failed = {r.name: r.output for r in report.results if not r.passed}
    assert report.score == report.max_score, failed


def test_end_to_end_checks_are_bounded_and_pass():
    report = grade(SLUG, specs.load(SLUG).reference, seed=5, select=["elbo_loss: end to end"])
    e2e = [r for r in report.results if "end to end" in r.name]
    assert len(e2e) == 2
    assert all(r.passed for r in e2e), [r.output for r in e2e]
    assert all(r.duration < 120 for r in e2e), [(r.name, r.duration) for r in e2e]
