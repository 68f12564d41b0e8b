"""The pytest plugin that turns check files into a graded run.

It is handed to `pytest.main` by `autograder.grading` (never auto-loaded), and it:

- provides the fixtures checks use: `student` (the submission in its sandbox), `reference` (hidden checks only),
  `rng`, `seed`, `device`;
- keeps only the checks asked for (`select`), refuses unmarked tests, a public check that asks for `reference`,
  and a check name that does not begin with one of the assignment's targets;
- fails, before it runs, a check whose target uses a forbidden API (the static scan);
- stops with one line a check that cannot run (a module that does not parse or import, a function that already
  hung) and keeps what each public check's calls printed (autograder.feedback);
- records each check's verdict as a `CheckResult`, with a message written for the student.

State lives on the `GradingSession` the plugin is built with; nothing is global.
"""

from __future__ import annotations

import re
import time
import zlib

import numpy as np
import pytest

from . import feedback, forbidden, gating
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
        """Run `probe(module, *args, **kwargs)` in the sandbox; the result comes back by value.

        A probe returns data, never a verdict: a result that is a bool or holds one is refused (ProbeReturnedVerdict),
        since anything computed in the sandbox is the submission's to forge. Return the values the verdict is made
        from (tensors, numbers, lists) and decide pass or fail in the check, in the trusted process.
        """
        value = self._session.sandbox().run(probe, *args, _timeout=_timeout, **kwargs)
        where = _find_bool(value)
        if where is not None:
            raise ProbeReturnedVerdict(
                f"the check step {getattr(probe, '__name__', 'probe')} returned a bool (at result{where[:80]}): probes "
                "return data, never a verdict (a rule for check authors: decide pass or fail in the trusted process "
                "from the values; see autograder/AUTHORING.md). If your function returned True or False where the "
                "assignment asks for a tensor or a number, return what the contract asks.")
        return value


class ProbeReturnedVerdict(TypeError):
    """A probe's result held a bool: a verdict computed in the sandbox, which the grader never takes."""


def _find_bool(value, where: str = "", depth: int = 0) -> str | None:
    """The path of the first Python or NumPy bool scalar in a probe's result (tensors and arrays of bools are data)."""
    if isinstance(value, (bool, np.bool_)):
        return where or " itself"
    if depth > 20:
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for k, v in items:
        found = _find_bool(v, f"{where}[{k!r}]", depth + 1)
        if found is not None:
            return found
    return None


class DLCoursePlugin:
    def __init__(self, session):
        self.session = session
        self._started: dict[str, float] = {}
        self._tainted: dict[str, tuple[str, str]] = {}  # target -> (the forbidden API's message, the check that hit it)

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
    def submission_source(self):
        """The text of the submission file, read here in the trusted process (for checks of the source, such as
        "backward is derived by hand": never ask the sandbox for source text, which the submission can fake)."""
        return self.session.submission.read_text(encoding="utf-8", errors="replace")

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
            every = keep
            keep = _selected(keep, self.session.select)
            self.session.no_match = not keep  # `--only` that matches nothing: an error, not an empty report
            self.session.skipped = len(every) - len(keep)
        names = [(_info(i).name) for i in keep]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise pytest.UsageError(f"duplicate check names: {sorted(dupes)}")
        items[:] = keep
        self.session.collected = [(_info(i), _visibility(i)) for i in keep]

    # -- running -------------------------------------------------------------------------------------------
    def pytest_runtest_setup(self, item):
        info = _info(item)
        # A module that cannot be graded, or a function that already hung, stops the check here with one line
        # (autograder.feedback); otherwise the submission is imported and what the check prints is collected.
        feedback.before_check(self.session, info, _visibility(item))
        self._started[item.nodeid] = time.monotonic()
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
            exc = call.excinfo.value if (failed and call.excinfo is not None) else None
            line, printed = feedback.after_check(self.session, info, _visibility(item), exc)
            if line is not None:
                message = line
            elif isinstance(exc, StudentError):
                if gating.forbidden_rule(str(exc)) is not None:
                    # A forbidden API reached at run time taints every check of this target. The message is the
                    # spec's rule (trusted text), never the worker's, and a hidden check is not named.
                    where = info.name if _visibility(item) == "public" else "a hidden check"
                    self._tainted.setdefault(info.target, (self._rule_text(str(exc)), where))
                if _visibility(item) == "hidden":
                    message = _short(str(exc))
            self.session.record(CheckResult(
                name=info.name, target=info.target, visibility=_visibility(item), max_score=info.points,
                score=0.0 if failed else info.points, passed=not failed, output=message,
                duration=round(time.monotonic() - self._started.get(item.nodeid, time.monotonic()), 3),
                brief=line is not None, stdout=printed,
            ))


    def _rule_text(self, error_text: str) -> str:
        words = re.findall(r"[A-Za-z_][\w.]*", error_text)
        for rule in self.session.spec.forbidden:
            if rule.pattern in error_text or any(forbidden.matches(w, rule) for w in words):
                return f"{rule.pattern} is forbidden in this assignment: {rule.why}"
        return "your code reached an API that this assignment forbids (see the rules in its README)"

    def pytest_sessionfinish(self, session, exitstatus):
        """After every check ran: a forbidden API found at run time fails every check of its target, those that ran
        before it was found included (autograder.gating.apply_forbidden); the static scan's notes (findings not
        counted) go with the first result."""
        gating.apply_forbidden(self.session.results, self._tainted)
        static = getattr(self.session, "_static", None) or {}
        notes = static.get(forbidden.NOTE_KEY) if isinstance(static, dict) else None
        if notes and self.session.results:
            first = self.session.results[0]
            first.output = "\n".join(filter(None, [first.output, *(f"note: {n}" for n in notes)]))


HIDDEN_ECHO = 160  # characters of the submission's own error text that a hidden check's feedback may show


def _short(text: str) -> str:
    """A hidden check's feedback shows only a short first line of what the submission raised or printed: its
    exception text is the submission's to choose, and could carry the hidden inputs out."""
    first = (text.strip().splitlines() or [""])[0]
    if len(first) > HIDDEN_ECHO:
        first = first[:HIDDEN_ECHO] + "..."
    return first + " (hidden check: the rest of the error and your code's output are not shown)"


def _selected(items, select):
    """The checks whose name starts with one of `select`, plus the core checks of their targets: a property check
    is awarded only with its target's core checks (autograder.gating), so they always run together."""
    wanted = [s.casefold() for s in select]
    chosen = [i for i in items if any(_info(i).name.casefold().startswith(s) for s in wanted)]
    targets = {_info(i).target for i in chosen} | {t for i in chosen for t in _info(i).needs}
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
        return str(exc)  # what the check's calls printed is the result's own `stdout`
    if isinstance(exc, AssertionError):
        return f"assertion failed: {exc}"
    if type(exc).__name__ == "Failed" and "Timeout" in str(exc):
        return f"the check ran past its time limit ({str(exc).strip().splitlines()[0]})"
    tb = excinfo.traceback[-1] if excinfo.traceback else None
    where = f" (in the check at line {tb.lineno + 1})" if tb is not None else ""
    return (f"the check could not judge your result: {type(exc).__name__}: {exc}{where}. This usually means a "
            "value of the wrong kind came back (check the return types of your function).")
