"""Per-sandbox control groups owned by the grader: a process count, a memory ceiling, a CPU share, CPU-time
accounting and a kill switch for everything the submission started.

Where the grader may create cgroups (a root grader, or a delegated subtree), every sandbox gets its own group
under the grader's own group of each hierarchy (cgroup v2, or the v1 pids, memory, cpu and cpuacct
hierarchies). The worker cannot reach these files: its file system has no /sys and it runs in its own cgroup
namespace, as an unprivileged user. Elsewhere the worker falls back to rlimits (RLIMIT_NPROC, RLIMIT_AS) and the
CPU time of its own process (/proc/PID/stat). Standard library only.
"""

from __future__ import annotations

import os
import signal
import time

V2_ROOT = "/sys/fs/cgroup"
_counter = 0


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _mounts() -> dict[str, str]:
    """{controller (v1) or "" (v2): mount point}"""
    out: dict[str, str] = {}
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        point, fstype, opts = fields[4], rest[0], rest[2].split(",")
        if fstype == "cgroup2":
            out.setdefault("", point)
        elif fstype == "cgroup":
            for opt in opts:
                if opt in ("pids", "memory", "cpu", "cpuacct"):
                    out.setdefault(opt, point)
    return out


def _own_paths() -> dict[str, str]:
    """{controller or "": this process's cgroup path in that hierarchy}"""
    out = {}
    for line in _read("/proc/self/cgroup").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for ctrl in (parts[1].split(",") if parts[1] else [""]):
            out[ctrl] = parts[2]
    return out


class Cgroup:
    """The sandbox's groups: `dirs` maps a controller ("pids", "memory", "cpu", "cpuacct"; "" for v2) to a
    directory this process created."""

    def __init__(self, dirs: dict[str, str], v2: bool):
        self.dirs = dirs
        self.v2 = v2

    @classmethod
    def create(cls, limits: dict) -> "Cgroup | None":
        """New groups holding `limits` (processes, memory_bytes, cpus); None where none can be made."""
        global _counter
        _counter += 1
        name = f"dlcourse-{os.getpid()}-{_counter}-{time.monotonic_ns() % 10**9}"
        mounts, own = _mounts(), _own_paths()
        dirs: dict[str, str] = {}
        v2 = False
        if "pids" in mounts:  # cgroup v1 (or hybrid)
            by_mount: dict[str, str] = {}
            for ctrl in ("pids", "memory", "cpu", "cpuacct"):
                if ctrl not in mounts:
                    continue
                made = by_mount.get(mounts[ctrl]) or _make(mounts[ctrl], own.get(ctrl, "/"), name)
                if made:
                    dirs[ctrl] = by_mount[mounts[ctrl]] = made
        elif "" in mounts:
            root = mounts[""]
            wanted = {"pids", "memory", "cpu"}
            for base in (os.path.join(root, own.get("", "/").lstrip("/")), root):
                if wanted & set(_read(os.path.join(base, "cgroup.subtree_control")).split()):
                    path = os.path.join(base, name)
                    try:
                        os.mkdir(path)
                        dirs[""] = path
                        v2 = True
                        break
                    except OSError:
                        continue
        if not dirs:
            return None
        group = cls(dirs, v2)
        if not group._set_limits(limits):
            group.remove()
            return None
        return group

    def _set_limits(self, limits: dict) -> bool:
        procs, memory, cpus = limits.get("processes"), limits.get("memory_bytes"), limits.get("cpus")
        if self.v2:
            d = self.dirs[""]
            ok = procs is None or _write(os.path.join(d, "pids.max"), str(procs))
            if memory:
                _write(os.path.join(d, "memory.max"), str(memory))
                _write(os.path.join(d, "memory.swap.max"), "0")
            if cpus:
                _write(os.path.join(d, "cpu.max"), f"{int(cpus * 100000)} 100000")
            return ok
        ok = True
        if "pids" in self.dirs and procs is not None:
            ok = _write(os.path.join(self.dirs["pids"], "pids.max"), str(procs))
        else:
            ok = False
        if "memory" in self.dirs and memory:
            _write(os.path.join(self.dirs["memory"], "memory.limit_in_bytes"), str(memory))
        if "cpu" in self.dirs and cpus:
            _write(os.path.join(self.dirs["cpu"], "cpu.cfs_period_us"), "100000")
            _write(os.path.join(self.dirs["cpu"], "cpu.cfs_quota_us"), str(int(cpus * 100000)))
        return ok

    @property
    def bounds_processes(self) -> bool:
        return "pids" in self.dirs or self.v2

    def add(self, pid: int) -> bool:
        ok = True
        for d in self.dirs.values():
            ok = _write(os.path.join(d, "cgroup.procs"), str(pid)) and ok
        return ok

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process of the group so far, or None where it is not accounted."""
        if self.v2:
            for line in _read(os.path.join(self.dirs[""], "cpu.stat")).splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return None
        d = self.dirs.get("cpuacct")
        text = _read(os.path.join(d, "cpuacct.usage")).strip() if d else ""
        return int(text) / 1e9 if text.isdigit() else None

    def pids(self) -> list[int]:
        d = self.dirs.get("") or self.dirs.get("pids") or next(iter(self.dirs.values()))
        return [int(p) for p in _read(os.path.join(d, "cgroup.procs")).split() if p.isdigit()]

    def kill(self) -> None:
        """SIGKILL every process in the group (cgroup.kill where the kernel has it)."""
        if self.v2 and _write(os.path.join(self.dirs[""], "cgroup.kill"), "1"):
            return
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def remove(self) -> None:
        for d in self.dirs.values():
            for _ in range(100):  # the killed processes leave the group a moment after they are reaped
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
        self.dirs = {}

    def __bool__(self) -> bool:
        return bool(self.dirs)

    def __str__(self) -> str:
        return ", ".join(sorted(self.dirs.values()))


def _make(mount_point: str, own: str, name: str) -> str | None:
    """mkdir `name` under this process's own group of the hierarchy, else at its root."""
    for base in (os.path.join(mount_point, own.lstrip("/")), mount_point):
        path = os.path.join(base, name)
        try:
            os.mkdir(path)
            return path
        except OSError:
            continue
    return None
