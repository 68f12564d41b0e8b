"""Each known bug (autograder/checks/lora/bugs.py) in LoRALinear.merge and merge_lora loses points on the checks of the
function or class that has it, and only there, with a message that says why (naming the mistake when it is a known
one)."""

import pytest

from tests.checks.lora._bugs import assert_loses_points_on_its_target, bugs_of, grade_bug

BUGS = bugs_of("merge")


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_each_bug_loses_points(tmp_path, bug):
    assert_loses_points_on_its_target(grade_bug(tmp_path, bug), bug)
