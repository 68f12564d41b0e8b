"""dropout specifics beyond the harness (tests/checks/test_harness.py): the end-to-end check stays bounded in time
(the reference on CUDA is the harness's)."""

from autograder import spec as specs
from autograder.grading import grade

SLUG = "dropout"


def test_end_to_end_check_is_bounded_in_time():
    report = grade(SLUG, specs.load(SLUG).reference, seed=11, select=["Dropout: shrinks"])
    (e2e,) = [r for r in report.results if "noisy digits" in r.name]
    assert e2e.passed and e2e.duration < 60, e2e.duration
