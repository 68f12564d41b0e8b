#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (the network is available then).
# It installs the course engine from the copy in this zip and creates the account student code runs as.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${DLCOURSE_PYTHON:-python3}"

if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt-get update && apt-get install -y --no-install-recommends python3-pip
fi
# CPU wheels of PyTorch (Gradescope machines have no GPU). Editable install: the engine finds the reference
# solution and the hidden checks next to itself, in $SOURCE/course.
"$PYTHON" -m pip install --extra-index-url https://download.pytorch.org/whl/cpu \
    -c "$SOURCE/course/constraints.txt" -e "$SOURCE/course"

# The unprivileged account the submission runs as (run_autograder falls back to `nobody` without it).
if ! id -u @USER@ >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin @USER@
fi
