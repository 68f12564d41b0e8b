"""The sandbox worker: the only process that imports and runs a student's code.

Started by `autograder.sandbox.client.Sandbox` as ``python -E -s worker.py REQ_FD RESP_FD``. It reads its
configuration from the first frame, isolates itself (see isolation.py), imports NumPy (and torch for torch
assignments), replaces the assignment's forbidden APIs by tripwires, imports the submission, then answers requests
one at a time until the grader closes the channel or kills it:

- ``{"op": "call", "name": f, "args": [...], "kwargs": {...}}``: ``module.f(*args, **kwargs)``
- ``{"op": "run", "source": src, "func": name, "args": ..., "kwargs": ...}``: a probe written in a check file, run
  as ``probe(module, *args, **kwargs)``
- ``{"op": "echo", "args": [...]}``: the arguments back (round-trip measurements)

Every answer is ``{"ok": True, "value": v}`` or ``{"ok": False, "error": {"type", "message", "traceback"}}``.
This file and its two siblings use the standard library only: they are loaded before the grader's folders are
hidden, and they never import the engine.
"""

from __future__ import annotations

import fnmatch
import importlib.abc
import importlib.util
import os
import resource
import signal
import sys
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

def main() -> None:
    req_fd, resp_fd = int(sys.argv[1]), int(sys.argv[2])
    header, blobs = codec.read_frame(req_fd)
    cfg = codec.Decoder().decode(header, blobs)

    level, reason = "process", ""
    if cfg["isolation"] != "process":
        try:
            isolation.enter_namespaces()
            level = "namespaces"
        except OSError as exc:
            reason = f"namespaces unavailable ({exc.strerror or exc})"
            if cfg["isolation"] == "namespaces":
                codec.send(resp_fd, {"event": "fatal", "message": f"isolation failed: {reason}"})
                os._exit(70)

    pid = os.fork()
    if pid:  # the launcher: waits for the worker and relays how it ended
        os.close(req_fd)
        os.close(resp_fd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)

    isolation.set_parent_death_signal(signal.SIGKILL)
    os.setsid()
    if level == "namespaces":
        try:
            isolation.seal_file_system(cfg["readonly"], cfg["hidden"], [cfg["workdir"]])
        except OSError as exc:
            codec.send(resp_fd, {"event": "fatal", "message": f"could not seal the file system: {exc}"})
            os._exit(70)
    _limit_resources(cfg["limits"])
    _scrub(cfg)
    if level == "process":
        _disable_network()
    framework = _load_framework(cfg)
    _install_tripwires(cfg["forbidden"])
    codec.send(resp_fd, {"event": "booted", "isolation": level, "reason": reason})

    module, import_error = _import_submission(cfg)
    if import_error:
        codec.send(resp_fd, {"event": "import-error", "error": import_error})
    else:
        codec.send(resp_fd, {"event": "imported"})
    _serve(req_fd, resp_fd, module, import_error, framework, cfg)


def _limit_resources(limits: dict) -> None:
    def cap(which, value):
        if value is None:
            return
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))

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
    # The submission's prints go to a file the grader reads back, never to the protocol channel.
    out = os.open(os.path.join(cfg["workdir"], ".output"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _disable_network() -> None:
    import socket

    def refuse(*_a, **_k):
        raise PermissionError("network access is disabled while grading")

    for name in ("socket", "create_connection", "socketpair", "fromfd", "create_server"):
        setattr(socket, name, refuse)


def _load_framework(cfg: dict):
    import numpy  # noqa: F401  (the worker sends arrays back)

    if cfg["framework"] != "torch":
        return None
    import torch

    torch.set_num_threads(int(cfg.get("threads", 1)))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


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
    return {"type": type(exc).__name__, "message": message[:4000], "traceback": "\n".join(keep[-12:])}


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
        try:
            codec.send(resp_fd, reply)
        except codec.CodecError as exc:
            codec.send(resp_fd, {"ok": False, "error": {"type": "ReturnValueError", "message": str(exc),
                                                          "traceback": ""}})


def _handle(req: dict, module, probes: dict):
    op = req["op"]
    args, kwargs = req.get("args", []), req.get("kwargs", {})
    if op == "echo":
        return args
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


if __name__ == "__main__":
    main()
