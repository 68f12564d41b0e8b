"""What a check file imports: the `@check` decorator and `fail`.

A check is a pytest test carrying a `dlcourse_check` mark: its student-facing name (which begins with the function
or class it checks), its points and an optional time limit. Visibility comes from the file it lives in:
`test_public.py` (runs in `dlcourse check`, ships to students) or `test_hidden.py` (runs only at grading).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .paths import load_module

NAME_RE = re.compile(r"^(?P<target>[A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)?: \S.*$")


class CheckFailure(AssertionError):
    """A check's verdict, written for the student (no traceback is shown with it)."""


@dataclass(frozen=True)
class CheckInfo:
    name: str
    points: float
    timeout: float | None
    core: bool = False  # a core-behaviour check of its target (see `check`)
    needs: tuple[str, ...] = ()  # other targets whose core checks must pass for this one to count (end to end)

    @property
    def target(self) -> str:
        return NAME_RE.match(self.name).group("target")


def check(name: str, points: float = 1.0, timeout: float | None = None, core: bool = False,
          needs: tuple[str, ...] | list[str] = ()):
    """Mark a test function as a graded check: `@check("relu_backward: dx is 0 where x <= 0", points=2)`.

    `core=True` marks a check of the target's core behaviour (its values against an oracle): something a
    do-nothing implementation (zeros, its input, its base layer) cannot pass. Every other check of the target
    judges a property that do-nothing code may satisfy (no in-place write, no NaN, a ValueError, eval mode is the
    identity...), so its points are awarded only when every core check of the same target passed in the same
    grading (`autograder.gating`).

    `needs=("ring_allreduce", "shard")`: an end-to-end check that runs other targets' code besides its own counts
    only when their core checks pass too; when one fails, this check is "not awarded" (one line naming the
    blocking check), and that is no failure of this check's own target.
    """
    if not NAME_RE.match(name):
        raise ValueError(f"check name {name!r} must look like '<function or class>: <what is checked>'")
    if points < 0:
        raise ValueError("points must be >= 0")
    info = CheckInfo(name, float(points), timeout, bool(core), tuple(needs))

    def decorate(fn):
        fn = pytest.mark.dlcourse_check(info)(fn)
        if timeout is not None:
            fn = pytest.mark.timeout(timeout)(fn)
        return fn

    return decorate


def fail(message: str):
    """Fail the current check with `message`, shown to the student as it is."""
    raise CheckFailure(message)


def load_sibling(check_file: str, name: str):
    """Load the helper module `name`.py that sits next to a check file (check folders are not packages).

    `C = load_sibling(__file__, "_common")` in `autograder/checks/<slug>/test_public.py` gives `_common.py` of that
    folder, loaded once per process and shared by the public and hidden checks. (Name the helper in full: the
    student bundle keeps the `_*.py` helpers that its public checks name.)
    """
    path = Path(check_file).with_name(f"{name}.py")
    key = f"dlcourse_checks_{path.parent.name}_{name.lstrip('_')}"
    if key not in sys.modules:
        load_module(path, key, register=True)
    return sys.modules[key]
