"""Operating-system isolation for the sandbox worker (Linux namespaces through libc, standard library only).

Two levels, reported in every grading report:

- ``namespaces``: the worker enters new user, mount, network, PID, IPC and UTS namespaces. In the new mount
  namespace the grader's secrets (solutions/, the engine with its hidden checks, the project's tests, other
  submissions) are covered by empty read-only tmpfs mounts, the Python installation and the project are
  re-mounted read-only, and a second, nested user namespace then locks those mounts so the student's code cannot
  undo them. The network namespace has only a loopback device that is down; the PID namespace hides every process
  outside the sandbox (the grader included), so the submission cannot signal it.
- ``process``: where namespaces are not allowed (macOS, some containers, hardened kernels). The worker still runs
  in its own session with resource limits, a scrubbed environment, a private working directory and the socket
  module disabled, but it can see the file system and other processes of the same user.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

PR_SET_PDEATHSIG = 1

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(libc().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def set_parent_death_signal(sig: int) -> None:
    libc().prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def map_self(uid: int, gid: int) -> None:
    """Map the caller's own uid/gid to root inside the user namespace it just entered."""
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def enter_namespaces() -> None:
    """Step 1, in the launcher: new user/mount/net/pid/ipc/uts namespaces. The next fork() is PID 1 inside."""
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)
    map_self(uid, gid)


def seal_file_system(readonly: list[str], hidden: list[str], writable: list[str]) -> None:
    """Step 2, in PID 1 of the new namespace: private /proc and /tmp, read-only and hidden paths, then lock it all.

    /tmp, /var/tmp and /dev/shm get fresh tmpfs mounts (other submissions' working folders live in the host's
    /tmp during batch grading). The `readonly` paths (Python, the project) and the `writable` ones (the private
    working directory) are carried over through O_PATH descriptors taken before anything is covered, so they
    stay reachable at the same paths even when they sit below /tmp.
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    keep_ro = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in _existing(readonly) if os.path.isdir(p)]
    keep_rw = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in _existing(writable)]
    for shared in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(shared):
            mount("tmpfs", shared, "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
    for path, fd in keep_ro:
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    for path, fd in keep_rw:
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND)
    for _, fd in keep_ro + keep_rw:
        os.close(fd)
    for path in _existing(hidden):
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
        else:
            mount("/dev/null", path, None, MS_BIND)
    # A mount namespace owned by a less privileged (nested) user namespace gets its inherited mounts locked:
    # they can no longer be unmounted or made writable from inside, even by that namespace's root.
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | CLONE_NEWNS)
    map_self(uid, gid)


def _existing(paths: list[str]) -> list[str]:
    seen, out = set(), []
    for p in paths:
        rp = os.path.realpath(p)
        if rp not in seen and os.path.exists(rp) and rp != "/":
            seen.add(rp)
            out.append(rp)
    return out
