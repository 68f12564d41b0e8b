"""`dlcourse grade-batch` on a small class made of real files: the reference, the skeleton, a planted bug, a
submission that hangs, one that kills itself, one that eats memory, a zip, an unsafe zip and a folder without the
module. Runs are kept to a few checks (`select`) and short time limits."""

from __future__ import annotations

import csv
import json
import os
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder import spec as specs
from autograder.cli import main
from autograder.instructor import batch as B
from autograder.instructor.batch.runner import _finish, _Job, _Running
from autograder.sandbox import Limits
from tests.helpers import mutate, reference_source, write_submission

SLUG = "backprop"
SELECT = ["relu_"]  # 4 checks: relu_forward / relu_backward, public and hidden
FUTURE = "from __future__ import annotations\n"
LIMITS = Limits(call_timeout=5, import_timeout=5)
RELU_BUG = ("return dout * (x > 0)", "return dout * (x >= 0)")


def _ref() -> str:
    return reference_source(SLUG)


def _at_import(code: str) -> str:
    """The reference with `code` run first thing at import."""
    return mutate(_ref(), FUTURE, FUTURE + code)


def _zip(path: Path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)


def _rows(out: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    with open(out / "grades.csv", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), {r["student"]: r for r in reader}


def _token(out: Path, student: str) -> str:
    return json.loads((out / student / "results.json").read_text())["extra_data"]["batch"]["token"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    write_submission(subs, SLUG, _ref(), "alice")
    write_submission(subs, SLUG, specs.load(SLUG).skeleton.read_text(), "bob")
    write_submission(subs, SLUG, mutate(_ref(), *RELU_BUG), "carol")
    write_submission(subs, SLUG, _at_import("while True:\n    pass\n"), "dave")
    write_submission(subs, SLUG, _at_import("import os\nos._exit(3)\n"), "erin")
    (subs / "frank").mkdir()
    (subs / "frank" / "notes.txt").write_text("I forgot to upload my code")
    _zip(subs / "gina.zip", {"gina/backprop.py": _ref(), "__MACOSX/gina/._backprop.py": "junk"})
    _zip(subs / "hank.zip", {"backprop.py": _ref(), "../escaped.py": "print('outside')"})
    write_submission(subs, SLUG, _at_import("hog = bytearray(64 * 1024**3)\n"), "ivan")
    (subs / ".DS_Store").write_text("not a student")
    out = root / "out"
    t0 = time.monotonic()
    result = B.grade_batch(SLUG, subs, out, workers=2, select=SELECT, limits=LIMITS, submission_timeout=180,
                           progress=False)
    return subs, out, result, time.monotonic() - t0


EXPECTED = {"alice": 4, "bob": 0, "carol": 2, "dave": 0, "erin": 0, "frank": 0, "gina": 4, "hank": 0, "ivan": 0}


@pytest.mark.slow
def test_grades_csv_has_one_row_per_student_and_one_column_per_check(graded_class):
    subs, out, result, _ = graded_class
    header, rows = _rows(out)
    names = [c.name for c in B.expected_checks(SLUG, SELECT)]
    assert header == ["student", "status", "score", "max_score", "seed", "isolation", *names]
    assert {r["seed"] for r in rows.values()} == {str(result.seed)}  # one seed for the whole batch
    assert rows["dave"]["status"] == "graded" and rows["frank"]["status"] == "error"
    assert len(names) == 4 and all(n.startswith("relu_") for n in names)
    assert {s: float(r["score"]) for s, r in rows.items()} == EXPECTED
    assert all(float(r["max_score"]) == 4 for r in rows.values())
    # Each check column holds that check's points; the bug in relu_backward costs exactly its checks.
    carol = rows["carol"]
    assert {n: float(carol[n]) for n in names} == {n: (1.0 if n.startswith("relu_forward") else 0.0) for n in names}
    assert all(float(rows["alice"][n]) == 1 for n in names)
    assert {o.student for o in result.outcomes} == set(EXPECTED)


@pytest.mark.slow
def test_each_results_json_is_valid_and_says_what_happened(graded_class):
    subs, out, result, _ = graded_class
    by = result.by_student()
    for student, score in EXPECTED.items():
        data = B.read_results(out / student / "results.json")
        assert data is not None, student
        assert data["score"] == score and data["max_score"] == 4
        assert len(data["tests"]) == 4
        assert data["extra_data"]["assignment"] == SLUG
        assert by[student].score == score
    outputs = {s: json.loads((out / s / "results.json").read_text())["tests"][0]["output"] for s in EXPECTED}
    assert "timed out while importing your module" in outputs["dave"]
    assert "died while importing your module" in outputs["erin"]
    assert "MemoryError" in outputs["ivan"]
    assert "no backprop.py in the submission" in outputs["frank"]
    assert "outside the archive" in outputs["hank"]
    assert by["frank"].status == by["hank"].status == B.STATUS_ERROR
    assert by["dave"].status == by["erin"].status == by["ivan"].status == B.STATUS_GRADED
    # The unsafe zip wrote nothing outside its unpack folder, and nothing is left of the unpacking.
    assert not any(out.parent.rglob("escaped.py"))
    assert not (out / ".unpack").exists()
    # The hidden folder .DS_Store is no student.
    assert not (out / ".DS_Store").exists()


@pytest.mark.slow
def test_class_report_is_written(graded_class):
    _, out, result, _ = graded_class
    text = (out / "report.html").read_text()
    assert result.report_html == out / "report.html"
    for student in EXPECTED:
        assert f">{student}</a></td>" in text and f"<h3>{student}: " in text  # a row, linked to a section
    assert "no backprop.py in the submission" in text
    assert f"seed: <b>{result.seed}</b>" in text


@pytest.mark.slow
def test_resume_skips_finished_students_and_redoes_what_changed(graded_class):
    subs, out, first, _ = graded_class
    tokens = {s: _token(out, s) for s in EXPECTED}

    # A second run grades nobody: every results.json is finished.
    again = B.grade_batch(SLUG, subs, out, workers=2, select=SELECT, limits=LIMITS, progress=False)
    assert {o.status for o in again.outcomes} == {"skipped"}
    assert {s: _token(out, s) for s in EXPECTED} == tokens
    assert {s: float(r["score"]) for s, r in _rows(out)[1].items()} == EXPECTED

    # An interrupted write (a truncated results.json) and a resubmitted file are graded again, and only they.
    (out / "erin" / "results.json").write_text('{"score": 0, "tests": [')
    write_submission(subs, SLUG, _ref(), "bob")  # bob fixed his code
    resumed = B.grade_batch(SLUG, subs, out, workers=2, select=SELECT, limits=LIMITS, progress=False)
    graded = {o.student for o in resumed.outcomes if o.status != "skipped"}
    assert graded == {"bob", "erin"}
    assert float(_rows(out)[1]["bob"]["score"]) == 4
    assert all(_token(out, s) == tokens[s] for s in EXPECTED if s not in graded)

    # --student regrades that student even though finished, and nobody else.
    tokens = {s: _token(out, s) for s in EXPECTED}
    one = B.grade_batch(SLUG, subs, out, workers=2, select=SELECT, limits=LIMITS, progress=False,
                        students=["carol"])
    assert [(o.student, o.status) for o in one.outcomes] == [("carol", "graded")]
    assert _token(out, "carol") != tokens["carol"]
    assert all(_token(out, s) == tokens[s] for s in EXPECTED if s != "carol")
    assert set(_rows(out)[1]) == set(EXPECTED)  # grades.csv still lists the whole class
    # The regrade reused the batch's seed: the same code got the same grade.
    carol = json.loads((out / "carol" / "results.json").read_text())
    assert carol["extra_data"]["seed"] == first.seed == one.seed and carol["score"] == EXPECTED["carol"]

    with pytest.raises(B.BatchError, match="no submission named zoe"):
        B.grade_batch(SLUG, subs, out, select=SELECT, students=["zoe"], progress=False)


def _spy(paths: list[str]) -> str:
    """The reference, except that relu_forward turns wrong when any of `paths` can be read from the sandbox
    (a path may be the expression `__file__`: the module's own file, which the sandbox must let it read)."""
    listed = "(" + ", ".join(p if p == "__file__" else repr(p) for p in paths) + ",)"
    probe = (f"import os as _os\n_SEEN = []\nfor _p in {listed}:\n    try:\n"
             "        if (open(_p).read() if _os.path.isfile(_p) else _os.listdir(_p)):\n"
             "            _SEEN.append(_p)\n    except OSError:\n        pass\n")
    return mutate(_at_import(probe), "return np.maximum(x, 0.0), x", "return np.maximum(x, 0.0) + len(_SEEN), x")


@pytest.mark.slow
def test_a_submission_cannot_read_the_class_or_the_outputs(tmp_path):
    """The spy tries the other students' code, the class folder, the output folder and a result already written;
    the control runs the same probe on a file the sandbox must show it (its own module), to prove the probe can
    see: it loses its relu_forward points, while the spy, seeing nothing of the batch, keeps them."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    write_submission(subs, SLUG, _ref(), "alice")
    first = B.grade_batch(SLUG, subs, out, workers=1, select=["relu_forward"], limits=LIMITS, progress=False)
    assert first.by_student()["alice"].score == 2
    targets = [str(subs / "alice" / "backprop.py"), str(subs), str(out), str(out / "alice" / "results.json"),
               str(out / "grades.csv")]
    write_submission(subs, SLUG, _spy(targets), "mallory")
    write_submission(subs, SLUG, _spy(["__file__"]), "control")
    result = B.grade_batch(SLUG, subs, out, workers=2, select=["relu_forward"], limits=LIMITS, progress=False)
    by = result.by_student()
    data = json.loads((out / "mallory" / "results.json").read_text())
    if not data["extra_data"]["isolation"].startswith("namespaces"):
        pytest.skip(f"no namespace isolation on this machine ({data['extra_data']['isolation']})")
    assert by["control"].score == 0, "the probe could not even read its own module: the test proves nothing"
    assert by["mallory"].score == by["mallory"].max_score == 2


@pytest.mark.slow
def test_wall_clock_cap_kills_a_stuck_submission_and_its_sandbox(tmp_path):
    """A submission stuck past the batch's cap (here the sandbox's own import limit is longer) is killed with
    every process below it, and its checks fail with 'timed out'; the other student is graded normally."""
    marker = f"stuck-{os.getpid()}-{time.time_ns()}"
    subs = tmp_path / "subs"
    write_submission(subs, SLUG, _at_import(f"# {marker}\nwhile True:\n    pass\n"), "stuck")
    write_submission(subs, SLUG, mutate(_ref(), *RELU_BUG), "fine")
    out = tmp_path / "out"
    result = B.grade_batch(SLUG, subs, out, workers=2, select=["relu_forward"], submission_timeout=15,
                           limits=Limits(call_timeout=5, import_timeout=300), progress=False)
    by = result.by_student()
    assert by["stuck"].status == B.STATUS_TIMEOUT
    assert by["fine"].status == B.STATUS_GRADED and by["fine"].score == 2
    data = json.loads((out / "stuck" / "results.json").read_text())
    assert data["score"] == 0 and len(data["tests"]) == 2
    assert all(t["status"] == "failed" and "timed out" in t["output"] for t in data["tests"])
    # No process still runs the stuck code: its sandbox worker (cwd: a folder holding the module) is gone.
    time.sleep(0.5)
    leaked = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cwd/backprop.py").read_text():
                leaked.append(pid)
        except OSError:
            continue
    assert not leaked, f"sandbox workers still running the stuck submission: {leaked}"

    # A timed-out student counts as finished (no endless retries) until regraded on purpose.
    again = B.grade_batch(SLUG, subs, out, workers=2, select=["relu_forward"], progress=False)
    assert {o.status for o in again.outcomes} == {"skipped"}


@pytest.mark.slow
def test_cli_grade_batch_regrades_and_exits_zero(tmp_path):
    subs = tmp_path / "subs"
    write_submission(subs, SLUG, _ref(), "alice")
    write_submission(subs, SLUG, _at_import("import os\nos._exit(9)\n"), "erin")
    out = tmp_path / "out"
    args = ["grade-batch", SLUG, str(subs), "--out", str(out), "--workers", "2", "--only", "relu_forward",
            "--quiet"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "grades:" in first.output
    tokens = {s: _token(out, s) for s in ("alice", "erin")}
    again = CliRunner().invoke(main, [*args, "--regrade"])
    assert again.exit_code == 0, again.output
    assert all(_token(out, s) != tokens[s] for s in tokens)
    assert {s: float(r["score"]) for s, r in _rows(out)[1].items()} == {"alice": 2, "erin": 0}

    bad = CliRunner().invoke(main, ["grade-batch", "no-such-assignment", str(subs), "--out", str(out)])
    assert bad.exit_code == 2 and "no-such-assignment" in bad.output
    missing = CliRunner().invoke(main, ["grade-batch", SLUG, str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 2 and "not found" in missing.output


# -- the pieces, without grading ---------------------------------------------------------------------------------
def test_safe_extract_refuses_what_could_escape_or_fill_the_disk(tmp_path):
    def rejected(name: str, members: dict, **caps) -> str:
        z = tmp_path / f"{name}.zip"
        _zip(z, members)
        with pytest.raises(B.SubmissionRejected) as err:
            B.safe_extract(z, tmp_path / f"{name}-out", **caps)
        return str(err.value)

    assert "outside the archive" in rejected("dotdot", {"a/../../x.py": "x"})
    assert "absolute path" in rejected("abs", {"/etc/x.py": "x"})
    assert "absolute path" in rejected("drive", {"C:\\x.py": "x"})
    assert "larger than" in rejected("bomb", {"backprop.py": "0" * 200_000}, max_member_bytes=100_000)
    assert "larger than" in rejected("many", {f"f{i}.py": "0" * 600 for i in range(4)}, max_total_bytes=2000)
    assert "entries" in rejected("count", {f"f{i}.py": "" for i in range(5)}, max_members=4)
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("backprop.py")
        info.external_attr = (0o120777 << 16)  # a symbolic link
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(B.SubmissionRejected, match="link"):
        B.safe_extract(link, tmp_path / "link-out")
    (tmp_path / "garbage.zip").write_bytes(b"not a zip")
    with pytest.raises(B.SubmissionRejected, match="not a readable zip"):
        B.safe_extract(tmp_path / "garbage.zip", tmp_path / "g-out")
    assert not list(tmp_path.rglob("x.py"))

    ok = tmp_path / "ok.zip"
    _zip(ok, {"alice/": "", "alice/backprop.py": "x = 1\n"})
    dest = B.safe_extract(ok, tmp_path / "ok-out")
    assert B.locate_module(dest, "backprop.py") == dest / "alice" / "backprop.py"


def test_discover_and_locate(tmp_path):
    subs = tmp_path / "subs"
    for name in ("bob", "alice", ".hidden", "__MACOSX"):
        (subs / name).mkdir(parents=True)
    _zip(subs / "carol.zip", {"backprop.py": "x = 1\n"})
    _zip(subs / "alice.zip", {"backprop.py": "x = 2\n"})
    (subs / "readme.txt").write_text("not a submission")
    out = subs / "graded"
    out.mkdir()
    found = B.discover(subs, out)
    assert [(s.student, s.kind) for s in found] == [("alice", "dir"), ("alice.zip", "zip"), ("bob", "dir"),
                                                    ("carol", "zip")]
    with pytest.raises(B.BatchError, match="not found"):
        B.discover(tmp_path / "missing")
    (subs / "report.html").mkdir()  # a student folder named like an output keeps out of its way
    assert ("report.html_", "dir") in [(s.student, s.kind) for s in B.discover(subs, out)]
    (subs / "report.html").rmdir()

    (subs / "bob" / "a" / "b").mkdir(parents=True)
    (subs / "bob" / "a" / "b" / "backprop.py").write_text("x = 1\n")
    assert B.locate_module(subs / "bob", "backprop.py") == subs / "bob" / "a" / "b" / "backprop.py"
    (subs / "bob" / "a" / "c").mkdir()
    (subs / "bob" / "a" / "c" / "backprop.py").write_text("x = 2\n")
    (subs / "bob" / "a" / "backprop.py").write_text("x = 3\n")  # the shallowest one wins
    assert B.locate_module(subs / "bob", "backprop.py") == subs / "bob" / "a" / "backprop.py"
    (subs / "bob" / "z").mkdir()
    (subs / "bob" / "z" / "backprop.py").write_text("x = 4\n")
    with pytest.raises(B.SubmissionRejected, match="several"):
        B.locate_module(subs / "bob", "backprop.py")
    (subs / "alice" / "backprop.py").symlink_to(subs / "bob" / "a" / "backprop.py")
    with pytest.raises(B.SubmissionRejected, match="symbolic link"):
        B.locate_module(subs / "alice", "backprop.py")

    # A folder holding only the notebook: the notebook is the submission.
    (subs / "nina").mkdir()
    (subs / "nina" / "work").mkdir()
    (subs / "nina" / "work" / "backprop.ipynb").write_text("{}")
    assert B.locate_module(subs / "nina", "backprop.py") == subs / "nina" / "work" / "backprop.ipynb"
    (subs / "nina" / "backprop.py").write_text("x = 1\n")  # the module wins over the notebook
    assert B.locate_module(subs / "nina", "backprop.py") == subs / "nina" / "backprop.py"


def test_symlinks_in_the_class_are_never_followed_and_each_skip_is_reported(tmp_path):
    from autograder.paths import SOLUTIONS

    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "backprop.py").write_text("x = 1\n")
    (subs / "solutions").symlink_to(SOLUTIONS / SLUG)  # would score full marks if followed
    (subs / "ghost").symlink_to(tmp_path / "nowhere")
    (subs / "alias").symlink_to(subs / "alice")
    (subs / "notes.txt").write_text("not a submission")
    (subs / "bob" / "deep").mkdir(parents=True)
    (subs / "bob" / "deep" / "ref").symlink_to(SOLUTIONS / SLUG)  # a link inside a student's folder
    skipped: list = []
    found = B.discover(subs, None, skipped)
    assert [s.student for s in found] == ["alice", "bob"]
    why = dict(skipped)
    assert set(why) == {"solutions", "ghost", "alias", "notes.txt"}
    assert "outside the submissions folder" in why["solutions"] and "dangling" in why["ghost"]
    assert "not graded twice" in why["alias"]
    with pytest.raises(B.SubmissionRejected, match="no backprop.py"):
        B.locate_module(subs / "bob", "backprop.py")


def test_a_dead_grading_process_still_leaves_a_result(tmp_path):
    """The parent's side when a child dies without writing anything: every check failed, with the exit status."""

    class DeadProc:
        exitcode = -9

    checks = [B.CheckSpec("relu_forward: a", "public", 1.0), B.CheckSpec("relu_backward: b", "hidden", 2.0)]
    job = _Job(slug=SLUG, title="t", student="zed", submission=str(tmp_path), kind="dir",
                 results_path=str(tmp_path / "out" / "zed" / "results.json"), unpack_dir=str(tmp_path / "u"),
                 log_path=str(tmp_path / "log"), device="cpu", select=None, seed=None, limits={}, hidden=[],
                 checks=[(c.name, c.visibility, c.points) for c in checks], digest="d", token="t1")
    outcome = _finish(_Running(job, DeadProc(), 0.0), False, 1.0, 60)
    assert outcome.status == B.STATUS_CRASHED and outcome.score == 0 and outcome.max_score == 3
    assert "killed" in outcome.message
    assert B.is_finished(Path(job.results_path), SLUG, checks, "d")
    assert not B.is_finished(Path(job.results_path), SLUG, checks, "another submission")
    assert not B.is_finished(Path(job.results_path), "dropout", checks, "d")
    assert not B.is_finished(Path(job.results_path), SLUG, checks[:1], "d")
    # grades.csv: a row per student with a results.json; a name a spreadsheet would run as a formula is quoted.
    formula = "=HYPERLINK(1)"
    (tmp_path / "out" / formula).mkdir()
    (tmp_path / "out" / formula / "results.json").write_text(Path(job.results_path).read_text())
    path = B.write_grades_csv(tmp_path / "out", ["zed", formula, "nobody"], checks)
    assert path.read_text().splitlines() == [
        "student,status,score,max_score,seed,isolation,relu_forward: a,relu_backward: b",
        "zed,crashed,0,3,0,not started,0,0", "'=HYPERLINK(1),crashed,0,3,0,not started,0,0"]
