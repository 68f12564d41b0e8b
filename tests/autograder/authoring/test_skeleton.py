"""Skeletons are generated from the references: markers work, and every committed skeleton is up to date."""

import ast

import pytest

from autograder import spec as specs
from autograder.authoring.skeleton import MarkerError, make_skeleton, sync

SOURCE = '''
def f(x):
    """Doc."""
    # TODO: double it.
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION


class M:
    def __init__(self):
        # BEGIN SOLUTION
        self.w = 1
        # END SOLUTION
'''


def test_blocks_become_raises_with_qualified_names():
    out = make_skeleton(SOURCE)
    assert "return 2 * x" not in out and "self.w = 1" not in out
    assert 'raise NotImplementedError("f: not implemented yet")' in out
    assert 'raise NotImplementedError("M.__init__: not implemented yet")' in out
    assert "# TODO: double it." in out and '"""Doc."""' in out
    ast.parse(out)


@pytest.mark.parametrize("bad", ["# BEGIN SOLUTION\nx = 1\n", "x = 1\n# END SOLUTION\n", "x = 1\n",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n"])
def test_marker_errors(bad):
    with pytest.raises(MarkerError):
        make_skeleton(bad)


@pytest.mark.parametrize("slug", specs.all_slugs())
def test_committed_skeleton_matches_its_reference(slug):
    assert sync(slug, check_only=True) == [], f"run `dlcourse author sync {slug}`"


@pytest.mark.parametrize("slug", specs.all_slugs())
def test_skeleton_keeps_every_public_name_of_the_reference(slug):
    spec = specs.load(slug)
    names = lambda path: {n.name for n in ast.parse(path.read_text()).body  # noqa: E731
                          if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert set(spec.targets) <= names(spec.skeleton) == names(spec.reference)
