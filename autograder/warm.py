"""Start the sandbox worker before anything slow is imported, so that its imports overlap the grader's.

A check's time is mostly two imports of torch: the grader's (its checks compute with torch) and the worker's (the
submission runs with it). `dlcourse check <slug>` therefore starts the worker first: `early_start`, called at the
very top of `autograder.cli` before click, rich, pytest or torch are imported, reads the command line, and when it
is a `check` it starts the worker (`Sandbox.prestart`: the process isolates itself and imports its framework, then
waits for the submission). Grading picks it up with `take` and hands it the submission when the first check needs
it. Nothing else changes: it is the same worker, isolated the same way before it ever holds the submission.

This module imports only the standard library and the light parts of the engine (the sandbox client, the specs).
"""

from __future__ import annotations

import atexit
import os
import site
import sys
from pathlib import Path

from . import spec as specs
from .paths import REPO_ROOT, secret_paths
from .sandbox import Limits, Sandbox, SandboxConfig

_EARLY: dict = {}  # the worker `early_start` started: {"slug", "device", "sandbox"}

# Options of `dlcourse check` that take a value (the rest are flags).
_VALUE_OPTIONS = {"--submission", "--device", "--only", "--json"}


def readonly_paths() -> list[str]:
    paths = [str(REPO_ROOT), sys.prefix, sys.base_prefix, "/usr", "/etc", "/opt", "/root", "/home"]
    paths += [p for p in site.getsitepackages() + [site.getusersitepackages()] if p]
    return paths


def sandbox_config(spec: specs.Assignment, submission: Path | None, device: str = "cpu", isolation: str = "auto",
                   limits: Limits | None = None, extra_hidden=()) -> SandboxConfig:
    """The sandbox of one submission of `spec` (the path may come later: a worker can start before it)."""
    return SandboxConfig(
        module_path=submission, module_file=spec.module_file, framework=spec.framework, device=device,
        forbidden=[(f.pattern, f.why) for f in spec.forbidden], hidden=[*secret_paths(), *extra_hidden],
        readonly=readonly_paths(), isolation=isolation, limits=limits or Limits(),
    )


def same_worker(a: SandboxConfig, b: SandboxConfig) -> bool:
    """Whether a worker started for `a` is the one `b` asks for (everything but the submission's path)."""
    keys = ("module_file", "framework", "device", "forbidden", "isolation", "limits", "threads", "user_namespace")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def prestart(slug: str, device: str = "cpu", isolation: str = "auto", limits: Limits | None = None) -> Sandbox:
    """A worker for `slug`, started now and waiting for its submission (raises UnknownAssignment,
    SandboxUnavailable)."""
    sandbox = Sandbox(sandbox_config(specs.load(slug), None, device, isolation, limits))
    sandbox.prestart()
    return sandbox


def early_start(argv: list[str] | None = None) -> None:
    """When this process is `dlcourse check <slug> ...`, start its worker now (quietly does nothing otherwise:
    the command itself reports any mistake in its arguments)."""
    argv = sys.argv if argv is None else argv
    if _EARLY or len(argv) < 3 or os.environ.get("DLCOURSE_NO_EARLY_START"):
        return
    program = os.path.basename(argv[0])
    if not (program == "dlcourse" or argv[0].endswith(os.path.join("autograder", "cli.py"))):
        return
    parsed = _parse_check(argv[1:])
    if parsed is None:
        return
    slug, device = parsed
    try:
        sandbox = prestart(slug, device)
    except Exception:  # noqa: BLE001  an unknown slug, no sandbox here: the command says so itself
        return
    _EARLY.update(slug=slug, device=device, sandbox=sandbox)
    atexit.register(_close_unused)


def take(slug: str, device: str = "cpu") -> Sandbox | None:
    """The worker `early_start` started for this check, or None (another slug or device: it is closed)."""
    early = dict(_EARLY)
    _EARLY.clear()
    _EARLY["taken"] = True  # never start a second one in this process
    sandbox = early.get("sandbox")
    if sandbox is None:
        return None
    if early.get("slug") == slug and early.get("device") == device:
        return sandbox
    sandbox.close()
    return None


def _close_unused() -> None:
    sandbox = _EARLY.get("sandbox")
    if sandbox is not None:
        sandbox.close()


def _parse_check(args: list[str]) -> tuple[str, str] | None:
    """(slug, device) of `check <slug> [options]`, or None for anything else (help, another command)."""
    if not args or args[0] != "check":
        return None
    slug, device = None, "cpu"
    rest = args[1:]
    i = 0
    while i < len(rest):
        token = rest[i]
        if token in ("-h", "--help"):
            return None
        name, eq, value = token.partition("=")
        if name in _VALUE_OPTIONS:
            if not eq:
                i += 1
                value = rest[i] if i < len(rest) else ""
            if name == "--device":
                device = value
        elif token.startswith("-"):
            pass  # a flag
        elif slug is None:
            slug = token
        i += 1
    if slug is None or device not in ("cpu", "cuda"):
        return None
    return slug, device
