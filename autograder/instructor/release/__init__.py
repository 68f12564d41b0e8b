"""Shipping the course: the student bundle (`dlcourse release`) and the steps every export shares.

| module | job |
| --- | --- |
| `steps.py` | the bundle steps (copy the engine, the check files, the assignments, the references...) and `build` |
| `bundle.py` | `release`: the student bundle as a list of steps, ending with the leak scan |
| `leaks.py` | `find_leaks`: any reference body, lecture answer or solutions/ file in a folder |
| `commands.py` | the `release` and `export ...` commands |

The exports live next to this package: `autograder/instructor/gradescope.py` (a list of the same steps),
`classroom.py` and `nbgrader_bridge.py`.
"""

from .bundle import RELEASE_STEPS, ReleaseError, ReleaseSummary, release
from .leaks import Leak, answer_fingerprints, find_leaks
from .steps import Bundle, build, check_files, public_check_files

__all__ = ["RELEASE_STEPS", "Bundle", "Leak", "ReleaseError", "ReleaseSummary", "answer_fingerprints", "build",
           "check_files", "find_leaks", "public_check_files", "release"]
