"""The student bundle: everything a student needs to work and self-check, and nothing that gives an answer away.

`release(out)` copies, from this course:

- ``assignments/`` (skeletons, READMEs, notebooks) and ``lectures/``;
- the engine (``autograder/``) with, for each assignment, only ``spec.py``, ``test_public.py`` and the ``_*.py``
  helpers the public checks load; every ``test_hidden.py`` (and anything else, such as ``bugs.py``, whose text is
  made from the reference) is left out and replaced by ``hidden.json`` = ``{"count": N, "points": P}``, so that
  ``dlcourse check`` can tell the student how many hidden checks will run at grading;
- ``README.md``, ``pyproject.toml`` (and ``constraints.txt``, ``LICENSE`` when present), so that the bundle
  installs on its own with ``pip install -e``.

Never copied: ``solutions/`` (references and lecture exercise answers), ``tests/``, ``benchmarks/``, ``.git`` and
every other hidden folder, build leftovers.

Before it returns, `release` scans the bundle it wrote with `find_leaks`: the body of every function of every
reference (the lines between its solution markers), every answer under ``solutions/lectures/`` and every file of
``solutions/`` byte for byte. A bundle with a leak is deleted and `ReleaseError` names what leaked and where.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..authoring.skeleton import BEGIN, END, make_skeleton
from ..paths import ASSIGNMENTS, CHECKS, LECTURES, PACKAGE, REPO_ROOT, SOLUTIONS

TOP_LEVEL_FILES = ("README.md", "pyproject.toml", "constraints.txt", "LICENSE", "LICENSE.md", ".gitignore")
PUBLIC_CHECK_FILES = ("spec.py", "test_public.py")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".ipynb_checkpoints", ".pytest_cache",
                                 "*.egg-info", ".engine-ready", ".DS_Store")


class ReleaseError(Exception):
    """The bundle could not be made, or it would have given an answer away."""


@dataclass
class Leak:
    what: str  # e.g. "solutions/backprop/backprop.py: body of linear_backward"
    where: str  # the bundle file it was found in, relative to the bundle

    def __str__(self) -> str:
        return f"{self.what} found in {self.where}"


@dataclass
class ReleaseSummary:
    out: Path
    assignments: list[str]
    hidden: dict[str, tuple[int, float]]  # slug -> (count, points) written to hidden.json
    files: int = 0
    dropped: list[str] = field(default_factory=list)  # engine files left out (relative to the course root)
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ the bundle

def release(out: str | Path, slugs: list[str] | None = None, *, force: bool = False) -> ReleaseSummary:
    """Write the student bundle to `out` (all assignments, or the `slugs` given) and prove it has no answers."""
    from .. import spec as specs
    from ..grading import GradingError, hidden_summary

    out = Path(out).resolve()
    _check_destination(out, force)
    try:
        chosen = [specs.load(s) for s in slugs] if slugs else specs.all_specs()
    except specs.UnknownAssignment as exc:
        raise ReleaseError(str(exc)) from None
    wanted = {s.slug for s in chosen}

    summary = ReleaseSummary(out=out, assignments=[s.slug for s in chosen], hidden={})
    out.mkdir(parents=True, exist_ok=True)
    try:
        for spec in chosen:
            skeleton = spec.skeleton
            if not skeleton.is_file():
                raise ReleaseError(f"{_rel(skeleton)} is missing: run `dlcourse author sync {spec.slug}`")
            if spec.reference.is_file() and make_skeleton(spec.reference.read_text()) != skeleton.read_text():
                summary.warnings.append(f"{_rel(skeleton)} is out of date with its reference: "
                                        f"run `dlcourse author sync {spec.slug}`")
            shutil.copytree(ASSIGNMENTS / spec.slug, out / "assignments" / spec.slug, ignore=IGNORED)
        if LECTURES.is_dir():
            shutil.copytree(LECTURES, out / "lectures", ignore=IGNORED)
        _copy_engine(out, wanted, summary)
        for name in TOP_LEVEL_FILES:
            if (REPO_ROOT / name).is_file():
                shutil.copy2(REPO_ROOT / name, out / name)
        # The course README is written for staff (grading the references, CI): students get their own.
        (out / "README.md").write_text(_student_readme(chosen))

        for spec in chosen:
            try:
                counted = hidden_summary(spec)
            except GradingError as exc:
                raise ReleaseError(f"could not count the hidden checks of {spec.slug}: {exc}") from None
            if counted and counted[0] > 0:
                count, points = counted
                summary.hidden[spec.slug] = (count, points)
                manifest = out / "autograder" / "checks" / spec.slug / "hidden.json"
                manifest.write_text(json.dumps({"count": count, "points": points}, indent=2) + "\n")

        problems = [str(leak) for leak in find_leaks(out)] + _forbidden_paths(out)
        if problems:
            raise ReleaseError("the bundle would give answers away; nothing was released:\n  "
                               + "\n  ".join(problems))
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    summary.files = sum(1 for p in out.rglob("*") if p.is_file())
    return summary


def _check_destination(out: Path, force: bool) -> None:
    root = REPO_ROOT.resolve()
    if out == root or out in root.parents:
        raise ReleaseError(f"--out {out} would overwrite the course itself: choose a new folder")
    for secret in (SOLUTIONS, PACKAGE, ASSIGNMENTS, LECTURES):
        s = secret.resolve()
        if out == s or s in out.parents:
            raise ReleaseError(f"--out {out} is inside the course's {s.name}/ folder: choose a folder elsewhere")
    if out.exists():
        if not out.is_dir():
            raise ReleaseError(f"--out {out} exists and is not a folder")
        if any(out.iterdir()):
            if not force:
                raise ReleaseError(f"--out {out} is not empty (use --force to replace it)")
            if not ((out / "autograder").is_dir() and (out / "assignments").is_dir()):
                raise ReleaseError(f"--out {out} does not hold a previous bundle: --force only replaces one")
            shutil.rmtree(out)


def _copy_engine(out: Path, wanted: set[str], summary: ReleaseSummary) -> None:
    """The engine without checks/, then for each chosen assignment its public check files only."""
    engine = out / "autograder"

    def ignore(directory, names):
        skip = set(IGNORED(directory, names))
        if Path(directory).resolve() == PACKAGE.resolve():
            skip.add("checks")
        return skip

    shutil.copytree(PACKAGE, engine, ignore=ignore)
    (engine / "checks").mkdir()
    for item in CHECKS.iterdir():  # the engine's own files in checks/ (pytest.ini)
        if item.is_file():
            shutil.copy2(item, engine / "checks" / item.name)
    for folder in sorted(p for p in CHECKS.iterdir() if p.is_dir()):
        if folder.name not in wanted:
            continue
        keep = public_check_files(folder)
        (engine / "checks" / folder.name).mkdir()
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path in keep:
                shutil.copy2(path, engine / "checks" / folder.name / path.name)
            else:
                summary.dropped.append(_rel(path))


def public_check_files(folder: Path) -> set[Path]:
    """spec.py, test_public.py and the `_*.py` helpers they load (directly or through another helper)."""
    keep = {folder / n for n in PUBLIC_CHECK_FILES if (folder / n).is_file()}
    helpers = {p.stem: p for p in folder.glob("_*.py") if p.name != "__init__.py"}
    todo = list(keep)
    while todo:
        text = todo.pop().read_text(encoding="utf-8", errors="replace")
        for stem, path in helpers.items():
            if path not in keep and re.search(rf"(?<![\w]){re.escape(stem)}(?![\w])", text):
                keep.add(path)
                todo.append(path)
    return keep


def _forbidden_paths(out: Path) -> list[str]:
    bad = []
    for path in out.rglob("*"):
        rel = path.relative_to(out)
        if path.name == "test_hidden.py" or rel.parts[0] in ("solutions", "tests", ".git", "benchmarks"):
            bad.append(f"{rel} must not be in a student bundle")
    return bad


def _student_readme(chosen) -> str:
    lines = ["# Deep learning through seven constraints: student copy", "",
             "Install once, in this folder (Python 3.10+; everything runs offline on a CPU):", "",
             "```bash", 'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[notebooks]"', "```", "",
             "Then, for each assignment:", "",
             "1. read `assignments/<name>/README.md` and work in `assignments/<name>/<name>.py`;",
             "2. walk through `assignments/<name>/<name>.ipynb` in JupyterLab (`jupyter lab`);",
             "3. self-check with `dlcourse check <name>` (public checks only: hidden checks run at grading, so "
             "passing these is not the final score).", "",
             "The lectures start at [lectures/README.md](lectures/README.md).", "", "Assignments:", ""]
    lines += [f"- [`{s.slug}`](assignments/{s.slug}/README.md): {s.title}" for s in chosen]
    return "\n".join(lines) + "\n"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------------------ leak scan

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
