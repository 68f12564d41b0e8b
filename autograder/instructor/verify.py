"""Moved: known bugs are in `autograder.authoring.bugfile`, `dlcourse verify` in
`autograder.authoring.verify`.

Kept only so that the per-assignment tests that still import `load_bugs` from here keep working; new code imports
from `autograder.authoring.bugfile`.
"""

from ..authoring.bugfile import Bug, BugsError, load_bugs  # noqa: F401
