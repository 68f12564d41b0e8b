"""dropout specifics beyond the harness (tests/checks/test_harness.py): the end-to-end check stays bounded in time,
and the reference gets full marks on CUDA when there is one."""

import pytest

from autograder import spec as specs
from autograder.grading import grade

SLUG = "dropout"


def test_end_to_end_check_is_bounded_in_time():
    report = grade(SLUG, specs.load(SLUG).reference, seed=11, select=["Dropout: shrinks"])
    (e2e,) = [r for r in report.results if "noisy digits" in r.name]
    assert e2e.passed and e2e.duration < 60, e2e.duration


@pytest.mark.cuda
def test_reference_gets_full_marks_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    report = grade(SLUG, specs.load(SLUG).reference, seed=13, device="cuda")
    assert report.score == report.max_score, [(r.name, r.output) for r in report.results if not r.passed]
