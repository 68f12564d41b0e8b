"""The known bugs of an assignment: `autograder/checks/<slug>/bugs.py`, read by `dlcourse verify` and the harness.

    BUGS = [
        # (what the bug is, text of the reference, what it becomes, its target, words its message must contain)
        ("bias forgotten", "out = x @ W + b  # (N, M)", "out = x @ W  # (N, M)", "linear_forward", "bias"),
    ]
    SELECT = {"bias forgotten": ["linear_forward: values"]}  # optional: grade only these checks for that bug

Each bug is the reference with one edit (`old` occurs exactly once, so a bug that no longer applies after the
reference changed is reported, not silently skipped). `target` is the function or class whose checks it must fail,
and no check of another target may fail for it. `SELECT` narrows a bug's grading to some check-name prefixes for
speed (the target's core checks are always added by the engine). `bugs.py` never ships to students: its text is made
from the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

BUGS_FILE = "bugs.py"


class BugsError(Exception):
    """bugs.py is malformed (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class Bug:
    name: str
    old: str
    new: str
    target: str = ""  # the function or class whose checks it must fail (and only those)
    says: str = ""  # words its failure message must contain (a known mistake named), optional

    def apply(self, reference_source: str) -> str:
        """The reference with this bug planted; BugsError when its text does not occur exactly once."""
        count = reference_source.count(self.old)
        if count != 1:
            raise BugsError(f"does not apply: its text occurs {count} times in the reference (exactly once expected)")
        return reference_source.replace(self.old, self.new)


def _module(slug: str):
    from .. import paths

    path = paths.CHECKS / slug / BUGS_FILE
    if not path.is_file():
        return None, path
    try:
        return paths.load_module(path, f"dlcourse_bugs_{slug}"), path
    except Exception as exc:
        raise BugsError(f"{path} does not load: {type(exc).__name__}: {exc}") from None


def load_bugs(slug: str) -> list[Bug] | None:
    """The known bugs of an assignment, or None when it has no bugs.py."""
    module, path = _module(slug)
    if module is None:
        return None
    raw = getattr(module, "BUGS", None)
    if not isinstance(raw, (list, tuple)):
        raise BugsError(f"{path} must define BUGS = [(name, old, new[, target[, says]]), ...]")
    bugs = []
    for item in raw:
        if isinstance(item, Bug):
            bugs.append(item)
        elif isinstance(item, (list, tuple)) and 3 <= len(item) <= 5 and all(isinstance(x, str) for x in item):
            bugs.append(Bug(*item))
        else:
            raise BugsError(f"{path}: each bug is (name, old, new[, target[, says]]), strings; got {item!r}")
    names = [b.name for b in bugs]
    if len(set(names)) != len(names):
        raise BugsError(f"{path}: bug names must be unique")
    return bugs


def load_select(slug: str) -> dict[str, list[str]]:
    """bugs.py's optional SELECT = {bug name: [check-name prefixes]}: {} when absent."""
    module, path = _module(slug)
    select = dict(getattr(module, "SELECT", {}) or {}) if module is not None else {}
    for name, prefixes in select.items():
        if not isinstance(prefixes, (list, tuple)) or not all(isinstance(p, str) for p in prefixes):
            raise BugsError(f"{path}: SELECT[{name!r}] must be a list of check-name prefixes")
    return {name: list(prefixes) for name, prefixes in select.items()}


def bug_selection(slug: str, bug: Bug) -> list[str]:
    """The checks to grade a bug with: its SELECT entry, else every check of its target."""
    return load_select(slug).get(bug.name, [f"{bug.target}:"])
