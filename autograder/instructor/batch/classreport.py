"""The class report: one self-contained HTML page (OUT/report.html) built from the students' results.json files.

What it shows: the batch (seed, isolation level, checks version, shard); the statistics of the graded students
(mean, median, standard deviation, min, max; students who could not be graded are listed apart and never counted);
a histogram of the scores (inline SVG); the pass rate of every function and of every check; the engine's named
mistakes ("This matches a known mistake: ...") with how many students made each and who; the failures grouped by
check and message, with who failed; a sortable table of the students, each linked to their own section (#s-...)
holding every check's verdict and message.

The page loads nothing (no stylesheet, font, image or script from anywhere: a Content-Security-Policy forbids it);
its one inline script (sorting the students' table, `?sort=<column>&dir=desc` in the address sorts on load) is
allowed by its hash. Every piece of text that comes from a submission (names, messages, printed output) is
HTML-escaped.

Failure messages are grouped after normalising them: the first line only, numbers masked with '#', memory
addresses and whitespace runs collapsed, so "max abs error 0.0312 at (3, 1)" and "max abs error 0.5 at (0, 2)"
count as the same mistake (of the same check: different checks are different groups).
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


UNGRADABLE = ("error", "timeout", "crashed")
_MISTAKE = re.compile(r"This matches a known mistake:\s*(.+?)\.?\s*$", re.MULTILINE)


def named_mistakes(text: str) -> list[str]:
    """The engine's named mistakes in a check's output (autograder.compare.expect_close's `mistakes=`)."""
    return [m.strip() for m in _MISTAKE.findall(text or "")]


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

    @property
    def target(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass
class TargetStats:
    target: str
    checks: int = 0
    points: float = 0.0
    passed: int = 0  # check verdicts passed, over every graded student
    total: int = 0
    students_all: int = 0  # graded students who passed every check of this function
    students: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass
class FailureGroup:
    message: str
    check: str = ""
    students: set[str] = field(default_factory=set)
    checks: dict[str, int] = field(default_factory=dict)  # check name -> occurrences


@dataclass
class Mistake:
    description: str
    target: str
    students: set[str] = field(default_factory=set)
    checks: set[str] = field(default_factory=set)


@dataclass
class StudentRow:
    student: str
    score: float
    max_score: float
    status: str
    message: str
    tests: list[dict]
    notes: str = ""
    source: str = "module"
    mistakes: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 0.0

    @property
    def gradable(self) -> bool:
        return self.status not in UNGRADABLE

    def __iter__(self):  # (student, score, max_score, status, message), as before
        return iter((self.student, self.score, self.max_score, self.status, self.message))


@dataclass
class ClassSummary:
    slug: str
    title: str
    students: list[StudentRow]
    checks: list[CheckStats]
    failures: list[FailureGroup]
    histogram: list[int]
    targets: list[TargetStats] = field(default_factory=list)
    mistakes: list[Mistake] = field(default_factory=list)
    batch: dict = field(default_factory=dict)  # seed, isolation, checks version, shard

    @property
    def graded(self) -> list[StudentRow]:
        return [s for s in self.students if s.gradable]

    @property
    def ungradable(self) -> list[StudentRow]:
        return [s for s in self.students if not s.gradable]

    @property
    def percents(self) -> list[float]:
        return [s.percent for s in self.graded]

    def statistics(self) -> dict[str, float] | None:
        """mean, median, std (population), min and max of the graded students' scores, in points and percent."""
        rows = self.graded
        if not rows:
            return None
        pts, pct = [s.score for s in rows], self.percents
        out = {}
        for key, values in (("points", pts), ("percent", pct)):
            out.update({f"{name}_{key}": fn(values) for name, fn in (
                ("mean", statistics.fmean), ("median", statistics.median), ("std", statistics.pstdev),
                ("min", min), ("max", max))})
        out["n"] = len(rows)
        out["full"] = sum(p >= 100 - 1e-9 for p in pct)
        return out


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


def summarise(slug: str, title: str, entries: list[tuple[str, dict]], checks=None, batch: dict | None = None
              ) -> ClassSummary:
    """Scores, pass rates, named mistakes and grouped failures of a class. `checks`: [CheckSpec] fixing the order
    of the tables. Students who could not be graded are rows of the class, but no statistic counts them."""
    stats: dict[str, CheckStats] = {}
    for c in checks or []:
        stats[c.name] = CheckStats(c.name, c.visibility, c.points)
    groups: dict[tuple[str, str], FailureGroup] = {}
    mistakes: dict[tuple[str, str], Mistake] = {}
    rows: list[StudentRow] = []
    histogram = [0] * N_BINS
    for student, data in entries:
        extra = data.get("extra_data") or {}
        batch_meta = extra.get("batch") or {}
        row = StudentRow(student, float(data["score"]), float(data["max_score"]),
                         str(batch_meta.get("status", "graded")), str(batch_meta.get("message", "")),
                         list(data["tests"]), str(data.get("output") or ""),
                         "notebook" if batch_meta.get("source") == "notebook" or "from the notebook" in
                         str(data.get("output") or "") else "module")
        rows.append(row)
        for test in data["tests"]:
            name = test["name"]
            if name not in stats:
                vis = {"visible": "public", "after_due_date": "hidden"}.get(test.get("visibility"), "public")
                stats[name] = CheckStats(name, vis, float(test.get("max_score") or 0))
        if not row.gradable:
            continue
        pct = row.percent / 100
        histogram[min(N_BINS - 1, max(0, int(pct * N_BINS)))] += 1
        for test in data["tests"]:
            name = test["name"]
            s = stats[name]
            s.total += 1
            if test.get("status") == "passed":
                s.passed += 1
                continue
            output = str(test.get("output") or "")
            for description in named_mistakes(output):
                m = mistakes.setdefault((s.target, description), Mistake(description, s.target))
                m.students.add(student)
                m.checks.add(name)
                if description not in row.mistakes:
                    row.mistakes.append(description)
            key = normalise_message(output)
            group = groups.setdefault((name, key), FailureGroup(key, name))
            group.students.add(student)
            group.checks[name] = group.checks.get(name, 0) + 1
    failures = sorted(groups.values(), key=lambda g: (-len(g.students), g.check, g.message))[:TOP_FAILURES]
    targets: dict[str, TargetStats] = {}
    for c in stats.values():
        t = targets.setdefault(c.target, TargetStats(c.target))
        t.checks += 1
        t.points += c.points
        t.passed += c.passed
        t.total += c.total
    for t in targets.values():
        names = {c.name for c in stats.values() if c.target == t.target}
        for row in rows:
            if row.gradable:
                t.students += 1
                verdicts = [x.get("status") == "passed" for x in row.tests if x["name"] in names]
                t.students_all += bool(verdicts) and all(verdicts)
    ordered_mistakes = sorted(mistakes.values(), key=lambda m: (-len(m.students), m.target, m.description))
    return ClassSummary(slug, title, rows, list(stats.values()), failures, histogram, list(targets.values()),
                        ordered_mistakes, dict(batch or {}))
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
h3{font-size:1.05em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e6ee;vertical-align:top}
th{background:#f3f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.sortable th{cursor:pointer}table.sortable th[data-dir=asc]::after{content:" \25B2"}
table.sortable th[data-dir=desc]::after{content:" \25BC"}
.rate{display:inline-block;height:.7em;background:#9bbbe8;vertical-align:middle;margin-right:.4em}
.low .rate{background:#d9534f}code,pre{font-size:.95em;white-space:pre-wrap;word-break:break-word;margin:0}
.bar{fill:#3f7fd9}.axis{stroke:#444}.tick,.count{font-size:12px;fill:#333}
.status-timeout,.status-error,.status-crashed,.v-failed{color:#b02a2a;font-weight:600}.v-passed{color:#22753a}
.summary span,.batch span{margin-right:1.5em}.student-detail{border-top:1px solid #ccd;margin-top:1.2em}
a{color:#1f5fbf}
"""

_SCRIPT = ("(function(){function sortBy(t,i,asc){var b=t.tBodies[0],r=Array.prototype.slice.call(b.rows);"
           "var hs=t.tHead.rows[0].cells;for(var k=0;k<hs.length;k++){hs[k].removeAttribute('data-dir');}"
           "hs[i].setAttribute('data-dir',asc?'asc':'desc');r.sort(function(x,y){"
           "var a=x.cells[i].getAttribute('data-sort'),c=y.cells[i].getAttribute('data-sort');"
           "if(a===null)a=x.cells[i].textContent;if(c===null)c=y.cells[i].textContent;"
           "var na=parseFloat(a),nc=parseFloat(c),d=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);"
           "return asc?d:-d;});r.forEach(function(x){b.appendChild(x);});}"
           "var ts=document.querySelectorAll('table.sortable');for(var j=0;j<ts.length;j++){(function(t){"
           "var hs=t.tHead.rows[0].cells;for(var i=0;i<hs.length;i++){(function(i){hs[i].addEventListener('click',"
           "function(){sortBy(t,i,hs[i].getAttribute('data-dir')!=='asc');});})(i);}})(ts[j]);}"
           "var q=new URLSearchParams(location.search),col=q.get('sort');if(col){var t=document.getElementById("
           "'students');var hs=t.tHead.rows[0].cells;for(var i=0;i<hs.length;i++){if(hs[i].getAttribute("
           "'data-key')===col){sortBy(t,i,q.get('dir')!=='desc');}}}})();")


def _script_hash() -> str:
    import base64
    import hashlib

    return "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()


def anchor(student: str, index: int) -> str:
    """The id of a student's section: readable, unique, and safe in an attribute and a URL fragment."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", student).strip("-")[:40] or "student"
    return f"s-{index}-{clean}"


def _links(students, anchors: dict[str, str], limit: int = 40) -> str:
    names = sorted(students)
    out = ", ".join(f'<a href="#{anchors[n]}">{_e(n)}</a>' for n in names[:limit])
    return out + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _stats_html(summary: ClassSummary) -> str:
    st = summary.statistics()
    if st is None:
        return '<p id="no-stats">No submission could be graded: no statistics.</p>'
    cells = "".join(f'<td class="num" data-stat="{k}">{st[k + "_points"]:.2f} ({st[k + "_percent"]:.1f}%)</td>'
                    for k in ("mean", "median", "std", "min", "max"))
    return ('<table id="stats"><thead><tr><th>graded</th><th>mean</th><th>median</th><th>std</th><th>min</th>'
            f'<th>max</th><th>full marks</th></tr></thead><tbody><tr class="stats"><td class="num">{st["n"]}</td>'
            f'{cells}<td class="num">{st["full"]}</td></tr></tbody></table>')


def render_html(summary: ClassSummary) -> str:
    n = len(summary.students)
    graded, trouble = summary.graded, summary.ungradable
    anchors = {row.student: anchor(row.student, i) for i, row in enumerate(summary.students)}
    b = summary.batch
    batch_line = "".join(f"<span>{_e(label)}: <b>{_e(b[key])}</b></span>" for key, label in (
        ("seed", "seed"), ("isolation", "isolation"), ("checks_version", "checks version"), ("shard", "shard"),
        ("merged_from", "merged from")) if b.get(key) not in (None, "", []))
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{_script_hash()}'"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
           f"<title>{_e(summary.slug)}: class report</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(summary.title)} <small>({_e(summary.slug)})</small>: class report</h1>",
           f'<p class="batch" id="batch">{batch_line}</p>',
           f'<p class="summary"><span>{n} students</span><span>{len(graded)} graded</span>'
           f'<span>{len(trouble)} could not be graded (not in the statistics)</span></p>',
           "<h2>Scores of the graded students</h2>", _stats_html(summary), histogram_svg(summary.histogram),
           "<h2>Functions</h2>",
           '<table id="functions" class="sortable"><thead><tr><th>function</th><th>checks</th><th>points</th>'
           "<th>checks passed</th><th>students with every check passed</th></tr></thead><tbody>"]
    for t in summary.targets:
        pct = 100 * t.rate
        out.append(f'<tr class="{"target low" if pct < 50 else "target"}"><td>{_e(t.target)}</td>'
                   f'<td class="num">{t.checks}</td><td class="num">{t.points:g}</td>'
                   f'<td class="num" data-sort="{pct:.3f}"><span class="rate" style="width:{pct:.0f}px"></span>'
                   f'{pct:.0f}%</td><td class="num">{t.students_all}/{t.students}</td></tr>')
    out.append("</tbody></table>")
    out.append("<h2>Checks</h2>")
    out.append('<table id="checks"><thead><tr><th>check</th><th>visibility</th><th>points</th><th>passed</th>'
               "<th>pass rate</th></tr></thead><tbody>")
    for c in summary.checks:
        pct = 100 * c.rate
        cls = "check low" if pct < 50 else "check"
        out.append(f'<tr class="{cls}"><td>{_e(c.name)}</td><td>{_e(c.visibility)}</td>'
                   f'<td class="num">{c.points:g}</td><td class="num">{c.passed}/{c.total}</td>'
                   f'<td class="num"><span class="rate" style="width:{pct:.0f}px"></span>{pct:.0f}%</td></tr>')
    out.append("</tbody></table>")
    out.append("<h2>Named mistakes</h2>")
    if summary.mistakes:
        out.append('<table id="mistakes"><thead><tr><th>students</th><th>mistake</th><th>function</th>'
                   "<th>who</th></tr></thead><tbody>")
        for m in summary.mistakes:
            out.append(f'<tr class="mistake"><td class="num">{len(m.students)}</td><td>{_e(m.description)}</td>'
                       f"<td>{_e(m.target)}</td><td>{_links(m.students, anchors)}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p id="no-mistakes">No failure matched a known mistake.</p>')
    out.append("<h2>Most common failures (by check and message)</h2>")
    if summary.failures:
        out.append('<table id="failures"><thead><tr><th>students</th><th>check</th>'
                   "<th>message (first line, numbers as #)</th><th>who</th></tr></thead><tbody>")
        for g in summary.failures:
            out.append(f'<tr class="failure"><td class="num">{len(g.students)}</td><td>{_e(g.check)}</td>'
                       f"<td><code>{_e(g.message)}</code></td><td>{_links(g.students, anchors)}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p id="no-failures">No check failed.</p>')
    out.append("<h2>Submissions that could not be graded</h2>")
    if trouble:
        out.append('<table id="trouble"><thead><tr><th>student</th><th>status</th><th>reason</th></tr></thead><tbody>')
        for row in trouble:
            out.append(f'<tr class="trouble"><td><a href="#{anchors[row.student]}">{_e(row.student)}</a></td>'
                       f'<td class="status-{_e(row.status)}">{_e(row.status)}</td>'
                       f"<td><code>{_e(row.message)}</code></td></tr>")
        out.append("</tbody></table>")
    else:
        out.append('<p id="no-trouble">Every submission was graded.</p>')
    out.append("<h2>Students</h2>")
    out.append('<table id="students" class="sortable"><thead><tr><th data-key="student">student</th>'
               '<th data-key="status">status</th><th data-key="score">score</th><th data-key="percent">%</th>'
               '<th data-key="failed">failed checks</th><th data-key="mistakes">named mistakes</th>'
               '<th data-key="source">source</th></tr></thead><tbody>')
    for row in summary.students:
        failed = sum(t.get("status") != "passed" for t in row.tests)
        out.append(f'<tr class="student"><td data-sort="{_e(row.student)}"><a href="#{anchors[row.student]}">'
                   f'{_e(row.student)}</a></td><td class="status-{_e(row.status)}">{_e(row.status)}</td>'
                   f'<td class="num" data-sort="{row.score:g}">{row.score:g}/{row.max_score:g}</td>'
                   f'<td class="num" data-sort="{row.percent:.4f}">{row.percent:.0f}%</td>'
                   f'<td class="num">{failed}</td><td class="num">{len(row.mistakes)}</td>'
                   f"<td>{_e(row.source)}</td></tr>")
    out.append("</tbody></table>")
    out.append("<h2>Each student</h2>")
    for row in summary.students:
        out.append(f'<section class="student-detail" id="{anchors[row.student]}"><h3>{_e(row.student)}: '
                   f'{row.score:g}/{row.max_score:g} <span class="status-{_e(row.status)}">({_e(row.status)})</span>'
                   "</h3>")
        if row.notes:
            out.append(f"<pre>{_e(row.notes[:2000])}</pre>")
        out.append('<table class="verdicts"><thead><tr><th>check</th><th>verdict</th><th>points</th>'
                   "<th>message</th></tr></thead><tbody>")
        for t in row.tests:
            verdict = "passed" if t.get("status") == "passed" else "failed"
            msg = str(t.get("output") or "")
            out.append(f'<tr class="verdict"><td>{_e(t["name"])}</td><td class="v-{verdict}">{verdict}</td>'
                       f'<td class="num">{float(t.get("score") or 0):g}/{float(t.get("max_score") or 0):g}</td>'
                       f"<td><pre>{_e(msg[:1500])}{'…' if len(msg) > 1500 else ''}</pre></td></tr>")
        out.append('</tbody></table><p><a href="#students">back to the students</a></p></section>')
    out.append(f"<script>{_SCRIPT}</script>")
    out.append("</body></html>")
    return "\n".join(out)


def write_class_report(out_dir: Path, *, slug: str, title: str, students: list[str] | None = None,
                       checks=None, manifest=None) -> Path:
    """Write OUT/report.html from the results.json files in `out_dir`; returns its path. `manifest`: the batch's
    record (autograder.instructor.batch.manifest), read from OUT/batch.json when not given."""
    from dataclasses import asdict

    from .manifest import read_manifest

    out_dir = Path(out_dir)
    if manifest is None:
        try:
            manifest = read_manifest(out_dir)
        except Exception:  # noqa: BLE001  a report is still worth writing without it
            manifest = None
    batch = asdict(manifest) if manifest is not None else {}
    if batch.get("checks_version"):
        batch["checks_version"] = batch["checks_version"][:12]
    if batch.get("merged_from"):
        batch["merged_from"] = f"{len(batch['merged_from'])} shards"
    summary = summarise(slug, title, load_class(out_dir, students), checks, batch)
    path = out_dir / "report.html"
    write_atomic(path, render_html(summary))
    return path
