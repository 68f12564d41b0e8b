"""GitHub Classroom autograding for one assignment: a workflow, its test configuration and, for the hidden checks,
a private grading copy of the course.

`export_classroom(slug, out, grading_out=...)` writes, under `out` (the root of the student's template repository,
usually a student bundle made by `dlcourse release`):

- ``.github/classroom/autograding.json``: the test configuration, **one test per check** with that check's points
  (GitHub Classroom's format: name, setup, run, input, output, comparison, timeout, points), so a function earns
  partial credit check by check;
- ``.github/workflows/classroom.yml``: the workflow GitHub Classroom runs on every push: it installs the course from
  the repository, fetches the private grading copy (below) when the repository variable ``DLCOURSE_GRADING_REPO``
  names it (read with the secret ``DLCOURSE_GRADING_TOKEN``), then runs one command-grader step per check;
- ``.github/classroom/grade.sh``: grades the student's file once (the first step; the others read its results) and
  exits 0 when the check it is given passed. With the grading copy it runs ``dlcourse grade`` from that copy
  (public and hidden checks, the export's seed, as root through sudo where the runner allows it, so that the
  namespace sandbox can start); without it, ``dlcourse check`` (public checks only: the hidden checks' tests fail
  with "not run").

and, with `grading_out`, the private grading copy: the engine with every check of the assignment and its reference
(the same content as the Gradescope autograder's course folder). Push it to a private repository that only the
course staff and the workflow's token can read. Limits: the workflow runs in the student's own repository; a
student who edits it can read what it reads. For grades that count, grade with `dlcourse grade-batch` or Gradescope.
"""

from __future__ import annotations

import json
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path

PASSED_PY = '''"""Exit 0 when the results file given (from `dlcourse check/grade --json`) shows the check named by --check passed
(every check, without --check).

Written by `dlcourse export github-classroom`: GitHub Classroom gives a test its points when its command exits 0.
"""
import json
import sys

args = sys.argv[1:]
name = None
if "--check" in args:
    i = args.index("--check")
    name = args[i + 1]
    del args[i:i + 2]
data = json.load(open(args[0]))
tests = data.get("tests", [])
if name is not None:
    chosen = [t for t in tests if t.get("name") == name]
    if not chosen:
        print(f"not run: {name} (not in this grading run)")
        print(data.get("output", ""))
        sys.exit(1)
    tests = chosen
failed = [t for t in tests if t.get("status") != "passed"]
score = sum(t.get("score", 0) for t in tests)
max_score = sum(t.get("max_score", 0) for t in tests)
print(f"{score:g}/{max_score:g} points; {len(tests) - len(failed)} of {len(tests)} checks passed")
for t in failed:
    print(f"failed: {t['name']}")
    print(t.get("output", "")[:3000])
sys.exit(0 if tests and not failed else 1)
'''

GRADE_SH = '''#!/usr/bin/env bash
# Written by `dlcourse export github-classroom` for @SLUG@: grade the student's file once, then exit 0 when the check
# named by $1 passed (every check without an argument). The grading copy (hidden checks) is used when present.
set -uo pipefail
HERE=.github/classroom
RESULTS="$HERE/results.json"
GRADING="${DLCOURSE_GRADING:-.dlcourse-grading}"
PYTHON="${PYTHON:-python}"
SUBMISSION="$PWD/assignments/@SLUG@/@MODULE@"
if [ ! -f "$RESULTS" ]; then
    if [ -d "$GRADING/autograder/checks/@SLUG@" ]; then
        SUDO=""
        if [ "$(id -u)" != 0 ] && sudo -n true 2>/dev/null; then SUDO="sudo -n -E env PATH=$PATH"; fi
        (cd "$GRADING" && $SUDO "$PYTHON" -m autograder.cli grade @SLUG@ "$SUBMISSION" --seed @SEED@@ONLY@ \\
            --json "$OLDPWD/$RESULTS") > "$HERE/grading.log" 2>&1
        [ -n "$SUDO" ] && sudo -n chown "$(id -u):$(id -g)" "$RESULTS" 2>/dev/null
    else
        echo "no grading copy at $GRADING: public checks only (the hidden checks' tests fail)"
        dlcourse check @SLUG@ --submission "$SUBMISSION"@ONLY@ --json "$RESULTS" > "$HERE/grading.log" 2>&1
    fi
    if [ ! -f "$RESULTS" ]; then
        echo "grading did not finish:"; tail -n 40 "$HERE/grading.log"; exit 1
    fi
fi
if [ $# -gt 0 ]; then
    exec "$PYTHON" "$HERE/passed.py" "$RESULTS" --check "$1"
fi
exec "$PYTHON" "$HERE/passed.py" "$RESULTS"
'''


class ClassroomError(Exception):
    pass


@dataclass
class ClassroomTest:
    name: str
    target: str
    check: str
    visibility: str
    run: str
    points: float
    timeout_minutes: int = 10


@dataclass
class ClassroomExport:
    out: Path
    tests: list[ClassroomTest]
    files: list[str]
    seed: int = 0
    grading_out: Path | None = None
    set_aside: list = field(default_factory=list)


def classroom_tests(slug: str, select: list[str] | None = None) -> list[ClassroomTest]:
    """One test per check (public and hidden, in grading order), worth that check's points."""
    from .. import spec as specs
    from ..grading import GradingError, collect_infos, no_match_message

    try:
        spec = specs.load(slug)
    except specs.UnknownAssignment as exc:
        raise ClassroomError(str(exc)) from None
    try:
        infos = collect_infos(slug, "all", select)
    except GradingError as exc:
        raise ClassroomError(str(exc).splitlines()[0]) from None
    if select and not infos:
        raise ClassroomError(no_match_message(spec, select, "grade"))
    tests = []
    for info, vis in infos:
        run = f"bash .github/classroom/grade.sh {shlex.quote(info.name)}"
        tests.append(ClassroomTest(name=f"{slug}: {info.name}", target=info.name.split(":", 1)[0], check=info.name,
                                   visibility=vis, run=run, points=float(info.points)))
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
        "# One test per check (partial credit check by check). The hidden checks come from a private grading copy",
        "# of the course: set the repository (or organization) variable DLCOURSE_GRADING_REPO to it (owner/name)",
        "# and the secret DLCOURSE_GRADING_TOKEN to a token that can read it; without them only public checks run.",
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
        "      - name: Fetch the hidden checks (private grading copy)",
        "        if: ${{ vars.DLCOURSE_GRADING_REPO != '' }}",
        "        uses: actions/checkout@v4",
        "        with:",
        "          repository: ${{ vars.DLCOURSE_GRADING_REPO }}",
        "          token: ${{ secrets.DLCOURSE_GRADING_TOKEN }}",
        "          path: .dlcourse-grading",
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


def export_classroom(slug: str, out: str | Path, *, grading_out: str | Path | None = None,
                     select: list[str] | None = None, seed: int | None = None,
                     force: bool = False) -> ClassroomExport:
    """Write the workflow and its tests under `out`, and the private grading copy into `grading_out` (optional).
    Files that exist are refused unless `force` (then kept as `<name>.old-<time>`)."""
    from .. import spec as specs
    from .outputs import OutputError, claim, write_text, writable_dir

    out = Path(out)
    tests = classroom_tests(slug, select)
    if not tests:
        raise ClassroomError(f"{slug} has no checks: nothing for GitHub Classroom to run")
    spec = specs.load(slug)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    only = "".join(f" --only {shlex.quote(s)}" for s in select or [])
    grade_sh = (GRADE_SH.replace("@SLUG@", slug).replace("@MODULE@", spec.module_file)
                .replace("@SEED@", str(seed)).replace("@ONLY@", only))
    files = {
        ".github/classroom/autograding.json": json.dumps(autograding_json(tests), indent=2) + "\n",
        ".github/classroom/passed.py": PASSED_PY,
        ".github/classroom/grade.sh": grade_sh,
        ".github/workflows/classroom.yml": workflow_yaml(slug, tests),
    }
    try:
        writable_dir(out)
        moved = claim([out / rel for rel in files], force, what="export github-classroom")
        grading = None
        if grading_out is not None:
            grading = Path(grading_out)
            if grading.exists() and any(grading.iterdir()):
                if not force:
                    raise OutputError(f"--grading-out {grading} is not empty: choose another folder, or pass --force "
                                      "(the old one is kept, renamed *.old-<time>)")
                moved += claim([grading], True)
            writable_dir(grading, "--grading-out")
        for rel, text in files.items():
            write_text(out / rel, text)
        (out / ".github/classroom/grade.sh").chmod(0o755)
    except OutputError as exc:
        raise ClassroomError(str(exc)) from None
    if grading is not None:
        _write_grading_copy(spec, grading)
    return ClassroomExport(out=out.resolve(), tests=tests, files=sorted(files), seed=seed,
                           grading_out=grading.resolve() if grading else None, set_aside=[m for _, m in moved])


def _write_grading_copy(spec, folder: Path) -> None:
    """The private grading copy: the engine with every check of the assignment and its reference."""
    from .gradescope import GRADESCOPE_STEPS
    from .release.steps import Bundle, build

    build(Bundle(out=folder, specs=[spec], checks="grading"), GRADESCOPE_STEPS)
    (folder / "README-dlcourse-grading.md").write_text(
        f"# Private grading copy of {spec.slug}\n\nWritten by `dlcourse export github-classroom --grading-out`. "
        "It holds the reference solution and the hidden checks: push it to a **private** repository, and set the "
        "student repositories' variable DLCOURSE_GRADING_REPO to it and their secret DLCOURSE_GRADING_TOKEN to a "
        "token that can read it.\n")
