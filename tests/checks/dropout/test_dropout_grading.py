"""The dropout checks judge correctly: full marks for the reference (public and hidden checks, CPU), zero for the
untouched skeleton. The known bugs and their messages are tested in test_dropout_bugs.py."""

import pytest

from autograder import spec as specs
from autograder.grading import grade

SLUG = "dropout"


@pytest.fixture(scope="module")
def reference_report():
    return grade(SLUG, specs.load(SLUG).reference, seed=11)


def test_reference_gets_full_marks(reference_report):
    assert reference_report.max_score > 0
    assert reference_report.score == reference_report.max_score, reference_report.failed_names()


def test_reference_covers_every_target_publicly_and_hidden(reference_report):
    results = reference_report.results
    assert {r.target for r in results} == set(specs.load(SLUG).targets)
    assert {r.visibility for r in results} == {"public", "hidden"}
    for target in specs.load(SLUG).targets:
        assert {r.visibility for r in results if r.target == target} == {"public", "hidden"}, target


def test_end_to_end_check_is_bounded_in_time(reference_report):
    (e2e,) = [r for r in reference_report.results if "noisy digits" in r.name]
    assert e2e.passed and e2e.duration < 60, e2e.duration


def test_skeleton_gets_zero():
    report = grade(SLUG, specs.load(SLUG).skeleton, seed=3)
    assert report.score == 0
    assert len(report.results) >= 20
    # every check fails because of the skeleton's NotImplementedError, not because of the check itself
    assert all("NotImplementedError" in r.output for r in report.results), [r.output for r in report.results][:3]


@pytest.mark.cuda
def test_reference_gets_full_marks_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    report = grade(SLUG, specs.load(SLUG).reference, seed=13, device="cuda")
    assert report.score == report.max_score, [(r.name, r.output) for r in report.results if not r.passed]
