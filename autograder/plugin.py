"""The pytest plugin that turns check files into a graded run.

It is handed to `pytest.main` by `autograder.grading` (never auto-loaded), and it:

- provides the fixtures checks use: `student` (the submission in its sandbox), `reference` (hidden checks only),
  `rng`, `seed`, `device`;
- keeps only the checks asked for (`select`), refuses unmarked tests, a public check that asks for `reference`,
  and a check name that does not begin with one of the assignment's targets;
- fails, before it runs, a check whose target uses a forbidden API (the static scan);
- records each check's verdict as a `CheckResult`, with a message written for the student.

State lives on the `GradingSession` the plugin is built with; nothing is global.
"""

from __future__ import annotations

import time
import zlib

import numpy as np
import pytest

from .checking import NAME_RE, CheckFailure, CheckInfo
from .report import CheckResult
from .sandbox import StudentError


class StudentModule:
    """The submission as the checks see it: attribute access calls the function in the sandbox."""

    def __init__(self, session):
        self._session = session

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def remote(*args, _timeout=None, **kwargs):
            return self._session.sandbox().call(name, *args, _timeout=_timeout, **kwargs)

        remote.__name__ = name
        return remote

    def call(self, name, *args, _timeout=None, **kwargs):
        """Call a top-level function by name (for names that clash with this object's methods)."""
        return self._session.sandbox().call(name, *args, _timeout=_timeout, **kwargs)

    def run(self, probe, *args, _timeout=None, **kwargs):
        """Run `probe(module, *args, **kwargs)` in the sandbox; the result comes back by value."""
        return self._session.sandbox().run(probe, *args, _timeout=_timeout, **kwargs)


class DLCoursePlugin:
    def __init__(self, session):
        self.session = session
        self._started: dict[str, float] = {}

    # -- fixtures ------------------------------------------------------------------------------------------
    @pytest.fixture
    def student(self):
        return StudentModule(self.session)

    @pytest.fixture
    def reference(self, request):
        if _visibility(request.node) != "hidden":
            raise RuntimeError("public checks may not use the reference solution")
        return self.session.reference_module()

    @pytest.fixture
    def seed(self, request):
        info = _info(request.node)
        return int(zlib.crc32(f"{self.session.seed}:{info.name}".encode()) & 0x7FFFFFFF)

    @pytest.fixture
    def rng(self, seed):
        return np.random.default_rng(seed)

    @pytest.fixture
    def device(self):
        return self.session.device

    # -- collection ----------------------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "dlcourse_check(info): a graded check")

    def pytest_collection_modifyitems(self, session, config, items):
        keep = []
        targets = self.session.spec.targets
        for item in items:
            info = _info(item)
            if info is None:
                raise pytest.UsageError(f"{item.nodeid} is not marked with @check")
            target = NAME_RE.match(info.name).group("target")
            if target not in targets:
                raise pytest.UsageError(f"check {info.name!r} does not begin with one of {targets}")
            if _visibility(item) == "public" and "reference" in getattr(item, "fixturenames", ()):
                raise pytest.UsageError(f"public check {info.name!r} uses the reference solution")
            keep.append(item)
        if self.session.select:
            keep = _selected(keep, self.session.select)
        names = [(_info(i).name) for i in keep]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise pytest.UsageError(f"duplicate check names: {sorted(dupes)}")
        items[:] = keep
        self.session.collected = [(_info(i), _visibility(i)) for i in keep]

    # -- running -------------------------------------------------------------------------------------------
    def pytest_runtest_setup(self, item):
        self._started[item.nodeid] = time.monotonic()
        info = _info(item)
        problems = self.session.static_problems(info.target)
        if problems:
            raise CheckFailure("\n".join(problems))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        info = _info(item)
        if info is None:
            return
        failed = rep.failed or (rep.when == "call" and rep.skipped)
        if rep.when == "call" or (rep.when == "setup" and (rep.failed or rep.skipped)):
            if rep.skipped and rep.when == "setup":
                message = f"skipped: {_skip_reason(rep)}"
                failed = True
            else:
                message = _message(call.excinfo) if failed else ""
            self.session.record(CheckResult(
                name=info.name, target=info.target, visibility=_visibility(item), max_score=info.points,
                score=0.0 if failed else info.points, passed=not failed, output=message,
                duration=round(time.monotonic() - self._started.get(item.nodeid, time.monotonic()), 3),
            ))


def _selected(items, select):
    """The checks whose name starts with one of `select`, plus the core checks of their targets: a property check
    is awarded only with its target's core checks (autograder.gating), so they always run together."""
    chosen = [i for i in items if any(_info(i).name.startswith(s) for s in select)]
    targets = {_info(i).target for i in chosen}
    return [i for i in items if i in chosen or (_info(i).core and _info(i).target in targets)]


def _info(item) -> CheckInfo | None:
    mark = item.get_closest_marker("dlcourse_check")
    return mark.args[0] if mark else None


def _visibility(item) -> str:
    return "hidden" if item.path.name == "test_hidden.py" else "public"


def _skip_reason(rep) -> str:
    lr = rep.longrepr
    return lr[2] if isinstance(lr, tuple) and len(lr) == 3 else str(lr)


def _message(excinfo) -> str:
    if excinfo is None:
        return "failed"
    exc = excinfo.value
    if isinstance(exc, CheckFailure):
        return str(exc)
    if isinstance(exc, StudentError):
        text = str(exc)
        if exc.stdout.strip():
            text += "\n--- what your code printed (last lines) ---\n" + exc.stdout.strip()[-1500:]
        return text
    if isinstance(exc, AssertionError):
        return f"assertion failed: {exc}"
    if type(exc).__name__ == "Failed" and "Timeout" in str(exc):
        return f"the check ran past its time limit ({str(exc).strip().splitlines()[0]})"
    tb = excinfo.traceback[-1] if excinfo.traceback else None
    where = f" (in the check at line {tb.lineno + 1})" if tb is not None else ""
    return (f"the check could not judge your result: {type(exc).__name__}: {exc}{where}. This usually means a "
            "value of the wrong kind came back (check the return types of your function).")
