"""Tests of cnnlib.pool (vectorised max and average pooling) against cnnlib.reference,
finite differences and hand-built examples, including the max-pool tie rule."""

from __future__ import annotations

import re

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import example, given
from strategies import EXACT_TOL, FD_TOL, POOL_EXAMPLES, SEEDS, fast_settings, pool_cases

import cnnlib as cl
from cnnlib import reference

POOLS = {
    "max": (
        cl.maxpool2d_forward,
        cl.maxpool2d_backward,
        reference.maxpool2d_forward,
        reference.maxpool2d_backward,
    ),
    "avg": (
        cl.avgpool2d_forward,
        cl.avgpool2d_backward,
        reference.avgpool2d_forward,
        reference.avgpool2d_backward,
    ),
}


def with_examples(test):
    """Run a pooling property test on the hand-picked edge cases too."""
    for case in POOL_EXAMPLES:
        test = example(case=case)(test)
    return test


# --- property tests -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", POOLS)
@fast_settings(60)
@with_examples
@given(case=pool_cases())
def test_matches_reference(kind, case):
    """Vectorised forward and backward == the loops, for overlapping, non-square and strided
    windows; output shape is conv_output_size(H, k, s) per axis (stride None means s = size)."""
    fwd, bwd, ref_fwd, ref_bwd = POOLS[kind]
    x, dy = case.arrays()
    y = fwd(x, case.size, case.stride)
    (sh, sw) = case.size if case.stride is None else case.stride
    Ho, Wo = cl.conv_output_size(case.H, case.size[0], sh), cl.conv_output_size(case.W, case.size[1], sw)
    assert y.shape == (case.N, case.C, Ho, Wo)
    assert cl.rel_error(y, ref_fwd(x, case.size, case.stride)) < EXACT_TOL
    dx = bwd(dy, x, case.size, case.stride)
    assert dx.shape == x.shape
    assert cl.rel_error(dx, ref_bwd(dy, x, case.size, case.stride)) < EXACT_TOL


@pytest.mark.parametrize("kind", POOLS)
@fast_settings(40)
@with_examples
@given(case=pool_cases())
def test_backward_matches_finite_differences(kind, case):
    """With E = Σ y ⊙ δ, central differences of E in x equal the backward of both versions.
    (Standard-normal values: no two entries of a window are within the step of each other.)"""
    fwd, bwd, _, ref_bwd = POOLS[kind]
    x, dy = case.arrays()
    num = cl.numerical_gradient(lambda v: np.sum(fwd(v, case.size, case.stride) * dy), x)
    assert cl.rel_error(bwd(dy, x, case.size, case.stride), num) < FD_TOL
    assert cl.rel_error(ref_bwd(dy, x, case.size, case.stride), num) < FD_TOL


@fast_settings(60)
@given(case=pool_cases(), seed=SEEDS, high=st.integers(1, 3))
def test_max_ties_match_reference_on_integers(case, seed, high):
    """On small integers (many ties) the vectorised max-pool backward routes δ exactly as the
    loop version, whose rule reads: the first maximum in row-major order wins."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, high + 1, size=(case.N, case.C, case.H, case.W))
    dy = rng.standard_normal((case.N, case.C) + case.out_hw)
    dx = cl.maxpool2d_backward(dy, x, case.size, case.stride)
    np.testing.assert_allclose(dx, reference.maxpool2d_backward(dy, x, case.size, case.stride), atol=1e-12)
    # every window hands its δ to exactly one pixel
    np.testing.assert_allclose(dx.sum(axis=(2, 3)), dy.sum(axis=(2, 3)), atol=1e-12)


# --- hand-built examples -------------------------------------------------------------------


def test_max_forward_by_hand():
    """2x2 windows, stride 2, and a 3x2 window with stride (1, 2) on a 4x4 image."""
    x = np.array([[1, 3, 3, 0], [3, 2, 1, 1], [0, 0, 5, 5], [0, 7, 5, 5]])[None, None]
    assert cl.maxpool2d_forward(x, 2)[0, 0].tolist() == [[3.0, 3.0], [7.0, 5.0]]
    assert cl.maxpool2d_forward(x, (3, 2), stride=(1, 2))[0, 0].tolist() == [[3.0, 5.0], [7.0, 5.0]]


def test_max_ties_go_to_the_first_maximum():
    """Integer input with ties: each window's δ lands on its first maximum in row-major order
    (top row before bottom row, left before right)."""
    x = np.array([[1, 3, 3, 0], [3, 2, 1, 1], [0, 0, 5, 5], [0, 0, 5, 5]])[None, None]
    dy = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    expected = np.zeros((4, 4))
    expected[0, 1] = 1.0  # window 1 3 / 3 2: the 3 at (0, 1) comes before the 3 at (1, 0)
    expected[0, 2] = 2.0  # window 3 0 / 1 1
    expected[2, 0] = 3.0  # all zeros: the top-left pixel
    expected[2, 2] = 4.0  # all fives: the top-left pixel
    for bwd in (cl.maxpool2d_backward, reference.maxpool2d_backward):
        np.testing.assert_array_equal(bwd(dy, x, 2)[0, 0], expected)


def test_max_overlapping_windows_accumulate():
    """2x2 windows with stride 1 over a 3x3 image: a pixel that wins several windows receives
    the sum of their δ (+=); with all-equal values each window's top-left pixel wins."""
    dy = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    peak = np.zeros((3, 3), dtype=int)
    peak[1, 1] = 9
    ties = np.ones((3, 3), dtype=int)
    plus = np.array([[0, 2, 0], [2, 2, 2], [0, 2, 0]])
    for bwd in (cl.maxpool2d_backward, reference.maxpool2d_backward):
        assert bwd(dy, peak[None, None], 2, 1)[0, 0].tolist() == [[0, 0, 0], [0, 10, 0], [0, 0, 0]]
        assert bwd(dy, ties[None, None], 2, 1)[0, 0].tolist() == [[1, 2, 0], [3, 4, 0], [0, 0, 0]]
        # windows' first maxima: (0, 1), (0, 1), (1, 0), (1, 1)
        assert bwd(dy, plus[None, None], 2, 1)[0, 0].tolist() == [[0, 3, 0], [3, 4, 0], [0, 0, 0]]


def test_max_window_of_minus_infinity():
    """A window holding only -inf still routes its δ to its first pixel (no crash)."""
    x = np.full((1, 1, 2, 2), -np.inf)
    dy = np.array([[[[5.0]]]])
    for bwd in (cl.maxpool2d_backward, reference.maxpool2d_backward):
        assert bwd(dy, x, 2)[0, 0].tolist() == [[5.0, 0.0], [0.0, 0.0]]


def test_avg_by_hand():
    """Average of a 2x2 window is its mean; backward spreads δ/4 to each pixel, and overlapping
    1x2 windows with stride 1 give the middle column both halves."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    assert cl.avgpool2d_forward(x, 2).tolist() == [[[[2.5]]]]
    assert cl.avgpool2d_backward(np.array([[[[4.0]]]]), x, 2)[0, 0].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    x3 = np.array([[1.0, 2.0, 3.0]])[None, None]
    assert cl.avgpool2d_forward(x3, (1, 2), 1)[0, 0].tolist() == [[1.5, 2.5]]
    dx = cl.avgpool2d_backward(np.array([[[[2.0, 4.0]]]]), x3, (1, 2), 1)
    assert dx[0, 0].tolist() == [[1.0, 3.0, 2.0]]


def test_leftover_rows_get_no_gradient():
    """A 5x5 image under 2x2 windows with stride 2 never reads row 4 or column 4."""
    x = np.random.default_rng(0).standard_normal((1, 1, 5, 5))
    for bwd in (cl.maxpool2d_backward, cl.avgpool2d_backward):
        dx = bwd(np.ones((1, 1, 2, 2)), x, 2)
        assert np.all(dx[0, 0, 4, :] == 0) and np.all(dx[0, 0, :, 4] == 0)
        assert np.count_nonzero(dx) == (4 if bwd is cl.maxpool2d_backward else 16)


# --- dtypes and immutability ------------------------------------------------------------------


def _pool_calls(x, dy):
    calls = {}
    for kind, (fwd, bwd, ref_fwd, ref_bwd) in POOLS.items():
        calls[f"{kind}_forward"] = lambda f=fwd: f(x, (2, 3), (1, 2))
        calls[f"{kind}_backward"] = lambda f=bwd: f(dy, x, (2, 3), (1, 2))
        calls[f"reference.{kind}_forward"] = lambda f=ref_fwd: f(x, (2, 3), (1, 2))
        calls[f"reference.{kind}_backward"] = lambda f=ref_bwd: f(dy, x, (2, 3), (1, 2))
    return calls


def _pool_arrays(dtype):
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, size=(2, 2, 4, 6)).astype(dtype)
    dy = rng.integers(-3, 4, size=(2, 2, 3, 2)).astype(dtype)
    return x, dy


CALL_NAMES = list(_pool_calls(*_pool_arrays(np.float64)))


@pytest.mark.parametrize("name", CALL_NAMES)
def test_float32_stays_float32(name):
    """float32 in, float32 out."""
    assert _pool_calls(*_pool_arrays(np.float32))[name]().dtype == np.float32


@pytest.mark.parametrize("name", CALL_NAMES)
def test_int_arrays_and_lists_become_float64(name):
    """Integer arrays and nested lists give float64 and the same values as float64 input."""
    expected = _pool_calls(*_pool_arrays(np.float64))[name]()
    for args in (_pool_arrays(np.int64), [a.tolist() for a in _pool_arrays(np.int64)]):
        out = _pool_calls(*args)[name]()
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", CALL_NAMES)
def test_inputs_are_not_modified(name, dtype):
    """Pooling never writes into x or dy, and its result is not a view of them."""
    arrays = _pool_arrays(dtype)
    copies = [a.copy() for a in arrays]
    out = _pool_calls(*arrays)[name]()
    out[...] = 99
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)


# --- bad inputs ------------------------------------------------------------------------------------

X = np.zeros((1, 2, 4, 5))
ALL_FUNCS = [f for fs in POOLS.values() for f in fs]


def _call(f, x=X, size=2, stride=None, dy=None):
    if f in (cl.maxpool2d_backward, cl.avgpool2d_backward, reference.maxpool2d_backward,
             reference.avgpool2d_backward):  # fmt: skip
        return f(np.zeros((1, 2, 2, 2)) if dy is None else dy, x, size, stride)
    return f(x, size, stride)


@pytest.mark.parametrize("f", ALL_FUNCS)
def test_x_wrong_ndim(f):
    """A 3-D x names the layout and the shape it got."""
    with pytest.raises(ValueError, match=r"x must be 4-D .*\(N, C, H, W\).*\(2, 4, 5\)"):
        _call(f, x=X[0])


@pytest.mark.parametrize("f", ALL_FUNCS)
@pytest.mark.parametrize("size", [0, (2, 0), -1])
def test_size_below_one(f, size):
    """A pool size < 1 on either axis is a ValueError naming it."""
    with pytest.raises(ValueError, match=rf"size must be >= 1.*{re.escape(repr(size))}"):
        _call(f, size=size)


@pytest.mark.parametrize("f", ALL_FUNCS)
@pytest.mark.parametrize("size", [2.0, (2, 1.5)])
def test_size_not_an_integer(f, size):
    """A non-integer pool size is a TypeError naming it."""
    with pytest.raises(TypeError, match=rf"size must be an int.*{re.escape(repr(size))}"):
        _call(f, size=size)


@pytest.mark.parametrize("f", ALL_FUNCS)
@pytest.mark.parametrize("stride", [0, (1, -2)])
def test_stride_below_one(f, stride):
    """A pool stride < 1 is a ValueError naming it."""
    with pytest.raises(ValueError, match=rf"stride must be >= 1.*{re.escape(repr(stride))}"):
        _call(f, stride=stride)


@pytest.mark.parametrize("f", ALL_FUNCS)
def test_stride_not_an_integer(f):
    """A stride of 2.5 is a TypeError naming it."""
    with pytest.raises(TypeError, match=r"stride must be an int.*2\.5"):
        _call(f, stride=2.5)


@pytest.mark.parametrize("f", ALL_FUNCS)
def test_window_larger_than_input(f):
    """A 5x2 window on a 4x5 image names the window and the input size."""
    with pytest.raises(ValueError, match=r"pool window 5x2 is larger than the input 4x5"):
        _call(f, size=(5, 2))


@pytest.mark.parametrize("f", [f for f in ALL_FUNCS if "backward" in f.__name__])
def test_dy_wrong_shape(f):
    """dy of the wrong shape names the forward output's shape and what it got."""
    with pytest.raises(ValueError, match=r"\(1, 2, 2, 2\).*\(1, 2, 2, 3\)"):
        _call(f, dy=np.zeros((1, 2, 2, 3)))


# --- NaN: never hidden, δ to the first NaN ---------------------------------


@pytest.mark.parametrize("stride", [None, 1])
def test_max_nan_propagates_and_takes_the_gradient(stride):
    """A window [[nan, 1], [2, 3]] has maximum NaN (it was 3) and its δ goes to the NaN; with
    several NaN, to the first in row-major order; fast and reference agree, also with
    overlapping windows."""
    x = np.array([[[[np.nan, 1.0], [2.0, 3.0]]]])
    for fwd, bwd in (
        (cl.maxpool2d_forward, cl.maxpool2d_backward),
        (reference.maxpool2d_forward, reference.maxpool2d_backward),
    ):
        assert np.isnan(fwd(x, 2, stride)).all()
        assert bwd(np.array([[[[5.0]]]]), x, 2, stride)[0, 0].tolist() == [[5.0, 0.0], [0.0, 0.0]]
    two = np.array([[[[1.0, np.nan], [np.nan, 3.0]]]])
    for bwd in (cl.maxpool2d_backward, reference.maxpool2d_backward):
        assert bwd(np.array([[[[5.0]]]]), two, 2, stride)[0, 0].tolist() == [[0.0, 5.0], [0.0, 0.0]]


@pytest.mark.parametrize("stride", [None, (1, 1), (1, 2)])
def test_max_with_scattered_nan_matches_reference(stride):
    """Random NaN (and inf) scattered over a batch: forward NaN positions and the routing of δ
    equal the loops'; windows without NaN keep the first-maximum rule."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.05] = np.inf
    y, y_ref = cl.maxpool2d_forward(x, (2, 3), stride), reference.maxpool2d_forward(x, (2, 3), stride)
    np.testing.assert_array_equal(y, y_ref)
    assert np.isnan(y).any() and not np.isnan(y).all()
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(
        cl.maxpool2d_backward(dy, x, (2, 3), stride),
        reference.maxpool2d_backward(dy, x, (2, 3), stride),
        rtol=1e-12,
        atol=1e-12,
    )
