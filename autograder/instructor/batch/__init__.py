"""Grade a whole class: `dlcourse grade-batch`.

Layout of a class: `SUBMISSIONS/<student>/` (a folder holding `<slug>.py`, possibly one level deeper) or
`SUBMISSIONS/<student>.zip`. Outputs: `OUT/<student>/results.json` (Gradescope's format, written atomically as
each student finishes), `OUT/grades.csv` and the class report `OUT/report.html`.

One module per job:

| module | job |
| --- | --- |
| `model.py` | what the batch knows: checks, submissions, outcomes, the run's result, statuses, errors |
| `discovery.py` | finding the class: one submission per folder or zip, safe unpacking, locating the module |
| `resume.py` | which results are finished already (same assignment, checks and submission bytes) |
| `runner.py` | the fork server, one child process per student, wall-clock caps, killing a process tree |
| `results.py` | each student's results.json and OUT/grades.csv |
| `classreport.py` | OUT/report.html |
| `grade.py` | `grade_batch` and its `BatchOptions` |
| `commands.py` | the `grade-batch` command |

Isolation between students: each submission is graded in its own child process, and the sandbox is told to hide
the submissions folder and the output folder, so a submission cannot read another student's code or grades.
Resuming: a student whose `results.json` is valid is skipped unless `regrade` is set; `students=[...]` regrades
just those.
"""

from .discovery import discover, locate_module, safe_extract
from .grade import BatchOptions, grade_batch
from .model import (STATUS_CRASHED, STATUS_ERROR, STATUS_GRADED, STATUS_SKIPPED, STATUS_TIMEOUT, BatchError,
                    BatchResult, CheckSpec, StudentOutcome, Submission, SubmissionRejected)
from .results import failed_report, read_results, write_grades_csv
from .resume import expected_checks, is_finished, submission_digest

__all__ = ["BatchError", "BatchOptions", "BatchResult", "CheckSpec", "STATUS_CRASHED", "STATUS_ERROR",
           "STATUS_GRADED", "STATUS_SKIPPED", "STATUS_TIMEOUT", "StudentOutcome", "Submission", "SubmissionRejected",
           "discover", "expected_checks", "failed_report", "grade_batch", "is_finished", "locate_module",
           "read_results", "safe_extract", "submission_digest", "write_grades_csv"]
