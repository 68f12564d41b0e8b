"""One message per root cause: what the student reads when a check does not get to judge the code.

Four causes stop every check at once; each gets one panel at the top of the report, and every check it blocks one
line, "not run: <reason>":

- the module does not parse (found here, by `ast`, before anything runs);
- it uses a forbidden API at module level (the static scan's module-level findings);
- it does not import (the sandbox's import failed, hung or crashed: its message, where it was stuck, and what it
  printed while importing);
- it is still the untouched skeleton (after a full run: no check passed and every function raised
  NotImplementedError).

And two stop one function:

- a function that still raises NotImplementedError gets one line per check ("not implemented yet: ...");
- a function whose call ran out of time fails its remaining checks at once ("not run: <function> timed out in an
  earlier check"), instead of costing one timeout each; the timeout's own message shows where the code was stuck.

The plugin calls `before_check` when a check is set up and `after_check` when its result is recorded; the state
lives on the `GradingSession`. Every text here is the grader's own (names of targets, line numbers); the
submission's own text reaches a hidden check's feedback only through the plugin's short first line.
"""

from __future__ import annotations

import ast

from .checking import CheckFailure
from .sandbox import StudentError, StudentTimeout


class NotRun(CheckFailure):
    """The check did not run: something it needs failed first (the reason is one line)."""


# ------------------------------------------------------------------------------------------- module-level causes

def static_problem(source: str, module_file: str, static: dict | None) -> tuple[str, str] | None:
    """(panel text, one-line reason) when the module cannot be graded at all before it runs, else None."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        line = (exc.text or "").rstrip("\n")
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = f"{module_file} does not parse: {exc.msg} ({where})"
        if line.strip():
            text += f"\n    {line.strip()}"
            if exc.offset and exc.offset > 0:
                indent = len(line) - len(line.lstrip())
                text += "\n    " + " " * max(0, exc.offset - 1 - indent) + "^"
        text += "\nNo check can run until the file parses: fix this line (or the one before it) first."
        return text, f"{module_file} does not parse (line {exc.lineno})"
    module_level = (static or {}).get("*") or []
    if module_level:
        text = "\n".join(module_level) + ("\nA forbidden API used at the top of the module concerns every function: "
                                          "no check runs until it is gone.")
        return text, f"{module_file} uses a forbidden API at module level"
    return None


def import_problem(exc: BaseException | None, error_text: str | None, printed: str,
                   module_file: str) -> tuple[str, str]:
    """(panel text, one-line reason) for a module that did not import."""
    text = error_text if error_text is not None else str(exc)
    if isinstance(exc, StudentTimeout):
        why = "it timed out"
    elif exc is not None:
        why = "its process died" if getattr(exc, "kind", "") == "crash" else "it failed"
    else:
        first = (text.strip().splitlines() or [""])[0]
        kind = first.split(" raised ", 1)[1].split(":")[0] if " raised " in first else ""
        why = f"it raised {kind}" if kind.isidentifier() else "it raised an exception"
        if kind == "forbidden API":
            why = "it uses a forbidden API"
    if printed.strip():
        text += "\n--- what your module printed while importing ---\n" + printed.strip()
    return text, f"{module_file} does not import: {why}"


def skeleton_problem(results, module_file: str, targets, partial: bool) -> str | None:
    """After a full run: the panel text when nothing is implemented yet (no check passed, and every function
    that was checked raised NotImplementedError), else None. The checks' own lines then say "not run"."""
    if partial or not results or any(r.passed for r in results):
        return None
    checked = {r.target for r in results}
    unimplemented = {r.target for r in results if r.output.startswith(NOT_IMPLEMENTED)}
    if not checked or checked - unimplemented:
        return None
    first = next((t for t in targets if t in checked), sorted(checked)[0])
    return (f"{module_file} is still the skeleton: every function raises NotImplementedError, so no check could "
            f"judge anything yet. Start with {first} (the assignment's README says what each function must do), "
            "then run the check again.")


# ------------------------------------------------------------------------------------------- per check

NOT_IMPLEMENTED = "not implemented yet: "


def before_check(session, info, visibility: str) -> None:
    """Raise NotRun when the check cannot run; otherwise make sure the submission is imported (the first check
    starts the sandbox) and begin collecting what the check's calls print."""
    if session.module_problem:
        raise NotRun(session.blocked_reason)
    for target in (info.target, *info.needs):
        if target in session.hung:
            where = session.hung[target]
            raise NotRun(f"{target} timed out in an earlier check" + (f' ("{where}")' if where else ""))
    sandbox = session.sandbox()
    if not session.imported:
        sandbox.capture_start()
        try:
            sandbox.start()
            error = sandbox.import_error_text()
            exc = None
        except StudentError as failure:
            error, exc = None, failure
        printed = sandbox.capture_end()
        session.imported = True
        session.import_output = printed
        if error is not None or exc is not None:
            session.module_problem, reason = import_problem(exc, error, printed, session.spec.module_file)
            session.blocked_reason = reason
            raise NotRun(reason)
    sandbox.capture_start()


def after_check(session, info, visibility: str, exc: BaseException | None) -> tuple[str | None, str]:
    """(a one-line message replacing the check's panel, or None; what the check's calls printed).

    A hidden check's printed output is never returned: its inputs are secret, and the submission could print them."""
    printed = ""
    sandbox = session._sandbox
    if sandbox is not None:
        printed = sandbox.capture_end()
    if visibility != "public":
        printed = ""
    line = None
    if isinstance(exc, NotRun):
        line = f"not run: {exc}"
    elif isinstance(exc, StudentTimeout):
        mark_hung(session, info, exc, visibility)
    elif isinstance(exc, StudentError) and exc.error_type == "TimedOutEarlier":
        hung = sorted(t for t in session.hung if t in str(exc).split(" timed out", 1)[0].split()[-1:])
        name = hung[0] if hung and visibility == "public" else "a function it calls"
        line = f"not run: {name} timed out in an earlier check"
    elif isinstance(exc, StudentError) and exc.error_type == "NotImplementedError":
        line = not_implemented_line(exc, info, visibility, session.spec.module_file)
    return line, printed


def not_implemented_line(exc: StudentError, info, visibility: str, module_file: str) -> str:
    if visibility != "public" or not exc.frames:
        return f"{NOT_IMPLEMENTED}{info.target} raises NotImplementedError"
    lineno, function = exc.frames[-1]
    return f"{NOT_IMPLEMENTED}{function} raises NotImplementedError (line {lineno} of {module_file})"


def mark_hung(session, info, exc: StudentTimeout, visibility: str) -> None:
    """The check's target, and every target named by a frame of the stack where the code was stopped, fail their
    remaining checks at once."""
    where = info.name if visibility == "public" else ""
    names = {function.split(".")[0] for _, function in exc.stack} | {info.target}
    for target in session.spec.targets:
        if target in names:
            session.hung.setdefault(target, where)
    if session._sandbox is not None:
        session._sandbox.skip.update(session.hung)
