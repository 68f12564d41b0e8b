"""What grading produces: a `Report` of `CheckResult`s, rendered as a rich table, a summary line and
Gradescope's results.json.

One message per root cause (autograder.feedback): a module that cannot be graded at all is one panel at the top
(`Report.module_problem`) and the checks it blocks one line each; a check whose result is such a line (not run, not
implemented yet) has `brief` set; only the other failures get a panel of their own. What the submission printed
during a check (`CheckResult.stdout`, at most about 4 KB) is shown under its failure, under every check with
`verbose`, and added to the check's output in results.json (public checks only: a hidden check's is never kept).

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
    blocked_by: str = ""  # the target whose failed core check withheld it (its own, or one an end-to-end check needs)
    brief: bool = False  # its output is one line (not run, not implemented yet), not a panel
    stdout: str = ""  # what the submission printed during this check (public checks only), bounded

    def full_output(self) -> str:
        """The message with what the code printed under it (results.json's output of this check)."""
        if not self.stdout.strip():
            return self.output
        return f"{self.output}\n--- what your code printed during this check ---\n{self.stdout.rstrip()}"


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
    module_problem: str = ""  # why no check could judge the module (one panel at the top), else ""
    import_output: str = ""  # what the module printed while it was imported
    partial: bool = False  # only some checks were asked for (`--only`)
    skipped: int = 0  # checks of this run's kind left out by `--only`
    # --device cuda: the sandbox's GPU memory as the grader measured it (sandbox/gpu_memory.py). Kept out of the
    # visible output at grading, where a submission could steer it from a hidden input; in extra_data only.
    gpu_memory: str = ""

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
                f"{len(self.results)} checks passed; checked {display_path(self.submission)}; seed {self.seed}; "
                f"device {self.device}; isolation {self.isolation}")
        if self.partial:
            kind = "public checks" if self.mode == "check" else "checks"
            line += (f". Partial run: {self.skipped} {kind} not run (--only)" if self.skipped else
                     f". Every {kind[:-1]} ran")
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
            "output": "\n".join(filter(None, [self.module_problem, self.summary_line(), *self.notes])),
            "visibility": "visible",
            "tests": [
                {
                    "name": r.name,
                    "score": r.score,
                    "max_score": r.max_score,
                    "status": "passed" if r.passed else "failed",
                    "output": self._test_output(r),
                    "visibility": GRADESCOPE_VISIBILITY[r.visibility],
                }
                for r in self.results
            ],
            "extra_data": {
                "assignment": self.slug, "seed": self.seed, "device": self.device, "isolation": self.isolation,
                "mode": self.mode, "submission": self.submission, "time_in_student": round(self.time_in_student, 3),
                **({"gpu_memory": self.gpu_memory} if self.gpu_memory else {}),
            },
        }

    def _test_output(self, r: CheckResult) -> str:
        """A check's output in results.json: its message, what the code printed (public checks), and, for the first
        check a module-level problem blocked, that problem in full (Gradescope shows each test on its own)."""
        text = r.full_output() if r.visibility == "public" else r.output
        if self.module_problem and r.brief:
            first = next((x for x in self.results if x.brief), None)
            if first is r:
                text += "\n\n" + self.module_problem
        return text

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


def display_path(path: str) -> str:
    """A submission's path as the student typed it: relative to the current folder when it lies below it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


def render(report: Report, console=None, show_passed_output: bool = False, verbose: bool = False) -> None:
    """Print the report: the module's problem (if any) once at the top, a table of checks, each failure's message
    (with what the code printed during it), one line for each check that did not run, and the summary line.
    `verbose` also shows what the code printed during the checks that passed, and while it was imported."""
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    verbose = verbose or show_passed_output
    if report.module_problem:
        console.print(_panel(report.module_problem, f"{display_path(report.submission)}: no check could run",
                             "red"))
    if not report.module_problem or any(r.passed or not r.brief for r in report.results):
        console.print(_table(report))  # else every check is one line below: the table would repeat them
    if verbose and report.import_output.strip():
        console.print(_panel(report.import_output.rstrip(), "what your module printed while importing", "blue"))
    for r in report.results:
        if r.passed and verbose and r.stdout.strip():
            console.print(_panel(r.stdout.rstrip(), f"{r.name}: what your code printed", "blue"))
        elif not r.passed and not r.gated and not r.brief:
            console.print(_panel(r.output or "(no message)", r.name, "red", r.stdout))
    lines = [r for r in report.results if not r.passed and r.brief and not r.gated]
    if lines:
        console.print(Text(f"{len(lines)} check(s) stopped before judging your code:", style="yellow"))
        for r in lines:
            line = Text("  ✘ ", style="red")
            line.append(f"{r.name}: ")
            line.append(r.output, style="yellow")
            console.print(line)
            if verbose and r.stdout.strip():
                console.print(_panel(r.stdout.rstrip(), f"{r.name}: what your code printed", "blue"))
    render_gated(report, console)
    for note in report.notes:
        console.print(Text(note, style="yellow"))
    style = "bold green" if report.score == report.max_score and not report.hidden_pending else "bold"
    console.print(Text(report.summary_line(), style=style))


def render_gated(report: Report, console) -> None:
    from rich.text import Text

    gated = [r for r in report.results if r.gated]
    if gated:
        console.print(Text(f"{len(gated)} property check(s) not awarded until their function's core checks pass:",
                           style="yellow"))
        for r in gated:
            console.print(Text(f"  not awarded: {r.name}"))


def _table(report: Report):
    from rich.table import Table
    from rich.text import Text

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
    return table


def _panel(text: str, title: str, style: str, printed: str = ""):
    """A bordered message; the submission's own text is never read as markup."""
    from rich.panel import Panel
    from rich.text import Text

    body = Text(text)
    if printed.strip():
        body.append("\n--- what your code printed during this check ---\n", style="dim")
        body.append(printed.rstrip())
    return Panel(body, title=Text(title, style=f"bold {style}"), title_align="left", border_style=style)
