"""The ddpm checks on the reference and on the skeleton: full marks for one, zero for the other, every target
covered by public and hidden checks, and the skeleton and README in step with the reference and the checks."""

import pytest

from autograder import spec as specs
from autograder.authoring.points import sync_readme
from autograder.authoring.skeleton import sync
from autograder.grading import grade

SLUG = "ddpm"


@pytest.fixture(scope="module")
def reference_report():
    return grade(SLUG, specs.load(SLUG).reference, seed=11)


def test_reference_gets_full_marks(reference_report):
    assert reference_report.max_score > 0
    assert reference_report.score == reference_report.max_score, [
        (r.name, r.output) for r in reference_report.results if not r.passed]


def test_reference_covers_every_target_publicly_and_hidden(reference_report):
    targets = set(specs.load(SLUG).targets)
    for visibility in ("public", "hidden"):
        covered = {r.target for r in reference_report.results if r.visibility == visibility}
        assert covered == targets, (visibility, targets - covered)


def test_end_to_end_checks_stay_bounded(reference_report):
    e2e = [r for r in reference_report.results if "end to end" in r.name]
    assert len(e2e) == 2
    assert all(r.duration < 60 for r in e2e), [(r.name, r.duration) for r in e2e]


def test_skeleton_gets_zero_and_the_grader_completes():
    report = grade(SLUG, specs.load(SLUG).skeleton, seed=3)
    assert report.score == 0
    assert len(report.results) >= 20
    assert all("not implemented yet" in r.output for r in report.results), [r.output for r in report.results][:3]


def test_skeleton_and_points_table_are_in_sync():
    assert sync(SLUG, check_only=True) == []
    assert sync_readme(SLUG, check_only=True) == []
