"""One harness for every assignment, fed by its spec and its `bugs.py`.

For each assignment found by `autograder.spec.all_slugs()` (no list here: a new assignment is tested as soon as it
has a spec):
- the reference gets full marks, the generated skeleton gets zero (and, on a CUDA machine, the same with
  `--device cuda` for every torch assignment);
- three hollow submissions generated from the reference (zeros, its input, its base layer) get exactly zero;
- every known bug loses points on the checks of its own target and on no check of another target, and a failing
  message names the mistake when the bug says which words it must contain;
- the bug list is whole: each bug's text occurs once in the reference and plants valid code, its target is a target
  of the spec, and every target has at least one bug.
Per-assignment test files keep only what is specific to one assignment.
"""

from __future__ import annotations

import pytest

from autograder import spec as specs
from autograder.authoring.hollow import MODES, hollow_source
from autograder.grading import grade
from autograder.authoring.bugfile import bug_selection, load_bugs, load_select
from tests.helpers import failed_targets, grade_variant, reference_source, write_submission

SLUGS = specs.all_slugs()
TORCH_SLUGS = [slug for slug in SLUGS if specs.load(slug).framework == "torch"]
SEED = 7


def _bugs(slug):
    return load_bugs(slug) or []


BUG_CASES = [pytest.param(slug, bug, id=f"{slug}-{bug.name}") for slug in SLUGS for bug in _bugs(slug)]


@pytest.mark.parametrize("slug", SLUGS)
def test_reference_gets_full_marks(slug):
    spec = specs.load(slug)
    report = grade(slug, spec.reference, seed=SEED)
    failed = {r.name: r.output for r in report.results if not r.passed}
    assert report.max_score > 0 and report.score == report.max_score, failed


@pytest.mark.parametrize("slug", SLUGS)
def test_skeleton_gets_zero(slug):
    spec = specs.load(slug)
    report = grade(slug, spec.skeleton, seed=SEED)
    passed = [r.name for r in report.results if r.score > 0]
    assert report.score == 0, passed


@pytest.mark.cuda
@pytest.mark.parametrize("slug", TORCH_SLUGS)
def test_on_cuda_the_reference_gets_full_marks_and_the_skeleton_zero(slug):
    spec = specs.load(slug)
    report = grade(slug, spec.reference, seed=SEED, device="cuda")
    failed = {r.name: r.output for r in report.results if not r.passed}
    assert report.max_score > 0 and report.score == report.max_score, failed
    skeleton = grade(slug, spec.skeleton, seed=SEED, device="cuda")
    assert skeleton.score == 0, [r.name for r in skeleton.results if r.score > 0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("slug", SLUGS)
def test_hollow_code_gets_zero(tmp_path, slug, mode):
    spec = specs.load(slug)
    path = write_submission(tmp_path, slug, hollow_source(reference_source(slug), spec.targets, mode), mode)
    report = grade(slug, path, seed=SEED)
    passed = [r.name for r in report.results if r.score > 0]
    assert report.score == 0, f"a {mode!r} hollow submission earned points on: {passed}"


@pytest.mark.parametrize("slug", SLUGS)
def test_the_bug_list_is_whole(slug):
    spec = specs.load(slug)
    bugs = _bugs(slug)
    assert bugs, f"{slug} has no known bugs (autograder/checks/{slug}/bugs.py)"
    source = reference_source(slug)
    for bug in bugs:
        assert bug.target in spec.targets, f"{bug.name}: target {bug.target!r} is not one of {spec.targets}"
        assert source.count(bug.old) == 1, f"{bug.name}: its text must occur exactly once in the reference"
        compile(source.replace(bug.old, bug.new), spec.module_file, "exec")  # the bug, not a syntax error
    missing = set(spec.targets) - {b.target for b in bugs}
    assert not missing, f"targets without a known bug: {sorted(missing)}"
    unknown = set(load_select(slug)) - {b.name for b in bugs}
    assert not unknown, f"SELECT names bugs that bugs.py does not have: {sorted(unknown)}"


@pytest.mark.parametrize(("slug", "bug"), BUG_CASES)
def test_each_bug_loses_points_on_its_target_only(tmp_path, slug, bug):
    select = bug_selection(slug, bug)
    report = grade_variant(tmp_path, slug, bug.old, bug.new, select=select, seed=SEED)
    assert report.results, f"{bug.name}: the selection {select} ran no check"
    assert report.score < report.max_score, f"{bug.name}: no check of {bug.target} failed"
    assert failed_targets(report) == {bug.target}, {r.name: r.output for r in report.results if not r.passed}
    failing = [r for r in report.results if not r.passed]
    assert all(r.output for r in failing), "a failing check must say why"
    if bug.says:
        assert any(bug.says in r.output for r in failing), [r.output for r in failing]
