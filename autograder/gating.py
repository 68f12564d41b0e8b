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


def apply(results: list[CheckResult], cores: dict[str, list[str]]) -> None:
    """Withdraw the points of property checks whose target's core checks did not all pass (in place)."""
    by_name = {r.name: r for r in results}
    for r in results:
        names = cores.get(r.target)
        if not names or r.name in names or not r.passed:
            continue
        failed = [n for n in names if n in by_name and not by_name[n].passed]
        missing = [n for n in names if n not in by_name]
        if not failed and not missing:
            continue
        blocker = failed[0] if failed else missing[0]
        why = "failed" if failed else "did not run"
        r.passed = False
        r.score = 0.0
        r.gated = True
        r.output = (f"{NOT_AWARDED}: this property is awarded once {r.target}'s core behaviour is right, and the "
                    f"core check \"{blocker}\" {why}")
