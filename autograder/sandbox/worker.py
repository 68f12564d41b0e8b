"""The sandbox worker: the only process that imports and runs a student's code.

Started by `autograder.sandbox.client.Sandbox` as ``python -E -s worker.py REQ_FD RESP_FD STACK_FD``. It reads
its configuration from the first frame, isolates itself (see isolation.py), imports NumPy (and torch for torch
assignments), replaces the assignment's forbidden APIs by tripwires and reports "booted". Only then does it wait for
the submission (``{"op": "load", "source": text}``), which it writes into its working folder and imports: the
worker can be started before the submission exists (its imports overlap the grader's own, or it waits, ready, for
the next save in watch mode), and it is isolated before it ever holds the submission. It then answers requests one
at a time until the grader closes the channel or kills it:

- ``{"op": "call", "name": f, "args": [...], "kwargs": {...}}``: ``module.f(*args, **kwargs)``
- ``{"op": "run", "source": src, "func": name, "args": ..., "kwargs": ...}``: a probe written in a check file, run
  as ``probe(module, *args, **kwargs)``
- ``{"op": "echo", "args": [...]}``: the arguments back (round-trip measurements)

Every answer is ``{"ok": True, "value": v}`` or ``{"ok": False, "error": {"type", "message", "traceback"}}``.
SIGUSR1 makes the worker write the Python stack of its threads to STACK_FD (faulthandler, from the signal handler
itself, so it works while the submission spins in Python or blocks in C): the grader asks for it when a call runs
out of time, to show where the code was stuck.
This file and its two siblings use the standard library only: they are loaded before the grader's folders are
hidden, and they never import the engine.
"""

from __future__ import annotations

import faulthandler
import fnmatch
import importlib.abc
import importlib.util
import os
import re
import resource
import select
import signal
import sys
import time
import traceback
from types import ModuleType

sys.dont_write_bytecode = True
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import codec  # noqa: E402
import isolation  # noqa: E402


class ForbiddenAPIError(RuntimeError):
    """Raised when a submission touches an API its assignment forbids."""


# ----------------------------------------------------------------------------------------------- start-up

def main(req_fd: int, resp_fd: int, stack_fd: int | None, grader: int, parent: int | None = None) -> None:
    """The launcher's start-up (then the worker's, after its fork). `grader` is the grading process; `parent`
    the launcher's parent (the grader itself, or the zygote that forked it): either one's end ends the sandbox."""
    header, blobs = codec.read_frame(req_fd)
    cfg = codec.Decoder().decode(header, blobs)

    level, reason, mode = "process", "", ""
    if cfg["isolation"] != "process":
        try:
            mode = isolation.enter_namespaces(bool(cfg.get("user_namespace")))
            level = "namespaces"
        except OSError as exc:
            reason = f"namespaces unavailable ({exc.strerror or exc})"
            if cfg["isolation"] == "namespaces":
                _fatal(resp_fd, f"isolation failed: {reason}")
    if level == "process":
        isolation.set_child_subreaper()  # daemons the submission leaves behind become the launcher's children
    sync_r, sync_w = os.pipe()
    cfg["launcher"] = os.getpid()
    pid = os.fork()
    if pid:  # the launcher: reports the worker's pid, then watches the worker and the grader
        os.close(sync_r)
        os.close(req_fd)
        if stack_fd is not None:
            os.close(stack_fd)
        codec.send(resp_fd, {"event": "launched", "pid": pid})
        os.close(resp_fd)
        os.write(sync_w, b"x")
        _supervise(pid, grader, sync_w, grader if parent is None else parent)

    os.close(sync_w)
    isolation.set_parent_death_signal(signal.SIGKILL)
    os.read(sync_r, 1)  # the launcher has written its one frame: the channel is the worker's from now on
    if level == "namespaces":
        os.setsid()
        try:
            _build_sandbox(cfg, mode, sync_r)
        except OSError as exc:
            _fatal(resp_fd, f"could not build the sandbox: {exc}")
    os.close(sync_r)
    _limit_resources(cfg["limits"], cfg.get("device", "cpu"))
    _scrub(cfg)
    framework = _load_framework(cfg)
    if level == "process":
        _disable_network()
    _install_tripwires(cfg["forbidden"])
    _install_dispatch_tripwires(cfg["forbidden"])
    codec.send(resp_fd, {"event": "booted", "isolation": level, "reason": reason})

    _receive_submission(req_fd, resp_fd, cfg)
    if stack_fd is not None:
        os.set_inheritable(stack_fd, False)
        faulthandler.register(signal.SIGUSR1, file=stack_fd, all_threads=True, chain=False)
    module, import_error = _import_submission(cfg)
    _flush()
    if import_error:
        codec.send(resp_fd, {"event": "import-error", "error": import_error})
    else:
        codec.send(resp_fd, {"event": "imported"})
    _serve(req_fd, resp_fd, module, import_error, framework, cfg)


def _fatal(resp_fd: int, message: str) -> None:
    try:
        codec.send(resp_fd, {"event": "fatal", "message": message})
    finally:
        os._exit(70)


def _receive_submission(req_fd: int, resp_fd: int, cfg: dict) -> None:
    """Wait for the submission's text and write it into the working folder (already the sandbox's own)."""
    try:
        header, blobs = codec.read_frame(req_fd)
        message = codec.Decoder().decode(header, blobs)
        source = message["source"].encode("utf-8", "surrogateescape")
    except codec.ChannelClosed:
        os._exit(0)  # the grader no longer needs this worker (a spare it did not use)
    except (codec.CodecError, KeyError, TypeError, AttributeError) as exc:
        _fatal(resp_fd, f"the sandbox worker expected the submission, got something else: {exc}")
    with open(os.path.join(cfg["workdir"], cfg["module_file"]), "wb") as f:
        f.write(source)


def _build_sandbox(cfg: dict, mode: str, lifeline: int) -> None:
    """In PID 1 of the new namespaces: the allowlist root, then an unprivileged user for good. The submission's
    file is created empty (owned by that user); the worker writes the submission into it once it is sent."""
    source = b""
    uid = 100000 + cfg["launcher"] % 1000000  # one host uid per sandbox (only used under a root grader)
    owner = (uid, uid) if mode == "root" else (0, 0)
    isolation.build_root(cfg["workdir"], cfg["binds"], cfg.get("devices", []), cfg["inside"], cfg["module_file"],
                         source, owner, cfg["limits"]["file_bytes"], cfg["limits"].get("tmp_bytes", 64 << 20), mode)
    isolation.drop_privileges(mode, uid, uid)
    # Changing credentials cleared the parent-death signal: set it again, then make sure the launcher still lives.
    isolation.set_parent_death_signal(signal.SIGKILL)
    ready, _, _ = select.select([lifeline], [], [], 0)
    if ready and os.read(lifeline, 1) == b"":
        os._exit(0)
    cfg["workdir"] = cfg["inside"]


def _supervise(child: int, grader: int, lifeline: int, parent: int) -> None:
    """The launcher's loop: exit with the worker's status; if the grader dies or asks (SIGTERM), kill the worker
    with everything it started first. It never runs submitted code."""
    def end(*_):
        _kill_tree(child)
        os._exit(137)

    signal.signal(signal.SIGTERM, end)
    fds = []
    for pid in {grader, child, parent}:
        try:
            fds.append(os.pidfd_open(pid))
        except (AttributeError, OSError):
            pass
    while True:
        if fds:
            select.select(fds, [], [], 1.0)
        else:
            time.sleep(0.2)
        if os.getppid() != parent or not _alive(grader):
            end()
        try:
            done, status = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            done, status = child, 0
        _reap_orphans()
        if done == child:
            _kill_tree(child)
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _reap_orphans(statuses: dict | None = None) -> None:
    """Reap every child that has ended, without waiting; keep their exit codes in `statuses` when given (the
    zygote answers the grader from it; at most 10,000 kept)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if statuses is not None:
            statuses[pid] = os.waitstatus_to_exitcode(status)
            if len(statuses) > 10000:  # statuses nobody asked for
                statuses.pop(next(iter(statuses)))


def _kill_tree(child: int) -> None:
    """SIGKILL the worker (PID 1 of its namespace: the kernel then ends every process in it) and, at the process
    level, its process group and whatever the launcher, their subreaper, inherited from it."""
    for target in (lambda: os.kill(child, signal.SIGKILL), lambda: os.killpg(child, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass
    quiet = 0
    for _ in range(500):
        kids = _children()
        if not kids:
            quiet += 1
            if quiet > 3:
                return
        for pid in kids:
            for kill in (os.kill, os.killpg):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        _reap_orphans()
        time.sleep(0.002)


def _children() -> list[int]:
    me = os.getpid()
    out = []
    try:
        for tid in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
        return out
    except OSError:
        pass
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        out.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _limit_resources(limits: dict, device: str = "cpu") -> None:
    def cap(which, value):
        if value is None:
            return
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

    if not device.startswith("cuda"):  # CUDA reserves far more address space than it uses
        cap(resource.RLIMIT_AS, limits.get("memory_bytes"))
    cap(resource.RLIMIT_NPROC, limits.get("processes"))
    cap(resource.RLIMIT_CPU, limits.get("cpu_seconds"))
    cap(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
    cap(resource.RLIMIT_CORE, 0)


def _scrub(cfg: dict) -> None:
    os.chdir(cfg["workdir"])
    os.environ.clear()
    os.environ.update(cfg["env"])
    sys.path[:] = [cfg["workdir"], *cfg["sys_path"]]
    # The submission's prints go to the file the grader gave as stdout/stderr, never to the protocol channel.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # Line by line, so that what a check's call printed is in the file when its answer arrives (and what a call
    # printed before it hung is there when it is stopped).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass


def _disable_network() -> None:
    """Process level only (the namespaces have no network): sockets refuse to be created. `socket.socket`
    stays a class, so that modules which subclass it (torch among them) still import."""
    import socket

    def refuse(*_a, **_k):
        raise PermissionError("network access is disabled while grading")

    class NoSocket(socket.socket):
        def __init__(self, *a, **k):
            refuse()

    socket.socket = socket.SocketType = NoSocket
    for name in ("create_connection", "socketpair", "fromfd", "create_server"):
        setattr(socket, name, refuse)


def _load_framework(cfg: dict):
    import numpy  # noqa: F401  (the worker sends arrays back)

    if cfg["framework"] != "torch":
        return None
    import torch

    torch.set_num_threads(int(cfg.get("threads", 1)))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    _cap_gpu_memory(torch, cfg)
    _warm_autograd(torch, cfg.get("forbidden", []))
    return torch


def _cap_gpu_memory(torch, cfg: dict) -> None:
    """On a GPU, cap torch's caching allocator at the sandbox's limit before the submission is imported: past it,
    the student's own allocation raises OutOfMemoryError in the student's own code. A courtesy only: the grader
    measures the sandbox's device memory itself and stops it over the limit (sandbox/gpu_memory.py)."""
    limit = (cfg.get("limits") or {}).get("gpu_memory_bytes")
    if not limit or not str(cfg.get("device", "")).startswith("cuda"):
        return
    try:
        if torch.cuda.is_available():
            total = torch.cuda.get_device_properties(0).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, limit / total), 0)
    except Exception:  # noqa: BLE001  the grader's measurement still holds
        pass


_BEFORE_WARM: set | None = None  # sys.modules before the first warm-up of this process (or of its zygote)


def _warm_autograd(torch, rules: list) -> None:
    """The first `backward(gradient)` of a process imports sympy and torch.fx (about a second): done here, while
    the grader imports its own modules (or, in watch mode, while the student edits), not in the first check that
    calls backward. A forbidden top-level module this happens to import is taken out of sys.modules again, so that
    importing it still trips the import blocker exactly as before. In a launcher forked from the zygote the
    warm-up already happened there: what it imported is compared with the zygote's modules before it."""
    global _BEFORE_WARM
    if _BEFORE_WARM is None:
        _BEFORE_WARM = set(sys.modules)
    before = _BEFORE_WARM
    try:
        x = torch.ones(2, requires_grad=True)
        (x * 2).backward(torch.ones(2))
    except Exception:  # noqa: BLE001  only a head start: the checks do the same later if this fails
        pass
    roots = {str(pattern).split(".")[0] for pattern, _ in rules} - {"torch", "numpy"}
    for name in set(sys.modules) - before:
        if name.split(".")[0] in roots:
            del sys.modules[name]


# ----------------------------------------------------------------------------------------------- forbidden APIs

class _ImportBlocker(importlib.abc.MetaPathFinder):
    def __init__(self, rules):
        self.rules = rules

    def find_spec(self, fullname, path=None, target=None):
        for pattern, why in self.rules:
            if fullname == pattern or fullname.startswith(pattern + ".") or fnmatch.fnmatch(fullname, pattern):
                raise ForbiddenAPIError(f"importing {fullname} is forbidden in this assignment: {why}")
        return None


def _install_tripwires(rules: list) -> None:
    blocked_modules = []
    for pattern, why in rules:
        head, _, tail = pattern.rpartition(".")
        owner = sys.modules.get(head) if head else None
        if owner is None:
            if pattern.split(".")[0] not in sys.modules:
                blocked_modules.append((pattern, why))
            continue
        for name in list(vars(owner)):
            value = getattr(owner, name)
            # Submodules stay: the framework's own code uses them (the static scan still reports their use).
            if fnmatch.fnmatchcase(name, tail) and not name.startswith("__") and not isinstance(value, ModuleType):
                setattr(owner, name, _tripwire(value, f"{head}.{name}", why))
    if blocked_modules:
        sys.meta_path.insert(0, _ImportBlocker(blocked_modules))


_DISPATCH_LIBS: list = []  # the torch.library registrations must stay alive as long as the worker
# aten operators behind forbidden Python APIs whose names do not say so (a rule's last part -> operator globs)
_DISPATCH_EXTRA = {
    "multi_head_attention_forward": ("_native_multi_head_attention", "_triton_multi_head_attention"),
    "multiheadattention": ("_native_multi_head_attention", "_triton_multi_head_attention"),
    "transformer*": ("_transformer_encoder_layer_fwd", "_native_multi_head_attention"),
    "scaled_dot_product_attention": ("_flash_attention_*", "_efficient_attention_*", "_triton_scaled_dot_attention"),
    "batchnorm*": ("batch_norm", "native_batch_norm*", "_native_batch_norm_legit*", "_batch_norm_*"),
    "layernorm": ("layer_norm", "native_layer_norm*"),
}


def _install_dispatch_tripwires(rules: list) -> None:
    """Tripwires at PyTorch's dispatcher: the aten operators behind each forbidden API (native_dropout,
    native_layer_norm, the fused attention kernels...) raise, however they are reached (torch.ops.aten, torch._VF,
    a rebuilt copy of torch's own Python code). Kernels are replaced only for these operators, so nothing else is
    slowed down; honest solutions never call them."""
    torch = sys.modules.get("torch")
    if torch is None or not rules:
        return
    import warnings

    names = [n for n in torch._C._dispatch_get_all_op_names() if n.startswith("aten::")]
    blocked: dict = {}
    for pattern, why in rules:
        tail = pattern.rpartition(".")[2].lower()
        if not tail or tail == "*":
            continue
        globs = {tail, f"native_{tail}", f"_{tail}*", f"native_{tail}_*", f"{tail}_"}
        globs.update(_DISPATCH_EXTRA.get(tail, ()))
        matcher = re.compile("|".join(fnmatch.translate(g) for g in sorted(globs)))  # = fnmatchcase on any glob
        for qualified in names:
            base = qualified[len("aten::"):].split(".")[0]
            if matcher.match(base):
                blocked.setdefault(qualified[len("aten::"):], (pattern, why))
    if not blocked:
        return
    lib = torch.library.Library("aten", "IMPL")
    keys = ("CompositeImplicitAutograd", "CompositeExplicitAutograd", "CPU", "CUDA", "Meta")

    def raiser(op, pattern, why):
        def forbidden(*args, **kwargs):
            raise ForbiddenAPIError(f"{pattern} (the operator aten::{op}) is forbidden in this assignment: {why}")
        return forbidden

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op, (pattern, why) in blocked.items():
            for key in keys:
                try:
                    if torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{op}", key):
                        lib.impl(op, raiser(op, pattern, why), key)
                except Exception:  # noqa: BLE001  an operator this build cannot override stays as it is
                    continue
    _DISPATCH_LIBS.append(lib)


def _tripwire(original, dotted: str, why: str):
    message = f"{dotted} is forbidden in this assignment: {why}"
    if isinstance(original, type):
        def __init__(self, *args, **kwargs):
            raise ForbiddenAPIError(message)

        return type(original.__name__, (original,), {"__init__": __init__, "__module__": original.__module__})

    def forbidden(*args, **kwargs):
        raise ForbiddenAPIError(message)

    forbidden.__name__ = getattr(original, "__name__", dotted)
    return forbidden


# ----------------------------------------------------------------------------------------------- the submission

def _import_submission(cfg: dict):
    path = os.path.join(cfg["workdir"], cfg["module_file"])
    name = cfg["module_file"][:-3]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module, None
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the import failed
        return None, _describe(exc, cfg)


def _describe(exc: BaseException, cfg: dict) -> dict:
    """The exception as text, keeping only the frames of the student's file and of the check's probe."""
    keep = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.basename(frame.filename) == cfg["module_file"] or frame.filename.startswith("<probe"):
            name = cfg["module_file"] if not frame.filename.startswith("<probe") else frame.filename
            line = frame.line or ""
            keep.append(f'  File "{name}", line {frame.lineno}, in {frame.name}' + (f"\n    {line}" if line else ""))
    if isinstance(exc, SyntaxError):
        keep.append(f'  File "{cfg["module_file"]}", line {exc.lineno}\n    {(exc.text or "").strip()}')
    message = str(exc) if not isinstance(exc, SystemExit) else f"SystemExit({exc.code!r}) was raised"
    # The submission's frames as data, with qualified names (MLP.forward): the grader names the function that
    # raised (a NotImplementedError left in the skeleton is one line of feedback, not a panel).
    frames = [[lineno, getattr(frame.f_code, "co_qualname", frame.f_code.co_name)]
              for frame, lineno in traceback.walk_tb(exc.__traceback__)
              if os.path.basename(frame.f_code.co_filename) == cfg["module_file"]]
    return {"type": type(exc).__name__, "message": message[:4000], "traceback": "\n".join(keep[-12:]),
            "frames": frames[-12:]}


def _flush() -> None:
    """What the submission printed without a newline reaches the output file before the grader reads it."""
    for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001  a stream the submission replaced or closed
            pass


def _serve(req_fd, resp_fd, module, import_error, framework, cfg) -> None:
    device_map = (lambda d: d if framework is not None and d.startswith("cuda") else None)
    decoder = codec.Decoder(device_map=device_map if framework is not None else None, requires_grad=True)
    probes: dict = {}
    while True:
        try:
            header, blobs = codec.read_frame(req_fd)
        except codec.ChannelClosed:
            os._exit(0)
        try:
            req = decoder.decode(header, blobs)
            if import_error:
                reply = {"ok": False, "error": import_error}
            else:
                reply = {"ok": True, "value": _handle(req, module, probes)}
        except BaseException as exc:  # the student's exception, whatever it is, becomes a message
            reply = {"ok": False, "error": _describe(exc, cfg)}
        _flush()
        try:
            codec.send(resp_fd, reply)
        except codec.CodecError as exc:
            codec.send(resp_fd, {"ok": False, "error": {"type": "ReturnValueError", "message": str(exc),
                                                          "traceback": ""}})


class TimedOutEarlier(RuntimeError):
    """A function that ran out of time in an earlier check is not run again (one timeout, not one per check)."""


def _handle(req: dict, module, probes: dict):
    op = req["op"]
    if op == "echo":
        return req.get("args", [])
    # The grader names the functions that already hung: during this call, entering one raises at once instead of
    # hanging again, however it is reached (a reference kept in a dict, a method of a class).
    codes = _codes_of(module, req.get("skip") or [])
    if not codes:
        return _dispatch(op, req, module, probes)

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            raise TimedOutEarlier(f"{codes[frame.f_code]} timed out in an earlier check: not run again")
        return None

    sys.settrace(tracer)
    try:
        return _dispatch(op, req, module, probes)
    finally:
        sys.settrace(None)


def _codes_of(module, names) -> dict:
    """{code object: name} of the module's top-level functions `names` (a class: each of its methods)."""
    out: dict = {}
    if module is None:
        return out
    for name in names:
        obj = getattr(module, name, None) if isinstance(name, str) else None
        members = vars(obj).values() if isinstance(obj, type) else [obj]
        for member in members:
            for fn in (member, getattr(member, "__func__", None), getattr(member, "fget", None)):
                code = getattr(fn, "__code__", None)
                if code is not None and type(code).__name__ == "code":
                    out[code] = name
    return out


def _dispatch(op: str, req: dict, module, probes: dict):
    args, kwargs = req.get("args", []), req.get("kwargs", {})
    if op == "call":
        name = req["name"]
        fn = getattr(module, name, None)
        if fn is None:
            raise AttributeError(f"your module has no attribute {name!r}: define {name} as the assignment asks")
        return fn(*args, **kwargs)
    if op == "run":
        key = (req["func"], req["source"])
        if key not in probes:
            namespace = {"__name__": "dlcourse_probe"}
            exec(compile(req["source"], f"<probe {req['func']}>", "exec"), namespace)
            probes[key] = namespace[req["func"]]
        return probes[key](module, *args, **kwargs)
    raise ValueError(f"unknown request {op!r}")


# ----------------------------------------------------------------------------------------------- the zygote

def zygote(ctrl_fd: int) -> None:
    """A process that has imported the framework once and forks a launcher per sandbox (see
    autograder/sandbox/spawn.py). Importing torch costs seconds of CPU; a fork costs milliseconds.

    It runs only the engine's code: NumPy and torch are imported (and autograd warmed) before any submission
    exists, in the worker's scrubbed environment, and it never isolates itself, loads a submission or keeps
    anything of one. Each launcher it forks then goes through `main` exactly as an exec'd one does: the new
    namespaces, the allowlist root and the unprivileged user are built after the fork, before the submission
    arrives. It reaps its launchers and tells the grader their exit status when asked. It ends when the grader
    closes the control socket or dies; its launchers, watching their parent, end with it.
    """
    import socket

    isolation.set_parent_death_signal(signal.SIGKILL)
    ctrl = socket.socket(fileno=ctrl_fd)
    first = _receive(ctrl_fd)
    sys.path[:] = [_HERE, *first["sys_path"]]
    _load_framework({"framework": first["framework"], "threads": first.get("threads", 1), "forbidden": []})
    codec.send(ctrl_fd, {"ready": True})
    statuses: dict[int, int] = {}
    while True:
        # Each request: one byte carrying the sandbox's descriptors (none for "status"), then a codec frame.
        marker, fds, _flags, _addr = socket.recv_fds(ctrl, 1, 4)
        if not marker:
            os._exit(0)
        message = _receive(ctrl_fd)
        if message.get("op") == "fork" and len(fds) == 4:
            launcher = os.fork()
            if launcher == 0:
                _become_launcher(ctrl, fds, message)
            answer = {"pid": launcher}
        elif message.get("op") == "status":
            _reap_orphans(statuses)
            answer = {"code": statuses.pop(int(message.get("pid", 0)), None)}
        else:
            answer = {"error": "unknown request"}
        for fd in fds:
            os.close(fd)  # never hand one sandbox's channels to the next
        _reap_orphans(statuses)
        codec.send(ctrl_fd, answer)


def _receive(fd: int) -> dict:
    """One codec frame from the grader, decoded; the end of the channel ends this process."""
    try:
        header, blobs = codec.read_frame(fd)
    except codec.ChannelClosed:
        os._exit(0)
    return codec.Decoder().decode(header, blobs)


def _become_launcher(ctrl, fds: list[int], message: dict) -> None:
    """In the forked launcher: the process an exec'd `python worker.py ...` would have been."""
    ctrl.close()
    req_fd, resp_fd, stack_fd, out_fd = fds
    os.setsid()
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    # Only what an exec'd launcher holds (Popen closes the rest): whatever else the zygote had open stays behind.
    keep = {0, 1, 2, req_fd, resp_fd, stack_fd}
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.chdir(message["cwd"])
    sys.argv[:] = [sys.argv[0], str(req_fd), str(resp_fd), str(stack_fd)]  # as an exec'd launcher's
    try:
        main(req_fd, resp_fd, stack_fd, int(message["grader"]), parent=os.getppid())
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        os._exit(70)
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    else:
        main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None, os.getppid())
