"""Shipping the course: the student bundle (`dlcourse release`) and the steps every export shares.

| module | job |
| --- | --- |
| `steps.py` | the bundle steps (copy the engine, the check files, the assignments, the references...) and `build` |
| `bundle.py` | `release`: the student bundle as a list of steps, ending with the leak scan |
| `leaks.py` | `find_leaks`: a reference body, lecture answer or solutions/ file in a folder; `find_reimplementations` |
| `commands.py` | the `release` and `export ...` commands |

`find_reimplementations` runs every function of the shipped check files on the inputs the checks give the graded
functions: one that gives the reference's values re-implements a graded function, and the release is refused.

The exports live next to this package: `autograder/instructor/gradescope.py` (a list of the same steps),
`classroom.py` and `nbgrader_bridge.py`.
"""

from .bundle import RELEASE_STEPS, STUDENT_COPY_MARKER, ReleaseError, ReleaseSummary, install_command, release
from .leaks import Leak, answer_fingerprints, find_leaks, find_reimplementations
from .steps import Bundle, build, check_files, public_check_files

__all__ = ["RELEASE_STEPS", "STUDENT_COPY_MARKER", "Bundle", "Leak", "ReleaseError", "ReleaseSummary",
           "answer_fingerprints", "build", "check_files", "find_leaks", "find_reimplementations", "install_command",
           "public_check_files", "release"]
