"""Bugs planted in LayerNormFunction and batch_norm lose points on the checks of the function that has them.

The bugs are those of autograder/checks/layernorm/bugs.py (see _bugs.py for how they are graded).
"""

import pytest

from autograder import spec as specs
from tests.checks.layernorm._bugs import BUGS, SELECT, SLUG, assert_bug_caught, bugs_of

TARGETS_HERE = ("LayerNormFunction", "batch_norm")
TARGETS_ELSEWHERE = ("layer_norm", "LayerNorm")  # test_layernorm_bugs_layer_norm.py


@pytest.mark.parametrize("bug", bugs_of(*TARGETS_HERE))
def test_each_bug_loses_points_on_its_function(tmp_path, bug):
    assert_bug_caught(tmp_path, bug)


def test_every_known_bug_is_graded_by_one_of_the_bug_modules():
    assert BUGS, "autograder/checks/layernorm/bugs.py lists no bug"
    assert set(TARGETS_HERE) | set(TARGETS_ELSEWHERE) == set(specs.load(SLUG).targets)
    assert all(b.target in TARGETS_HERE + TARGETS_ELSEWHERE for b in BUGS), [b.target for b in BUGS]
    for target in specs.load(SLUG).targets:
        assert any(b.target == target for b in BUGS), f"no known bug of {target}"


def test_every_select_names_a_known_bug():
    names = {b.name for b in BUGS}
    assert set(SELECT) <= names, set(SELECT) - names
    for name, prefixes in SELECT.items():
        (bug,) = [b for b in BUGS if b.name == name]
        assert all(p.startswith(f"{bug.target}:") for p in prefixes), (name, prefixes)
