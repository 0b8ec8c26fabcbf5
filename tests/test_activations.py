"""Tests of cnnlib.activations: values by hand, derivatives against finite differences."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import example, given
from strategies import FD_TOL, SEEDS, fast_settings

import cnnlib as cl
from cnnlib import activations as act

PAIRS = {
    "relu": (act.relu, act.relu_derivative),
    "sigmoid": (act.sigmoid, act.sigmoid_derivative),
    "tanh": (act.tanh, act.tanh_derivative),
}
FUNCS = [f for pair in PAIRS.values() for f in pair]


def test_values_by_hand():
    """relu clips negatives (f′(0) taken as 0); sigmoid(0) = 1/2 with slope 1/4; tanh(0) = 0 with
    slope 1; sigmoid(ln 3) = 3/4 with slope 3/16."""
    y = np.array([-2.0, 0.0, 3.0])
    assert act.relu(y).tolist() == [0.0, 0.0, 3.0]
    assert act.relu_derivative(y).tolist() == [0.0, 0.0, 1.0]
    assert act.sigmoid(0.0) == 0.5 and act.sigmoid_derivative(0.0) == 0.25
    assert act.tanh(0.0) == 0.0 and act.tanh_derivative(0.0) == 1.0
    np.testing.assert_allclose(act.sigmoid(np.log(3.0)), 0.75, rtol=1e-15)
    np.testing.assert_allclose(act.sigmoid_derivative(np.log(3.0)), 3 / 16, rtol=1e-15)


def test_sigmoid_does_not_overflow():
    """sigmoid(±1000) is 1 and 0 without an overflow warning (warnings are errors here)."""
    with np.errstate(over="raise"):
        out = act.sigmoid(np.array([-1000.0, 1000.0]))
    assert out.tolist() == [0.0, 1.0]
    assert act.sigmoid(np.array([-1000.0], dtype=np.float32)).dtype == np.float32


@fast_settings(30)
@given(seed=SEEDS, n=st.integers(1, 30))
def test_sigmoid_symmetry(seed, n):
    """sigmoid(−y) = 1 − sigmoid(y)."""
    y = 4 * np.random.default_rng(seed).standard_normal(n)
    np.testing.assert_allclose(act.sigmoid(-y), 1 - act.sigmoid(y), atol=1e-15)


@pytest.mark.parametrize("name", PAIRS)
@fast_settings(30)
@given(seed=SEEDS, shape=st.lists(st.integers(1, 4), min_size=1, max_size=4))
@example(seed=108, shape=[1])  # y = 5.85: tanh′ = 3e-5 next to tanh = 1 (see the clip below)
def test_derivative_matches_finite_differences(name, seed, shape):
    """f′ equals the central difference of Σ f, element by element, on any shape.

    The difference quotient cannot resolve a derivative far below f itself: f's last bit
    (1e-16 · |f|) over a step of 1e-5 is 1e-11, so y stays within ±4, where tanh′ and
    sigmoid′ are above 1e-3; the saturated tails are checked in closed form below.
    """
    f, f_prime = PAIRS[name]
    y = np.clip(2 * np.random.default_rng(seed).standard_normal(shape), -4, 4)
    assert cl.gradcheck.gradient_error(lambda v: np.sum(f(v)), y, f_prime(y), eps=1e-5) < FD_TOL


def test_derivatives_in_the_saturated_tails():
    """Far out, where finite differences cannot see them: tanh′ = 1 − tanh² to its absolute rounding
    (1e-16: it is computed from tanh, which is within 1e-10 of 1 at y = 12), sigmoid′ = e^−|y| / (1 + e^−|y|)²
    to its relative rounding."""
    y = np.array([-12.0, -6.0, 6.0, 12.0])
    np.testing.assert_allclose(act.tanh_derivative(y), 1 / np.cosh(y) ** 2, rtol=0, atol=1e-15)
    e = np.exp(-np.abs(y))
    np.testing.assert_allclose(act.sigmoid_derivative(y), e / (1 + e) ** 2, rtol=1e-9)


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_dtypes_and_inputs_untouched(f):
    """float32 stays float32; ints and lists become float64 with the same values; the input is
    not modified and the result is not a view of it."""
    base = np.array([[-2, 0], [1, 3]])
    expected = f(base.astype(np.float64))
    assert f(base.astype(np.float32)).dtype == np.float32
    for arg in (base, base.tolist()):
        out = f(arg)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, expected)
    for dtype in (np.float64, np.float32):
        y = base.astype(dtype)
        out = f(y)
        out[...] = 99
        np.testing.assert_array_equal(y, base.astype(dtype))


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_non_numeric_input(f):
    """Strings are a TypeError naming the dtype."""
    with pytest.raises(TypeError, match=r"y must hold real numbers, got dtype <U"):
        f(["a", "b"])
