"""Each known bug of scaled_dot_product_attention (autograder/checks/attention/bugs.py) loses points on that
function's checks and only there, with a message that says why (and names the mistake when the bug lists one)."""

import pytest

from tests.checks.attention._bugs import SDPA, assert_bug_caught, bugs_of


@pytest.mark.parametrize("bug", bugs_of(SDPA))
def test_each_bug_loses_points_on_scaled_dot_product_attention(tmp_path, bug):
    assert_bug_caught(tmp_path, bug)
