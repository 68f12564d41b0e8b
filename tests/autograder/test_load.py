"""Time limits that do not depend on the machine's load (issue 21, item 8).

A call's limit counts the sandbox's CPU time, with a wall-clock backstop several times larger, so a correct
submission graded while the machine is busy does not time out: here two gradings of the reference run at once
while two busy loops keep both cores of a 2-core machine loaded, and each grading must come back with full marks
and no check timed out. The checks chosen include a training loop (the XOR check: about a second of CPU alone) and
a grading-wide limit of 3 CPU seconds a call: under this load each call's wall time is several times its CPU time,
which a wall-clock limit would not forgive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autograder import spec as specs
from autograder.paths import REPO_ROOT

SLUG = "backprop"
SELECT = ["MLP: learns XOR", "relu_forward", "linear_forward"]  # + the MLP's core checks (autograder.gating)
CALL_TIMEOUT = 3.0  # CPU seconds a call; the XOR training probe asks for more itself (its own _timeout)

DRIVER = """
import json, sys
from autograder.grading import grade
from autograder.sandbox import Limits
report = grade({slug!r}, sys.argv[1], seed=5, select={select!r},
               limits=Limits(call_timeout={call!r}, import_timeout={call!r}))
print(json.dumps({{"score": report.score, "max": report.max_score, "isolation": report.isolation,
                  "checks": [[r.name, r.score, r.max_score, r.output] for r in report.results]}}))
"""


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.mark.timeout(600)
def test_a_correct_submission_never_times_out_on_a_busy_machine(tmp_path):
    submission = tmp_path / f"{SLUG}.py"
    submission.write_text(specs.load(SLUG).reference.read_text())
    driver = DRIVER.format(slug=SLUG, select=SELECT, call=CALL_TIMEOUT)
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        graders = [subprocess.Popen([sys.executable, "-c", driver, str(submission)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env()) for _ in range(2)]
        outputs = [g.communicate(timeout=540) for g in graders]
    finally:
        for p in load:
            p.kill()
            p.wait()
    for grader, (out, err) in zip(graders, outputs):
        assert grader.returncode == 0, err[-3000:]
        report = json.loads(out.strip().splitlines()[-1])
        names = [c[0] for c in report["checks"]]
        assert any(n.startswith("MLP: learns XOR") for n in names) and len(names) >= 4, names
        failed = [(name, output) for name, score, top, output in report["checks"] if score < top]
        assert failed == [], failed
        assert not any("timed out" in c[3] for c in report["checks"])
        assert report["score"] == report["max"] > 0
