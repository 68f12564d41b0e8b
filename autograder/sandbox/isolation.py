"""Operating-system isolation for the sandbox worker (Linux namespaces through libc, standard library only).

Two levels, reported in every grading report:

- ``namespaces``: the worker runs in new mount, PID, network, IPC, UTS and cgroup namespaces (and a user
  namespace where the grader is not root), in a file system built from nothing, as bubblewrap and nsjail build
  theirs: a fresh tmpfs becomes the root (``pivot_root``) and holds only read-only binds of what running the
  submission needs (the interpreter and its standard library, the site-packages holding NumPy/torch, /usr and
  /lib*, the few /etc files the loader reads), a fresh /proc, a size- and inode-capped tmpfs /tmp and working
  folder /sandbox holding the submission, and a minimal /dev (null, zero, full, random, urandom; the NVIDIA nodes
  only for CUDA). Nothing else of the host exists inside: no home folders, no project copy, no solutions, no other
  submissions, no /sys (its NVIDIA-relevant part read-only only for CUDA), no sockets. The old root is detached.
  The submission then runs as an unprivileged user with no capabilities and ``no_new_privs``: with a root grader,
  as host uid 65534 (set with setresuid, which clears every capability); otherwise as uid 1000 of a nested user
  namespace whose capabilities are dropped and which may not create further user namespaces.
- ``process``: where namespaces are not allowed (macOS, some containers, hardened kernels). The worker still runs
  in its own process group with resource limits, a scrubbed environment, a private working directory and the
  socket module disabled, but it can see the file system and other processes of the same user. `dlcourse grade`
  refuses this level unless told otherwise (``--allow-weak-isolation``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import stat

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
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
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

SANDBOX_UID = 1000  # the submission's uid inside a nested user namespace
NOBODY = 65534  # the host uid it runs as under a root grader

_SYSCALLS = {  # (pivot_root, capset)
    "x86_64": (155, 126), "aarch64": (41, 91), "arm64": (41, 91), "ppc64le": (203, 184), "s390x": (217, 185),
}

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


def prctl(option: int, arg2: int = 0) -> int:
    return libc().prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def set_parent_death_signal(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def set_child_subreaper() -> None:
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def in_initial_user_namespace() -> bool:
    """True where this process is in the host's own user namespace (the full identity map)."""
    return _read("/proc/self/uid_map").split() == ["0", "0", "4294967295"]


def enter_namespaces(user_namespace: bool = False) -> str:
    """In the launcher: new mount/pid/net/ipc/uts/cgroup namespaces; the next fork() is PID 1 inside.

    A root grader in the host's user namespace needs no user namespace (and then drops to an unprivileged host
    uid after building the file system); otherwise a new user namespace maps the caller's uid to its root.
    Returns "root" or "userns": how the worker drops its privileges once the file system is built.
    `user_namespace` takes the second path even for a root grader (the tests cover both on one machine).
    """
    rest = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
    if os.geteuid() == 0 and in_initial_user_namespace() and not user_namespace:
        try:
            unshare(rest)
            return "root"
        except OSError:
            pass  # a container without CAP_SYS_ADMIN: try a user namespace
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | rest)
    _map(0, uid, gid)
    return "userns"


def _map(inside: int, uid: int, gid: int) -> None:
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{inside} {uid} 1")
    _write("/proc/self/gid_map", f"{inside} {gid} 1")


# ----------------------------------------------------------------------------------------------- the new root

def _mkdirs(root: str, path: str) -> str:
    full = root + path
    os.makedirs(full, exist_ok=True)
    return full


def _bind_ro(root: str, source: str) -> None:
    """Read-only bind of `source` at the same path under `root` (a symlink stays a symlink)."""
    if os.path.islink(source):
        target = os.readlink(source)
        _mkdirs(root, os.path.dirname(source))
        if not os.path.lexists(root + source):
            os.symlink(target, root + source)
        real = os.path.realpath(source)
        if real != source and os.path.exists(real):
            _bind_ro(root, real)
        return
    if os.path.isdir(source):
        if os.path.isdir(root + source) and os.path.ismount(root + source):
            return
        dest = _mkdirs(root, source)
    elif os.path.isfile(source):
        _mkdirs(root, os.path.dirname(source))
        dest = root + source
        if not os.path.exists(dest):
            open(dest, "w").close()
    else:
        return
    mount(source, dest, None, MS_BIND)
    mount(None, dest, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _bind_device(root: str, node: str) -> None:
    try:
        st = os.stat(node)
    except OSError:
        return
    dest = root + node
    _mkdirs(root, os.path.dirname(node))
    if stat.S_ISDIR(st.st_mode):
        os.makedirs(dest, exist_ok=True)
    elif not os.path.exists(dest):
        open(dest, "w").close()
    mount(node, dest, None, MS_BIND)
    mount(None, dest, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC)


PASSWD = "root:x:0:0:root:/:/bin/false\nstudent:x:{uid}:{gid}:student:/sandbox:/bin/false\n" \
         "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nstudent:x:{gid}:\nnogroup:x:65534:\n"


def build_root(newroot: str, binds: list[str], devices: list[str], workdir: str, module_file: str,
               source: bytes, owner: tuple[int, int], work_bytes: int, tmp_bytes: int,
               mode: str = "root") -> None:
    """Build the allowlist file system on a fresh tmpfs at `newroot` and make it the root.

    Called in PID 1 of the new namespaces, which may still see the host's tree: everything it binds is named in
    `binds` (read-only) and `devices`; `source` is the submission, written into the fresh working folder
    `workdir` (a tmpfs of `work_bytes`, owned by `owner`). At the end the host's tree is detached.
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,nr_inodes=4096,mode=755")
    # /tmp first: a virtual environment that lives under /tmp is then bound inside it, not hidden by it.
    mount("tmpfs", _mkdirs(newroot, "/tmp"), "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={tmp_bytes},nr_inodes=4096,mode=1777")
    for path in binds:
        if os.path.lexists(path) and path != "/":
            _bind_ro(newroot, path)
    # /etc: only what the loader and Python read, plus an account database naming the sandbox's user.
    etc = _mkdirs(newroot, "/etc")
    _write(os.path.join(etc, "passwd"), PASSWD.format(uid=owner[0], gid=owner[1]))
    _write(os.path.join(etc, "group"), GROUP.format(gid=owner[1]))
    _write(os.path.join(etc, "hosts"), "127.0.0.1 localhost\n")
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf"):
        if os.path.lexists(f"/etc/{name}"):
            _bind_ro(newroot, f"/etc/{name}")
    # /dev: a tmpfs holding only harmless nodes (and the GPU's, when asked for).
    dev = _mkdirs(newroot, "/dev")
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=256,mode=755")
    for node in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", *devices):
        _bind_device(newroot, node)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    shm = _mkdirs(newroot, "/dev/shm")
    mount(None, dev, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    mount("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_bytes},nr_inodes=1024,mode=1777")
    proc = _mkdirs(newroot, "/proc")
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if mode == "userns":
        # This user namespace may hold one more below it (the worker's own, see drop_privileges), no others.
        _write(os.path.join(proc, "sys/user/max_user_namespaces"), "1")
    for sub in ("sys", "sysrq-trigger", "irq", "bus", "fs"):  # the kernel's knobs, read-only (as Docker does)
        if os.path.exists(os.path.join(proc, sub)):
            mount(os.path.join(proc, sub), os.path.join(proc, sub), None, MS_BIND | MS_REC)
            mount(None, os.path.join(proc, sub), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    work = _mkdirs(newroot, workdir)
    mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, f"size={work_bytes},nr_inodes=4096,mode=700")
    with open(os.path.join(work, module_file), "wb") as f:
        f.write(source)
    os.chown(os.path.join(work, module_file), *owner)
    os.chown(work, *owner)
    # pivot_root(".", "."): the old root ends up on top of the new one; detaching it leaves only the new tree.
    os.chdir(newroot)
    _pivot_root(".", ".")
    _check(libc().umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _pivot_root(new: str, old: str) -> None:
    nr = _SYSCALLS.get(platform.machine(), (None, None))[0]
    if nr is None:
        raise OSError(0, f"pivot_root: unknown system call number on {platform.machine()}")
    _check(libc().syscall(ctypes.c_long(nr), new.encode(), old.encode()), "pivot_root")


# ----------------------------------------------------------------------------------------------- privileges

def drop_privileges(mode: str, uid: int = NOBODY, gid: int = NOBODY) -> tuple[int, int]:
    """Leave root for good. Returns the (uid, gid) the submission now has inside.

    "root": the worker is host root in its own namespaces; it becomes host uid/gid `uid`/`gid` (65534), which
    clears every capability. "userns": it is root of a user namespace mapped to the grader's uid; it enters a
    nested user (and mount) namespace as uid 1000, (the last user namespace build_root allows) and drops its
    capabilities. Both end with an empty bounding set and no_new_privs.
    """
    last = int(_read("/proc/sys/kernel/cap_last_cap").strip() or 40)
    if mode == "root":
        for cap in range(last + 1):
            prctl(PR_CAPBSET_DROP, cap)
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # from root to non-root: permitted and effective capabilities are cleared
        _check(prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
        inside = (uid, gid)
    else:
        unshare(CLONE_NEWUSER | CLONE_NEWNS)  # mounts copied into a less privileged namespace are locked
        _map(SANDBOX_UID, 0, 0)
        for cap in range(last + 1):
            prctl(PR_CAPBSET_DROP, cap)
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        _capset_zero()
        _check(prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
        inside = (SANDBOX_UID, SANDBOX_UID)
    if _effective_caps() != 0:
        raise OSError(0, "capabilities remain after dropping them")
    return inside


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _capset_zero() -> None:
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    nr = _SYSCALLS.get(platform.machine(), (None, None))[1]
    fn = getattr(libc(), "capset", None)
    ret = fn(ctypes.byref(header), data) if fn is not None else \
        libc().syscall(ctypes.c_long(nr), ctypes.byref(header), data)
    _check(ret, "capset")


def _effective_caps() -> int:
    for line in _read("/proc/self/status").splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0
