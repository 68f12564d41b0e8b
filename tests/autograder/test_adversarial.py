"""Adversarial submissions get no credit, and the grader completes with a valid results.json.

Each attack is a backprop module that does its damage at import time or inside the graded functions, on top of
the untouched skeleton (so any credit it got would come from the attack alone).
"""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from autograder import spec as specs
from autograder.grading import WEAK_ISOLATION_NOTE, GradingError, grade
from autograder.paths import REPO_ROOT
from autograder.sandbox import Limits

SKELETON = specs.load("backprop").skeleton.read_text()
FAST = ["linear_forward:", "relu_backward:", "sgd_step:"]

ATTACKS = {
    "patches numpy and torch comparisons": """
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        np.isnan = lambda x: np.zeros(np.shape(x), dtype=bool)
        def linear_forward(x, W, b):
            return np.zeros((x.shape[0], W.shape[1]) ), None
    """,
    "patches pytest internals": """
        import _pytest.outcomes, _pytest.runner, pytest
        _pytest.outcomes.fail = lambda *a, **k: None
        pytest.fail = lambda *a, **k: None
        _pytest.runner.call_and_report = lambda *a, **k: None
        AssertionError.__init__ = lambda self, *a: None
    """,
    "sys.exit at import": "import sys\nsys.exit(0)\n",
    "os._exit at import": "import os\nos._exit(0)\n",
    "prints and writes a fake results.json": """
        import json, os
        fake = {"score": 1000, "tests": [{"name": "x", "score": 1000, "max_score": 1, "status": "passed"}]}
        print(json.dumps(fake))
        for d in (os.getcwd(), "/autograder/results", os.path.expanduser("~")):
            try:
                with open(os.path.join(d, "results.json"), "w") as f:
                    json.dump(fake, f)
            except OSError:
                pass
    """,
    "reads the reference solution from disk": """
        import glob, shutil, sys, tempfile
        _candidates = [REPO + "/solutions/backprop/backprop.py"] + glob.glob("/**/solutions/backprop/backprop.py",
                                                                          recursive=False)
        for _p in _candidates:
            try:
                _d = tempfile.mkdtemp()
                shutil.copy(_p, _d + "/dlc_ref_bp.py")
                sys.path.insert(0, _d)
                from dlc_ref_bp import *  # noqa: F403
                break
            except (OSError, ImportError):
                pass
    """,
    "kills the parent process": """
        import os, signal
        for _target in (os.getppid(), 0, -1):
            try:
                os.kill(_target, signal.SIGKILL) if _target > 0 else None
            except OSError:
                pass
        try:
            os.killpg(os.getpgid(0), signal.SIGTERM)
        except OSError:
            pass
    """,
    "infinite loop in a graded function": """
        def linear_forward(x, W, b):
            while True:
                pass
    """,
    "infinite loop at import": "while True:\n    pass\n",
    "huge allocation": """
        import numpy as np
        def linear_forward(x, W, b):
            hog = np.ones((1 << 40,))
            return hog, None
        _blob = bytearray(1 << 36)
    """,
}


def _attack_source(body: str) -> str:
    return SKELETON + "\n\nREPO = " + repr(str(REPO_ROOT)) + "\n" + textwrap.dedent(body)


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_attack_gets_no_credit_and_grading_completes(tmp_path, attack):
    sub = tmp_path / "backprop.py"
    sub.write_text(_attack_source(ATTACKS[attack]))
    out = tmp_path / "out" / "results.json"
    t0 = time.monotonic()
    report = grade("backprop", sub, seed=5, select=FAST,
                   limits=Limits(call_timeout=2, import_timeout=2, memory_bytes=3 * 1024**3))
    report.write_json(out)
    assert time.monotonic() - t0 < 60
    data = json.loads(out.read_text())
    assert data["score"] == 0, [t for t in data["tests"] if t["status"] == "passed"]
    assert len(data["tests"]) == len(report.results) >= 3
    assert all(t["status"] == "failed" and t["output"] for t in data["tests"])
    assert not (tmp_path / "results.json").exists()


def test_reading_the_reference_is_what_the_isolation_prevents(tmp_path):
    """Control: the same attack does get credit without namespaces, which is why the report names the level."""
    sub = tmp_path / "backprop.py"
    sub.write_text(_attack_source(ATTACKS["reads the reference solution from disk"]))
    with pytest.raises(GradingError, match="allow-weak-isolation"):
        grade("backprop", sub, seed=5, select=["linear_forward:"], isolation="process")
    report = grade("backprop", sub, seed=5, select=["linear_forward:"], isolation="process",
                   allow_weak_isolation=True)
    assert report.isolation.startswith("process") and WEAK_ISOLATION_NOTE in report.notes
    assert WEAK_ISOLATION_NOTE in report.to_gradescope()["output"]
    assert report.score == report.max_score  # weaker level: documented, reported, never silent
    strong = grade("backprop", sub, seed=5, select=["linear_forward:"])
    if strong.isolation != "namespaces":
        pytest.skip("namespaces unavailable on this machine")
    assert strong.score == 0


def test_cli_grade_survives_an_attack_and_exits_zero(tmp_path):
    sub = tmp_path / "backprop.py"
    sub.write_text(_attack_source(ATTACKS["kills the parent process"]))
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "backprop", str(sub), "--json",
                           str(out), "--seed", "3", "--only", "relu_backward:"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["score"] == 0 and data["tests"]
    assert "seed 3" in proc.stdout


def test_output_file_swapped_for_a_link_does_not_leak_the_reference(tmp_path):
    sub = tmp_path / "backprop.py"
    sub.write_text(_attack_source("""
        def linear_forward(x, W, b):
            import os
            try:
                os.remove(".output")
            except OSError:
                pass
            os.symlink(REPO + "/solutions/backprop/backprop.py", ".output")
            raise RuntimeError("boom")
    """))
    for isolation in ("auto", "process"):
        report = grade("backprop", sub, seed=5, select=["linear_forward:"], isolation=isolation,
                       allow_weak_isolation=True)
        text = json.dumps(report.to_gradescope())
        assert report.score == 0 and "boom" in text
        assert "BEGIN SOLUTION" not in text and "x @ W + b" not in text
