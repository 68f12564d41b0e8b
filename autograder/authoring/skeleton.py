"""Generate a student skeleton from a reference solution (nbgrader-style solution markers).

Everything from a ``# BEGIN SOLUTION`` line to its ``# END SOLUTION`` line is replaced by
``raise NotImplementedError("<qualified name>: not implemented yet")`` at the marker's indentation; every other
line, the TODO comments before each block included, is kept. So the skeleton and the reference never drift apart.
"""

from __future__ import annotations

import re

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
DEF = re.compile(r"^(?P<indent>\s*)(?:async\s+)?(?:def|class)\s+(?P<name>\w+)")


class MarkerError(ValueError):
    pass


def _qualname(lines: list[str], index: int, indent: int) -> str:
    names, limit = [], indent
    for line in reversed(lines[:index]):
        m = DEF.match(line)
        if m and len(m.group("indent")) < limit:
            names.append(m.group("name"))
            limit = len(m.group("indent"))
            if limit == 0:
                break
    return ".".join(reversed(names)) or "this part"


def make_skeleton(source: str, filename: str = "<source>") -> str:
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    blocks = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if END.match(lines[i]):
            raise MarkerError(f"{filename}:{i + 1}: END SOLUTION without BEGIN SOLUTION")
        if not m:
            out.append(lines[i])
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and not END.match(lines[i]):
            if BEGIN.match(lines[i]):
                raise MarkerError(f"{filename}:{i + 1}: nested BEGIN SOLUTION")
            i += 1
        if i == len(lines):
            raise MarkerError(f"{filename}:{start + 1}: BEGIN SOLUTION without END SOLUTION")
        indent = m.group("indent")
        name = _qualname(lines, start, len(indent))
        out.append(f'{indent}raise NotImplementedError("{name}: not implemented yet")\n')
        blocks += 1
        i += 1
    if blocks == 0:
        raise MarkerError(f"{filename}: no solution markers found")
    return "".join(out)


RUN_HINT = """

if __name__ == "__main__":
    print("{file} is checked, not run: `dlcourse check {slug}` (or `pytest -m {slug}` at the course root) "
          "runs its public checks in the sandbox and says what is still wrong.")
"""


def student_skeleton(reference_source: str, slug: str, filename: str = "<source>") -> str:
    """The skeleton students get: `make_skeleton`, plus a `__main__` block saying how the file is checked (unless
    the reference has one of its own)."""
    skeleton = make_skeleton(reference_source, filename)
    if 'if __name__ == "__main__":' in reference_source:
        return skeleton
    return skeleton.rstrip("\n") + "\n" + RUN_HINT.format(file=f"{slug}.py", slug=slug)


def sync(slug: str, check_only: bool = False) -> list[str]:
    """Regenerate assignments/<slug>/<slug>.py; returns the paths that were (or, with check_only, would be) changed."""
    from ..paths import ASSIGNMENTS, SOLUTIONS

    ref = SOLUTIONS / slug / f"{slug}.py"
    target = ASSIGNMENTS / slug / f"{slug}.py"
    wanted = student_skeleton(ref.read_text(), slug, str(ref))
    if target.is_file() and target.read_text() == wanted:
        return []
    if not check_only:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted)
    return [str(target)]
