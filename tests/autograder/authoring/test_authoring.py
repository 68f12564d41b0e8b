"""The authoring tools' small parts: generated tables in step with the specs, markers required, the parameter
recorder of `verify`, and the guide's module table true to the tree."""

from __future__ import annotations

import re

import pytest

from autograder import spec as specs
from autograder.authoring import coverage
from autograder.authoring.course_table import BEGIN, END, assignments_table, sync_course_readme
from autograder.authoring.markers import SyncError, fill
from autograder.paths import COURSE_README, PACKAGE


def test_the_course_readme_table_is_generated_from_the_specs():
    assert sync_course_readme(check_only=True) == [], "run `dlcourse author sync`"
    text = COURSE_README.read_text()
    block = text[text.index(BEGIN):text.index(END)]
    complete = [s.spec for s in specs.survey() if s.spec is not None and not s.problem]
    assert [int(n) for n in re.findall(r"^\| (\d+) \|", block, re.M)] == list(range(1, len(complete) + 1))
    assert re.findall(r"\[(\w+)\]\(assignments/", block) == [s.slug for s in complete]
    assert [s.order for s in complete] == sorted(s.order for s in complete)


def test_a_file_without_markers_is_refused_with_the_fix():
    with pytest.raises(SyncError, match="has no generated block: put the two lines"):
        fill("# a README\n", BEGIN, END, "table", "README.md")
    assert fill(f"a\n{BEGIN}\nold\n{END}\nb\n", BEGIN, END, "new", "x") == f"a\n{BEGIN}\nnew\n{END}\nb\n"
    assert "| 1 | [x](assignments/x/README.md) | M (2000) | data |" in assignments_table(
        [specs.Assignment(slug="x", title="X", constraint="data", framework="numpy", targets=("f",),
                          milestone="M (2000)")])


SOURCE = '''
def f(x, p=0.5, *, training=True, _private=1):
    return g(x, p=0.9) if training else x

def g(x, p=0.1):
    return x * p

class M:
    def __init__(self, n, seed=0):
        self.n = n
    def forward(self, x, mask=None):
        return x
    def _helper(self, y=2):
        return y
'''


def test_documented_parameters_are_the_defaults_of_the_targets():
    found = [str(p) for p in coverage.documented_parameters(SOURCE, ("f", "M"))]
    assert found == ["f(p=...)", "f(training=...)", "M(seed=...)", "M.forward(mask=...)"]


def test_the_recorder_notes_non_default_arguments_passed_by_callers_only():
    namespace: dict = {}
    exec(compile(coverage.instrumented_source(SOURCE, ("f", "g", "M")), "ref.py", "exec"), namespace)
    f, g, m = namespace["f"], namespace["g"], namespace["M"]
    f(1.0)  # defaults only; f's own call of g(p=0.9) is not a check's call
    f(1.0, p=0.5, training=False)  # p equal to its default: not varied
    m(3, seed=7).forward(2.0)
    g(1.0, 0.3)  # positionally
    assert namespace[coverage.RECORD_FUNCTION]() == ["M:seed", "f:training", "g:p"]
    params = coverage.documented_parameters(SOURCE, ("f", "M"))
    left = coverage.unvaried(params, set(namespace[coverage.RECORD_FUNCTION]()))
    assert {t: [str(p) for p in ps] for t, ps in left.items()} == {"f": ["f(p=...)"], "M": ["M.forward(mask=...)"]}


def test_the_guide_lists_every_module_of_the_engine():
    """AUTHORING.md's module table names every Python module of autograder/ (checks/ aside), and nothing else."""
    guide = (PACKAGE / "AUTHORING.md").read_text()
    section = guide[guide.index("## The engine, module by module"):]
    section = section.split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([\w/]+\.py)` \|", section, re.M))
    tree = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
            if "checks" not in p.relative_to(PACKAGE).parts[:1] and "__pycache__" not in p.parts}
    assert listed == tree, {"not in the guide": sorted(tree - listed), "not in the tree": sorted(listed - tree)}
