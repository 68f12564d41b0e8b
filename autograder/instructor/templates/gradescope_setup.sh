#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (the network is available then).
# It installs the course engine, from the copy in this zip, into a virtual environment of its own: base images
# with PEP 668 (Debian 12, Ubuntu 24.04) refuse `pip install` into the system Python ("externally-managed-
# environment"), and a venv also keeps the grader's packages apart from the image's. run_autograder uses it.
# DLCOURSE_BASE_PYTHON: the Python to build the venv from (default python3); DLCOURSE_VENV: where (default
# /autograder/dlcourse-venv); DLCOURSE_PIP_OPTIONS: extra pip options (e.g. --no-index --find-links=... offline).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${DLCOURSE_AUTOGRADER_ROOT:-/autograder}"
BASE="${DLCOURSE_BASE_PYTHON:-python3}"
VENV="${DLCOURSE_VENV:-$ROOT/dlcourse-venv}"

if ! command -v "$BASE" >/dev/null 2>&1; then
    apt-get update && apt-get install -y --no-install-recommends python3 python3-venv
fi
# Debian and Ubuntu ship the venv module's pip bootstrap (ensurepip) in a package of its own.
if ! "$BASE" -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt-get update && apt-get install -y --no-install-recommends python3-venv
fi
"$BASE" -m venv "$VENV"
# Everyone may read and run it: the sandbox's unprivileged user imports NumPy and torch from it.
chmod -R a+rX "$VENV"
# CPU wheels of PyTorch (Gradescope machines have no GPU). Editable install: the engine finds the reference
# solution and the hidden checks next to itself, in $SOURCE/course.
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install ${DLCOURSE_PIP_OPTIONS:-} --extra-index-url https://download.pytorch.org/whl/cpu \
    -c "$SOURCE/course/constraints.txt" -e "$SOURCE/course"
chmod -R a+rX "$VENV" "$SOURCE/course"
"$VENV/bin/python" -c "import autograder, numpy, torch" && echo "dlcourse: installed into $VENV"

# The unprivileged account the submission runs as at the process level (falls back to `nobody` without it).
if ! id -u @USER@ >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin @USER@ 2>/dev/null || true
fi
