#!/usr/bin/env bash
# Gradescope runs this for every submission of @ASSIGNMENT@, as root. The grader reads /autograder/submission
# and writes /autograder/results/results.json; the student's code itself runs in the engine's sandbox as an
# unprivileged account (see autograder/instructor/gradescope.py for what protects what).
# DLCOURSE_AUTOGRADER_ROOT replaces /autograder (for tests); DLCOURSE_PYTHON chooses the interpreter.
set -uo pipefail
ROOT="${DLCOURSE_AUTOGRADER_ROOT:-/autograder}"
COURSE="$ROOT/source/course"
mkdir -p "$ROOT/results"
# Run from the course folder so that `-m autograder...` is this zip's engine, whatever else is installed.
cd "$COURSE" || { echo "no course folder at $COURSE" >&2; exit 1; }
exec "${DLCOURSE_PYTHON:-python3}" -m autograder.instructor.gradescope --root "$ROOT"
