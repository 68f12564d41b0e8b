"""Bugs planted in layer_norm and LayerNorm lose points on the checks of the function that has them.

The bugs are those of autograder/checks/layernorm/bugs.py (see _bugs.py for how they are graded).
"""

import pytest

from tests.checks.layernorm._bugs import assert_bug_caught, bugs_of


@pytest.mark.parametrize("bug", bugs_of("layer_norm", "LayerNorm"))
def test_each_bug_loses_points_on_its_function(tmp_path, bug):
    assert_bug_caught(tmp_path, bug)
