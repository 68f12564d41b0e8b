"""Each known bug of MultiHeadAttention (autograder/checks/attention/bugs.py) loses points on that class's checks and
only there, with a message that says why (and names the mistake when the bug lists one)."""

import pytest

from tests.checks.attention._bugs import MHA, assert_bug_caught, bugs_of


@pytest.mark.parametrize("bug", bugs_of(MHA))
def test_each_bug_loses_points_on_multi_head_attention(tmp_path, bug):
    assert_bug_caught(tmp_path, bug)
