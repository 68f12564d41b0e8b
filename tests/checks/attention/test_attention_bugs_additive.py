"""Each realistic bug in AdditiveAttention loses points on that class's checks, with a message that says why."""

import pytest

from tests.checks.attention._bugs import ADD, ADD_BUGS, FAST, NAMED, assert_loses_points_on, grade_edits


@pytest.mark.parametrize("bug,edits", ADD_BUGS, ids=[b[0] for b in ADD_BUGS])
def test_each_bug_loses_points_on_additive_attention(tmp_path, bug, edits):
    report = grade_edits(tmp_path, edits, FAST[ADD])
    failing = assert_loses_points_on(report, ADD, bug)
    if bug in NAMED:
        assert any(NAMED[bug] in r.output for r in failing), [r.output for r in failing]
