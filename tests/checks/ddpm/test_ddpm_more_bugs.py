"""More realistic bugs in ddpm, beyond those the issue names: each planted in the reference loses points on the
checks of the function that has it (quick checks only, `select=`), and a failure always says why."""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, grade_variant, mutate, reference_source, write_submission

SLUG = "ddpm"

QUICK = {
    "linear_beta_schedule": ["linear_beta_schedule:"],
    "cosine_beta_schedule": ["cosine_beta_schedule:"],
    "NoiseSchedule": ["NoiseSchedule:"],
    "q_sample": ["q_sample:"],
    "ddpm_loss": ["ddpm_loss: the mean", "ddpm_loss: differentiable", "ddpm_loss: value"],
    "p_sample": ["p_sample:"],
    "sample": ["sample: Gaussian", "sample: float32", "sample: 3-D"],
}

LOSS = "return ((eps - noise) ** 2).mean()"

# (bug, old text in the reference, new text, the function whose checks must fail, words a failure must contain)
BUGS = [
    ("linear schedule without its end point", "torch.linspace(beta_start, beta_end, T, dtype=torch.float64)",
     "torch.linspace(beta_start, beta_end, T + 1, dtype=torch.float64)[:-1]", "linear_beta_schedule",
     "beta_end left out"),
    ("cosine schedule without the offset s", "f = torch.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2",
     "f = torch.cos(u / T * math.pi / 2) ** 2", "cosine_beta_schedule", "s left out"),
    ("posterior variance ratio inverted", "(1.0 - self.alpha_bars_prev) / (1.0 - self.alpha_bars) * self.betas",
     "(1.0 - self.alpha_bars) / (1.0 - self.alpha_bars_prev) * self.betas", "NoiseSchedule", "the ratio inverted"),
    ("NoiseSchedule keeps float32 betas", "self.betas = torch.as_tensor(betas).to(torch.float64)",
     "self.betas = torch.as_tensor(betas)", "NoiseSchedule", "convert the betas to float64"),
    ("alpha_bars as the sum of the alphas", "self.alpha_bars = torch.cumprod(self.alphas, dim=0)",
     "self.alpha_bars = torch.cumsum(self.alphas, dim=0)", "NoiseSchedule", "the sum of the alphas"),
    ("q_sample returns float64", "return (a_bar.sqrt().to(x0.dtype) * x0\n            + (1.0 - a_bar).sqrt().to("
     "x0.dtype) * noise)", "return (a_bar.sqrt() * x0\n            + (1.0 - a_bar).sqrt() * noise)", "q_sample",
     "dtype"),
    ("ddpm_loss summed", LOSS, "return ((eps - noise) ** 2).sum()", "ddpm_loss", "summed instead of averaged"),
    ("ddpm_loss against x0", LOSS, "return ((eps - x0) ** 2).mean()", "ddpm_loss", "with x0 instead of the noise"),
    ("ddpm_loss detached", LOSS, "return ((eps - noise) ** 2).mean().detach()", "ddpm_loss", "does not require grad"),
    ("p_sample: variance as the standard deviation", "return mean + nonzero * var.sqrt() * noise",
     "return mean + nonzero * var * noise", "p_sample", "instead of its square root"),
    ("sample: starting noise ignores the generator",
     "x = torch.randn(shape, generator=generator, device=device)              # (B, *D), x_{T-1}",
     "x = torch.randn(shape, device=device)", "sample", "the starting noise included"),
    ("sample: no noise added between steps", "x = p_sample(model, x, t, z, schedule)",
     "x = p_sample(model, x, t, torch.zeros_like(x), schedule)", "sample", "covariance"),
]


@pytest.mark.parametrize("bug,old,new,target,words", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points_on_its_function(tmp_path, bug, old, new, target, words):
    report = grade_variant(tmp_path, SLUG, old, new, select=QUICK[target])
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug}: no check of {target} failed"
    assert failed_targets(report) == {target}
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    assert any(words in r.output for r in failing), [r.output for r in failing]


@pytest.mark.cuda
def test_samples_on_the_wrong_device_are_reported(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    source = mutate(reference_source(SLUG), "device = schedule.betas.device", 'device = torch.device("cpu")')
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=1, device="cuda",
                   select=["sample: float32"])
    assert report.score == 0
    assert "cpu" in report.results[0].output
