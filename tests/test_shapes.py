"""Tests of cnnlib.shapes: the output-size formula and the argument checks."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import assume, given
from strategies import fast_settings

import cnnlib as cl
from cnnlib import reference, shapes


def test_conv_output_size_by_hand():
    """floor((n + 2p - k) / s) + 1 on cases counted by hand: 28/5 -> 24, 5/2 s2 -> 2 (the last
    row is left over), 7/3 s2 p1 -> 4, 1/3 p1 -> 1, stride larger than the kernel 7/1 s3 -> 3."""
    assert cl.conv_output_size(28, 5) == 24
    assert cl.conv_output_size(5, 2, stride=2) == 2
    assert cl.conv_output_size(7, 3, stride=2, padding=1) == 4
    assert cl.conv_output_size(1, 3, padding=1) == 1
    assert cl.conv_output_size(7, 1, stride=3) == 3


@fast_settings(200)
@given(n=st.integers(1, 40), k=st.integers(1, 10), s=st.integers(1, 5), p=st.integers(0, 5))
def test_conv_output_size_counts_window_positions(n, k, s, p):
    """The size is the number of starts i·s with i·s + k <= n + 2p, which is what the forward
    produces along that axis."""
    assume(k <= n + 2 * p)
    starts = [i for i in range(0, n + 2 * p) if i % s == 0 and i + k <= n + 2 * p]
    assert cl.conv_output_size(n, k, s, p) == len(starts)


@fast_settings(40)
@given(n=st.integers(1, 8), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2))
def test_conv_output_size_matches_actual_outputs(n, k, s, p):
    """conv2d_forward's output and a pool's output have conv_output_size rows."""
    assume(k <= n + 2 * p)
    x = np.zeros((1, 1, n, 2))
    w = np.zeros((1, 1, k, 1))
    assert cl.conv2d_forward(x, w, stride=(s, 1), padding=(p, 0)).shape[2] == cl.conv_output_size(n, k, s, p)
    if k <= n:
        assert cl.maxpool2d_forward(x, (k, 1), (s, 1)).shape[2] == cl.conv_output_size(n, k, s)


def test_conv_output_size_window_too_large():
    """k > n + 2p names the window and the padded size."""
    with pytest.raises(
        ValueError, match=r"window of size 8 is larger than the padded input of size 3 \+ 2\*2 = 7"
    ):
        cl.conv_output_size(3, 8, padding=2)


def test_conv_output_size_rejects_pairs():
    """conv_output_size works along one axis: a pair stride or padding is a TypeError naming it
    (it used to use the first entry silently)."""
    with pytest.raises(TypeError, match=r"stride must be an int, got \(1, 2\)"):
        cl.conv_output_size(5, 3, stride=(1, 2))
    with pytest.raises(TypeError, match=r"padding must be an int, got \[0, 1\]"):
        cl.conv_output_size(5, 3, padding=[0, 1])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"n": -1, "k": 1}, ValueError, r"n must be >= 0, got -1"),
        ({"n": 0, "k": 1}, ValueError, r"window of size 1 is larger than the padded input of size 0"),
        ({"n": 4, "k": 0}, ValueError, r"k must be >= 1, got 0"),
        ({"n": 4.0, "k": 1}, TypeError, r"n must be an int.*4\.0"),
        ({"n": 4, "k": 1, "stride": 0}, ValueError, r"stride must be >= 1.*got 0"),
        ({"n": 4, "k": 1, "stride": 1.5}, TypeError, r"stride must be an int.*1\.5"),
        ({"n": 4, "k": 1, "padding": -1}, ValueError, r"padding must be >= 0.*got -1"),
    ],
)
def test_conv_output_size_bad_arguments(kwargs, error, pattern):
    """Each bad argument of conv_output_size raises with a message naming it."""
    with pytest.raises(error, match=pattern):
        cl.conv_output_size(**kwargs)


def test_as_pair_normalises():
    """An int becomes (v, v); a pair (tuple, list, 1-D array, NumPy ints) becomes Python ints."""
    assert shapes.as_pair(3, "s") == (3, 3)
    assert shapes.as_pair((1, 2), "s") == (1, 2)
    assert shapes.as_pair([2, 1], "s") == (2, 1)
    pair = shapes.as_pair(np.array([4, 5]), "s")
    assert pair == (4, 5) and all(type(v) is int for v in pair)
    assert shapes.as_pair(np.int64(2), "s") == (2, 2)


@pytest.mark.parametrize("bad", [(1, 2, 3), (1,), []])
def test_as_pair_wrong_length(bad):
    """A sequence of length != 2 is a ValueError naming it."""
    with pytest.raises(ValueError, match=r"kernel_size must be an int or an \(h, w\) pair, got"):
        shapes.as_pair(bad, "kernel_size")


@pytest.mark.parametrize("bad", [2.5, True, "2", None, (2, 2.0)])
def test_as_pair_not_integer(bad):
    """Floats (even 2.0), booleans, strings and None are a TypeError naming the value and type."""
    with pytest.raises(
        TypeError, match=r"stride must be an int or an \(h, w\) pair of ints, got .*\(type \w+\)"
    ):
        shapes.as_pair(bad, "stride")


def test_check_helpers_bounds():
    """stride and size must be >= 1, padding >= 0, on each axis separately."""
    assert shapes.validate_stride((1, 3)) == (1, 3)
    assert shapes.validate_padding(0) == (0, 0)
    assert shapes.validate_size((1, 4)) == (1, 4)
    with pytest.raises(ValueError, match=r"stride must be >= 1 along both axes, got \(2, 0\)"):
        shapes.validate_stride((2, 0))
    with pytest.raises(ValueError, match=r"padding must be >= 0 along both axes, got \(-1, 0\)"):
        shapes.validate_padding((-1, 0))
    with pytest.raises(ValueError, match=r"size must be >= 1 along both axes, got 0"):
        shapes.validate_size(0)


def test_as_float_array_dtypes():
    """float32 stays float32 (the same object, no copy); ints, bools, lists and float16 become
    float64; the input is not modified."""
    f32 = np.ones(3, dtype=np.float32)
    assert shapes.as_float_array(f32, "x") is f32
    ints = np.array([1, 2, 3])
    out = shapes.as_float_array(ints, "x")
    assert out.dtype == np.float64 and ints.dtype == np.int64
    assert shapes.as_float_array([[1, 2], [3, 4]], "x").dtype == np.float64
    assert shapes.as_float_array(np.array([True]), "x").dtype == np.float64
    assert shapes.as_float_array(np.ones(2, np.float16), "x").dtype == np.float64


@pytest.mark.parametrize(
    ("bad", "error", "pattern"),
    [
        ([[1, 2], [3]], ValueError, r"x must be a rectangular array"),
        (np.array(["a", "b"]), TypeError, r"x must hold real numbers, got dtype <U1"),
        (np.array([1 + 2j]), TypeError, r"x must hold real numbers, got dtype complex128"),
        (np.array([None]), TypeError, r"x must hold real numbers, got dtype object"),
    ],
)
def test_as_float_array_rejects(bad, error, pattern):
    """Ragged lists, strings, complex numbers and objects are rejected with the reason."""
    with pytest.raises(error, match=pattern):
        shapes.as_float_array(bad, "x")


def test_import_cnnlib_loads_neither_matplotlib_nor_ipywidgets():
    """The maths needs NumPy only: the teaching toolkit lives in cnnlib.course, imported on demand."""
    import subprocess
    import sys

    heavy = "('matplotlib', 'ipywidgets', 'sklearn', 'cnnlib.course')"
    code = f"import sys, cnnlib; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- sizes and strides at their edges ------------------------------------------------------


def test_dilate_of_an_empty_array():
    """An empty axis stays empty (it was "negative dimensions are not allowed")."""
    assert cl.dilate(np.zeros((2, 0, 3)), 2).shape == (2, 0, 5)
    assert cl.dilate(np.zeros((0, 0)), (2, 3)).shape == (0, 0)


def test_array_strides_are_accepted_like_ints_and_pairs():
    """np.array(2) means 2 and np.array([2, 3]) means (2, 3), in dilate, the convolution and the
    pools; a 0-d float array is still a TypeError."""
    a = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(cl.dilate(a, np.array(2)), cl.dilate(a, 2))
    np.testing.assert_array_equal(cl.dilate(a, np.array([2, 3])), cl.dilate(a, (2, 3)))
    x, w = np.random.default_rng(0).standard_normal((1, 1, 6, 6)), np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(
        cl.conv2d_forward(x, w, None, np.array(2), np.array(1)), cl.conv2d_forward(x, w, None, 2, 1)
    )
    np.testing.assert_array_equal(
        cl.maxpool2d_forward(x, np.array(2), np.array([1, 2])), cl.maxpool2d_forward(x, 2, (1, 2))
    )
    assert cl.conv_output_size(6, 2, np.array(2), np.array(1)) == 4
    with pytest.raises(TypeError, match=r"stride must be an int"):
        cl.dilate(a, np.array(2.0))


def test_conv_output_size_of_an_empty_axis_matches_the_convolution():
    """n = 0 with padding: the windows read only padding, as the convolution does."""
    assert cl.conv_output_size(0, 1, 1, 1) == 2
    assert cl.conv_output_size(0, 3, 2, 2) == 1
    y = cl.conv2d_forward(np.zeros((1, 1, 0, 0)), np.ones((1, 1, 3, 3)), np.array([1.0]), 2, 2)
    assert y.shape == (1, 1, 1, 1) and y.item() == 1.0
    np.testing.assert_array_equal(
        y, reference.conv2d_forward(np.zeros((1, 1, 0, 0)), np.ones((1, 1, 3, 3)), np.array([1.0]), 2, 2)
    )
