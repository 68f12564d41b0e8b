"""Where the course's folders are. The engine is installed in editable mode from the course repository (or from a
student bundle laid out the same way), so every folder is found relative to this package."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parent
ASSIGNMENTS = REPO_ROOT / "assignments"
SOLUTIONS = REPO_ROOT / "solutions"
LECTURES = REPO_ROOT / "lectures"
TESTS = REPO_ROOT / "tests"
CHECKS = PACKAGE / "checks"


def secret_paths() -> list[Path]:
    """What a sandboxed submission must never see: references, hidden checks, the engine, the project's tests."""
    return [SOLUTIONS, PACKAGE, TESTS, REPO_ROOT / ".git"]
