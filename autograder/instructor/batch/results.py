"""What a batch writes: each student's results.json (Gradescope's format plus the batch's own record) and
OUT/grades.csv."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ...report import CheckResult, Report, write_atomic
from .model import CheckSpec


def failed_report(slug: str, title: str, checks: list[CheckSpec], reason: str, *, device: str,
                  submission: str = "", seed: int = 0) -> Report:
    """A report with every check failed with `reason`: what a submission gets when its grading cannot finish."""
    results = [CheckResult(name=c.name, target=c.target, visibility=c.visibility, max_score=c.points, score=0.0,
                           passed=False, output=reason) for c in checks]
    return Report(slug=slug, title=title, submission=submission, mode="grade", seed=seed, device=device,
                  isolation="not started", results=results, notes=[reason])


def results_document(report: Report, meta: dict) -> str:
    data = report.to_gradescope()
    data["extra_data"]["batch"] = meta
    return json.dumps(data, indent=2)


def read_results(path: Path) -> dict | None:
    """A student's results.json as a dict, or None when it is missing or not a complete results file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        return None
    if not isinstance(data.get("score"), (int, float)) or not isinstance(data.get("max_score"), (int, float)):
        return None
    if not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in data["tests"]):
        return None
    return data



def _csv_cell(text: str) -> str:
    """A student-derived cell that a spreadsheet would run as a formula is prefixed with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


GRADES_COLUMNS = ["student", "status", "score", "max_score", "seed", "isolation"]


def write_grades_csv(out_dir: Path, students: list[str], checks: list[CheckSpec]) -> Path:
    """OUT/grades.csv: student, status (graded, error, timeout, crashed), score, max_score, the seed and the
    isolation level it was graded with, then one column per check (that check's points).

    Every student with a results.json gets a row; a check missing from a student's results counts 0.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*GRADES_COLUMNS, *[c.name for c in checks]])
    for student in students:
        data = read_results(out_dir / student / "results.json")
        if data is None:
            continue
        extra = data.get("extra_data") or {}
        batch = extra.get("batch") or {}
        per_check = {t["name"]: t.get("score", 0) for t in data["tests"]}
        writer.writerow([_csv_cell(student), batch.get("status", "graded"), f"{float(data['score']):g}",
                         f"{float(data['max_score']):g}", extra.get("seed", ""), _csv_cell(str(extra.get("isolation", ""))),
                         *[f"{float(per_check.get(c.name, 0) or 0):g}" for c in checks]])
    path = out_dir / "grades.csv"
    write_atomic(path, buf.getvalue())
    return path
