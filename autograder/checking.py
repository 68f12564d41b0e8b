"""What a check file imports: the `@check` decorator and `fail`.

A check is a pytest test carrying a `dlcourse_check` mark: its student-facing name (which begins with the function
or class it checks), its points and an optional time limit. Visibility comes from the file it lives in:
`test_public.py` (runs in `dlcourse check`, ships to students) or `test_hidden.py` (runs only at grading).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

NAME_RE = re.compile(r"^(?P<target>[A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)?: \S.*$")


class CheckFailure(AssertionError):
    """A check's verdict, written for the student (no traceback is shown with it)."""


@dataclass(frozen=True)
class CheckInfo:
    name: str
    points: float
    timeout: float | None

    @property
    def target(self) -> str:
        return NAME_RE.match(self.name).group("target")


def check(name: str, points: float = 1.0, timeout: float | None = None):
    """Mark a test function as a graded check: `@check("relu_backward: dx is 0 where x <= 0", points=2)`."""
    if not NAME_RE.match(name):
        raise ValueError(f"check name {name!r} must look like '<function or class>: <what is checked>'")
    if points < 0:
        raise ValueError("points must be >= 0")
    info = CheckInfo(name, float(points), timeout)

    def decorate(fn):
        fn = pytest.mark.dlcourse_check(info)(fn)
        if timeout is not None:
            fn = pytest.mark.timeout(timeout)(fn)
        return fn

    return decorate


def fail(message: str):
    """Fail the current check with `message`, shown to the student as it is."""
    raise CheckFailure(message)
