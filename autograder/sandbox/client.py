"""The trusted side of the sandbox: starts the worker, sends it requests, enforces the time limits.

The grader never imports the submission. It talks to a `worker.py` process over two pipes with the frame format
of `codec.py`, decodes only plain data, and kills and restarts the worker when a call runs past its limit or the
worker dies. An import that hangs or kills the worker is remembered, so one bad submission costs one timeout,
not one per check.
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import codec

WORKER = Path(__file__).with_name("worker.py")


class StudentError(Exception):
    """The submission failed: it raised, timed out, crashed, or returned something that cannot be judged."""

    def __init__(self, message: str, *, kind: str = "error", stdout: str = ""):
        super().__init__(message)
        self.kind = kind
        self.stdout = stdout


class StudentTimeout(StudentError):
    pass


class SandboxUnavailable(RuntimeError):
    """The worker itself could not be started (not the student's fault)."""


@dataclass
class Limits:
    call_timeout: float = 10.0  # seconds of wall clock for one call
    import_timeout: float = 10.0
    boot_timeout: float = 120.0  # starting Python and importing torch on a loaded machine
    memory_bytes: int = 6 * 1024**3
    processes: int = 256
    cpu_seconds: int = 900
    file_bytes: int = 256 * 1024**2


@dataclass
class SandboxConfig:
    module_path: Path
    module_file: str
    framework: str = "numpy"
    device: str = "cpu"
    forbidden: list = field(default_factory=list)  # [(pattern, why)]
    hidden: list = field(default_factory=list)
    readonly: list = field(default_factory=list)
    isolation: str = "auto"  # auto | namespaces | process
    limits: Limits = field(default_factory=Limits)
    threads: int = 1


class Sandbox:
    """One submission's worker. Use as a context manager; `call` and `run` start it on demand."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.isolation = "not started"
        self.isolation_reason = ""
        self._workdir: str | None = None
        self._cgroup: str | None = None
        self._fatal: StudentError | None = None  # the import hung or crashed: every call fails the same way
        self._import_error: dict | None = None
        self.restarts = 0
        self.time_in_student = 0.0
        self._decoder = codec.Decoder(device_map=_device_map)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> None:
        if self.proc is not None:
            return
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix="dlcourse-sbx-")
            shutil.copyfile(self.config.module_path, os.path.join(self._workdir, self.config.module_file))
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        env = _worker_env(self.config)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-E", "-s", "-B", str(WORKER), str(req_r), str(resp_w)],
                pass_fds=(req_r, resp_w), env=env, cwd=self._workdir, start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        finally:
            os.close(req_r)
            os.close(resp_w)
        self._req, self._resp = req_w, resp_r
        # The worker waits for its configuration, so it is in its process-count group before it can fork.
        self._cgroup = _pids_cgroup(self.proc.pid, self.config.limits.processes)
        t0 = time.monotonic()
        codec.send(self._req, self._config_message())
        boot = self._read_event(t0 + self.config.limits.boot_timeout, "starting the sandbox")
        if boot.get("event") != "booted":
            self.kill()
            raise SandboxUnavailable(boot.get("message", "the sandbox worker did not start"))
        self.isolation, self.isolation_reason = boot["isolation"], boot.get("reason", "")
        t1 = time.monotonic()
        try:
            ready = self._read_event(t1 + self.config.limits.import_timeout, "importing your module")
        except StudentError as exc:
            self._fatal = exc
            self.kill()
            raise
        finally:
            self.time_in_student += time.monotonic() - t1
        if ready.get("event") == "import-error":
            self._import_error = ready["error"]

    def _config_message(self) -> dict:
        c = self.config
        return {
            "workdir": self._workdir, "module_file": c.module_file, "framework": c.framework,
            "isolation": c.isolation, "hidden": [str(p) for p in c.hidden], "readonly": [str(p) for p in c.readonly],
            "forbidden": [list(r) for r in c.forbidden], "env": _worker_env(c), "sys_path": _third_party_path(),
            "threads": c.threads,
            "limits": {"memory_bytes": c.limits.memory_bytes, "processes": c.limits.processes,
                       "cpu_seconds": c.limits.cpu_seconds, "file_bytes": c.limits.file_bytes},
        }

    def _read_event(self, deadline: float, doing: str) -> dict:
        try:
            header, blobs = codec.read_frame(self._resp, deadline)
            return codec.Decoder().decode(header, blobs)
        except codec.ChannelTimeout:
            self.kill()
            raise StudentTimeout(f"timed out while {doing}", kind="timeout", stdout=self.output_tail()) from None
        except codec.ChannelClosed:
            code = self._reap()
            stderr = self._stderr_tail()
            if doing == "starting the sandbox":
                raise SandboxUnavailable(f"the sandbox worker exited with code {code} while starting: {stderr}")
            raise StudentError(f"the submission's process died while {doing} ({_describe_exit(code)})",
                               kind="crash", stdout=self.output_tail()) from None
        except codec.CodecError as exc:
            self.kill()
            raise StudentError(f"the submission's process sent garbage while {doing}: {exc}", kind="protocol") from None

    def kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._reap()

    def _reap(self) -> int | None:
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for fd in (self._req, self._resp):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stderr = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.stderr else ""
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        _remove_cgroup(getattr(self, "_cgroup", None))
        self._cgroup = None
        return code

    def close(self) -> None:
        self.kill()
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _stderr_tail(self) -> str:
        return getattr(self, "_stderr", "")

    def output_tail(self, limit: int = 2000) -> str:
        """What the submission printed (stdout and stderr), last `limit` characters.

        The file lives in the submission's writable folder, so it is opened without following links and only
        read when it is still a plain file: a submission that swaps it for a link to the reference would
        otherwise have the grader, which can read the reference, copy it into the feedback.
        """
        if not self._workdir:
            return ""
        try:
            dfd = os.open(self._workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return ""
        try:
            fd = os.open(".output", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        except OSError:
            return ""
        finally:
            os.close(dfd)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                return "(your code replaced its output file: what it printed is not shown)"
            f.seek(max(0, st.st_size - limit))
            return f.read(limit).decode(errors="replace")

    # -- requests ----------------------------------------------------------------------------------------------
    def request(self, message: dict, timeout: float | None = None, what: str = "the call"):
        if self._fatal is not None:
            raise type(self._fatal)(str(self._fatal), kind=self._fatal.kind)
        if self.proc is None:
            self.start()
        if self._import_error is not None:
            raise StudentError(_format_error(self._import_error, "importing your module"), kind="import")
        timeout = timeout or self.config.limits.call_timeout
        t0 = time.monotonic()
        try:
            codec.send(self._req, message)
            header, blobs = codec.read_frame(self._resp, t0 + timeout)
        except codec.ChannelTimeout:
            self.kill()
            self.restarts += 1
            raise StudentTimeout(f"{what} timed out after {timeout:g} s", kind="timeout",
                                 stdout=self.output_tail()) from None
        except (codec.ChannelClosed, BrokenPipeError):
            code = self._reap()
            self.restarts += 1
            raise StudentError(f"the submission's process died during {what} ({_describe_exit(code)})",
                               kind="crash", stdout=self.output_tail()) from None
        except codec.CodecError as exc:
            self.kill()
            raise StudentError(f"{what} sent back something unreadable: {exc}", kind="protocol") from None
        except BaseException:
            # Interrupted mid-call (the check's pytest-timeout backstop, Ctrl-C): the worker may still answer
            # later, so it can no longer be trusted to stay in step. Start afresh on the next call.
            self.kill()
            raise
        finally:
            self.time_in_student += time.monotonic() - t0
        try:
            reply = self._decoder.decode(header, blobs)
        except codec.CodecError as exc:
            raise StudentError(f"{what} sent back something unreadable: {exc}", kind="protocol") from None
        if not isinstance(reply, dict) or "ok" not in reply:
            raise StudentError(f"{what} sent back a malformed answer", kind="protocol")
        if not reply["ok"]:
            err = reply.get("error") or {}
            raise StudentError(_format_error(err, what), kind="exception", stdout=self.output_tail())
        return reply.get("value")

    def call(self, name: str, *args, _timeout: float | None = None, **kwargs):
        return self.request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs}, _timeout,
                            what=f"{name}()")

    def run(self, probe, *args, _timeout: float | None = None, **kwargs):
        source, name = probe_source(probe)
        return self.request({"op": "run", "func": name, "source": source, "args": list(args), "kwargs": kwargs},
                            _timeout, what=f"your code (run by the check step {name})")

    def echo(self, *args):
        return self.request({"op": "echo", "args": list(args)}, what="echo")


PIDS_CGROUP_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")  # cgroup v1 pids hierarchy, then v2


def _pids_cgroup(pid: int, limit: int) -> str | None:
    """Put `pid` in a fresh cgroup whose pids.max bounds its processes and threads; None where not permitted.

    RLIMIT_NPROC does not bind a worker whose real uid is root (as in CI containers and on Gradescope), so where
    the grader may create cgroups, this is what bounds a fork or thread bomb. Elsewhere RLIMIT_NPROC does.
    """
    for root in PIDS_CGROUP_ROOTS:
        if not os.path.isfile(os.path.join(root, "cgroup.procs")) or \
                (root == "/sys/fs/cgroup" and "pids" not in _read(os.path.join(root, "cgroup.subtree_control"))):
            continue
        path = os.path.join(root, f"dlcourse-{os.getpid()}-{pid}")
        try:
            os.mkdir(path)
        except OSError:
            continue
        try:
            with open(os.path.join(path, "pids.max"), "w") as f:
                f.write(str(limit))
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(pid))
            return path
        except OSError:
            _remove_cgroup(path)
    return None


def _remove_cgroup(path: str | None) -> None:
    if not path:
        return
    for _ in range(50):  # the killed processes leave the group a moment after they are reaped
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def probe_source(probe) -> tuple[str, str]:
    """The self-contained source of a probe function (a top-level function of a check module)."""
    cached = getattr(probe, "__dlcourse_source__", None)
    if cached is None:
        cached = textwrap.dedent(inspect.getsource(probe))
        try:
            probe.__dlcourse_source__ = cached
        except AttributeError:
            pass
    return cached, probe.__name__


def _format_error(err: dict, what: str) -> str:
    tb = err.get("traceback") or ""
    text = f"{err.get('type', 'Error')}: {err.get('message', '')}".rstrip(": ")
    if err.get("type") == "ForbiddenAPIError":
        text = f"forbidden API: {err.get('message', '')}"
    return f"{what} raised {text}" + (f"\n{tb}" if tb else "")


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code > 128 and code - 128 == signal.SIGKILL:
        return "killed: out of memory or a resource limit, or it killed itself"
    if code > 128:
        return f"killed by signal {code - 128}"
    return f"exit code {code}"


def _device_map(device: str):
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return device
    return None


def _worker_env(c: SandboxConfig) -> dict:
    env = {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent", "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": str(c.threads), "MKL_NUM_THREADS": str(c.threads),
        "OPENBLAS_NUM_THREADS": str(c.threads), "TMPDIR": "/tmp", "MPLBACKEND": "Agg",
    }
    if c.device.startswith("cuda"):
        for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "NVIDIA_VISIBLE_DEVICES"):
            if key in os.environ:
                env[key] = os.environ[key]
    else:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _third_party_path() -> list[str]:
    """The grader's sys.path without the project's own folders (where NumPy and torch are found)."""
    from autograder.paths import REPO_ROOT

    root = str(REPO_ROOT.resolve())
    keep = []
    for p in sys.path:
        if not p:
            continue
        rp = os.path.realpath(p)
        if rp == root or rp.startswith(root + os.sep) and "site-packages" not in rp:
            continue
        keep.append(p)
    return keep
