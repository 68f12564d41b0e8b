"""benchmarks/gpu_check.sh runs its CPU preamble everywhere and skips the GPU part cleanly without CUDA."""

import os
import subprocess
import sys

from autograder.paths import REPO_ROOT


def test_gpu_check_preamble_runs_and_skips_without_cuda():
    env = {**os.environ, "DLCOURSE_GPU_CHECK_DRY": "1", "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO_ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "torch" in proc.stdout and "assignments:" in proc.stdout
    assert "skipping the GPU checks" in proc.stdout
