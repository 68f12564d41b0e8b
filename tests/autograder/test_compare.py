"""The comparison toolkit names what is off: type, device, shape, dtype, NaN/Inf, values, known mistakes."""

import numpy as np
import pytest
import torch

from autograder.checking import CheckFailure
from autograder.compare import (describe, expect_close, expect_equal, expect_gradients, expect_true,
                                numerical_gradient, tolerance_for)


def fails(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailure) as err:
        fn(*args, **kwargs)
    return str(err.value)


def test_close_values_pass_and_far_values_report_where():
    e = torch.arange(12.0).reshape(3, 4)
    expect_close(e + 1e-7, e, name="y")
    a = e.clone()
    a[2, 1] += 0.5
    msg = fails(expect_close, a, e, name="y", inputs="x (3, 4)")
    assert "y is off" in msg and "max abs error 0.5 at index (2, 1)" in msg
    assert "got 9.5, expected 9" in msg and "1 of 12 elements" in msg and "input: x (3, 4)" in msg


def test_shape_dtype_device_and_type_messages():
    e = torch.zeros(3, 4)
    assert "has shape (4, 3), expected (3, 4) (transposed?)" in fails(expect_close, torch.zeros(4, 3), e, name="W")
    assert "dtype float64, expected float32" in fails(expect_close, e.double(), e, name="o")
    assert "expected a torch.Tensor, got a NumPy array" in fails(expect_close, np.zeros((3, 4)), e, name="o")
    assert "a tuple of 2" in fails(expect_close, (e, e), e, name="o")
    meta = torch.zeros(3, 4, device="meta")
    assert "is on the cpu device, but the inputs were on meta" in fails(expect_close, e, meta, name="o")


def test_nan_and_inf_are_reported():
    e = np.ones(5)
    a = e.copy()
    a[3] = np.nan
    assert "contains NaN at index (3,)" in fails(expect_close, a, e, name="loss")
    a[3] = np.inf
    assert "contains Inf at index (3,)" in fails(expect_close, a, e, name="loss")
    expect_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), name="same nan")


def test_known_mistakes_are_named():
    x = np.linspace(-1, 1, 10)
    msg = fails(expect_close, x / 0.5, x / 0.75, name="out", mistakes={"scaled by 1/p": x / 0.5, "other": x})
    assert "known mistake: scaled by 1/p" in msg and "other" not in msg


def test_containers_compare_key_by_key():
    e = {"W1": np.ones((2, 2)), "b1": np.zeros(2)}
    expect_close({"W1": np.ones((2, 2)), "b1": np.zeros(2)}, e, name="grads")
    assert "missing ['b1']" in fails(expect_close, {"W1": np.ones((2, 2))}, e, name="grads")
    assert "grads['b1'] is off" in fails(expect_close, {"W1": np.ones((2, 2)), "b1": np.ones(2)}, e, name="grads")
    assert "expected 2 items, got 3" in fails(expect_close, [1.0, 2.0, 3.0], [1.0, 2.0], name="pair")


@pytest.mark.parametrize("dtype,loose", [(torch.float16, 1e-3), (torch.bfloat16, 1e-2), (torch.float32, 1e-5)])
def test_tolerances_follow_the_dtype(dtype, loose):
    e = torch.ones(4, dtype=dtype)
    rtol, atol = tolerance_for(e)
    assert rtol > 0 and atol >= loose * 0.99
    expect_close((e.float() * (1 + rtol / 2)).to(dtype), e, name="y")
    fails(expect_close, e * 2, e, name="y")


def test_float64_is_strict():
    e = np.ones(3)
    fails(expect_close, e + 1e-5, e, name="y")


def test_exact_equality():
    expect_equal(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), name="w")
    assert "not exactly equal" in fails(expect_equal, torch.tensor([1.0, 2.0 + 1e-6]), torch.tensor([1.0, 2.0]),
                                        name="w")
    assert "got 3, expected 4" in fails(expect_equal, 3, 4, name="count")


def test_expect_true_and_describe():
    expect_true(True, "never shown")
    assert fails(expect_true, False, "the reason") == "the reason"
    assert describe(torch.zeros(2, 3)) == "float32 tensor of shape (2, 3) on cpu"
    assert describe(np.zeros((4,))) == "float64 array of shape (4,)"


def test_numerical_gradient_and_gradient_check():
    f = lambda x: float((x ** 3).sum())  # noqa: E731
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = numerical_gradient(f, x)
    expect_gradients(3 * x ** 2, g, name="dx")
    assert "disagrees with finite differences" in fails(expect_gradients, 2 * x, g, name="dx")
    assert np.array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # left unchanged


def test_known_mistakes_apply_inside_containers():
    e = {"W": np.ones(3), "b": np.zeros(2)}
    wrong = {"W": np.ones(3) * 3, "b": np.zeros(2)}
    msg = fails(expect_close, {"W": np.ones(3) * 3, "b": np.zeros(2)}, e, name="params", mistakes={"ascended": wrong})
    assert "params['W'] is off" in msg and "known mistake: ascended" in msg
