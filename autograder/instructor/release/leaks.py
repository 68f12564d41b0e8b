"""The leak scan: is any answer in a folder about to be given to students?

`find_leaks(bundle)` looks in every file of `bundle` for the body of every function of every reference (the lines
between its solution markers, compared without comments or whitespace), every answer under
``solutions/lectures/`` and every file of ``solutions/`` byte for byte.

`find_reimplementations(bundle, specs)` judges the shipped check files by behaviour: a function of theirs that gives
the reference's values on the inputs the checks give a graded function re-implements it (see below).
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


# ------------------------------------------------------------------ public helpers that re-implement a target
#
# A public check may judge with properties, PyTorch built-ins, finite differences or expected values stored as data,
# never with a re-implementation of a graded function: a student reading the check would find the answer. The
# text scan above finds a reference body copied into a helper; a helper written in another style (a loop in place of
# `cumprod`, the same formula spelled differently) has no line in common with the reference. So the scan below judges
# helpers by behaviour, as a grader judges a submission:
#
# 1. The course's own core checks of the assignment (public and hidden) run here, in-process, with the reference
#    standing in for both `student` and `reference`; every call they make to a target (a function, or a class
#    constructed) is recorded with its arguments and what the reference returned: the checks' own inputs.
# 2. Every function of every shipped check file (the public checks and the `_*.py` helpers they load) is then called
#    on those inputs, in place of each target it could stand for (its positional parameters fit the target's, once
#    the callables passed in, such as a model, are left out; a dict and an object with the same fields are
#    interchangeable). A helper that gives the reference's values on every recorded call it accepts re-implements
#    that target: the release is refused, naming both.
#
# Judging with a PyTorch built-in is allowed, as AUTHORING.md says: a helper whose body uses an API the assignment
# forbids (the static scan of autograder.forbidden says so) is not counted, nor one that is a thin wrapper of torch
# (one `return` of torch calls on its arguments, no arithmetic: `F.unfold(x, p, stride=p).transpose(1, 2)`).
# Expected values stored as data do not generalise to the checks' inputs, so they pass.

_MAX_CALLS = 4  # recorded calls kept per target
_CALL_SECONDS = 10.0  # one check, or one helper call, run here (a backstop: check code is the course's own)


def find_reimplementations(bundle: str | Path, specs_list) -> list[Leak]:
    """Every function of a shipped check file of `bundle` that computes what a target of its assignment computes."""
    bundle = Path(bundle)
    leaks: list[Leak] = []
    for spec in specs_list:
        shipped = bundle / "autograder" / "checks" / spec.slug
        if not spec.reference.is_file() or not shipped.is_dir():
            continue
        files = sorted(p for p in shipped.glob("*.py") if p.name != "spec.py")
        helpers = _shipped_functions(spec, files)
        if not helpers:
            continue
        calls = _record_target_calls(spec)
        for (path, name), fn in helpers.items():
            for target, recorded in calls.items():
                if _reproduces(fn, recorded):
                    where = str(path.relative_to(bundle))
                    leaks.append(Leak(f"{where}: {name}() re-implements {spec.slug}'s {target} (it gives the "
                                      f"reference's values on the checks' inputs); judge with properties, "
                                      f"built-ins, finite differences or expected values stored as data", where))
    return leaks


def _shipped_functions(spec, files: list[Path]) -> dict[tuple[Path, str], object]:
    """{(file, name): function} for the plain functions defined in the shipped check files (no checks), each file
    loaded as it is in the bundle (its `load_sibling` helpers from the bundle too)."""
    import inspect
    import sys

    from ... import forbidden
    from ...paths import load_module

    prefix = f"dlcourse_checks_{spec.slug}_"
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.startswith(prefix)}
    found = {}
    try:
        for path in files:
            key = f"dlcourse_release_scan_{spec.slug}_{path.stem}"
            try:
                module = load_module(path, key)
            except Exception:  # noqa: BLE001 - a file that does not load here gives nothing to compare
                continue
            source = path.read_text(encoding="utf-8", errors="replace")
            names = tuple(n for n, o in vars(module).items() if inspect.isfunction(o) and o.__module__ == key)
            try:
                uses = forbidden.scan(source, tuple(spec.forbidden), names) if spec.forbidden else {}
            except SyntaxError:
                uses = {}
            for name in names:
                obj = getattr(module, name)
                if name.startswith("test_") or any(m.name == "dlcourse_check" for m in getattr(obj, "pytestmark", [])):
                    continue
                if uses.get(name) or _torch_wrapper(obj):
                    continue  # judges with a PyTorch built-in (one the student may not call, or a thin wrapper)
                found[(path, name)] = obj
    finally:
        for k in [k for k in sys.modules if k.startswith(prefix)]:
            del sys.modules[k]
        sys.modules.update(saved)
    return found


_WRAPPER_NODES = ("Call", "Attribute", "Name", "Constant", "keyword", "Load", "Tuple", "List", "Starred")


def _torch_wrapper(fn) -> bool:
    """A function whose body (docstring and imports aside) is one `return` of calls rooted in torch, on its
    arguments and constants only: it judges with a PyTorch built-in, it does not re-implement one."""
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = [b for b in node.body if not isinstance(b, (ast.Import, ast.ImportFrom))
            and not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
    local = {a.asname or a.name: a.name for b in node.body if isinstance(b, (ast.Import, ast.ImportFrom))
             for a in b.names}
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return False
    rooted = False
    for sub in ast.walk(body[0].value):
        if type(sub).__name__ not in _WRAPPER_NODES:
            return False
        if isinstance(sub, ast.Call):
            root = sub.func
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            if isinstance(root, ast.Name):
                module = fn.__globals__.get(root.id)
                name = getattr(module, "__name__", "") if inspect.ismodule(module) else local.get(root.id, "")
                rooted = rooted or name.split(".")[0] == "torch"
    return rooted


# -- step 1: the checks' inputs


class _Recorder:
    """The reference module with each target wrapped: its calls are recorded (arguments copied before the call)."""

    def __init__(self, module, targets, calls):
        import inspect

        self._module = module
        self._wrapped = {}
        for name in targets:
            obj = getattr(module, name, None)
            if inspect.isfunction(obj):
                self._wrapped[name] = _recording_function(name, obj, calls)
            elif inspect.isclass(obj):
                self._wrapped[name] = _recording_class(name, obj, calls)

    def __getattr__(self, name):
        if name in self._wrapped:
            return self._wrapped[name]
        return getattr(self._module, name)


def _recording_function(name, fn, calls):
    import functools
    import inspect

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        snapshot = _bound(signature, args, kwargs)
        result = fn(*args, **kwargs)
        _keep(calls, name, snapshot, result)
        return result

    return wrapper


def _recording_class(name, cls, calls):
    import inspect

    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return cls

    def __init__(self, *args, **kwargs):
        snapshot = _bound(signature, args, kwargs)
        cls.__init__(self, *args, **kwargs)
        _keep(calls, name, snapshot, self)

    return type(cls.__name__, (cls,), {"__init__": __init__, "__module__": cls.__module__,
                                       "__qualname__": cls.__qualname__})


def _bound(signature, args, kwargs):
    """The call's arguments in the target's parameter order (defaults applied), copied; None when they cannot be."""
    import copy

    try:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return copy.deepcopy(list(bound.arguments.values()))
    except Exception:  # noqa: BLE001 - generators, open files...: this call is not recorded
        return None


def _keep(calls, name, snapshot, result):
    import copy

    if snapshot is None or len(calls.setdefault(name, [])) >= _MAX_CALLS:
        return
    try:
        calls[name].append((snapshot, copy.deepcopy(result)))
    except Exception:  # noqa: BLE001
        pass


class _InProcessStudent:
    """`student` for the scan: the reference itself, run here (the checks' code is the course's own)."""

    def __init__(self, recorder):
        self._recorder = recorder

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        fn = getattr(self._recorder, name)

        def local(*args, _timeout=None, **kwargs):
            return fn(*args, **kwargs)

        return local

    def call(self, name, *args, _timeout=None, **kwargs):
        return getattr(self._recorder, name)(*args, **kwargs)

    def run(self, probe, *args, _timeout=None, **kwargs):
        return probe(self._recorder, *args, **kwargs)


def _record_target_calls(spec) -> dict[str, list]:
    """{target: [(arguments, result), ...]} from running the assignment's core checks here on the reference."""
    import inspect
    import sys
    import tempfile

    import numpy as np

    from ...checking import CheckInfo
    from ...paths import load_module

    calls: dict[str, list] = {}
    reference = load_module(spec.reference, f"dlcourse_release_scan_reference_{spec.slug}")
    recorder = _Recorder(reference, spec.targets, calls)
    student = _InProcessStudent(recorder)
    with tempfile.TemporaryDirectory() as scratch:
        fixtures = {"student": student, "reference": recorder, "device": "cpu", "seed": 12345,
                    "rng": None, "submission_source": spec.reference.read_text(encoding="utf-8"),
                    "tmp_path": Path(scratch)}
        for path in (spec.public_checks, spec.hidden_checks):
            if not path.is_file():
                continue
            try:
                module = load_module(path, f"dlcourse_release_scan_{spec.slug}_{path.stem}_run")
            except Exception:  # noqa: BLE001
                continue
            for obj in list(vars(module).values()):
                marks = getattr(obj, "pytestmark", []) if inspect.isfunction(obj) else []
                info = next((m.args[0] for m in marks if m.name == "dlcourse_check"), None)
                if not isinstance(info, CheckInfo) or not info.core:
                    continue
                if any(m.name == "parametrize" for m in marks) or len(calls.get(info.target, ())) >= _MAX_CALLS:
                    continue  # (enough calls of this target recorded already)
                params = list(inspect.signature(obj).parameters)
                if any(p not in fixtures for p in params):
                    continue
                kwargs = {p: fixtures[p] for p in params}
                if "rng" in kwargs:
                    kwargs["rng"] = np.random.default_rng(12345)
                try:
                    with _time_limit(_CALL_SECONDS):
                        obj(**kwargs)
                except BaseException as exc:  # noqa: BLE001 - only the recorded calls matter
                    if isinstance(exc, KeyboardInterrupt):
                        raise
    sys.modules.pop(f"dlcourse_release_scan_reference_{spec.slug}", None)
    return calls


class _TimeUp(Exception):
    pass


def _time_limit(seconds: float):
    import contextlib
    import signal
    import threading

    @contextlib.contextmanager
    def limit():
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_alarm(signum, frame):
            raise _TimeUp()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return limit()


# -- step 2: each helper on those inputs


class _Fields(dict):
    """A dict whose keys are also attributes: a helper taking a dict of tensors accepts a schedule object, and one
    reading attributes accepts a dict."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _as_fields(value):
    import numpy as np

    if isinstance(value, dict):
        return _Fields(value)
    if _is_data(value) or callable(value) or isinstance(value, (str, bytes, list, tuple, np.ndarray)):
        return value
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        return _Fields({k: v for k, v in attrs.items() if not k.startswith("_")})
    return value


def _is_data(value) -> bool:
    import numbers

    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (numbers.Number, np.ndarray, np.generic)):
        return True
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def _torch():
    import sys

    return sys.modules.get("torch")


def _argument_lists(fn, values: list) -> list[list]:
    """The ways `values` (a target's arguments) can be passed to `fn`: as they are, without the callables (a model
    the helper builds in itself), each also with dicts and objects made interchangeable."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    if any(p.kind == p.KEYWORD_ONLY and p.default is p.empty for p in params):
        return []
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    lists = []
    for candidate in (values, [v for v in values if not (callable(v) and not _is_data(v))]):
        n = len(candidate)
        if n < required:
            continue
        if n > len(positional) and not varargs:
            candidate = candidate[:len(positional)]
        for args in (candidate, [_as_fields(v) for v in candidate]):
            if args not in lists:
                lists.append(args)
    return lists


def _reproduces(fn, recorded: list) -> bool:
    """True when `fn` gives the reference's result on every recorded call it accepts, and accepts at least one
    with a result that carries information (a non-zero number, array or tensor)."""
    import copy
    import warnings

    matched = 0
    for values, expected in recorded:
        outcome = None
        for args in _argument_lists(fn, values):
            try:
                with warnings.catch_warnings(), _time_limit(_CALL_SECONDS):
                    warnings.simplefilter("ignore")
                    got = fn(*copy.deepcopy(args))
            except BaseException as exc:  # noqa: BLE001 - this way of calling does not fit the helper
                if isinstance(exc, KeyboardInterrupt):
                    raise
                continue
            same, evidence = _same(got, expected)
            if same and evidence:
                outcome = True
                break
            outcome = False if outcome is None else outcome
        if outcome is False:
            return False
        if outcome:
            matched += 1
    return matched > 0


def _same(got, expected, depth: int = 0) -> tuple[bool, int]:
    """(equal within float tolerance, how many informative values were compared)."""
    import numpy as np

    if depth > 6:
        return False, 0
    if _is_data(expected):
        if not _is_data(got):
            return False, 0
        a, b = _array(got), _array(expected)
        if a is None or b is None or a.shape != b.shape or b.size == 0:
            return False, 0
        if not (np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number)):
            return False, 0
        a, b = a.astype(np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(b) else np.float64), \
            b.astype(np.complex128 if np.iscomplexobj(b) or np.iscomplexobj(a) else np.float64)
        if not (np.isfinite(b).all() and np.isfinite(a).all()):
            return False, 0
        ok = bool(np.allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(b).max()))))
        return ok, int(ok and bool(np.any(b != 0)) and not _constant(b))
    if isinstance(expected, (tuple, list)):
        if isinstance(got, (tuple, list)) and len(got) == len(expected):
            total = 0
            for g, e in zip(got, expected):
                if e is None and g is None:
                    continue
                same, evidence = _same(g, e, depth + 1)
                if not same:
                    return False, 0
                total += evidence
            return True, total
        if expected and not isinstance(got, (tuple, list)):  # the main output of a (value, cache) pair
            return _same(got, expected[0], depth + 1)
        return False, 0
    if isinstance(got, dict):  # a dict of fields against a dict or an object with those fields
        fields = expected if isinstance(expected, dict) else getattr(expected, "__dict__", None)
        if not isinstance(fields, dict) or len(got) < 2:
            return False, 0
        total = 0
        for key, value in got.items():
            if key not in fields and not (isinstance(key, str) and hasattr(expected, key)):
                return False, 0
            same, evidence = _same(value, fields[key] if key in fields else getattr(expected, key), depth + 1)
            if not same:
                return False, 0
            total += evidence
        return True, total
    return False, 0


def _constant(b) -> bool:
    """A result that is one value repeated (with at least two entries) says little about the formula."""
    flat = b.reshape(-1)
    return flat.size > 1 and bool((flat == flat[0]).all())


def _array(value):
    import numpy as np

    torch = _torch()
    try:
        if torch is not None and isinstance(value, torch.Tensor):
            return value.detach().cpu().resolve_conj().resolve_neg().numpy()
        return np.asarray(value)
    except Exception:  # noqa: BLE001
        return None
