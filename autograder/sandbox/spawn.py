"""How a sandbox's launcher process comes to exist: exec'd, or forked from a zygote.

Exec'd (the default): ``python -E -s -B worker.py REQ RESP STACK``, which then imports NumPy and torch. Importing
torch costs about 3.5 s of CPU, paid again by every sandbox: for one `dlcourse check` it overlaps the grader's own
imports (autograder/warm.py), but a process that grades many submissions one after another (`dlcourse verify`, the
project's tests) pays it hundreds of times.

Forked (`enable()`, or DLCOURSE_ZYGOTE=1): the first sandbox of a kind starts a zygote, ``worker.py --zygote``,
in the worker's scrubbed environment, which imports the framework once and then forks a launcher for each sandbox
(milliseconds). The zygote runs only the engine's code and never holds a submission; each launcher it forks goes
through the worker's start-up exactly as an exec'd one does, so the sandbox (namespaces, allowlist root,
unprivileged user, cgroup) is built after the fork, before the submission arrives. The launcher is the zygote's
child: `Forked` offers the part of `subprocess.Popen` that the client uses, watching it through a pidfd and asking
the zygote (which reaps it) for its exit status. A launcher ends its sandbox when the grader or the zygote dies.

A zygote serves the process that started it (a forked copy of that process starts its own), one per worker
environment and framework, and ends when that process exits (it is the zygote's parent-death signal). Whatever
goes wrong with a zygote, the sandbox is exec'd instead.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import codec

WORKER = Path(__file__).with_name("worker.py")

_enabled = os.environ.get("DLCOURSE_ZYGOTE", "") == "1"
_zygotes: dict[str, "Zygote"] = {}
_lock = threading.Lock()


def enable(on: bool = True) -> None:
    """Fork sandboxes from zygotes in this process from now on (or, with False, exec them again)."""
    global _enabled
    _enabled = bool(on)


def enabled() -> bool:
    return _enabled


class ZygoteError(Exception):
    """The zygote could not start or answer (the caller execs the worker instead)."""


class Forked:
    """A launcher forked by a zygote: the `subprocess.Popen` subset the client uses (pid, poll, wait, kill,
    send_signal, returncode). Its end is seen through a pidfd; its exit status comes from the zygote."""

    def __init__(self, pid: int, zygote: "Zygote"):
        self.pid = pid
        self.returncode: int | None = None
        self._zygote = zygote
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def _ended(self, timeout: float) -> bool:
        if self._pidfd is None:
            time.sleep(min(timeout, 0.01))
            return True  # ask the zygote
        ready, _, _ = select.select([self._pidfd], [], [], max(0.0, timeout))
        return bool(ready)

    def poll(self) -> int | None:
        if self.returncode is None and self._ended(0.0):
            try:
                self.returncode = self._zygote.status(self.pid)
            except ZygoteError:
                self.returncode = -1  # the zygote is gone, and its launchers with it: no exit status
            if self.returncode is not None and self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = 0.05 if end is None else min(0.05, end - time.monotonic())
            if left <= 0:
                raise subprocess.TimeoutExpired(f"launcher {self.pid}", timeout)
            self._ended(left)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __del__(self):
        if getattr(self, "_pidfd", None) is not None:
            os.close(self._pidfd)


class Zygote:
    """One zygote process and the control socket to it."""

    def __init__(self, env: dict, sys_path: list[str], framework: str, threads: int, boot_timeout: float):
        self.owner = os.getpid()
        self.lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-E", "-s", "-B", str(WORKER), "--zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=env, cwd="/", start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise ZygoteError(f"could not start the zygote: {exc}") from None
        finally:
            theirs.close()
        self.sock = ours
        try:
            ready = self._ask({"sys_path": sys_path, "framework": framework, "threads": threads}, boot_timeout,
                              first=True)
            if ready.get("ready") is not True:
                raise ZygoteError(f"the zygote answered {ready!r}")
        except ZygoteError as exc:
            self.close()
            raise ZygoteError(f"the zygote did not start: {exc}") from None

    def fork(self, fds: tuple[int, int, int, int], cwd: str, timeout: float) -> Forked:
        """A launcher holding (request read end, answer write end, stack write end, output file) in `cwd`."""
        pid = self._ask({"op": "fork", "cwd": cwd, "grader": os.getpid()}, timeout, fds).get("pid")
        if not isinstance(pid, int) or pid <= 0:
            raise ZygoteError(f"the zygote answered {pid!r}")
        return Forked(pid, self)

    def status(self, pid: int) -> int | None:
        """The exit status of a launcher that has ended (None while the zygote has not reaped it yet)."""
        code = self._ask({"op": "status", "pid": pid}, 10.0).get("code")
        return code if isinstance(code, int) else None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _ask(self, request: dict, timeout: float, fds=(), first: bool = False) -> dict:
        """One request and its answer, in codec frames. A request after the first is preceded by one byte that
        carries the sandbox's descriptors (none for "status")."""
        deadline = time.monotonic() + timeout
        with self.lock:
            self.sock.settimeout(timeout)
            try:
                if not first:
                    if fds:
                        socket.send_fds(self.sock, [b"\0"], list(fds))
                    else:
                        self.sock.sendall(b"\0")
                codec.send(self.sock.fileno(), request, deadline)
                header, blobs = codec.read_frame(self.sock.fileno(), deadline, max_header=1 << 16, max_blobs=0)
                answer = codec.Decoder().decode(header, blobs)
            except (OSError, codec.CodecError) as exc:
                raise ZygoteError(f"the zygote did not answer: {exc or type(exc).__name__}") from None
        if not isinstance(answer, dict):
            raise ZygoteError("the zygote's answer is not a message")
        return answer


def fork_launcher(env: dict, sys_path: list[str], framework: str, threads: int, fds: tuple[int, int, int, int],
                  cwd: str, boot_timeout: float) -> Forked | None:
    """A launcher forked from this process's zygote for (env, framework), or None when zygotes are off or the
    zygote fails (the caller then execs the worker)."""
    if not _enabled:
        return None
    key = json.dumps([env, sys_path, framework, threads], sort_keys=True)
    with _lock:
        for attempt in range(2):
            zygote = _zygotes.get(key)
            try:
                if zygote is None or zygote.owner != os.getpid() or not zygote.alive():
                    if zygote is not None and zygote.owner == os.getpid():
                        zygote.close()
                    zygote = _zygotes[key] = Zygote(env, sys_path, framework, threads, boot_timeout)
                return zygote.fork(fds, cwd, timeout=boot_timeout)
            except ZygoteError:
                stale = _zygotes.pop(key, None)
                if stale is not None and stale.owner == os.getpid():
                    stale.close()
        return None


def _forget_after_fork() -> None:
    """In a forked copy of this process: the parent's zygotes are not ours (their sockets are closed here only)."""
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for zygote in _zygotes.values():
        try:
            zygote.sock.close()
        except OSError:
            pass
    _zygotes.clear()


def close_all() -> None:
    with _lock:
        for zygote in list(_zygotes.values()):
            if zygote.owner == os.getpid():
                zygote.close()
        _zygotes.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_all)
