"""GitHub Classroom autograding for one assignment: a workflow and its test configuration.

`export_classroom(slug, out)` writes, under `out` (the root of the student's template repository, usually a
student bundle made by `dlcourse release`):

- ``.github/classroom/autograding.json``: the test configuration, one test per function or class of the
  assignment (GitHub Classroom's format: name, setup, run, input, output, comparison, timeout, points);
- ``.github/workflows/classroom.yml``: the workflow GitHub Classroom runs on every push; it installs the course
  from the repository and runs the same tests with GitHub's command grader, one step per test, then reports;
- ``.github/classroom/passed.py``: exits 0 only when a results file shows every check passed.

Each test runs the **public** checks of one target with ``dlcourse check <assignment> --only '<target>:' --json``
on the student's file, then ``passed.py``: GitHub's grader gives a test's points when its command exits 0. Hidden
checks never run here (they are not in a student's repository): grade them with `dlcourse grade-batch` or
Gradescope.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

PASSED_PY = '''"""Exit 0 when the results file given (from `dlcourse check --json`) shows every check passed.

Written by `dlcourse export github-classroom`: GitHub Classroom gives a test its points when its command exits 0.
"""
import json
import sys

data = json.load(open(sys.argv[1]))
tests = data.get("tests", [])
failed = [t["name"] for t in tests if t.get("status") != "passed"]
score, max_score = data.get("score", 0), data.get("max_score", 0)
print(f"{score:g}/{max_score:g} points; {len(tests) - len(failed)} of {len(tests)} checks passed")
for name in failed:
    print(f"failed: {name}")
sys.exit(0 if tests and not failed else 1)
'''


class ClassroomError(Exception):
    pass


@dataclass
class ClassroomTest:
    name: str
    target: str
    run: str
    points: float
    timeout_minutes: int = 10


@dataclass
class ClassroomExport:
    out: Path
    tests: list[ClassroomTest]
    files: list[str]


def classroom_tests(slug: str, python: str = "python") -> list[ClassroomTest]:
    """One test per target that has public checks; its points are those of the target's public checks."""
    from .. import spec as specs
    from ..checking import NAME_RE
    from ..grading import collect

    try:
        spec = specs.load(slug)
    except specs.UnknownAssignment as exc:
        raise ClassroomError(str(exc)) from None
    points: dict[str, float] = {}
    for name, _vis, pts in collect(slug, visibility="public"):
        target = NAME_RE.match(name).group("target")
        points[target] = points.get(target, 0.0) + pts
    tests = []
    submission = f"assignments/{slug}/{spec.module_file}"
    for target in spec.targets:
        if target not in points:
            continue
        results = f".github/classroom/results-{target}.json"
        run = (f"dlcourse check {slug} --submission {submission} --only {shlex.quote(target + ':')} "
               f"--json {results} && {python} .github/classroom/passed.py {results}")
        tests.append(ClassroomTest(name=f"{slug}: {target}", target=target, run=run, points=points[target]))
    return tests


def autograding_json(tests: list[ClassroomTest]) -> dict:
    return {"tests": [{"name": t.name, "setup": "", "run": t.run, "input": "", "output": "", "comparison": "included",
                       "timeout": t.timeout_minutes, "points": t.points} for t in tests]}


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text)


def workflow_yaml(slug: str, tests: list[ClassroomTest], python_version: str = "3.11") -> str:
    lines = [
        f"# GitHub Classroom autograding for {slug}: written by `dlcourse export github-classroom`.",
        "# Runs the public checks of each function on every push; hidden checks run only at grading.",
        "name: Autograding Tests",
        "\"on\": [push, repository_dispatch]",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v4",
        "      - name: Set up Python",
        "        uses: actions/setup-python@v5",
        "        with:",
        f"          python-version: {_q(python_version)}",
        "      - name: Install the course (CPU wheels of PyTorch)",
        "        run: python -m pip install --extra-index-url https://download.pytorch.org/whl/cpu -e .",
    ]
    ids = []
    for k, t in enumerate(tests, 1):
        step_id = f"check-{k}"
        ids.append(step_id)
        lines += [
            f"      - name: {_q(t.name)}",
            f"        id: {step_id}",
            "        uses: classroom-resources/autograding-command-grader@v1",
            "        with:",
            f"          test-name: {_q(t.name)}",
            "          setup-command: \"\"",
            f"          command: {_q(t.run)}",
            f"          timeout: {t.timeout_minutes}",
            f"          max-score: {t.points:g}",
        ]
    lines += [
        "      - name: Autograding Reporter",
        "        uses: classroom-resources/autograding-grading-reporter@v1",
        "        env:",
    ]
    lines += [f"          {i.upper()}_RESULTS: \"${{{{steps.{i}.outputs.result}}}}\"" for i in ids]
    lines += ["        with:", f"          runners: {','.join(ids)}"]
    return "\n".join(lines) + "\n"


def export_classroom(slug: str, out: str | Path, python: str = "python") -> ClassroomExport:
    out = Path(out)
    tests = classroom_tests(slug, python)
    if not tests:
        raise ClassroomError(f"{slug} has no public checks: nothing for GitHub Classroom to run")
    files = {
        ".github/classroom/autograding.json": json.dumps(autograding_json(tests), indent=2) + "\n",
        ".github/classroom/passed.py": PASSED_PY,
        ".github/workflows/classroom.yml": workflow_yaml(slug, tests),
    }
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ClassroomExport(out=out.resolve(), tests=tests, files=sorted(files))
