"""The comparison toolkit: judge a student's value against an expected one, and say precisely what is off.

Every failure names the quantity, then the first thing that differs: its type, its device, its shape, its dtype,
NaN or Inf where the expected value is finite, and finally the values, with the largest absolute and relative
errors and where they are. Tolerances default per dtype. A value that matches a known wrong variant
(`mistakes=`) gets that mistake named in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from .checking import CheckFailure

try:  # torch is a dependency of the course, but the toolkit also serves NumPy-only assignments
    import torch
except ImportError:  # pragma: no cover
    torch = None

# (rtol, atol) per dtype: loose enough for a different but correct order of operations, tight enough to catch
# a wrong formula. TF32 is switched off by the engine, so float32 on CUDA is true float32.
TOLERANCES = {
    "float16": (5e-3, 1e-3),
    "bfloat16": (3e-2, 1e-2),
    "float32": (1e-4, 1e-5),
    "float64": (1e-7, 1e-9),
    "complex64": (1e-4, 1e-5),
    "complex128": (1e-7, 1e-9),
}


def _is_tensor(x) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def _dtype_name(x) -> str:
    if _is_tensor(x):
        return str(x.dtype).removeprefix("torch.")
    return str(np.asarray(x).dtype)


def _to_numpy(x) -> np.ndarray:
    if _is_tensor(x):
        x = x.detach()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.cpu().numpy()
    return np.asarray(x)


def _kind(x) -> str:
    if _is_tensor(x):
        return "a torch.Tensor"
    if isinstance(x, np.ndarray):
        return "a NumPy array"
    if x is None:
        return "None"
    return f"a {type(x).__name__}"


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def _where(index) -> str:
    return "" if index == () else f" at index {tuple(int(i) for i in index)}"


def tolerance_for(x, rtol=None, atol=None) -> tuple[float, float]:
    default = TOLERANCES.get(_dtype_name(x), (0.0, 0.0))
    return (default[0] if rtol is None else rtol, default[1] if atol is None else atol)


def _suffix(inputs: str | None) -> str:
    return f"\n  input: {inputs}" if inputs else ""


def _structure(actual, expected, name, compare_leaf, inputs):
    """Recurse through dicts, lists and tuples; returns True when it handled a container."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            raise CheckFailure(f"{name}: expected a dict with keys {sorted(expected)}, got {_kind(actual)}"
                               + _suffix(inputs))
        missing = sorted(set(expected) - set(actual), key=str)
        extra = sorted(set(actual) - set(expected), key=str)
        if missing or extra:
            raise CheckFailure(f"{name}: keys differ: missing {missing}, unexpected {extra}" + _suffix(inputs))
        for key in expected:
            compare_leaf(actual[key], expected[key], f"{name}[{key!r}]", key)
        return True
    if isinstance(expected, (list, tuple)) and not _is_tensor(expected):
        if not isinstance(actual, (list, tuple)):
            raise CheckFailure(f"{name}: expected a {type(expected).__name__} of {len(expected)} items, "
                               f"got {_kind(actual)}" + _suffix(inputs))
        if len(actual) != len(expected):
            raise CheckFailure(f"{name}: expected {len(expected)} items, got {len(actual)}" + _suffix(inputs))
        for i, (a, e) in enumerate(zip(actual, expected)):
            compare_leaf(a, e, f"{name}[{i}]", i)
        return True
    return False


def _check_container(actual, expected, name, inputs, check_dtype):
    """Type, device, shape and dtype; raises with a message naming the first difference."""
    if _is_tensor(expected):
        if not _is_tensor(actual):
            hint = ""
            if isinstance(actual, tuple):
                hint = f" (a tuple of {len(actual)}: did you return more than asked?)"
            elif isinstance(actual, np.ndarray):
                hint = " (use torch operations so the result stays a tensor)"
            raise CheckFailure(f"{name}: expected a torch.Tensor, got {_kind(actual)}{hint}" + _suffix(inputs))
        if actual.device.type != expected.device.type:
            raise CheckFailure(
                f"{name} is on the {actual.device.type} device, but the inputs were on {expected.device.type}: "
                "create new tensors on the input's device (device=x.device, or torch.zeros_like(x))"
                + _suffix(inputs))
    elif isinstance(expected, np.ndarray):
        if _is_tensor(actual):
            raise CheckFailure(f"{name}: expected a NumPy array, got a torch.Tensor" + _suffix(inputs))
        if not isinstance(actual, (np.ndarray, np.generic, float, int)):
            hint = (f" (a tuple of {len(actual)}: did you return more than asked?)"
                    if isinstance(actual, tuple) else "")
            raise CheckFailure(f"{name}: expected a NumPy array, got {_kind(actual)}{hint}" + _suffix(inputs))
    a_shape, e_shape = tuple(np.shape(_to_numpy(actual))), tuple(np.shape(_to_numpy(expected)))
    if a_shape != e_shape:
        hint = ""
        if len(a_shape) == 2 and a_shape == e_shape[::-1]:
            hint = " (transposed?)"
        elif math.prod(a_shape) == math.prod(e_shape):
            hint = " (same number of elements: a reshape or a missing/extra axis?)"
        elif len(a_shape) < len(e_shape):
            hint = " (a sum or mean over an axis that should stay?)"
        raise CheckFailure(f"{name} has shape {a_shape}, expected {e_shape}{hint}" + _suffix(inputs))
    if check_dtype and (_is_tensor(expected) or isinstance(expected, np.ndarray)):
        a_dt, e_dt = _dtype_name(actual), _dtype_name(expected)
        if a_dt != e_dt and not (isinstance(expected, np.ndarray) and _is_float_like(a_dt) and _is_float_like(e_dt)
                                 and np.dtype(a_dt).itemsize >= np.dtype(e_dt).itemsize):
            raise CheckFailure(f"{name} has dtype {a_dt}, expected {e_dt} (keep the input's dtype)" + _suffix(inputs))


def _has(container, key) -> bool:
    try:
        container[key]
        return True
    except (KeyError, IndexError, TypeError):
        return False


def _is_float_like(dt: str) -> bool:
    return dt.startswith("float")


def mismatch(actual, expected, *, rtol: float, atol: float) -> str | None:
    """None when `actual` is within tolerance of `expected` (same shapes), else a description of the errors."""
    a = _to_numpy(actual).astype(np.complex128 if np.iscomplexobj(_to_numpy(expected)) else np.float64)
    e = _to_numpy(expected).astype(a.dtype)
    a_nan, e_nan = np.isnan(a), np.isnan(e)
    if (a_nan & ~e_nan).any():
        idx = np.argwhere(a_nan & ~e_nan)
        return (f"contains NaN{_where(tuple(idx[0]))} ({len(idx)} of {a.size} elements) where the expected "
                f"value is {_fmt(e[tuple(idx[0])])}")
    a_inf = np.isinf(a) & ~np.isinf(e)
    if a_inf.any():
        idx = np.argwhere(a_inf)
        return f"contains Inf{_where(tuple(idx[0]))} ({len(idx)} of {a.size} elements) where the expected is finite"
    both_nan = a_nan & e_nan
    same_inf = np.isinf(a) & np.isinf(e) & (a == e)
    diff = np.where(both_nan | same_inf, 0.0, np.abs(a - e))
    tol = atol + rtol * np.where(np.isfinite(e), np.abs(e), 0.0)
    bad = (diff > tol) | (~np.isfinite(e) & ~both_nan & ~same_inf)
    if not bad.any():
        return None
    ratio = np.where(bad, diff / np.maximum(tol, 1e-300), -1.0)
    worst = np.unravel_index(int(np.argmax(ratio)), a.shape) if a.ndim else ()
    amax = np.unravel_index(int(np.argmax(diff)), a.shape) if a.ndim else ()
    rel = diff / np.maximum(np.abs(e), 1e-12)
    n_bad = int(bad.sum())
    return (f"max abs error {_fmt(diff[amax])}{_where(amax)} (got {_fmt(a[amax])}, expected {_fmt(e[amax])}); "
            f"max rel error {_fmt(rel.max())}; {n_bad} of {a.size} elements ({100 * n_bad / max(a.size, 1):.0f}%) "
            f"outside atol={atol:g} + rtol={rtol:g}*|expected|"
            + ("" if worst == amax else f"; worst relative to tolerance{_where(worst)}"))


def expect_close(actual, expected, *, name: str, rtol: float | None = None, atol: float | None = None,
                 mistakes: Mapping[str, object] | None = None, inputs: str | None = None,
                 check_dtype: bool = True) -> None:
    """Fail unless `actual` matches `expected` within tolerance (type, device, shape, dtype, then values)."""

    def leaf(a, e, n, key):
        # A known mistake given for the whole container applies part by part.
        sub = {d: w[key] for d, w in (mistakes or {}).items() if _has(w, key)}
        expect_close(a, e, name=n, rtol=rtol, atol=atol, mistakes=sub, inputs=inputs, check_dtype=check_dtype)

    if _structure(actual, expected, name, leaf, inputs):
        return
    if expected is None or isinstance(expected, (str, bool)):
        if actual != expected:
            raise CheckFailure(f"{name}: got {actual!r}, expected {expected!r}" + _suffix(inputs))
        return
    _check_container(actual, expected, name, inputs, check_dtype)
    r, a = tolerance_for(expected, rtol, atol)
    problem = mismatch(actual, expected, rtol=r, atol=a)
    if problem is None:
        return
    message = f"{name} is off: {problem}"
    for description, wrong in (mistakes or {}).items():
        try:
            if np.shape(_to_numpy(wrong)) == np.shape(_to_numpy(actual)) and \
                    mismatch(actual, wrong, rtol=max(r, 1e-6), atol=max(a, 1e-8)) is None:
                message += f"\n  This matches a known mistake: {description}."
                break
        except (TypeError, ValueError):
            continue
    raise CheckFailure(message + _suffix(inputs))


def expect_equal(actual, expected, *, name: str, inputs: str | None = None) -> None:
    """Fail unless `actual` equals `expected` exactly (bit for bit for tensors and arrays)."""

    def leaf(a, e, n, key):
        expect_equal(a, e, name=n, inputs=inputs)

    if _structure(actual, expected, name, leaf, inputs):
        return
    if _is_tensor(expected) or isinstance(expected, np.ndarray):
        _check_container(actual, expected, name, inputs, check_dtype=True)
        problem = mismatch(actual, expected, rtol=0.0, atol=0.0)
        if problem is not None:
            raise CheckFailure(f"{name} is not exactly equal: {problem}" + _suffix(inputs))
        return
    if actual != expected:
        raise CheckFailure(f"{name}: got {actual!r}, expected {expected!r}" + _suffix(inputs))


def expect_true(condition, message: str) -> None:
    """Fail with `message` unless `condition` holds."""
    if not bool(condition):
        raise CheckFailure(message)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of the scalar function `f` at `x` (float64). `x` is left unchanged."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        hi = f(x.copy())
        x[i] = old - eps
        lo = f(x.copy())
        x[i] = old
        grad[i] = (hi - lo) / (2 * eps)
    return grad


def expect_gradients(analytic, numeric, *, name: str, rtol: float = 1e-4, atol: float = 1e-6,
                     inputs: str | None = None) -> None:
    """Compare an analytic gradient with a finite-difference one (looser than `expect_close`'s float64 default)."""
    _check_container(analytic, numeric, name, inputs, check_dtype=False)
    problem = mismatch(analytic, numeric, rtol=rtol, atol=atol)
    if problem is not None:
        raise CheckFailure(f"{name} disagrees with finite differences: {problem}" + _suffix(inputs))


def describe(x) -> str:
    """A short description of an input for failure messages: 'float32 tensor of shape (4, 5)'."""
    if _is_tensor(x):
        return f"{_dtype_name(x)} tensor of shape {tuple(x.shape)} on {x.device.type}"
    if isinstance(x, np.ndarray):
        return f"{x.dtype} array of shape {x.shape}"
    return repr(x)
