"""The class report: what it counts (scores, pass rates, grouped failures), that it escapes what students wrote,
and that it renders in a real browser (headless Chromium, skipped when none is installed)."""

from __future__ import annotations

import html.parser
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.instructor.batch import CheckSpec
from autograder.instructor.batch.classreport import normalise_message, write_class_report
from autograder.report import CheckResult, Report

CHECKS = [
    CheckSpec("relu_forward: max(0, x)", "public", 1.0),
    CheckSpec("relu_backward: gradient agrees with autograd", "public", 1.0),
    CheckSpec("linear_backward: dW matches the reference", "hidden", 2.0),
]
EVIL = '<script>document.title="pwned"<img src=x onerror=alert(1)>'  # a possible folder name (no '/')


def _write(out: Path, student: str, passed: list[bool], messages: list[str], status: str = "graded") -> None:
    results = [CheckResult(name=c.name, target=c.target, visibility=c.visibility, max_score=c.points,
                           score=c.points if ok else 0.0, passed=ok, output="" if ok else msg)
               for c, ok, msg in zip(CHECKS, passed, messages)]
    report = Report(slug="backprop", title="Backpropagation", submission=student, mode="grade", seed=1,
                    device="cpu", isolation="namespaces", results=results)
    data = report.to_gradescope()
    data["extra_data"]["batch"] = {"student": student, "status": status,
                                   "message": messages[0] if status != "graded" else ""}
    (out / student).mkdir(parents=True)
    (out / student / "results.json").write_text(json.dumps(data))


@pytest.fixture()
def class_dir(tmp_path) -> Path:
    out = tmp_path / "out"
    # Two students make the same linear_backward mistake with different numbers: one group of 2.
    _write(out, "alice", [True, True, True], ["", "", ""])
    _write(out, "bob", [True, False, False],
           ["", "relu_backward: max abs error 0.0312 at (3, 1)\nmore detail",
            "dW wrong: max abs error 1.5e-02 at (0, 2)\n  This matches a known mistake: db averaged over the batch."])
    _write(out, "carol", [True, True, False], ["", "", "dW wrong: max abs error 0.75 at (4, 4)\n  traceback...\n"
                                                "  This matches a known mistake: db averaged over the batch."])
    _write(out, EVIL, [False, False, False], [f"importing your module raised NameError: {EVIL}"] * 3)
    _write(out, "dave", [False, False, False], ["grading this submission took longer than 900 s (timed out)"] * 3,
           status="timeout")
    return out


class _Page(html.parser.HTMLParser):
    """Collects elements by tag and attributes, and the text inside each table row."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.rows: dict[str, list[str]] = {}
        self._row_class: str | None = None
        self._row_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag == "tr" and attrs.get("class"):
            self._row_class, self._row_text = attrs["class"].split()[0], []

    def handle_endtag(self, tag):
        if tag == "tr" and self._row_class:
            self.rows.setdefault(self._row_class, []).append(" ".join("".join(self._row_text).split()))
            self._row_class = None

    def handle_data(self, data):
        if self._row_class:
            self._row_text.append(data + " ")

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_normalise_message_groups_the_same_mistake():
    a = normalise_message("linear_backward: max abs error 0.0312 at (3, 1)\n  File x.py, line 12")
    b = normalise_message("\n  linear_backward: max abs error 1.5e-02 at (10, 2)")
    assert a == b == "linear_backward: max abs error # at (#, #)"
    # Names with digits are kept (W1 is not W2), addresses are masked, long lines are cut.
    assert normalise_message("W1 has shape (4, 5) but expected W2 at 0x7f3a12") == \
        "W1 has shape (#, #) but expected W2 at 0x#"
    assert normalise_message("") == "(no message)"
    assert len(normalise_message("x" * 1000)) == 240


def test_report_counts_scores_pass_rates_and_failures(class_dir):
    path = write_class_report(class_dir, slug="backprop", title="Backpropagation", checks=CHECKS)
    text = path.read_text()
    page = _parse(text)

    # Histogram of the 4 graded students (dave timed out: apart, not counted): alice 100%, carol 50%, bob 25%,
    # EVIL 0%.
    bars = page.find("rect", **{"class": "bar"})
    assert len(bars) == 10
    assert [int(b["data-count"]) for b in bars] == [1, 0, 1, 0, 0, 1, 0, 0, 0, 1]
    assert page.find("svg", id="histogram")
    # Statistics of the graded students: scores 4, 1, 2, 0 of 4.
    stats = {a["data-stat"]: a for a in page.find("td") if "data-stat" in a}
    assert set(stats) == {"mean", "median", "std", "min", "max"}
    row = page.rows["stats"][0]
    assert row.startswith("4 1.75 (43.8%) 1.50 (37.5%) 1.48 (37.0%) 0.00 (0.0%) 4.00 (100.0%) 1"), row

    # One row per check, with its pass count over the graded students; one per function.
    checks = page.rows["check"]
    assert len(checks) == 3
    assert "relu_forward: max(0, x) public 1 3/4 75%" in checks[0]
    assert "relu_backward: gradient agrees with autograd public 1 2/4 50%" in checks[1]
    assert "linear_backward: dW matches the reference hidden 2 1/4 25%" in checks[2]
    targets = {r.split()[0]: r for r in page.rows["target"]}
    assert set(targets) == {"relu_forward", "relu_backward", "linear_backward"}
    assert targets["linear_backward"].endswith("25% 1/4")

    # Failures, by check and message, with who failed: the two dW mistakes (different numbers) are one group.
    failures = page.rows["failure"]
    dw = [r for r in failures if "dW wrong: max abs error # at (#, #)" in r]
    assert len(dw) == 1 and dw[0].startswith("2 linear_backward") and "bob" in dw[0] and "carol" in dw[0]
    assert not [r for r in failures if "timed out" in r]  # the ungradable are not failures of the code
    # The named mistake, its count and who made it.
    (mistake,) = page.rows["mistake"]
    assert mistake.startswith("2 db averaged over the batch linear_backward") and "bob" in mistake
    # The student who timed out is listed apart, with the reason.
    assert any(r.startswith("dave timeout") for r in page.rows["trouble"])
    assert "1 could not be graded (not in the statistics)" in text
    # Every student has a section, linked from the students' table (and from the groups).
    anchors = {a["href"][1:] for a in page.find("a") if a.get("href", "").startswith("#s-")}
    sections = {a["id"] for a in page.find("section")}
    assert len(sections) == 5 and anchors == sections
    assert len(page.rows["verdict"]) == 15


def test_student_text_is_escaped_and_nothing_is_loaded(class_dir):
    text = write_class_report(class_dir, slug="backprop", title="Backpropagation", checks=CHECKS).read_text()
    page = _parse(text)
    assert len(page.find("script")) == 1 and not page.find("img")  # the page's own sorting script only
    assert "<script>document" not in text
    assert html.escape(EVIL) in text  # shown as text (name and message)
    # Self-contained: no external stylesheet, image, script or link, and a policy that forbids loading any and
    # allows the one inline script by its hash.
    assert not page.find("link") and not [s for s in page.find("script") if s.get("src")]
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    csp = page.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert csp and "default-src 'none'" in csp[0]["content"] and "script-src 'sha256-" in csp[0]["content"]


def test_empty_class_renders():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        text = write_class_report(Path(tmp), slug="backprop", title="B", checks=CHECKS).read_text()
    page = _parse(text)
    assert [int(b["data-count"]) for b in page.find("rect", **{"class": "bar"})] == [0] * 10
    assert page.find("p", id="no-failures") and page.find("p", id="no-stats")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'chrome-profile'}"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=90,
                          env={**os.environ, "HOME": str(tmp_path)})


def test_report_renders_in_headless_chromium(class_dir, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary found (Debian: apt-get install chromium)")
    path = write_class_report(class_dir, slug="backprop", title="Backpropagation", checks=CHECKS)
    dumped = _run_chromium(binary, tmp_path, "--dump-dom", path.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    page = _parse(dom)
    # What the browser built: the histogram's bars, the check table, the grouped failure, the escaped name.
    assert page.find("svg", id="histogram")
    assert len(page.find("rect", **{"class": "bar"})) == 10
    assert len(page.rows["check"]) == 3
    assert any("dW wrong: max abs error # at (#, #)" in r for r in page.rows["failure"])
    assert len(page.find("script")) == 1 and not page.find("img")
    assert any("<script>document.title" in r for r in page.rows["student"])  # as text, not as an element
    assert "<title>backprop: class report</title>" in dom  # the injected script never ran
    assert [r.split()[0] for r in page.rows["student"]] == ["<script>document.title=\"pwned\"<img", "alice", "bob",
                                                            "carol", "dave"]

    # The page's own script runs (the policy allows it by its hash): sorted by score, highest first.
    sorted_dom = _run_chromium(binary, tmp_path, "--dump-dom", path.as_uri() + "?sort=percent&dir=desc").stdout
    order = [r.split()[0] for r in _parse(sorted_dom).rows["student"]]
    assert order[:3] == ["alice", "carol", "bob"], order
    assert 'data-dir="desc"' in sorted_dom

    # And the histogram is drawn: the bars' colour is on the screenshot.
    shot = tmp_path / "shot.png"
    taken = _run_chromium(binary, tmp_path, f"--screenshot={shot}", "--window-size=1200,900", path.as_uri())
    assert shot.is_file(), taken.stderr[-2000:]
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)  # (H, W, 3)
    bar_pixels = int((np.abs(rgb - np.array([0x3F, 0x7F, 0xD9])).max(axis=-1) < 8).sum())
    assert bar_pixels > 500, f"only {bar_pixels} pixels of the bar colour on the screenshot"
