"""Each realistic bug in count_trainable_parameters loses points on the checks of the function or class that has it,
and only there, with a message that says why (naming the mistake when it is a known one)."""

import pytest

from tests.checks.lora._bugs import MODEL_BUGS, assert_loses_points_on, grade_edits

BUGS = [b for b in MODEL_BUGS if b[2] == 'count_trainable_parameters']


@pytest.mark.parametrize("bug,edits,target,select,named", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points(tmp_path, bug, edits, target, select, named):
    report = grade_edits(tmp_path, edits, select)
    assert_loses_points_on(report, target, bug, named)
