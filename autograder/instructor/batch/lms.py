"""LMS-ready gradebook CSVs from a batch's results: OUT/canvas.csv and OUT/moodle.csv.

- **Canvas** (Grades > Import): the columns of Canvas's own gradebook export, `Student, ID, SIS User ID,
  SIS Login ID, Section`, then one assignment column `"<title> (<slug>)"`, with a `Points Possible` row first. Canvas
  matches a row to a student by `ID` (its user id) or the SIS columns: a student folder named as Canvas names its
  downloads (`doejane_12345_678_backprop.py`, `doejane_LATE_12345_...`) gives the user id; otherwise the folder
  name goes into `SIS Login ID` (name the folders by login to import directly).
- **Moodle** (Grades > Import > CSV file): `Username`, the grade column, a `Feedback` column; the mapping is chosen
  on Moodle's import page ("Map from: Username" to "username", the grade column to the assignment).

A student whose submission could not be graded (status error, timeout or crashed) gets an empty grade, never a 0
the grader cannot vouch for: the instructor decides (the class report lists them apart).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ...report import write_atomic
from .results import _csv_cell, read_results

CANVAS = "canvas.csv"
MOODLE = "moodle.csv"
GRADED = ("graded", "skipped")
_CANVAS_NAME = re.compile(r"^[^_]+_(?:LATE_)?(\d+)(?:_|$)")


def canvas_user_id(student: str) -> str:
    """Canvas's user id from a folder named like Canvas's submission downloads, else ''."""
    m = _CANVAS_NAME.match(student)
    return m.group(1) if m else ""


def _rows(out_dir: Path, students: list[str]):
    for student in students:
        data = read_results(out_dir / student / "results.json")
        if data is None:
            continue
        batch = (data.get("extra_data") or {}).get("batch") or {}
        status = str(batch.get("status", "graded"))
        yield student, status, float(data["score"]), float(data["max_score"]), str(batch.get("message", ""))


def canvas_csv(out_dir: Path, students: list[str], *, title: str, slug: str) -> str:
    rows = list(_rows(out_dir, students))
    column = f"{title} ({slug})"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
    w.writerow(["    Points Possible", "", "", "", "", f"{max((r[3] for r in rows), default=0):g}"])
    for student, status, score, _max, _msg in rows:
        uid = canvas_user_id(student)
        w.writerow([_csv_cell(student), uid, "", "" if uid else _csv_cell(student), "",
                    f"{score:g}" if status == "graded" else ""])
    return buf.getvalue()


def moodle_csv(out_dir: Path, students: list[str], *, title: str, slug: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Username", f"{title} ({slug})", "Feedback"])
    for student, status, score, max_score, message in _rows(out_dir, students):
        if status == "graded":
            w.writerow([_csv_cell(student), f"{score:g}", f"{score:g}/{max_score:g} points (dlcourse {slug})"])
        else:
            w.writerow([_csv_cell(student), "", _csv_cell(f"not graded ({status}): {message.splitlines()[0][:200]}"
                                                          if message else f"not graded ({status})")])
    return buf.getvalue()


def write_lms_csvs(out_dir: Path, students: list[str], *, title: str, slug: str) -> list[Path]:
    out_dir = Path(out_dir)
    paths = []
    for name, make in ((CANVAS, canvas_csv), (MOODLE, moodle_csv)):
        path = out_dir / name
        write_atomic(path, make(out_dir, students, title=title, slug=slug))
        paths.append(path)
    return paths
