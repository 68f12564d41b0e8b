"""Fair grading and nothing overwritten, on a tiny class (the reference, the same relu bug twice under two names,
the reference as a notebook, the skeleton), graded on the relu checks only:

- one seed per batch, in grades.csv, every results.json and the report; identical code gets identical grades, in
  one batch, in a second batch with another seed, and on a `--student` regrade (which reuses the batch's seed);
- an OUT holding another batch is refused with one line, or moved aside with --force;
- four shards run as separate processes (through the Slurm template) and merged give the grades of one batch;
- the LMS CSVs, and one-line errors for unwritable paths, unknown assignments and bad options.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from autograder import spec as specs
from autograder.cli import main
from autograder.instructor import batch as B
from autograder.instructor.batch.manifest import read_manifest
from autograder.instructor.batch.merge import merge
from tests.helpers import mutate, reference_source, write_submission

pytestmark = pytest.mark.timeout(900)
SLUG = "backprop"
SELECT = ["relu_"]
RELU_BUG = ("return dout * (x > 0)", "return dout * (x >= 0)")
EXPECTED = {"alice": 4, "bob": 0, "carol": 2, "carl": 2, "nora": 4}


def _class(root: Path) -> Path:
    subs = root / "subs"
    ref = reference_source(SLUG)
    write_submission(subs, SLUG, ref, "alice")
    write_submission(subs, SLUG, specs.load(SLUG).skeleton.read_text(), "bob")
    write_submission(subs, SLUG, mutate(ref, *RELU_BUG), "carol")
    write_submission(subs, SLUG, mutate(ref, *RELU_BUG), "carl")  # the same code as carol
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%load_ext autoreload\n%autoreload 2"),
                                         nbformat.v4.new_code_cell(ref)])
    (subs / "nora").mkdir()
    nbformat.write(nb, str(subs / "nora" / f"{SLUG}.ipynb"))  # only a notebook
    return subs


def _grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def _verdicts(out: Path) -> dict[str, dict[str, str]]:
    return {s: {k: v for k, v in r.items() if k not in ("seed",)} for s, r in _grades(out).items()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("fair")
    subs = _class(root)
    out = root / "out"
    result = B.grade_batch(SLUG, subs, out, workers=2, select=SELECT, progress=False)
    return root, subs, out, result


@pytest.mark.slow
def test_one_seed_everywhere_and_the_same_code_gets_the_same_grade(graded):
    root, subs, out, result = graded
    rows = _grades(out)
    assert {s: float(r["score"]) for s, r in rows.items()} == EXPECTED
    assert {r["seed"] for r in rows.values()} == {str(result.seed)}
    assert read_manifest(out).seed == result.seed
    for student in EXPECTED:
        data = json.loads((out / student / "results.json").read_text())
        assert data["extra_data"]["seed"] == data["extra_data"]["batch"]["seed"] == result.seed
    assert f"<b>{result.seed}</b>" in (out / "report.html").read_text()
    # Identical code, identical verdicts, check by check.
    same = {k: v for k, v in rows["carol"].items() if k != "student"}
    assert same == {k: v for k, v in rows["carl"].items() if k != "student"}
    # The notebook was graded like the module, and the report says where the code came from.
    nora = json.loads((out / "nora" / "results.json").read_text())
    assert nora["extra_data"]["batch"]["source"] == "notebook" and "from the notebook" in nora["output"]

    # The whole class graded again (another batch, its own seed): the same grades.
    again = B.grade_batch(SLUG, subs, root / "again", workers=2, select=SELECT, progress=False)
    assert again.seed != result.seed or True
    assert {s: {k: v for k, v in r.items() if k != "seed"} for s, r in _grades(root / "again").items()} == \
        {s: {k: v for k, v in r.items() if k != "seed"} for s, r in rows.items()}

    # A regrade of one student reuses the batch's seed and gives the same grade.
    one = B.grade_batch(SLUG, subs, out, workers=1, select=SELECT, students=["carol"], progress=False)
    assert one.seed == result.seed and one.by_student()["carol"].status == "graded"
    assert _grades(out) == rows


@pytest.mark.slow
def test_an_out_of_another_batch_is_refused_or_moved_aside(graded):
    root, subs, out, result = graded
    before = (out / "grades.csv").read_text()
    for changes, words in ((dict(select=["relu_forward"]), "--only"), (dict(seed=result.seed + 1), "seed"),
                           (dict(select=SELECT, allow_weak_isolation=True), "isolation")):
        changes.setdefault("select", SELECT)
        with pytest.raises(B.BatchError, match=words):
            B.grade_batch(SLUG, subs, out, progress=False, **changes)
    with pytest.raises(B.BatchError, match="not empty"):
        (root / "stuff").mkdir()
        (root / "stuff" / "mine.txt").write_text("the instructor's notes")
        B.grade_batch(SLUG, subs, root / "stuff", select=SELECT, progress=False)
    assert (out / "grades.csv").read_text() == before  # nothing was touched

    # --force: the old results are moved aside, nothing is deleted; weak isolation is passed through and recorded.
    forced = B.grade_batch(SLUG, subs, root / "stuff", select=["relu_forward"], students=None, progress=False,
                           force=True, allow_weak_isolation=True, workers=2)
    assert forced.set_aside is not None and (forced.set_aside / "mine.txt").read_text() == "the instructor's notes"
    assert read_manifest(root / "stuff").isolation == "process"
    data = json.loads((root / "stuff" / "alice" / "results.json").read_text())
    assert data["extra_data"]["batch"]["allow_weak_isolation"] is True
    assert "isolation" in (root / "stuff" / "report.html").read_text()

    # The CLI says it in one line, exit 2.
    cli = CliRunner().invoke(main, ["grade-batch", SLUG, str(subs), "--out", str(out), "--only", "relu_forward"],
                            env={"COLUMNS": "200"})
    assert cli.exit_code == 2 and "holds another batch" in cli.output and "Traceback" not in cli.output


@pytest.mark.slow
def test_four_shards_in_separate_processes_merge_into_the_grades_of_one_batch(graded, tmp_path):
    root, subs, out, result = graded
    script = tmp_path / "grade.sh"
    made = CliRunner().invoke(main, ["export", "slurm", SLUG, "--out", str(script), "--submissions", str(subs),
                                     "--outputs", str(tmp_path / "shards"), "--shards", "4", "--seed",
                                     str(result.seed), "--cpus", "1", *sum((["--only", s] for s in SELECT), [])])
    assert made.exit_code == 0, made.output
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DLCOURSE=f"{sys.executable} -m autograder.cli", PYTHONPATH=str(Path(specs.__file__).parents[1]))
    procs = [subprocess.Popen(["bash", str(script)], env={**env, "SLURM_ARRAY_TASK_ID": str(i)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(1, 5)]
    for p in procs:
        text, _ = p.communicate(timeout=800)
        assert p.returncode == 0, text[-3000:]
    shards = [tmp_path / "shards" / f"shard-{i}" for i in range(1, 5)]
    assert sorted(s for d in shards for s in _grades(d)) == sorted(EXPECTED)
    merged = subprocess.run(["bash", str(script), "merge"], env=env, capture_output=True, text=True, timeout=300)
    assert merged.returncode == 0, merged.stdout[-2000:] + merged.stderr[-2000:]
    assert _grades(tmp_path / "shards" / "merged") == _grades(out)
    assert (tmp_path / "shards" / "merged" / "report.html").is_file()
    assert (tmp_path / "shards" / "merged" / "canvas.csv").read_text() == (out / "canvas.csv").read_text()

    # merge refuses what is not one batch: a missing shard, a shard of another seed.
    with pytest.raises(B.BatchError, match="missing shard"):
        merge(shards[:3], tmp_path / "m2")
    other = B.grade_batch(SLUG, subs, tmp_path / "other", select=SELECT, seed=result.seed + 1, shard=(2, 4),
                          progress=False)
    assert other.shard == "2/4"
    with pytest.raises(B.BatchError, match="seed"):
        merge([shards[0], tmp_path / "other", shards[2], shards[3]], tmp_path / "m3")


@pytest.mark.slow
def test_lms_csvs(graded):
    _, _, out, _ = graded
    canvas = list(csv.reader((out / "canvas.csv").open()))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[0][5].endswith(f"({SLUG})") and canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "4"
    assert {r[3]: r[5] for r in canvas[2:]} == {s: f"{v:g}" for s, v in EXPECTED.items()}
    moodle = list(csv.DictReader((out / "moodle.csv").open()))
    assert {r["Username"]: r[f"{specs.load(SLUG).title} ({SLUG})"] for r in moodle} == \
        {s: f"{v:g}" for s, v in EXPECTED.items()}


def test_lms_leaves_the_ungradable_blank_and_reads_canvas_ids(tmp_path):
    from autograder.instructor.batch.lms import canvas_csv, canvas_user_id, moodle_csv

    assert canvas_user_id("doejane_12345_678_backprop.py") == "12345"
    assert canvas_user_id("doejane_LATE_12345_678") == "12345" and canvas_user_id("alice") == ""
    for student, status, score in (("doejane_12345_1", "graded", 3), ("zed", "timeout", 0)):
        (tmp_path / student).mkdir()
        (tmp_path / student / "results.json").write_text(json.dumps({
            "score": score, "max_score": 4, "tests": [], "extra_data": {"batch": {"status": status,
                                                                                  "message": "took too long"}}}))
    rows = list(csv.reader(canvas_csv(tmp_path, ["doejane_12345_1", "zed"], title="T", slug="s").splitlines()))
    assert rows[2][:2] == ["doejane_12345_1", "12345"] and rows[2][5] == "3"
    assert rows[3][3] == "zed" and rows[3][5] == ""  # not graded: blank, not 0
    moodle = moodle_csv(tmp_path, ["zed"], title="T", slug="s")
    assert "not graded (timeout): took too long" in moodle


def test_one_line_errors_for_bad_paths_slugs_and_options(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    subs = tmp_path / "subs"
    write_submission(subs, SLUG, "x = 1\n", "alice")
    bad_out = str(blocker / "out")
    cases = [
        (["grade-batch", SLUG, str(subs), "--out", bad_out], "cannot create"),
        (["grade-batch", "no-such-slug", str(subs), "--out", str(tmp_path / "o")], "no-such-slug"),
        (["grade-batch", SLUG, str(subs), "--out", str(tmp_path / "o"), "--shard", "5/4"], "between 1 and N"),
        (["grade-batch", SLUG, str(subs), "--out", str(tmp_path / "o"), "--shard", "1/2"], "needs --seed"),
        (["merge", str(tmp_path / "nope"), "--out", str(tmp_path / "m")], "not found"),
        (["merge", str(subs), "--out", str(tmp_path / "m")], "batch.json"),
        (["export", "gradescope", SLUG, "--out", str(blocker / "x.zip")], "cannot create"),
        (["export", "gradescope", SLUG, "--out", str(tmp_path / "g.zip"), "--only", "zzz"], "matches no"),
        (["export", "gradescope", "no-such-slug", "--out", str(tmp_path / "g.zip")], "no-such-slug"),
        (["export", "github-classroom", SLUG, "--out", bad_out], "cannot create"),
        (["export", "github-classroom", "no-such-slug", "--out", str(tmp_path / "c")], "no-such-slug"),
        (["export", "nbgrader", "no-such-slug", "--out", str(tmp_path / "n")], "no-such-slug"),
        (["export", "nbgrader", SLUG, "--out", bad_out], "cannot create"),
        (["export", "slurm", "no-such-slug", "--out", str(tmp_path / "s.sh"), "--submissions", "/c",
          "--outputs", "/o"], "no-such-slug"),
        (["export", "slurm", SLUG, "--out", str(blocker / "s.sh"), "--submissions", "/c", "--outputs", "/o"],
         "cannot create"),
        (["export", "k8s", SLUG, "--out", str(tmp_path / "k.yaml"), "--submissions", "rel/c", "--outputs", "/o"],
         "absolute path"),
        (["export", "slurm", SLUG, "--out", str(tmp_path / "s.sh"), "--submissions", "/c; rm -rf /",
          "--outputs", "/o"], "letters, digits"),
    ]
    for args, words in cases:
        got = CliRunner().invoke(main, args)
        assert got.exit_code == 2, (args, got.output)
        assert words in got.output and "Traceback" not in got.output, (args, got.output)
        # one line of error (click adds its usage line above a bad option's)
        assert sum(line.lower().startswith("error") for line in got.output.splitlines()) == 1, (args, got.output)


def test_exports_never_overwrite_without_force(tmp_path):
    args = ["export", "slurm", SLUG, "--out", str(tmp_path / "s.sh"), "--submissions", "/c", "--outputs", "/o"]
    assert CliRunner().invoke(main, args).exit_code == 0
    first = (tmp_path / "s.sh").read_text()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "--force" in again.output
    assert (tmp_path / "s.sh").read_text() == first
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert forced.exit_code == 0
    kept = list(tmp_path.glob("s.sh.old-*"))
    assert len(kept) == 1 and kept[0].read_text() == first


def test_the_kubernetes_manifest_is_an_indexed_job_and_a_merge(tmp_path):
    yaml = pytest.importorskip("yaml")
    out = tmp_path / "grade.yaml"
    made = CliRunner().invoke(main, ["export", "k8s", SLUG, "--out", str(out), "--submissions", "/data/class",
                                     "--outputs", "/data/graded", "--shards", "3", "--seed", "42", "--only",
                                     "relu_forward", "--image", "registry.example/dlcourse:1"])
    assert made.exit_code == 0, made.output
    grade, merge_job = list(yaml.safe_load_all(out.read_text()))
    assert grade["kind"] == merge_job["kind"] == "Job"
    assert grade["spec"]["completionMode"] == "Indexed" and grade["spec"]["completions"] == 3
    (container,) = grade["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/dlcourse:1"
    # The shard command, run by a shell as the pod would (with a stand-in dlcourse that prints its arguments).
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "dlcourse").write_text('#!/bin/sh\necho "$@"\n')
    (tmp_path / "bin" / "dlcourse").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "JOB_COMPLETION_INDEX": "2"}
    shown = subprocess.run(["sh", "-c", container["args"][0]], env=env, capture_output=True, text=True).stdout.split()
    assert shown == ["grade-batch", SLUG, "/data/class", "--out", "/data/graded/shard-3", "--shard", "3/3", "--seed",
                     "42", "--workers", "4", "--quiet", "--only", "relu_forward"]
    merge_pod = merge_job["spec"]["template"]["spec"]
    assert "shard-*/grades.csv" in merge_pod["initContainers"][0]["args"][0]
    shown = subprocess.run(["sh", "-c", merge_pod["containers"][0]["args"][0]], env=env, capture_output=True,
                           text=True).stdout.split()
    assert shown == ["merge", *[f"/data/graded/shard-{i}" for i in (1, 2, 3)], "--out", "/data/graded/merged"]
