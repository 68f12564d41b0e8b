#!/usr/bin/env bash
# One GPU check, under 5 minutes: the CUDA-marked tests, every reference graded on CUDA in the allowlist sandbox,
# and a wrong-device submission (its dropout mask made on the CPU), with the figures printed.
# Without CUDA it prints why after its CPU preamble and exits 0 (DLCOURSE_GPU_CHECK_DRY=1 forces that path).
# Usage: bash benchmarks/gpu_check.sh   (from the repository root, with the course's environment active)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
PY="${PYTHON:-python}"
START=$(date +%s)
echo "== preamble"
"$PY" - <<'PY' || { echo "the course's Python environment is not usable here"; exit 1; }
import platform, sys, torch
from autograder import spec
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA build {torch.version.cuda}")
print(f"assignments: {' '.join(spec.all_slugs())}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"device: {p.name}, {p.total_memory / 2**30:.0f} GiB")
PY
if [ "${DLCOURSE_GPU_CHECK_DRY:-0}" = "1" ] || ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "CUDA is not available here: skipping the GPU checks (nothing failed)"
    exit 0
fi
nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader 2>/dev/null || true

echo "== CUDA-marked tests (the harness grades every torch reference and skeleton on CUDA: 4 processes)"
timeout 150 "$PY" -m pytest -m cuda tests -q -p no:cacheprovider -n 4 2>&1 | tail -15

echo "== references graded on CUDA (score, seconds, isolation; GPU memory as the grader measured it)"
OUT="$(mktemp -d)"
for slug in $("$PY" -c "from autograder import spec; print(*spec.all_slugs())"); do
    t0=$(date +%s.%N)
    timeout 150 "$PY" -m autograder.cli grade "$slug" "solutions/$slug" --device cuda --seed 1 \
        --json "$OUT/$slug.json" >"$OUT/$slug.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    "$PY" - "$OUT/$slug.json" "$slug" "$rc" "$t0" "$t1" <<'PY'
import json, sys
path, slug, rc, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
try:
    d = json.load(open(path))
except (OSError, ValueError):
    print(f"{slug:12s} NO RESULT (exit {rc})"); sys.exit()
extra = d.get("extra_data", {})
failed = [t["name"] for t in d["tests"] if t.get("status") != "passed"]
gpu = extra.get("gpu_memory", "GPU memory: not reported").replace("GPU memory: ", "")
print(f"{slug:12s} {d['score']:g}/{sum(t['max_score'] for t in d['tests']):g}  {t1 - t0:6.1f} s  "
      f"{extra.get('isolation', '?')}; {gpu}" + (f"  failed: {failed[:3]}" if failed else ""))
PY
    [ $(( $(date +%s) - START )) -gt 270 ] && { echo "stopping: the 5-minute budget is nearly spent"; break; }
done

echo "== a wrong-device submission (dropout's mask drawn on the CPU): it must lose points on CUDA"
mkdir -p "$OUT/wrong"
sed 's/device=x.device, dtype=u_dtype)/device="cpu", dtype=u_dtype).to(x.device)/' solutions/dropout/dropout.py \
    > "$OUT/wrong/dropout.py"
timeout 150 "$PY" -m autograder.cli grade dropout "$OUT/wrong" --device cuda --seed 1 --json "$OUT/wrong.json" \
    >"$OUT/wrong.log" 2>&1
"$PY" -c "import json; d = json.load(open('$OUT/wrong.json')); print(f\"wrong device: {d['score']:g} points\")" \
    2>/dev/null || echo "wrong device: NO RESULT"
echo "== done in $(( $(date +%s) - START )) s (logs in $OUT)"
