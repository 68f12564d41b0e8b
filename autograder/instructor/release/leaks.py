"""The leak scan: is any answer in a folder about to be given to students?

`find_leaks(bundle)` looks in every file of `bundle` for the body of every function of every reference (the lines
between its solution markers, compared without comments or whitespace), every answer under
``solutions/lectures/`` and every file of ``solutions/`` byte for byte.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ...authoring.skeleton import BEGIN, END
from ...paths import REPO_ROOT


@dataclass
class Leak:
    what: str  # e.g. "solutions/<slug>/<slug>.py: body of <function>"
    where: str  # the bundle file it was found in, relative to the bundle

    def __str__(self) -> str:
        return f"{self.what} found in {self.where}"


_COMMENT = re.compile(r"\s#[^'\"]*$")


def normalise_line(line: str) -> str:
    """A line of code as the scan compares it: no trailing comment, no whitespace at all."""
    line = line.strip()
    if line.startswith("#"):
        return ""
    line = _COMMENT.sub("", " " + line)
    return re.sub(r"\s+", "", line)


def normalise(lines) -> tuple[str, ...]:
    return tuple(n for n in (normalise_line(x) for x in lines) if n)


def marker_bodies(source: str) -> dict[str, tuple[str, ...]]:
    """{"qualified name (block k)": normalised lines} for every solution block inside a function or method.

    Found with `ast`: each function's lines are searched for BEGIN/END SOLUTION pairs (a block belongs to the
    innermost function holding it); the lines strictly between the markers are the answer.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    spans: list[tuple[int, int, str]] = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno, name))
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    bodies: dict[str, tuple[str, ...]] = {}
    i = 0
    while i < len(lines):
        if BEGIN.match(lines[i]):
            j = i + 1
            while j < len(lines) and not END.match(lines[j]):
                j += 1
            first = i + 2  # the first line of the block (1-based); comments are outside every ast span
            owners = [s for s in spans if s[0] <= first <= s[1]]
            owner = min(owners, key=lambda s: s[1] - s[0])[2] if owners else f"module level, line {i + 1}"
            body = normalise(lines[i + 1:j])
            if body:
                key = owner if owner not in bodies else f"{owner} (block at line {i + 1})"
                bodies[key] = body
            i = j
        i += 1
    return bodies


def function_bodies(source: str) -> dict[str, tuple[str, ...]]:
    """For an answer file without markers: the body (after the docstring) of every function."""
    tree = ast.parse(source)
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            if body:
                seg = source.splitlines()[body[0].lineno - 1:body[-1].end_lineno]
                norm = normalise(seg)
                if norm:
                    out[node.name] = norm
    return out


def answer_fingerprints(root: Path = REPO_ROOT) -> dict[str, tuple[str, ...]]:
    """Everything a bundle must not contain, as normalised line sequences, keyed by a readable description."""
    solutions = root / "solutions"
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(solutions.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(root)
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            bodies = marker_bodies(source) if BEGIN.search(source) or "# BEGIN SOLUTION" in source else {}
            if not bodies:
                bodies = function_bodies(source)
        except SyntaxError:
            continue
        for name, body in bodies.items():
            found[f"{rel}: body of {name}"] = body
    for path in sorted(solutions.rglob("*.ipynb")):
        rel = path.relative_to(root)
        for k, text in enumerate(_notebook_code(path)):
            body = normalise(text.splitlines())
            if body:
                found[f"{rel}: code cell {k}"] = body
    return found


def _notebook_code(path: Path) -> list[str]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            cells.append("".join(src) if isinstance(src, list) else str(src))
    return cells


def _file_lines(path: Path) -> list[str] | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if b"\0" in raw[:4096]:
        return None
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            nb = json.loads(text)
            text = "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list)
                             else str(c.get("source", "")) for c in nb.get("cells", []))
        except ValueError:
            pass
    return text.splitlines()


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    first = needle[0]
    for i, line in enumerate(haystack):
        if line == first and haystack[i:i + n] == needle:
            return True
    return False


def find_leaks(bundle: str | Path, root: Path = REPO_ROOT) -> list[Leak]:
    """Every reference body, lecture answer or solutions/ file found in a file of `bundle`."""
    bundle = Path(bundle)
    answers = answer_fingerprints(root)
    digests = {}
    for path in (root / "solutions").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            digests[hashlib.sha256(path.read_bytes()).hexdigest()] = str(path.relative_to(root))
    leaks = []
    for path in sorted(bundle.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(bundle))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in digests:
            leaks.append(Leak(f"a copy of {digests[digest]}", rel))
            continue
        lines = _file_lines(path)
        if not lines:
            continue
        text = normalise(lines)
        for what, body in answers.items():
            if _contains(text, body):
                leaks.append(Leak(what, rel))
    return leaks
