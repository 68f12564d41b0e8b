"""The class report: one self-contained HTML page (OUT/report.html) built from the students' results.json files.

What it shows: a histogram of the scores (inline SVG), the pass rate of every check, the most common failure
messages with how many students hit each, and the submissions that could not be graded or timed out. The page
loads nothing (no script, no stylesheet, no font, no image from anywhere: a Content-Security-Policy forbids it)
and every piece of text that comes from a submission (names, messages, printed output) is HTML-escaped.

Failure messages are grouped after normalising them: the first line only, numbers masked with '#', memory
addresses and whitespace runs collapsed, so "max abs error 0.0312 at (3, 1)" and "max abs error 0.5 at (0, 2)"
count as the same mistake.
"""

from __future__ import annotations

import html
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ...report import write_atomic

N_BINS = 10
TOP_FAILURES = 25
MESSAGE_CHARS = 240

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"(?<![A-Za-z_\d.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_\d])")
_SPACES = re.compile(r"\s+")


def normalise_message(text: str) -> str:
    """The group key of a failure message: first non-empty line, numbers as '#', at most MESSAGE_CHARS chars."""
    first = next((line.strip() for line in (text or "").splitlines() if line.strip()), "(no message)")
    first = _HEX.sub("0x#", first)
    first = _NUMBER.sub("#", first)
    first = _SPACES.sub(" ", first)
    return first if len(first) <= MESSAGE_CHARS else first[:MESSAGE_CHARS - 1] + "…"


@dataclass
class CheckStats:
    name: str
    visibility: str
    points: float
    passed: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass
class FailureGroup:
    message: str
    students: set[str] = field(default_factory=set)
    checks: dict[str, int] = field(default_factory=dict)  # check name -> occurrences


@dataclass
class ClassSummary:
    slug: str
    title: str
    students: list[tuple[str, float, float, str, str]]  # (student, score, max_score, status, message)
    checks: list[CheckStats]
    failures: list[FailureGroup]
    histogram: list[int]

    @property
    def percents(self) -> list[float]:
        return [100 * s / m if m else 0.0 for _, s, m, _, _ in self.students]


def load_class(out_dir: Path, students: list[str] | None = None) -> list[tuple[str, dict]]:
    """[(student, results.json as a dict)] for each student of `out_dir` whose results.json is complete."""
    from .results import read_results

    out_dir = Path(out_dir)
    if students is None:
        students = sorted(p.parent.name for p in out_dir.glob("*/results.json") if not p.parent.name.startswith("."))
    loaded = []
    for student in students:
        data = read_results(out_dir / student / "results.json")
        if data is not None:
            loaded.append((student, data))
    return loaded


def summarise(slug: str, title: str, entries: list[tuple[str, dict]], checks=None) -> ClassSummary:
    """Scores, pass rates and grouped failures of a class. `checks`: [CheckSpec] fixing the order of the table."""
    stats: dict[str, CheckStats] = {}
    for c in checks or []:
        stats[c.name] = CheckStats(c.name, c.visibility, c.points)
    groups: dict[str, FailureGroup] = {}
    rows = []
    histogram = [0] * N_BINS
    for student, data in entries:
        batch = (data.get("extra_data") or {}).get("batch") or {}
        score, max_score = float(data["score"]), float(data["max_score"])
        rows.append((student, score, max_score, str(batch.get("status", "graded")), str(batch.get("message", ""))))
        pct = score / max_score if max_score else 0.0
        histogram[min(N_BINS - 1, max(0, int(pct * N_BINS)))] += 1
        for test in data["tests"]:
            name = test["name"]
            if name not in stats:
                vis = {"visible": "public", "after_due_date": "hidden"}.get(test.get("visibility"), "public")
                stats[name] = CheckStats(name, vis, float(test.get("max_score") or 0))
            s = stats[name]
            s.total += 1
            if test.get("status") == "passed":
                s.passed += 1
                continue
            key = normalise_message(str(test.get("output") or ""))
            group = groups.setdefault(key, FailureGroup(key))
            group.students.add(student)
            group.checks[name] = group.checks.get(name, 0) + 1
    failures = sorted(groups.values(), key=lambda g: (-len(g.students), g.message))[:TOP_FAILURES]
    return ClassSummary(slug, title, rows, list(stats.values()), failures, histogram)


# -- rendering ---------------------------------------------------------------------------------------------------
def _e(text) -> str:
    return html.escape(str(text), quote=True)


def histogram_svg(counts: list[int]) -> str:
    """Bars of the score distribution in bins of 10 percentage points (100% falls in the last bin)."""
    width, height, left, bottom, top = 640, 260, 44, 40, 16
    plot_w, plot_h = width - left - 12, height - bottom - top
    n = len(counts)
    peak = max(counts) if counts and max(counts) > 0 else 1
    bar_w = plot_w / n
    parts = [f'<svg id="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram of scores">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>']
    for tick in sorted({0, peak // 2, peak}):
        y = top + plot_h - plot_h * tick / peak
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick}</text>')
    for i, count in enumerate(counts):
        lo, hi = i * 100 // n, (i + 1) * 100 // n
        label = f"{lo}–{hi}%"
        h = plot_h * count / peak
        x = left + i * bar_w + 3
        y = top + plot_h - h
        parts.append(f'<rect class="bar" data-bin="{_e(label)}" data-count="{count}" x="{x:.1f}" y="{y:.1f}" '
                     f'width="{bar_w - 6:.1f}" height="{h:.1f}"><title>{_e(label)}: {count} students</title></rect>')
        if count:
            parts.append(f'<text x="{x + (bar_w - 6) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                         f'class="count">{count}</text>')
        parts.append(f'<text x="{x + (bar_w - 6) / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" '
                     f'class="tick">{lo}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" class="tick">'
                 'score (% of the maximum)</text>')
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;color:#1d2430;
padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccd;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e6ee;vertical-align:top}
th{background:#f3f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.rate{display:inline-block;height:.7em;background:#9bbbe8;vertical-align:middle;margin-right:.4em}
.low .rate{background:#d9534f}code{font-size:.95em;white-space:pre-wrap;word-break:break-word}
.bar{fill:#3f7fd9}.axis{stroke:#444}.tick,.count{font-size:12px;fill:#333}
.status-timeout,.status-error,.status-crashed{color:#b02a2a;font-weight:600}
.summary span{margin-right:1.5em}
"""


def render_html(summary: ClassSummary) -> str:
    pcts = summary.percents
    n = len(summary.students)
    stats_line = (f"<span>{n} students</span>" + (
        f"<span>mean {statistics.fmean(pcts):.1f}%</span><span>median {statistics.median(pcts):.1f}%</span>"
        f"<span>full marks: {sum(p >= 100 - 1e-9 for p in pcts)}</span>" if pcts else ""))
    trouble = [s for s in summary.students if s[3] in ("error", "timeout", "crashed")]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
           f"<title>{_e(summary.slug)}: class report</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(summary.title)} <small>({_e(summary.slug)})</small>: class report</h1>",
           f'<p class="summary">{stats_line}</p>',
           "<h2>Scores</h2>", histogram_svg(summary.histogram),
           "<h2>Checks</h2>",
           '<table id="checks"><thead><tr><th>check</th><th>visibility</th><th>points</th><th>passed</th>'
           "<th>pass rate</th></tr></thead><tbody>"]
    for c in summary.checks:
        pct = 100 * c.rate
        cls = "check low" if pct < 50 else "check"
        out.append(f'<tr class="{cls}"><td>{_e(c.name)}</td><td>{_e(c.visibility)}</td>'
                   f'<td class="num">{c.points:g}</td><td class="num">{c.passed}/{c.total}</td>'
                   f'<td class="num"><span class="rate" style="width:{pct:.0f}px"></span>{pct:.0f}%</td></tr>')
    out.append("</tbody></table>")
    out.append("<h2>Most common failure messages</h2>")
    if summary.failures:
        out.append('<table id="failures"><thead><tr><th>students</th><th>message (first line, numbers as #)</th>'
                   "<th>checks</th></tr></thead><tbody>")
        for g in summary.failures:
            checks = "<br>".join(f"{_e(name)} ({count})" for name, count in
                                 sorted(g.checks.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
            more = len(g.checks) - 5
            if more > 0:
                checks += f"<br>and {more} more"
            out.append(f'<tr class="failure"><td class="num">{len(g.students)}</td>'
                       f"<td><code>{_e(g.message)}</code></td><td>{checks}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p id="no-failures">No check failed.</p>')
    out.append("<h2>Submissions that could not be graded</h2>")
    if trouble:
        out.append('<table id="trouble"><thead><tr><th>student</th><th>status</th><th>reason</th></tr></thead><tbody>')
        for student, _, _, status, message in trouble:
            out.append(f'<tr class="trouble"><td>{_e(student)}</td><td class="status-{_e(status)}">{_e(status)}</td>'
                       f"<td><code>{_e(message)}</code></td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p id="no-trouble">Every submission was graded.</p>')
    out.append("<h2>Students</h2>")
    out.append('<table id="students"><thead><tr><th>student</th><th>score</th><th>%</th><th>status</th></tr></thead>'
               "<tbody>")
    for (student, score, max_score, status, _), pct in zip(summary.students, pcts):
        out.append(f'<tr class="student"><td>{_e(student)}</td><td class="num">{score:g}/{max_score:g}</td>'
                   f'<td class="num">{pct:.0f}%</td><td class="status-{_e(status)}">{_e(status)}</td></tr>')
    out.append("</tbody></table></body></html>")
    return "\n".join(out)


def write_class_report(out_dir: Path, *, slug: str, title: str, students: list[str] | None = None,
                       checks=None) -> Path:
    """Write OUT/report.html from the results.json files in `out_dir`; returns its path."""
    out_dir = Path(out_dir)
    summary = summarise(slug, title, load_class(out_dir, students), checks)
    path = out_dir / "report.html"
    write_atomic(path, render_html(summary))
    return path
