"""Gating (autograder.gating): a property check counts only with its target's core checks, and an end-to-end check
only with the core checks of the targets it needs; a withheld check is attributed to the target that caused it."""

from autograder import gating
from autograder.report import CheckResult


def _r(name, target, passed):
    return CheckResult(name=name, target=target, visibility="public", max_score=1.0, score=float(passed),
                       passed=passed, output="" if passed else "wrong values")


CORES = {"f": ["f: values"], "g": ["g: values"]}


def test_a_property_is_withheld_while_its_core_check_fails():
    results = [_r("f: values", "f", False), _r("f: no NaN", "f", True), _r("g: values", "g", True)]
    gating.apply(results, CORES)
    prop = results[1]
    assert not prop.passed and prop.score == 0 and prop.gated and prop.blocked_by == "f"
    assert "f: values" in prop.output
    assert results[2].passed  # another target is untouched


def test_properties_count_when_the_core_passes():
    results = [_r("f: values", "f", True), _r("f: no NaN", "f", True)]
    gating.apply(results, CORES)
    assert all(r.passed for r in results)


def test_an_end_to_end_check_is_blocked_by_a_needed_target_not_charged_to_its_own():
    needs = {"f: trains": ("g",)}
    for e2e_passed in (True, False):  # whether the broken dependency made it fail or not
        results = [_r("f: values", "f", True), _r("g: values", "g", False), _r("f: trains", "f", e2e_passed)]
        gating.apply(results, CORES, needs)
        e2e = results[2]
        assert not e2e.passed and e2e.gated and e2e.blocked_by == "g"
        assert "g: values" in e2e.output


def test_an_end_to_end_failure_stays_its_own_when_its_target_is_broken_too():
    needs = {"f: trains": ("g",)}
    results = [_r("f: values", "f", False), _r("g: values", "g", False), _r("f: trains", "f", False)]
    gating.apply(results, CORES, needs)
    assert results[2].output == "wrong values" and results[2].blocked_by in ("", "f")
