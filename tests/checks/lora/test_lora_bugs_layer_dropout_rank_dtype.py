"""Each realistic bug in LoRALinear's dropout, rank validation, dtype and device loses points on the checks of the
function or class that has it, and only there, with a message that says why (naming the mistake when it is a known
one)."""

import pytest

from tests.checks.lora._bugs import (
    FORWARD, GRADS, INIT, LAYER_BUGS, MERGE, TRAINABLE, assert_loses_points_on, grade_edits,
)

BUGS = [b for b in LAYER_BUGS if not set(b[3]) & {INIT, FORWARD, GRADS, TRAINABLE, MERGE}]


@pytest.mark.parametrize("bug,edits,target,select,named", BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_loses_points(tmp_path, bug, edits, target, select, named):
    report = grade_edits(tmp_path, edits, select)
    assert_loses_points_on(report, target, bug, named)
