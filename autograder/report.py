"""What grading produces: a `Report` of `CheckResult`s, rendered as a rich table, a summary line and
Gradescope's results.json.

Gradescope visibility: public checks are "visible"; hidden checks are "after_due_date", so students see them once
the deadline has passed and never before.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "after_due_date"}


@dataclass
class CheckResult:
    name: str
    target: str
    visibility: str  # public | hidden
    max_score: float
    score: float
    passed: bool
    output: str = ""
    duration: float = 0.0
    gated: bool = False  # a property check withheld because its target's core checks failed (autograder.gating)


@dataclass
class Report:
    slug: str
    title: str
    submission: str
    mode: str  # check | grade
    seed: int
    device: str
    isolation: str
    results: list[CheckResult] = field(default_factory=list)
    execution_time: float = 0.0
    time_in_student: float = 0.0
    hidden_pending: tuple[int, float] | None = None  # (count, points) of hidden checks not run (check mode)
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 6)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_score for r in self.results), 6)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    def result(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def failed_names(self) -> list[str]:
        return [r.name for r in self.results if not r.passed]

    def summary_line(self) -> str:
        pct = 100 * self.score / self.max_score if self.max_score else 0.0
        line = (f"{self.slug}: {self.score:g}/{self.max_score:g} points ({pct:.0f}%), {self.passed} of "
                f"{len(self.results)} checks passed; seed {self.seed}; device {self.device}; "
                f"isolation {self.isolation}")
        if self.hidden_pending:
            n, pts = self.hidden_pending
            line += (f". {n} hidden checks worth {pts:g} more points will run at grading: "
                     "passing these public checks is not the final score")
        return line

    def to_gradescope(self) -> dict:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.execution_time, 3),
            "output": self.summary_line() + "".join(f"\n{n}" for n in self.notes),
            "visibility": "visible",
            "tests": [
                {
                    "name": r.name,
                    "score": r.score,
                    "max_score": r.max_score,
                    "status": "passed" if r.passed else "failed",
                    "output": r.output,
                    "visibility": GRADESCOPE_VISIBILITY[r.visibility],
                }
                for r in self.results
            ],
            "extra_data": {
                "assignment": self.slug, "seed": self.seed, "device": self.device, "isolation": self.isolation,
                "mode": self.mode, "submission": self.submission, "time_in_student": round(self.time_in_student, 3),
            },
        }

    def to_dict(self) -> dict:
        d = asdict(self)
        d["score"], d["max_score"] = self.score, self.max_score
        return d

    def write_json(self, path: str | os.PathLike) -> None:
        """Write Gradescope's results.json atomically (a reader never sees half a file)."""
        write_atomic(Path(path), json.dumps(self.to_gradescope(), indent=2))


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # an ordinary file once in place (mkstemp makes it private)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def render(report: Report, console=None, show_passed_output: bool = False) -> None:
    """Print the report: a table of checks, each failure's message, and the summary line."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    table = Table(title=f"{report.title} ({'self-check: public checks' if report.mode == 'check' else 'grading'})",
                  title_justify="left", expand=False)
    table.add_column("", width=2)
    table.add_column("check")
    if report.mode == "grade":
        table.add_column("visibility")
    table.add_column("points", justify="right")
    for r in report.results:
        mark = Text("✔", style="green") if r.passed else Text("✘", style="bold red")
        row = [mark, Text(r.name), *([r.visibility] if report.mode == "grade" else []),
               f"{r.score:g}/{r.max_score:g}"]
        table.add_row(*row)
    console.print(table)
    gated = [r for r in report.results if r.gated]
    for r in report.results:
        if not r.passed and not r.gated:
            console.print(Panel(Text(r.output or "(no message)"), title=Text(r.name, style="bold red"),
                                title_align="left", border_style="red"))
    if gated:
        console.print(Text(f"{len(gated)} property check(s) not awarded until their function's core checks pass:",
                           style="yellow"))
        for r in gated:
            console.print(Text(f"  not awarded: {r.name}"))
    for note in report.notes:
        console.print(Text(note, style="yellow"))
    style = "bold green" if report.score == report.max_score and not report.hidden_pending else "bold"
    console.print(Text(report.summary_line(), style=style))
