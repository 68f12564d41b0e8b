"""Hollow code scores zero: a property check is awarded only when its target's core checks pass.

A check marked `core=True` judges what a function computes against an oracle; a do-nothing implementation fails it.
The other checks of the same target judge properties (no in-place write, no NaN, a ValueError for bad arguments,
eval mode is the identity, ...) that a function returning zeros or its input may satisfy too. After a grading, a
passed property check of a target whose core checks did not all pass is turned into "not awarded", with one line
naming the core check that failed: one root cause, one message (the core check's own panel says what is wrong).

A target without any core check is not gated (`dlcourse verify` and the project's hollow-submission tests flag it).
"""

from __future__ import annotations

from collections.abc import Iterable

from .report import CheckResult

NOT_AWARDED = "not awarded"


def core_names(collected: Iterable) -> dict[str, list[str]]:
    """{target: [names of its core checks]} from the plugin's collected (CheckInfo, visibility) pairs."""
    out: dict[str, list[str]] = {}
    for info, _visibility in collected:
        if getattr(info, "core", False):
            out.setdefault(info.target, []).append(info.name)
    return out


def needs_of(collected: Iterable) -> dict[str, tuple[str, ...]]:
    """{check name: the other targets it needs} for the checks that declare `needs`."""
    return {info.name: tuple(getattr(info, "needs", ()) or ()) for info, _v in collected
            if getattr(info, "needs", ())}


def apply(results: list[CheckResult], cores: dict[str, list[str]],
          needs: dict[str, tuple[str, ...]] | None = None) -> None:
    """Withdraw the points of property checks whose target's core checks did not all pass, and of end-to-end
    checks whose needed targets' core checks did not all pass (in place)."""
    by_name = {r.name: r for r in results}
    needs = needs or {}
    for r in results:
        own = [] if r.name in cores.get(r.target, []) else [(r.target, n) for n in cores.get(r.target, [])]
        other = [(t, n) for t in needs.get(r.name, ()) if t != r.target for n in cores.get(t, [])]
        failed = [(t, n) for t, n in own + other if n in by_name and not by_name[n].passed]
        missing = [(t, n) for t, n in own + other if n not in by_name]
        if not r.passed:
            # A failed end-to-end check whose own target's core checks passed but a needed target's did not: the
            # root cause is that other target's, reported there (one mistake, one message).
            own_failed = [n for _t, n in own if n in by_name and not by_name[n].passed]
            if own_failed or not any(t != r.target for t, _n in failed):
                continue
            failed = [(t, n) for t, n in failed if t != r.target]
            missing = []
        if not failed and not missing:
            continue
        target, blocker = failed[0] if failed else missing[0]
        why = "failed" if failed else "did not run"
        r.passed = False
        r.score = 0.0
        r.gated = True
        r.blocked_by = target
        if target == r.target:
            r.output = (f"{NOT_AWARDED}: this property is awarded once {r.target}'s core behaviour is right, and the "
                        f"core check \"{blocker}\" {why}")
        else:
            r.output = (f"{NOT_AWARDED}: this end-to-end check runs {target} too, and counts once {target}'s core "
                        f"check \"{blocker}\" passes (it {why})")


# ---- forbidden APIs found at run time: one use taints the whole target ----------------------------------------

_FORBIDDEN_MARK = " raised forbidden API: "


def forbidden_rule(error_text: str) -> str | None:
    """The forbidden-API message in a StudentError's text (the worker's tripwires raise ForbiddenAPIError, which
    the sandbox client reports as "... raised forbidden API: <rule>"), else None."""
    first = (error_text.strip().splitlines() or [""])[0]
    if _FORBIDDEN_MARK not in first:
        return None
    return first.split(_FORBIDDEN_MARK, 1)[1][:300]  # the worker's text: for matching, never for display


def apply_forbidden(results: list[CheckResult], tainted: dict[str, tuple[str, str]]) -> None:
    """Fail every check of each target whose code reached a forbidden API at run time (in place), those that
    ran before the detection or never reached the call included, each with the rule named: a forbidden API taints
    its function. `tainted`: {target: (the rule, in the spec's words; the check that hit it, or "a hidden check")}."""
    for r in results:
        if r.target not in tainted:
            continue
        rule, where = tainted[r.target]
        r.passed = False
        r.score = 0.0
        found = where if where.startswith("a hidden") else f'"{where}"'
        r.output = (f"forbidden API: {rule}" + ("" if r.name == where else f" (found at run time while running "
                    f"{found}; a forbidden API fails every check of {r.target})"))
