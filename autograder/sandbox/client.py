"""The trusted side of the sandbox: starts the worker, sends it requests, enforces the time limits.

The grader never imports the submission. It talks to a `worker.py` process over two pipes with the frame format
of `codec.py`, decodes only plain data, and kills and restarts the worker when a call runs past its limit or the
worker dies. An import that hangs or kills the worker is remembered, so one bad submission costs one timeout,
not one per check.

Every wait has a deadline. A call's limit counts the CPU time of the whole sandbox (every process and thread
of its cgroup, else of the worker process), so a correct submission on a busy machine is not cut short; a
wall-clock backstop `wall_factor` times larger ends calls that sleep or block. Requests are written without
blocking, under the same deadline, so a worker that stops reading (or fills its own request pipe) cannot stall
the grader. An answer is at most `answer_bytes` of array data and `answer_header_bytes` of structure holding at
most `answer_values` values, decoded from raw bytes into plain types (no object the submission built crosses),
with every string made valid UTF-8. A call that runs out of time or breaks the protocol kills the worker with
everything it started (cgroup kill, its PID namespace, or its launcher's process tree at the process level).

For the student's loop:

- `prestart` starts the worker before the submission is needed: it isolates itself and imports NumPy/torch while
  the grader imports its own (or, in watch mode, while the student edits), and gets the submission's text only
  when the first call needs it. It is the same worker, isolated the same way, before it ever holds the submission.
- On a timeout the worker is asked for its Python stack first (SIGUSR1: faulthandler writes it to a file of the
  grader's), and the message shows the submission's frames, as a traceback would: where the code was stuck.
- `skip` names the functions that already hung: a later call that enters one fails at once (one timeout, not one
  per check).
- `capture_start`/`capture_end` return what the submission printed in between (about 4 KB at most, its beginning
  and its end), across restarts of the worker: the output of one check.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import codec, spawn
from .cgroups import Cgroup
from .gpu_memory import GpuMemoryExceeded, GpuMemoryWatch

WORKER = Path(__file__).with_name("worker.py")
INSIDE_WORKDIR = "/sandbox"  # the submission's working folder inside the namespaces
OUTPUT_LIMIT = 4096  # characters of what the submission printed kept for one check


class StudentError(Exception):
    """The submission failed: it raised, timed out, crashed, or returned something that cannot be judged."""

    def __init__(self, message: str, *, kind: str = "error", stdout: str = "", stack=(), error_type: str = "",
                 frames=()):
        super().__init__(message)
        self.kind = kind
        self.stdout = stdout
        self.error_type = error_type  # the submission's exception class name ("" for timeouts, crashes...)
        self.frames = list(frames)  # [(line, qualified function name)] of the submission's frames, innermost last
        self.stack = list(stack)  # a timeout: [(line, function)] of the submission's frames, most recent call last


class StudentTimeout(StudentError):
    pass


class SandboxUnavailable(RuntimeError):
    """The worker itself could not be started (not the student's fault)."""


@dataclass
class Limits:
    call_timeout: float = 10.0  # seconds of CPU time (the whole sandbox) for one call
    import_timeout: float = 10.0  # the same, for importing the submission
    wall_factor: float = 4.0  # wall-clock backstop: this many times the CPU limit, plus 2 s
    boot_timeout: float = 120.0  # wall clock: starting Python and importing torch on a loaded machine
    memory_bytes: int = 6 * 1024**3
    processes: int = 256
    cpu_seconds: int = 900
    file_bytes: int = 256 * 1024**2  # one file, and the whole working folder inside the namespaces
    tmp_bytes: int = 64 * 1024**2  # /tmp and /dev/shm inside the namespaces
    cpus: float = 1.0  # CPU share of the whole sandbox where a cpu cgroup exists
    answer_bytes: int = 256 * 1024**2  # array data in one answer
    answer_header_bytes: int = 8 * 1024**2  # the structure of one answer (JSON)
    answer_values: int = 200_000  # values (numbers, strings, containers, arrays) in one answer
    gpu_memory_bytes: int = 16 * 1024**3  # device memory of the sandbox's processes (--device cuda; gpu_memory.py)

    def wall(self, cpu_limit: float) -> float:
        return cpu_limit * self.wall_factor + 2.0


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
    user_namespace: bool = False  # build the sandbox in a user namespace even under a root grader (tests)


class Sandbox:
    """One submission's worker. Use as a context manager; `call` and `run` start it on demand."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.isolation = "not started"
        self.isolation_reason = ""
        self.start_error: str | None = None  # the sandbox itself could not start: a grader error, never a zero
        self._base: str | None = None  # the grader's private folder: the output file, the working folders
        self._workdir: str | None = None
        self._output_fd: int | None = None
        self._stack_fd: int | None = None  # where the worker writes its stack when asked (SIGUSR1)
        self._phase = ""  # "spawned" (configuration sent), "booted" (isolated, framework imported), "loaded"
        self._boot_deadline = 0.0
        self._source: bytes | None = None  # the submission as first sent: every restart of one grading sends it
        self._capture: list | None = None  # [offset in the output file, text carried over from earlier workers]
        # Top-level functions that ran out of time earlier: a later call reaching one of them fails at once
        # (TimedOutEarlier) instead of hanging again. The worker could ignore this; it would only wait longer.
        self.skip: set[str] = set()
        # Watch mode: the report is printed while the used worker is ended and its folders removed (a thread);
        # `closer` is that thread, for whoever must wait for it.
        self.close_in_background = False
        self.closer = None
        self._cgroup: Cgroup | None = None
        self._worker_pid: int | None = None
        self._fatal: StudentError | None = None  # the import hung or crashed: every call fails the same way
        self._import_error: dict | None = None
        self._stderr = ""
        self.restarts = 0
        self.time_in_student = 0.0
        self.cpu_in_student = 0.0
        lim = config.limits
        self._decoder = codec.Decoder(device_map=_device_map, max_nodes=lim.answer_values, text_safe=True)
        # On a GPU the grader measures the device memory the sandbox's processes hold (sandbox/gpu_memory.py).
        self.gpu_watch = (GpuMemoryWatch(lim.gpu_memory_bytes, self._pids) if config.device.startswith("cuda")
                          else None)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def prestart(self) -> None:
        """Start the worker before the submission is needed: it builds its sandbox and imports its framework
        (NumPy, torch) while the grader does its own work, then waits for the submission. `start`, or the first
        call, hands it over. A worker that is never used ends with `close`."""
        if self.proc is not None:
            return
        if self.start_error is not None:
            raise SandboxUnavailable(self.start_error)
        with self._remember_start_error():
            self._spawn()

    def wait_booted(self) -> None:
        """Wait until a prestarted worker is isolated and has imported its framework (SandboxUnavailable if it
        cannot start)."""
        if self.proc is not None and self._phase == "spawned":
            with self._remember_start_error():
                self._boot()

    def start(self) -> None:
        if self.proc is not None and self._phase == "loaded":
            return
        if self.start_error is not None:
            raise SandboxUnavailable(self.start_error)
        with self._remember_start_error():
            if self.proc is None:
                self._spawn()
            if self._phase == "spawned":
                self._boot()
        self._load()

    @contextlib.contextmanager
    def _remember_start_error(self):
        """A sandbox that could not start stays unavailable for this grading: later calls say so at once."""
        try:
            yield
        except SandboxUnavailable as exc:
            self.start_error = str(exc)
            raise

    def _spawn(self) -> None:
        """The worker process, its groups and its configuration (no submission yet)."""
        c = self.config
        if self._base is None:
            self._base = tempfile.mkdtemp(prefix="dlcourse-grader-")
        # A fresh working folder for every start (the worker may have filled or changed the last one).
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = tempfile.mkdtemp(prefix="dlcourse-sbx-", dir=self._base)
        os.chmod(self._base, 0o711)
        self._carry_capture()
        for fd in (self._output_fd, self._stack_fd):
            if fd is not None:
                os.close(fd)
        self._output_fd = self._stack_fd = None
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        output, stack = os.path.join(self._base, "output"), os.path.join(self._base, "stack")
        out_fd, stack_w = os.open(output, flags, 0o600), os.open(stack, flags, 0o600)
        self._output_fd = os.open(output, os.O_RDONLY | os.O_NOFOLLOW)
        self._stack_fd = os.open(stack, os.O_RDONLY | os.O_NOFOLLOW)
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        try:
            # Forked from a zygote that has imported the framework already (sandbox/spawn.py), else exec'd.
            self.proc = spawn.fork_launcher(_worker_env(c), _third_party_path(), c.framework, c.threads,
                                            (req_r, resp_w, stack_w, out_fd), self._workdir, c.limits.boot_timeout)
            if self.proc is None:
                self.proc = subprocess.Popen(
                    [sys.executable, "-E", "-s", "-B", str(WORKER), str(req_r), str(resp_w), str(stack_w)],
                    pass_fds=(req_r, resp_w, stack_w), env=_worker_env(c), cwd=self._workdir,
                    start_new_session=True, stdin=subprocess.DEVNULL, stdout=out_fd, stderr=out_fd,
                )
        except OSError as exc:
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            raise SandboxUnavailable(f"could not start the sandbox worker: {exc}") from None
        finally:
            os.close(out_fd)
            os.close(stack_w)
        os.close(req_r)
        os.close(resp_w)
        os.set_blocking(req_w, False)  # every write has a deadline (codec.write_frame)
        self._req, self._resp = req_w, resp_r
        self._phase = "spawned"
        # The worker waits for its configuration, so it is in its groups before it can fork.
        self._cgroup = Cgroup.create({"processes": c.limits.processes, "memory_bytes": c.limits.memory_bytes,
                                      "cpus": c.limits.cpus})
        if self._cgroup is not None and not self._cgroup.add(self.proc.pid):
            self._cgroup.remove()
            self._cgroup = None
        self._boot_deadline = time.monotonic() + c.limits.boot_timeout
        try:
            codec.send(self._req, self._config_message(), self._boot_deadline)
        except (codec.CodecError, OSError) as exc:
            self.kill()
            raise SandboxUnavailable(f"the sandbox worker did not take its configuration: {exc}") from None

    def _boot(self) -> None:
        """Wait until the worker has isolated itself and imported its framework."""
        deadline = self._boot_deadline
        launched = self._read_event(deadline, "starting the sandbox")
        self._worker_pid = launched.get("pid") if isinstance(launched.get("pid"), int) else None
        boot = self._read_event(deadline, "starting the sandbox")
        if boot.get("event") != "booted":
            self.kill()
            raise SandboxUnavailable(str(boot.get("message", "the sandbox worker did not start")))
        self.isolation, self.isolation_reason = str(boot["isolation"]), str(boot.get("reason", ""))
        self._phase = "booted"

    def _load(self) -> None:
        """Hand the booted worker the submission (the same text on every restart of one grading) and wait for
        its import, under the import's CPU-time limit."""
        c = self.config
        if self._source is None:
            self._source = Path(c.module_path).read_bytes()
        t1, cpu1 = time.monotonic(), self._cpu()
        check = self._cpu_check(cpu1, c.limits.import_timeout, "importing your module")
        deadline = t1 + c.limits.wall(c.limits.import_timeout)
        try:
            try:
                codec.send(self._req, {"op": "load", "source": self._source.decode("utf-8", "surrogateescape")},
                           deadline, check)
            except codec.ChannelTimeout:
                stack = self._stack_dump()
                self.kill()
                raise StudentTimeout(self._timeout_text("timed out while importing your module", stack),
                                     kind="timeout", stdout=self.output_tail(), stack=stack) from None
            except (codec.CodecError, OSError):
                pass  # the worker is gone: reading its answer says how
            ready = self._read_event(deadline, "importing your module", check)
        except StudentError as exc:
            self._fatal = exc
            self.kill()
            raise
        finally:
            self.time_in_student += time.monotonic() - t1
        if ready.get("event") == "fatal":
            self.kill()
            raise SandboxUnavailable(str(ready.get("message", "the sandbox worker failed")))
        if ready.get("event") == "import-error":
            self._import_error = ready["error"]
        self._phase = "loaded"

    def _config_message(self) -> dict:
        c = self.config
        return {
            "workdir": self._workdir, "inside": INSIDE_WORKDIR, "module_file": c.module_file,
            "framework": c.framework, "device": c.device, "isolation": c.isolation,
            "binds": allowlist(c.device), "devices": _gpu_devices() if c.device.startswith("cuda") else [],
            "forbidden": [list(r) for r in c.forbidden], "env": _worker_env(c), "sys_path": _third_party_path(),
            "threads": c.threads, "user_namespace": c.user_namespace,
            "limits": {"memory_bytes": None if c.device.startswith("cuda") else c.limits.memory_bytes,
                       # the pids cgroup bounds processes where it exists; RLIMIT_NPROC counts per user otherwise
                       "processes": None if self._cgroup and self._cgroup.bounds_processes else c.limits.processes,
                       "cpu_seconds": c.limits.cpu_seconds, "file_bytes": c.limits.file_bytes,
                       "tmp_bytes": c.limits.tmp_bytes,
                       "gpu_memory_bytes": c.limits.gpu_memory_bytes if c.device.startswith("cuda") else None},
        }

    # -- CPU time --------------------------------------------------------------------------------------------
    def _cpu(self) -> float | None:
        """CPU seconds used so far by the sandbox: its cgroup, else the worker process (and its reaped children)."""
        if self._cgroup is not None:
            used = self._cgroup.cpu_seconds()
            if used is not None:
                return used
        pid = self._worker_pid
        if not pid:
            return None
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def _pids(self) -> list[int]:
        """The host pids of the sandbox's processes: its cgroup's, else the worker's."""
        if self._cgroup is not None:
            pids = self._cgroup.pids()
            if pids:
                return pids
        return [p for p in (self._worker_pid, self.proc.pid if self.proc is not None else None) if p]

    def _cpu_check(self, start: float | None, limit: float, what: str):
        """A `check` for codec, called while the grader waits on the worker: raise ChannelTimeout once the
        sandbox has used `limit` CPU seconds since `start`, and GpuMemoryExceeded once it holds more GPU memory
        than its limit. None when there is nothing to watch (no CPU measure, no GPU)."""
        watch = self.gpu_watch
        if start is None and watch is None:
            return None

        def check():
            if start is not None:
                now = self._cpu()
                if now is not None and now - start > limit:
                    raise codec.ChannelTimeout(f"{what} used more than {limit:g} s of CPU time")
            if watch is not None:
                watch.check()

        return check

    def _read_event(self, deadline: float, doing: str, check=None) -> dict:
        try:
            header, blobs = codec.read_frame(self._resp, deadline, check, max_header=1 << 20, max_blobs=0)
            event = codec.Decoder(max_nodes=10_000, text_safe=True).decode(header, blobs)
            if not isinstance(event, dict):
                raise codec.CodecError("not an event")
            return event
        except codec.ChannelTimeout:
            if doing == "starting the sandbox":
                self.kill()
                raise SandboxUnavailable(f"the sandbox did not start within {self.config.limits.boot_timeout:g} s")
            stack = self._stack_dump()
            self.kill()
            raise StudentTimeout(self._timeout_text(f"timed out while {doing}", stack), kind="timeout",
                                 stdout=self.output_tail(), stack=stack) from None
        except codec.ChannelClosed:
            code = self._reap()
            if doing == "starting the sandbox":
                raise SandboxUnavailable(f"the sandbox worker exited with code {code} while starting: "
                                         f"{self.output_tail()}")
            raise StudentError(f"the submission's process died while {doing} ({_describe_exit(code)})",
                               kind="crash", stdout=self.output_tail()) from None
        except GpuMemoryExceeded as exc:
            self.kill()
            raise StudentError(f"while {doing}, the sandbox {exc}", kind="gpu-memory",
                               stdout=self.output_tail()) from None
        except codec.CodecError as exc:
            self.kill()
            if doing == "starting the sandbox":
                raise SandboxUnavailable(f"the sandbox worker sent garbage while starting: {exc}")
            raise StudentError(f"the submission's process sent garbage while {doing}: {exc}", kind="protocol") from None

    def kill(self) -> None:
        """End the worker and everything it started: its cgroup, its PID namespace (PID 1 dies with its
        launcher), and at the process level the launcher's process tree (it is their subreaper)."""
        if self.proc is None:
            return
        pid = self.proc.pid
        try:
            os.kill(pid, signal.SIGTERM)  # the launcher kills its tree, then exits
            self.proc.wait(timeout=2)
        except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
            pass
        if self._cgroup is not None:
            self._cgroup.kill()
        try:
            os.killpg(pid, signal.SIGKILL)
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
        self.proc = None
        self._worker_pid = None
        self._phase = ""
        if self._cgroup is not None:
            self._cgroup.kill()
            self._cgroup.remove()
        self._cgroup = None
        return code

    def close(self) -> None:
        if self.close_in_background:
            import threading

            self.close_in_background = False
            self.closer = threading.Thread(target=self.close, name="dlcourse-sandbox-close", daemon=True)
            self.closer.start()
            return
        self.kill()
        if self._capture is not None:
            self._carry_capture()
        for fd in (self._output_fd, self._stack_fd):
            if fd is not None:
                os.close(fd)
        self._output_fd = self._stack_fd = None
        if self._base:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = self._workdir = None

    def import_error_text(self) -> str | None:
        """Why the submission did not import (its exception and its own lines), or None when it did."""
        if self._import_error is None:
            return None
        return _format_error(self._import_error, "importing your module")

    def _stderr_tail(self) -> str:
        return self.output_tail()

    def output_tail(self, limit: int = 2000) -> str:
        """What the submission printed (stdout and stderr), last `limit` characters, as valid UTF-8.

        The worker writes to a file the grader created in its own private folder and handed over as an open
        descriptor; the grader reads it through its own descriptor, so no path the submission can change is
        ever followed.
        """
        fd = self._output_fd
        if fd is None:
            return ""
        try:
            st = os.fstat(fd)
            data = os.pread(fd, limit * 4, max(0, st.st_size - limit * 4))
        except OSError:
            return ""
        return data.decode("utf-8", "replace")[-limit:]

    # -- what the submission printed, check by check ------------------------------------------------------------
    def capture_start(self) -> None:
        """Begin collecting what the submission prints from now on (`capture_end` returns it)."""
        self._capture = [self._output_size(), ""]

    def capture_end(self, limit: int = OUTPUT_LIMIT) -> str:
        """What the submission printed since `capture_start`, at most `limit` characters (its beginning and its
        end), across restarts of the worker; "" when nothing was collected."""
        if self._capture is None:
            return ""
        offset, carried = self._capture
        self._capture = None
        text = carried + (_read_bounded(self._output_fd, offset, limit) if self._output_fd is not None else "")
        return bound_text(text, limit)

    def _output_size(self) -> int:
        try:
            return os.fstat(self._output_fd).st_size if self._output_fd is not None else 0
        except OSError:
            return 0

    def _carry_capture(self) -> None:
        """Before the output file of a worker is replaced (a restart), keep what the check collected from it."""
        if self._capture is None or self._output_fd is None:
            return
        offset, carried = self._capture
        self._capture = [0, bound_text(carried + _read_bounded(self._output_fd, offset, OUTPUT_LIMIT), OUTPUT_LIMIT)]

    # -- where a call was stuck --------------------------------------------------------------------------------
    def _stack_dump(self, wait: float = 0.5) -> list[tuple[int, str]]:
        """Ask the worker for its Python stack (SIGUSR1: faulthandler writes it to the stack file) and keep the
        submission's frames: [(line, function)], most recent call last. Empty when it does not answer in time."""
        pid, fd = self._worker_pid, self._stack_fd
        if not pid or fd is None or self.proc is None:
            return []
        try:
            before = os.fstat(fd).st_size
        except OSError:
            return []
        if not self._signal_worker(signal.SIGUSR1):
            return []
        end, last = time.monotonic() + wait, -1
        size = before
        while time.monotonic() < end:
            time.sleep(0.02)
            try:
                size = os.fstat(fd).st_size
            except OSError:
                return []
            if size > before and size == last:
                break
            last = size
        try:
            data = os.pread(fd, min(size - before, 1 << 16), before)
        except OSError:
            return []
        return parse_stack(data.decode("utf-8", "replace"), self.config.module_file)

    def _signal_worker(self, sig: int) -> bool:
        """Send `sig` to the worker, and to no other process: through a pidfd taken while the worker is known to be
        the launcher's child (a pid freed by a worker that died could be reused by another process)."""
        pid, launcher = self._worker_pid, self.proc.pid if self.proc is not None else None
        if not pid or not launcher:
            return False
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) != launcher:
                    return False  # no longer the worker
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, sig)
            else:
                os.kill(pid, sig)
            return True
        except (OSError, ValueError, IndexError):
            return False
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _timeout_text(self, head: str, stack: list[tuple[int, str]]) -> str:
        if not stack:
            return head
        lines = (self._source or b"").decode("utf-8", "replace").splitlines()
        out = [head, "It was stopped here (most recent call last):"]
        for lineno, function in stack[-8:]:
            out.append(f'  File "{self.config.module_file}", line {lineno}, in {function}')
            if 0 < lineno <= len(lines) and lines[lineno - 1].strip():
                out.append(f"    {lines[lineno - 1].strip()[:200]}")
        return "\n".join(out)

    # -- requests ----------------------------------------------------------------------------------------------
    def request(self, message: dict, timeout: float | None = None, what: str = "the call"):
        if self._fatal is not None:
            raise type(self._fatal)(str(self._fatal), kind=self._fatal.kind, stack=self._fatal.stack)
        if self.proc is None or self._phase != "loaded":
            self.start()
        if self._import_error is not None:
            raise StudentError(self.import_error_text(), kind="import",
                               error_type=str(self._import_error.get("type", ""))[:200])
        lim = self.config.limits
        timeout = timeout or lim.call_timeout
        t0, cpu0 = time.monotonic(), self._cpu()
        check = self._cpu_check(cpu0, timeout, what)
        deadline = t0 + (lim.wall(timeout) if cpu0 is not None else timeout)
        try:
            codec.send(self._req, message, deadline, check)
            header, blobs = codec.read_frame(self._resp, deadline, check, max_header=lim.answer_header_bytes,
                                             max_blobs=lim.answer_bytes)
            reply = self._decoder.decode(header, blobs)
        except codec.ChannelTimeout:
            stack = self._stack_dump()
            self.kill()
            self.restarts += 1
            limit = (f"{timeout:g} s of CPU time (or {lim.wall(timeout):g} s in all)" if cpu0 is not None
                     else f"{timeout:g} s")
            raise StudentTimeout(self._timeout_text(f"{what} timed out after {limit}", stack), kind="timeout",
                                 stdout=self.output_tail(), stack=stack) from None
        except (codec.ChannelClosed, BrokenPipeError):
            code = self._reap()
            self.restarts += 1
            raise StudentError(f"the submission's process died during {what} ({_describe_exit(code)})",
                               kind="crash", stdout=self.output_tail()) from None
        except codec.CodecError as exc:
            self.kill()
            self.restarts += 1
            raise StudentError(f"{what} sent back something unreadable: {exc}", kind="protocol") from None
        except GpuMemoryExceeded as exc:
            self.kill()
            self.restarts += 1
            raise StudentError(f"{what} {exc}: the sandbox was stopped", kind="gpu-memory",
                               stdout=self.output_tail()) from None
        except BaseException:
            # Interrupted mid-call (the check's pytest-timeout backstop, Ctrl-C): the worker may still answer
            # later, so it can no longer be trusted to stay in step. Start afresh on the next call.
            self.kill()
            raise
        finally:
            self.time_in_student += time.monotonic() - t0
            cpu1 = self._cpu() if self.proc is not None else None
            if cpu0 is not None and cpu1 is not None:
                self.cpu_in_student += max(0.0, cpu1 - cpu0)
        if not isinstance(reply, dict) or "ok" not in reply:
            raise StudentError(f"{what} sent back a malformed answer", kind="protocol")
        if not reply["ok"]:
            err = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise StudentError(_format_error(err, what), kind="exception", stdout=self.output_tail(),
                               error_type=str(err.get("type", ""))[:200], frames=_frames(err))
        return reply.get("value")

    def call(self, name: str, *args, _timeout: float | None = None, **kwargs):
        return self.request({"op": "call", "name": name, "args": list(args), "kwargs": kwargs,
                             "skip": sorted(self.skip)}, _timeout, what=f"{name}()")

    def run(self, probe, *args, _timeout: float | None = None, **kwargs):
        source, name = probe_source(probe)
        return self.request({"op": "run", "func": name, "source": source, "args": list(args), "kwargs": kwargs,
                             "skip": sorted(self.skip)}, _timeout, what="your code")

    def echo(self, *args):
        return self.request({"op": "echo", "args": list(args)}, what="echo")


def bound_text(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """`text` cut to about `limit` characters: its first quarter and its end, with what was left out counted."""
    if len(text) <= limit:
        return text
    head, tail = limit // 4, limit - limit // 4
    return f"{text[:head]}\n[... {len(text) - head - tail} characters not shown ...]\n{text[-tail:]}"


def _read_bounded(fd: int, start: int, limit: int) -> str:
    """The output file from byte `start` to its end, reading at most about `limit` bytes of it (the beginning
    and the end) however much was written."""
    try:
        end = os.fstat(fd).st_size
        n = end - start
        if n <= 0:
            return ""
        if n <= limit:
            return os.pread(fd, n, start).decode("utf-8", "replace")
        head, tail = limit // 4, limit - limit // 4
        first = os.pread(fd, head, start).decode("utf-8", "replace")
        last = os.pread(fd, tail, end - tail).decode("utf-8", "replace")
    except OSError:
        return ""
    return f"{first}\n[... {n - head - tail} bytes not shown ...]\n{last}"


def parse_stack(text: str, module_file: str) -> list[tuple[int, str]]:
    """The submission's frames in a faulthandler dump: [(line, function)], most recent call last.

    The dump lists each thread ("Current thread 0x... (most recent call first):", then '  File "path", line N in
    function' lines); the thread that was answering the grader (it runs the worker's `_handle` or imports the
    module) is preferred, else the first thread with frames of the submission."""
    threads: list[list[tuple[str, int, str]]] = []
    for line in text.splitlines():
        if line.startswith(("Thread ", "Current thread ")):
            threads.append([])
            continue
        m = _FRAME.match(line)
        if m and threads:
            threads[-1].append((m.group(1), int(m.group(2)), m.group(3)))
    mine = [[(n, f) for path, n, f in frames if os.path.basename(path) == module_file] for frames in threads]
    serving = [i for i, frames in enumerate(threads)
               if any(f in ("_handle", "_import_submission") for _, _, f in frames)]
    for i in serving + list(range(len(threads))):
        if mine[i]:
            return list(reversed(mine[i]))
    return []


_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (\S+)')


def allowlist(device: str = "cpu") -> list[str]:
    """What of the host exists inside the sandbox, read-only: the system's programs and libraries, the
    interpreter with its standard library, and the folders NumPy and torch are imported from."""
    paths = ["/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"]
    candidates = [sys.base_prefix, sys.prefix, *_third_party_path()]
    if device.startswith("cuda"):
        candidates += [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
        paths.append("/sys")  # the driver reads the GPU's topology there (read-only)
    for p in candidates:
        for q in {os.path.abspath(p), os.path.realpath(p)}:
            if os.path.isdir(q) and not (_is_prefix(q) and q != os.path.abspath(sys.base_prefix)):
                paths.append(q)
    kept: list[str] = []
    for q in sorted(set(paths), key=len):  # a folder already bound holds its subfolders
        if not any(q.startswith(b.rstrip("/") + "/") for b in kept):
            kept.append(q)
    return kept


def _is_prefix(path: str) -> bool:
    """A virtual environment's own folder (bin/, pyvenv.cfg...): only its site-packages is needed."""
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def _gpu_devices() -> list[str]:
    try:
        names = os.listdir("/dev")
    except OSError:
        return []
    return sorted(f"/dev/{n}" for n in names if n.startswith("nvidia"))


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
    tb = str(err.get("traceback") or "")[:8000]
    text = f"{str(err.get('type', 'Error'))[:200]}: {str(err.get('message', ''))[:4000]}".rstrip(": ")
    if err.get("type") == "ForbiddenAPIError":
        text = f"forbidden API: {err.get('message', '')}"
    return f"{what} raised {text}" + (f"\n{tb}" if tb else "")


def _frames(err: dict) -> list[tuple[int, str]]:
    out = []
    for item in err.get("frames") or []:
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], int) and isinstance(item[1], str):
            out.append((item[0], item[1][:100]))
    return out[-12:]


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
