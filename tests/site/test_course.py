"""The course's one reading order, its schedule, estimates and weights, and the links between lectures and
assignments, all derived from the assignment specs (`autograder/checks/<slug>/spec.py`) and checked here against
the committed Markdown. No list of assignments appears in this file."""
from __future__ import annotations

import re
import shutil

import pytest

from autograder import spec as specs_mod
from autograder.paths import REPO_ROOT
from autograder.site import course as course_mod
from autograder.site.mathml import to_mathml

LECTURES = REPO_ROOT / "lectures"


@pytest.fixture(scope="module")
def course():
    return course_mod.course()


def test_generated_blocks_are_up_to_date():
    changed, problems = course_mod.sync(check=True)
    assert not problems, problems
    assert not changed, (f"run `dlcourse site sync`: out of date: {[str(p.relative_to(REPO_ROOT)) for p in changed]}")


def test_sync_is_idempotent(tmp_path):
    shutil.copytree(LECTURES, tmp_path / "lectures")
    course_mod.sync(tmp_path)
    changed, _ = course_mod.sync(tmp_path, check=True)
    assert not changed, changed


@pytest.mark.parametrize("spec", specs_mod.all_specs(), ids=lambda s: s.slug)
def test_spec_lecture_section_exists_and_links_back(spec):
    name, anchor = course_mod.lecture_of(spec)
    assert spec.lecture.startswith("lectures/") and (LECTURES / name).is_file(), spec.lecture
    text = (LECTURES / name).read_text(encoding="utf-8")
    section = course_mod.section_text(text, anchor)
    assert section is not None, f"{spec.slug}: lectures/{name} has no heading #{anchor}"
    if not (REPO_ROOT / "assignments" / spec.slug / "README.md").is_file():
        pytest.skip(f"{spec.slug} has no README yet: it joins the course (and its lecture's links) with one")
    assert f"../assignments/{spec.slug}/README.md" in section, (
        f"the section #{anchor} of lectures/{name} does not link to assignments/{spec.slug}/README.md")


@pytest.mark.parametrize("spec", specs_mod.all_specs(), ids=lambda s: s.slug)
def test_assignment_readme_links_to_its_lecture_section(spec):
    readme = REPO_ROOT / "assignments" / spec.slug / "README.md"
    if not readme.is_file():
        pytest.skip(f"{spec.slug} has no README yet")
    assert f"../../{spec.lecture}" in readme.read_text(encoding="utf-8"), (
        f"assignments/{spec.slug}/README.md does not link to its lecture section ../../{spec.lecture}")


def test_reading_order_is_derived_from_the_specs(course):
    order = course.order
    assert order[0].number == 0 and order[-1].number == max(l.number for l in order)
    firsts = [min(s.order for s in course.assignments(l)) for l in order if course.assignments(l)]
    assert firsts == sorted(firsts), "lectures with assignments must follow the assignments' order"
    specs = [s for l in order for s in course.assignments(l)]
    assert [s.order for s in specs] == sorted(s.order for s in specs), "assignments out of order"
    assert {s.slug for s in specs} == {s.slug for s in course.specs}


def test_index_and_lectures_use_the_reading_order(course):
    index = (LECTURES / "README.md").read_text(encoding="utf-8")
    block = index[index.index(course_mod.marker("path")):index.index(course_mod.marker("path", end=True))]
    listed = re.findall(r"\]\((\d\d-[^)#]+\.md)\)", block)
    assert listed == [l.name for l in course.order]
    for lec in course.order:
        text = (LECTURES / lec.name).read_text(encoding="utf-8")
        assert f"Step {course.step(lec)} of {len(course.order)}" in text, lec.name
        section = text[text.index("## Assignments"):text.index("## Exercises")]
        assert re.findall(r"\.\./assignments/([\w-]+)/README\.md", section) == [s.slug for s in course.assignments(lec)]


def test_schedule_estimates_and_weights(course):
    weeks = course.weeks()
    assert 10 <= len(weeks) <= 14
    flat = [item for week in weeks for item in week]
    assert flat == course.items(), "the schedule must keep the reading order"
    for s in course.specs:
        e = course.estimates[s.slug]
        assert e.solution_lines > 0 and e.prose_words > 0, e
        assert 0.5 <= e.hours <= 40
    weights = course.weights()
    assert sum(weights.values()) == course_mod.ASSIGNMENT_SHARE
    syllabus = (LECTURES / "syllabus.md").read_text(encoding="utf-8")
    for title in ("Prerequisites", "Reading order", "Schedule", "Time estimates", "Grade weights"):
        assert f"## {title}" in syllabus, title


def test_estimate_counts_what_it_says(tmp_path):
    (tmp_path / "assignments" / "toy").mkdir(parents=True)
    (tmp_path / "solutions" / "toy").mkdir(parents=True)
    (tmp_path / "assignments" / "toy" / "toy.py").write_text("def f():\n    # TODO: one\n    # TODO: two\n")
    (tmp_path / "assignments" / "toy" / "README.md").write_text("one two three four five six\n")
    (tmp_path / "solutions" / "toy" / "toy.py").write_text(
        "def f():\n    # BEGIN SOLUTION\n    # a comment\n    x = 1\n\n    return x\n    # END SOLUTION\n")
    e = course_mod.estimate("toy", tmp_path)
    assert (e.todos, e.solution_lines, e.code_cells, e.prose_words) == (2, 2, 0, 6)
    assert e.hours == 1.0  # 2 * 15 + 2 * 4 minutes, rounded up to the half hour


def test_mathml_renderer():
    out = to_mathml(r"\mathbb R^d \mathcal L \arg\min_j \big\| x \big\|", display=False)
    assert "ℝ" in out and "ℒ" in out and "argmin" in out and "mathvariant" not in out
    assert '<annotation encoding="application/x-tex">' in out
    from sphinx.errors import ExtensionError

    with pytest.raises(ExtensionError):
        to_mathml(r"\notacommand x", display=True)
