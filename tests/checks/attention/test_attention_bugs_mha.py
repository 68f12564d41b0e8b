"""Each realistic bug in MultiHeadAttention loses points on that class's checks, with a message that says why (and
names the mistake when it is a known one)."""

import pytest

from tests.checks.attention._bugs import FAST, MHA, MHA_BUGS, NAMED, assert_loses_points_on, grade_edits


@pytest.mark.parametrize("bug,edits", MHA_BUGS, ids=[b[0] for b in MHA_BUGS])
def test_each_bug_loses_points_on_multi_head_attention(tmp_path, bug, edits):
    report = grade_edits(tmp_path, edits, FAST[MHA])
    failing = assert_loses_points_on(report, MHA, bug)
    if bug in NAMED:
        assert any(NAMED[bug] in r.output for r in failing), [r.output for r in failing]
