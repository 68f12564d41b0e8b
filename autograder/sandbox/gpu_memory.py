"""The GPU memory of a sandbox, bounded twice: by the worker's allocator and by the grader's own measurement.

1. Inside the worker, before the submission is imported, torch's caching allocator is capped at the limit
   (`torch.cuda.set_per_process_memory_fraction`): an allocation past it raises `torch.OutOfMemoryError` in the
   student's own code, with the student's own traceback. The submission runs in that process and could lift the
   cap, so this is a courtesy, not the bound.
2. The bound: while a call runs, the grader asks the driver (NVML, through `nvidia-smi`) how much device memory
   the sandbox's processes hold, at most every `interval` seconds, and ends the call once they hold more than the
   limit. The peak it saw is reported with the grading.

CUDA MPS could enforce a limit in the driver (`CUDA_MPS_PINNED_DEVICE_MEM_LIMIT`), but only through a control
daemon shared by every client on the machine: a socket into the host that the sandbox would have to see. The
allowlist sandbox shows no host socket, so MPS is not used.

Where the driver reports no per-process use (some containers hide other pid namespaces from it, or nvidia-smi is
missing) the measurement says so (`measured` stays False) and only the allocator cap holds; the report names it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterable

GiB = 1024**3


class GpuMemoryExceeded(Exception):
    """The sandbox's processes held more GPU memory than its limit."""

    def __init__(self, used: int, limit: int):
        super().__init__(f"used {used / GiB:.2f} GiB of GPU memory, over the sandbox's limit of {limit / GiB:.2f} GiB")
        self.used, self.limit = used, limit


def parse_compute_apps(text: str) -> dict[int, int]:
    """{pid: bytes} from `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`
    (MiB per line; a line that is not two numbers, e.g. "[N/A]", is skipped)."""
    out: dict[int, int] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 or not (parts[0].isdigit() and parts[1].isdigit()):
            continue
        pid, mib = int(parts[0]), int(parts[1])
        out[pid] = out.get(pid, 0) + mib * 1024**2
    return out


def query_nvidia_smi(timeout: float = 5.0) -> dict[int, int] | None:
    """Device memory held per host pid, or None when the driver cannot be asked."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_compute_apps(done.stdout) if done.returncode == 0 else None


class GpuMemoryWatch:
    """Measures the GPU memory of a set of processes (`pids()`: the sandbox's cgroup, or its worker) against a
    limit. `check()` is cheap to call often: it asks the driver at most every `interval` seconds."""

    def __init__(self, limit_bytes: int, pids: Callable[[], Iterable[int]], *,
                 query: Callable[[], dict[int, int] | None] = query_nvidia_smi, interval: float = 0.5):
        self.limit = int(limit_bytes)
        self._pids, self._query, self.interval = pids, query, interval
        self._last = float("-inf")
        self.peak = 0
        self.measured = False  # the driver showed at least one of the sandbox's processes

    def sample(self) -> int | None:
        """Bytes held now by the sandbox's processes (None when the driver cannot be asked)."""
        table = self._query()
        if table is None:
            return None
        mine = set(self._pids())
        held = [b for pid, b in table.items() if pid in mine]
        if held:
            self.measured = True
        used = sum(held)
        self.peak = max(self.peak, used)
        return used

    def check(self) -> None:
        """Raise GpuMemoryExceeded when the sandbox holds more than its limit (rate-limited)."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        used = self.sample()
        if used is not None and used > self.limit:
            raise GpuMemoryExceeded(used, self.limit)

    def describe(self) -> str:
        """One line for the report."""
        cap = f"{self.limit / GiB:.1f} GiB"
        if self.measured:
            return f"GPU memory: peak {self.peak / GiB:.2f} GiB measured by the grader (limit {cap})"
        return (f"GPU memory: capped at {cap} by the worker's allocator; the driver showed no per-process use here, "
                f"so the grader could not measure it")
