"""Grade a whole class: `dlcourse grade-batch`.

Layout of a class: `SUBMISSIONS/<student>/` (a folder holding `<slug>.py`, or only the notebook `<slug>.ipynb`,
possibly deeper) or `SUBMISSIONS/<student>.zip`; symbolic links are never followed (each one skipped is reported).
Outputs: `OUT/batch.json` (the batch: assignment, selection, checks version, its one seed), `OUT/<student>/
results.json` (Gradescope's format, written atomically as each student finishes), `OUT/grades.csv`, the LMS
gradebooks `OUT/canvas.csv` and `OUT/moodle.csv`, and the class report `OUT/report.html`.

One module per job:

| module | job |
| --- | --- |
| `model.py` | what the batch knows: checks, submissions, outcomes, the run's result, statuses, errors |
| `discovery.py` | finding the class: one submission per folder or zip, safe unpacking, locating the module |
| `resume.py` | which results are finished already (same assignment, checks and submission bytes) |
| `runner.py` | the fork server, one child process per student, wall-clock caps, killing a process tree |
| `manifest.py` | OUT/batch.json: one seed per batch, and refusing an OUT that holds another batch |
| `results.py` | each student's results.json and OUT/grades.csv |
| `lms.py` | OUT/canvas.csv and OUT/moodle.csv |
| `classreport.py` | OUT/report.html |
| `grade.py` | `grade_batch`, its `BatchOptions` and shards (`--shard I/N`) |
| `merge.py` | `dlcourse merge`: the shards of one batch combined |
| `commands.py` | the `grade-batch` and `merge` commands |

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
