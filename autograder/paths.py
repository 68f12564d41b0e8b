"""Where the course's folders are, and the one way the engine loads a Python file by its path.

The engine is installed in editable mode from the course repository (or from a student bundle laid out the same
way), so every folder is found relative to this package.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parent
ASSIGNMENTS = REPO_ROOT / "assignments"
SOLUTIONS = REPO_ROOT / "solutions"
LECTURES = REPO_ROOT / "lectures"
TESTS = REPO_ROOT / "tests"
CHECKS = PACKAGE / "checks"
COURSE_README = REPO_ROOT / "README.md"


def secret_paths() -> list[Path]:
    """What a sandboxed submission must never see: references, hidden checks, the engine, the project's tests."""
    return [SOLUTIONS, PACKAGE, TESTS, REPO_ROOT / ".git"]


def load_module(path: str | Path, name: str, *, register: bool = False) -> ModuleType:
    """Import the Python file `path` as a module called `name` (a spec, bugs.py, a reference, a check helper).

    `register=True` puts it in `sys.modules` before running it (a helper that later imports find by name). The
    file's own exceptions propagate: the caller says what the file was for.
    """
    mod_spec = importlib.util.spec_from_file_location(name, Path(path))
    if mod_spec is None or mod_spec.loader is None:
        raise ImportError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(mod_spec)
    if register:
        sys.modules[name] = module
    try:
        mod_spec.loader.exec_module(module)
    except BaseException:
        if register:
            sys.modules.pop(name, None)
        raise
    return module
