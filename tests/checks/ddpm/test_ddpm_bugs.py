"""ddpm specifics beyond the harness (tests/checks/test_harness.py, which plants every bug of bugs.py): submissions
that are not a one-place text edit of the reference (a forbidden built-in, a forbidden library, samples on the wrong
device) lose the points of the right function.
"""

import pytest

from autograder.grading import grade
from tests.helpers import failed_targets, mutate, reference_source, write_submission

SLUG = "ddpm"


def test_forbidden_mse_loss_fails_ddpm_loss(tmp_path):
    source = mutate(reference_source(SLUG), "return ((eps - noise) ** 2).mean()",
                    "return torch.nn.functional.mse_loss(eps, noise)")
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=1,
                   select=["ddpm_loss: the mean", "ddpm_loss: value", "q_sample: 2-D"])
    assert failed_targets(report) == {"ddpm_loss"}
    failing = [r for r in report.results if not r.passed]
    assert failing and all(r.target == "ddpm_loss" for r in failing)
    assert all("forbidden" in r.output and "mse_loss" in r.output for r in failing)


def test_forbidden_library_import_fails_every_target(tmp_path):
    source = "import diffusers\n" + reference_source(SLUG)
    report = grade(SLUG, write_submission(tmp_path, SLUG, source), seed=1, select=["q_sample: 2-D", "p_sample: t"])
    assert report.score == 0 and len(report.results) >= 2
    assert all("forbidden API" in r.output for r in report.results)
    assert "diffusers" in report.module_problem  # the panel shown once, at the top


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
