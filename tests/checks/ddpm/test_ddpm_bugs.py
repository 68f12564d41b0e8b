"""The bugs named in the ddpm issue, each planted in the reference, lose points on the checks of the function that
has it, with a message that names the mistake where the checks know it; and a submission that calls a forbidden
built-in loses that function's points.

Each bug is graded on the quick checks of its own function only (`select=`, the end-to-end runs left out), to keep
the suite fast: every grading starts a fresh sandbox worker.
"""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, grade_variant, mutate, reference_source, write_submission

SLUG = "ddpm"

# The checks of each function that are quick (no end-to-end training), public and hidden.
QUICK = {
    "linear_beta_schedule": ["linear_beta_schedule:"],
    "cosine_beta_schedule": ["cosine_beta_schedule:"],
    "NoiseSchedule": ["NoiseSchedule:"],
    "q_sample": ["q_sample:"],
    "ddpm_loss": ["ddpm_loss: the mean", "ddpm_loss: differentiable", "ddpm_loss: value"],
    "p_sample": ["p_sample:"],
    "sample": ["sample: Gaussian", "sample: float32", "sample: 3-D"],
}

MEAN = "mean = (x_t - beta / (1.0 - a_bar).sqrt() * eps) / alpha.sqrt()"
COEFS = "at_t(schedule.alpha_bars), at_t(schedule.posterior_variance)"
BROADCAST = "a_bar = a_bar.reshape(-1, *([1] * (x0.dim() - 1)))"

# (bug, old text in the reference, new text, the function whose checks must fail, words a failure must contain)
BUGS = [
    ("q_sample: alpha_bar one step off", "a_bar = schedule.alpha_bars.to(x0.device)[t.to(x0.device)]",
     "a_bar = schedule.alpha_bars_prev.to(x0.device)[t.to(x0.device)]", "q_sample", "indexed one step off"),
    ("p_sample: alpha_bar one step off", COEFS, "at_t(schedule.alpha_bars_prev), at_t(schedule.posterior_variance)",
     "p_sample", "indexed one step off"),
    ("NoiseSchedule: alpha_bars_prev not shifted", "self.alpha_bars_prev = torch.cat([one, self.alpha_bars[:-1]])",
     "self.alpha_bars_prev = self.alpha_bars.clone()", "NoiseSchedule", "alpha_bars_prev not shifted"),
    ("q_sample: sqrt(1 - alpha_t) on the noise", "+ (1.0 - a_bar).sqrt().to(x0.dtype) * noise)",
     "+ (1.0 - schedule.alphas.to(x0.device)[t.to(x0.device)].reshape(a_bar.shape)).sqrt().to(x0.dtype) * noise)",
     "q_sample", "sqrt(1 - alpha_t) used in place of sqrt(1 - alpha_bar_t)"),
    ("p_sample: sqrt(1 - alpha_t) in the mean", MEAN,
     "mean = (x_t - beta / (1.0 - alpha).sqrt() * eps) / alpha.sqrt()", "p_sample",
     "sqrt(1 - alpha_t) used in place of sqrt(1 - alpha_bar_t) in the mean"),
    ("p_sample: mean divided by sqrt(alpha_bar_t)", MEAN,
     "mean = (x_t - beta / (1.0 - a_bar).sqrt() * eps) / a_bar.sqrt()", "p_sample",
     "divided by sqrt(alpha_bar_t) instead of sqrt(alpha_t)"),
    ("p_sample: noise added at t == 0", "return mean + nonzero * var.sqrt() * noise",
     "return mean + var.sqrt() * noise", "p_sample", "noise added at t == 0"),
    ("p_sample: beta_t as the variance", COEFS, "at_t(schedule.alpha_bars), at_t(schedule.betas)", "p_sample",
     "beta_t used as the variance instead of schedule.posterior_variance"),
    ("q_sample: t not broadcast at all", BROADCAST, "a_bar = a_bar", "q_sample",
     "broadcast along the last data axis"),
    ("q_sample: t broadcast as (B, 1) only", BROADCAST, "a_bar = a_bar.reshape(-1, 1)", "q_sample", None),
    ("cosine schedule unclipped", "return betas.clamp(max=max_beta)", "return betas", "cosine_beta_schedule",
     "not clipped at max_beta"),
    ("sampling loop run forwards", "for step in reversed(range(schedule.betas.shape[0])):",
     "for step in range(schedule.betas.shape[0]):", "sample", "the loop runs forwards"),
]


@pytest.mark.parametrize("bug,old,new,target,words", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points_on_its_function(tmp_path, bug, old, new, target, words):
    report = grade_variant(tmp_path, SLUG, old, new, select=QUICK[target])
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug}: no check of {target} failed"
    assert failed_targets(report) == {target}
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    if words:
        assert any(words in r.output for r in failing), [r.output for r in failing]


def test_forbidden_mse_loss_fails_ddpm_loss(tmp_path):
    source = mutate(reference_source(SLUG), "return ((eps - noise) ** 2).mean()",
                    "return torch.nn.functional.mse_loss(eps, noise)")
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=1,
                   select=["ddpm_loss: the mean", "ddpm_loss: value", "q_sample: 2-D"])
    assert failed_targets(report) == {"ddpm_loss"}
    failing = [r for r in report.results if not r.passed]
    assert len(failing) == 2
    assert all("forbidden" in r.output and "mse_loss" in r.output for r in failing)


def test_forbidden_library_import_fails_every_target(tmp_path):
    source = "import diffusers\n" + reference_source(SLUG)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=1, select=["q_sample: 2-D", "p_sample: t"])
    assert report.score == 0 and len(report.results) == 2
    assert all("diffusers" in r.output for r in report.results)
