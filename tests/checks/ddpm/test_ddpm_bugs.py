"""The known bugs of ddpm, each planted in the reference, lose points on the checks of the function that has it, and
only of that function, with a message that names the mistake where the checks know it; and submissions that are not
a one-place text edit of the reference (a forbidden built-in, a forbidden library, samples on the wrong device) are
graded here too.

The bugs live once, in autograder/checks/ddpm/bugs.py (the list `dlcourse verify` plants); this module reads them
with `load_bugs`. Each bug is graded on the quick checks of its own function only (`select=`, the end-to-end runs
left out) to keep the suite fast: every grading starts a fresh sandbox worker.
"""

import pytest

from autograder import spec as specs
from autograder.grading import grade
from autograder.instructor.verify import load_bugs
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

BUGS = load_bugs(SLUG)


def test_every_target_has_known_bugs():
    assert set(QUICK) == set(specs.load(SLUG).targets)
    assert {b.target for b in BUGS} == set(QUICK)


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_each_bug_loses_points_on_its_function(tmp_path, bug):
    report = grade_variant(tmp_path, SLUG, bug.old, bug.new, select=QUICK[bug.target])
    assert report.results, "no check selected"
    assert report.score < report.max_score, f"{bug.name}: no check of {bug.target} failed"
    assert failed_targets(report) == {bug.target}
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    if bug.says:
        assert any(bug.says in r.output for r in failing), [r.output for r in failing]


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
