"""Each realistic bug in scaled_dot_product_attention loses points on that function's checks, with a message that
says why (and names the mistake when it is a known one)."""

import pytest

from tests.checks.attention._bugs import FAST, NAMED, SDPA, SDPA_BUGS, assert_loses_points_on, grade_edits


@pytest.mark.parametrize("bug,edits", SDPA_BUGS, ids=[b[0] for b in SDPA_BUGS])
def test_each_bug_loses_points_on_scaled_dot_product_attention(tmp_path, bug, edits):
    report = grade_edits(tmp_path, edits, FAST[SDPA])
    failing = assert_loses_points_on(report, SDPA, bug)
    if bug in NAMED:
        assert any(NAMED[bug] in r.output for r in failing), [r.output for r in failing]
