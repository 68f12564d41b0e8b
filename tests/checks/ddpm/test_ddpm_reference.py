"""ddpm specifics beyond the harness (tests/checks/test_harness.py): the end-to-end checks stay bounded, and the
skeleton and README are in step with the reference and the checks."""

from autograder import spec as specs
from autograder.authoring.points import sync_readme
from autograder.authoring.skeleton import sync
from autograder.grading import grade

SLUG = "ddpm"


def test_end_to_end_checks_stay_bounded():
    report = grade(SLUG, specs.load(SLUG).reference, seed=11, select=["sample: end to end", "ddpm_loss: end to end"])
    e2e = [r for r in report.results if "end to end" in r.name]
    assert len(e2e) == 2 and all(r.passed for r in e2e)
    assert all(r.duration < 60 for r in e2e), [(r.name, r.duration) for r in e2e]


def test_skeleton_and_points_table_are_in_sync():
    assert sync(SLUG, check_only=True) == []
    assert sync_readme(SLUG, check_only=True) == []
