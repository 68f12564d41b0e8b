"""The LoRA checks judge correctly: full marks for the reference (CPU, and CUDA when there is one), and zero for
the untouched skeleton."""

import pytest
import torch

from autograder import spec as specs
from autograder.grading import grade
from tests.checks.lora._bugs import SLUG


@pytest.fixture(scope="module")
def reference_report():
    return grade(SLUG, specs.load(SLUG).reference, seed=11)


def test_reference_gets_full_marks(reference_report):
    assert reference_report.max_score > 0
    assert reference_report.score == reference_report.max_score, reference_report.failed_names()


def test_reference_covers_every_target_public_and_hidden(reference_report):
    assert {r.target for r in reference_report.results} == set(specs.load(SLUG).targets)
    assert {r.visibility for r in reference_report.results} == {"public", "hidden"}
    assert len(reference_report.results) >= 20


def test_end_to_end_check_is_bounded(reference_report):
    (e2e,) = [r for r in reference_report.results if "end to end" in r.name]
    assert e2e.passed and e2e.max_score >= 4
    assert e2e.duration < 60, e2e.duration


def test_skeleton_gets_zero():
    report = grade(SLUG, specs.load(SLUG).skeleton, seed=3)
    assert report.score == 0
    assert len(report.results) >= 20
    assert all("not implemented yet" in r.output for r in report.results), \
        [(r.name, r.output[:200]) for r in report.results if "not implemented yet" not in r.output]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_reference_gets_full_marks_on_cuda():
    report = grade(SLUG, specs.load(SLUG).reference, seed=11, device="cuda")
    assert report.score == report.max_score, [(r.name, r.output) for r in report.results if not r.passed]
