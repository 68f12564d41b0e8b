"""The batch's data: what it knows about the class, each student's outcome, the whole run, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SUBMISSION_TIMEOUT = 900.0  # seconds of wall clock for one student's whole grading
KILL_GRACE = 3.0  # seconds between asking a child to stop (SIGTERM) and killing it
RESERVED_NAMES = ("grades.csv", "report.html", "batch.json", "canvas.csv", "moodle.csv")  # batch outputs: no student folder may take their place

STATUS_GRADED = "graded"  # grading ran; the score is the verdict on the code
STATUS_ERROR = "error"  # grading could not run (no module file, bad zip...): score 0 with the reason
STATUS_TIMEOUT = "timeout"  # the whole submission ran past the wall-clock cap
STATUS_CRASHED = "crashed"  # the grading process itself died or failed
STATUS_SKIPPED = "skipped"  # finished in an earlier run (resume): not graded again


class BatchError(Exception):
    """The batch cannot start (no such folder, unknown assignment...): raised before anything is graded."""


class SubmissionRejected(Exception):
    """A submission that cannot be graded at all (unsafe or oversized zip, module file missing...)."""


@dataclass(frozen=True)
class CheckSpec:
    """A check as the batch knows it before anything runs (from collecting the check files)."""

    name: str
    visibility: str
    points: float

    @property
    def target(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path  # a folder or a .zip file
    kind: str  # "dir" | "zip"


@dataclass
class StudentOutcome:
    student: str
    status: str  # graded | error | timeout | crashed | skipped
    score: float
    max_score: float
    results_path: Path
    wall_seconds: float = 0.0  # from starting the child to its exit (0 when skipped)
    execution_time: float = 0.0  # inside grade()
    time_in_student: float = 0.0  # spent running the student's code in the sandbox
    message: str = ""


@dataclass
class BatchResult:
    slug: str
    out_dir: Path
    checks: list[CheckSpec]
    outcomes: list[StudentOutcome] = field(default_factory=list)
    grades_csv: Path | None = None
    report_html: Path | None = None
    elapsed: float = 0.0  # the whole call
    grading_time: float = 0.0  # from the first child started to the last one finished (no setup, no outputs)
    seed: int = 0  # the one seed every student of the batch is graded with (OUT/batch.json)
    isolation: str = "namespaces"  # the sandbox level required (process only with allow_weak_isolation)
    shard: str | None = None  # "I/N" when this run graded one shard of the class
    not_submissions: list[tuple[str, str]] = field(default_factory=list)  # entries left out: (name, why)
    set_aside: Path | None = None  # where --force moved the old results
    lms_csv: list[Path] = field(default_factory=list)  # OUT/canvas.csv, OUT/moodle.csv

    def by_student(self) -> dict[str, StudentOutcome]:
        return {o.student: o for o in self.outcomes}

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)
