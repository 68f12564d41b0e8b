#!/usr/bin/env bash
# Gradescope runs this for every submission of @ASSIGNMENT@, as root. The grader reads /autograder/submission
# and writes /autograder/results/results.json; the student's code itself runs in the engine's sandbox as an
# unprivileged user (see autograder/instructor/gradescope.py for what protects what). The run's log is kept in
# /autograder/results/stdout (and printed, for Gradescope's own log).
# DLCOURSE_AUTOGRADER_ROOT replaces /autograder (for tests); DLCOURSE_PYTHON chooses the interpreter (default:
# the virtual environment setup.sh made, DLCOURSE_VENV).
set -uo pipefail
ROOT="${DLCOURSE_AUTOGRADER_ROOT:-/autograder}"
COURSE="$ROOT/source/course"
VENV="${DLCOURSE_VENV:-$ROOT/dlcourse-venv}"
PYTHON="${DLCOURSE_PYTHON:-$VENV/bin/python}"
mkdir -p "$ROOT/results"
LOG="$ROOT/results/stdout"
: > "$LOG"
if [ ! -x "$PYTHON" ] && ! command -v "$PYTHON" >/dev/null 2>&1; then
    msg="The autograder is not set up right (not your code's fault): no Python at $PYTHON (did setup.sh run?)"
    echo "$msg" | tee -a "$LOG"
    printf '{"score": 0.0, "output": "%s", "tests": [], "visibility": "visible"}\n' "$msg" > "$ROOT/results/results.json"
    exit 1
fi
# Run from the course folder so that `-m autograder...` is this zip's engine, whatever else is installed.
cd "$COURSE" || { echo "no course folder at $COURSE" | tee -a "$LOG" >&2; exit 1; }
"$PYTHON" -m autograder.instructor.gradescope --root "$ROOT" 2>&1 | tee -a "$LOG"
exit "${PIPESTATUS[0]}"
