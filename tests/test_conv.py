"""Tests of cnnlib.conv (vectorised convolution and its helpers) against cnnlib.reference,
finite differences and small examples worked by hand."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import example, given
from strategies import CONV_EXAMPLES, EXACT_TOL, FD_TOL, conv_cases, fast_settings

import cnnlib as cl
from cnnlib import reference


def with_examples(test):
    """Run a conv property test on the hand-picked edge cases as well as the drawn ones."""
    for case in CONV_EXAMPLES:
        test = example(case=case)(test)
    return test


# --- property tests: vectorised == loops, and both == finite differences -------------


@fast_settings(60)
@with_examples
@given(case=conv_cases())
def test_forward_matches_reference_and_output_size(case):
    """Vectorised forward == loop forward (with and without bias); the output has
    conv_output_size rows and columns; the bias adds b[d] to every position of map d."""
    x, w, b, _ = case.arrays().values()
    (sh, sw), (ph, pw) = case.stride, case.padding
    y = cl.conv2d_forward(x, w, b, stride=case.stride, padding=case.padding)
    y_ref = reference.conv2d_forward(x, w, b, stride=case.stride, padding=case.padding)
    Ho = cl.conv_output_size(case.H, case.kh, sh, ph)
    Wo = cl.conv_output_size(case.W, case.kw, sw, pw)
    assert y.shape == y_ref.shape == (case.N, case.D, Ho, Wo)
    assert cl.rel_error(y, y_ref) < EXACT_TOL
    y0 = cl.conv2d_forward(x, w, None, stride=case.stride, padding=case.padding)
    np.testing.assert_allclose(y0 + b[None, :, None, None], y, rtol=1e-12, atol=1e-12)


@fast_settings(60)
@with_examples
@given(case=conv_cases())
def test_backward_matches_reference(case):
    """Vectorised dx, dw, db == the loop versions; db == dy.sum((0, 2, 3)); the gather form
    (full cross-correlation of the dilated δ with rot180(w)) gives the same dx."""
    x, w, _, dy = case.arrays().values()
    dx, dw, db = cl.conv2d_backward(dy, x, w, stride=case.stride, padding=case.padding)
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(dy, x, w, stride=case.stride, padding=case.padding)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (case.D,)
    assert cl.rel_error(dx, dx_ref) < EXACT_TOL
    assert cl.rel_error(dw, dw_ref) < EXACT_TOL
    assert cl.rel_error(db, db_ref) < EXACT_TOL
    np.testing.assert_allclose(db, dy.sum(axis=(0, 2, 3)), rtol=1e-12)
    dx_full = reference.conv2d_backward_input(dy, w, x.shape, stride=case.stride, padding=case.padding)
    assert cl.rel_error(dx_full, dx) < EXACT_TOL


@fast_settings(50)
@with_examples
@given(case=conv_cases())
def test_backward_matches_finite_differences(case):
    """With E = Σ y ⊙ δ, central differences of E in x, w and b equal dx, dw, db of both
    the vectorised and the loop backward (float64, rel_error < 1e-7)."""
    x, w, b, dy = case.arrays().values()
    s, p = case.stride, case.padding

    def E(x_, w_, b_):
        return np.sum(cl.conv2d_forward(x_, w_, b_, stride=s, padding=p) * dy)

    num_dx = cl.numerical_gradient(lambda v: E(v, w, b), x)
    num_dw = cl.numerical_gradient(lambda v: E(x, v, b), w)
    num_db = cl.numerical_gradient(lambda v: E(x, w, v), b)
    for impl in (cl.conv2d_backward, reference.conv2d_backward):
        dx, dw, db = impl(dy, x, w, stride=s, padding=p)
        assert cl.rel_error(dx, num_dx) < FD_TOL
        assert cl.rel_error(dw, num_dw) < FD_TOL
        assert cl.rel_error(db, num_db) < FD_TOL


@fast_settings(30)
@with_examples
@given(case=conv_cases())
def test_input_gradient_is_a_forward_convolution_of_the_dilated_delta(case):
    """dx = crop_p(pad(dilate(δ, s), k - 1) ★ rot180(w) with C and D swapped), built from the
    library's own pad, dilate and rot180: the derivation of notebooks 03-04, checked."""
    x, w, _, dy = case.arrays().values()
    (ph, pw) = case.padding
    kh, kw = case.kh, case.kw
    full = cl.pad(cl.dilate(dy, case.stride), (kh - 1, kw - 1))
    dxp = cl.conv2d_forward(full, cl.rot180(w).transpose(1, 0, 2, 3))  # (N, C, rows any window covers, ...)
    rows, cols = dxp.shape[2:]
    # rows past the last window get no gradient; then crop the padding
    Hp, Wp = case.H + 2 * ph, case.W + 2 * pw
    dx = cl.pad(dxp, ((-ph, Hp - rows - ph), (-pw, Wp - cols - pw)))
    expected = cl.conv2d_backward(dy, x, w, stride=case.stride, padding=case.padding)[0]
    assert dx.shape == x.shape
    assert cl.rel_error(dx, expected) < EXACT_TOL


# --- small examples worked by hand -------------------------------------------------------

X33 = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]).reshape(1, 1, 3, 3)
W22 = np.array([[1.0, 2], [3, 4]]).reshape(1, 1, 2, 2)


def test_forward_3x3_input_2x2_kernel_by_hand():
    """y[i, j] = Σ w[m, n] x[i + m, j + n] (no flip): 1·1 + 2·2 + 3·4 + 4·5 = 37 and so on."""
    y = cl.conv2d_forward(X33, W22, b=[10.0])
    np.testing.assert_array_equal(y[0, 0], [[47.0, 57.0], [77.0, 87.0]])
    np.testing.assert_array_equal(reference.conv2d_forward(X33, W22)[0, 0], [[37.0, 47.0], [67.0, 77.0]])


def test_backward_3x3_input_2x2_kernel_by_hand():
    """With δ = 1 everywhere: dw[m, n] = sum of the pixels that weight touched, db = 4 outputs,
    dx[u, v] = sum of the weights that touched pixel (u, v)."""
    dy = np.ones((1, 1, 2, 2))
    for impl in (cl.conv2d_backward, reference.conv2d_backward):
        dx, dw, db = impl(dy, X33, W22)
        np.testing.assert_array_equal(dw[0, 0], [[12.0, 16.0], [24.0, 28.0]])
        np.testing.assert_array_equal(db, [4.0])
        np.testing.assert_array_equal(dx[0, 0], [[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]])


def test_padding_by_hand():
    """A 1x1 input with padding 1 under a 3x3 kernel: the single output is w[1, 1]·x, and only
    the centre weight receives a gradient."""
    x = np.array([[[[2.0]]]])
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    assert cl.conv2d_forward(x, w, padding=1)[0, 0].tolist() == [[10.0]]
    dx, dw, db = cl.conv2d_backward(np.array([[[[3.0]]]]), x, w, padding=1)
    assert dx[0, 0].tolist() == [[15.0]]  # δ · w[1, 1]
    expected_dw = np.zeros((3, 3))
    expected_dw[1, 1] = 6.0  # δ · x
    np.testing.assert_array_equal(dw[0, 0], expected_dw)


def test_stride_leaves_uncovered_rows_with_zero_gradient():
    """H = 5, k = 2, s = 2: windows start at rows 0 and 2, so row 4 and column 4 are never read
    ((5 - 2) mod 2 = 1) and get zero gradient; every other pixel gets exactly one δ·w."""
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    w = np.ones((1, 1, 2, 2))
    y = cl.conv2d_forward(x, w, stride=2)
    assert y[0, 0].tolist() == [[0 + 1 + 5 + 6, 2 + 3 + 7 + 8], [10 + 11 + 15 + 16, 12 + 13 + 17 + 18]]
    dx = cl.conv2d_backward(np.ones((1, 1, 2, 2)), x, w, stride=2)[0]
    expected = np.ones((5, 5))
    expected[4, :] = 0
    expected[:, 4] = 0
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_channels_sum_and_kernels_stack():
    """Two input channels are summed by one kernel; two kernels give two output maps."""
    x = np.stack([np.ones((2, 2)), 2 * np.ones((2, 2))])[None]  # (1, 2, 2, 2)
    w = np.zeros((2, 2, 1, 1))
    w[0, 0], w[0, 1], w[1, 1] = 1.0, 10.0, -1.0
    y = cl.conv2d_forward(x, w)
    np.testing.assert_array_equal(y[0, 0], np.full((2, 2), 21.0))
    np.testing.assert_array_equal(y[0, 1], np.full((2, 2), -2.0))


def test_db_is_returned_when_forward_had_no_bias():
    """conv2d_backward has no b argument and still returns db = dy.sum((0, 2, 3)) of shape (D,)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 1, 4, 4)), rng.standard_normal((3, 1, 2, 2))
    dy = rng.standard_normal(cl.conv2d_forward(x, w, None).shape)
    db = cl.conv2d_backward(dy, x, w)[2]
    assert db.shape == (3,)
    np.testing.assert_allclose(db, [dy[:, d].sum() for d in range(3)], rtol=1e-12)


# --- correlation, convolution and the helpers --------------------------------------------


def test_correlate_vs_convolve_by_hand():
    """★ slides w unflipped, ∗ flips it: on a 2x2 input with a 2x2 kernel the single outputs are
    Σ a⊙k = 1·5 + 2·6 + 3·7 + 4·8 = 70 and Σ a⊙rot180(k) = 1·8 + 2·7 + 3·6 + 4·5 = 60."""
    a = np.array([[1.0, 2], [3, 4]])
    k = np.array([[5.0, 6], [7, 8]])
    assert reference.correlate2d(a, k).tolist() == [[70.0]]
    assert reference.convolve2d(a, k).tolist() == [[60.0]]


def test_convolution_is_correlation_with_rot180():
    """a ∗ k = a ★ rot180(k) on random non-square arrays."""
    rng = np.random.default_rng(5)
    a, k = rng.standard_normal((5, 6)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(reference.convolve2d(a, k), reference.correlate2d(a, cl.rot180(k)), rtol=1e-12)


def test_rot180_by_hand():
    """rot180 flips both spatial axes of every kernel, and twice is the identity."""
    w = np.array([[1.0, 2, 3], [4, 5, 6]])
    assert cl.rot180(w).tolist() == [[6.0, 5, 4], [3, 2, 1]]
    w4 = np.arange(24.0).reshape(2, 1, 3, 4)
    np.testing.assert_array_equal(cl.rot180(w4)[1, 0], w4[1, 0][::-1, ::-1])
    np.testing.assert_array_equal(cl.rot180(cl.rot180(w4)), w4)


def test_dilate_by_hand():
    """dilate puts s - 1 zeros between neighbours, per axis: shape ((Ho - 1)s + 1, (Wo - 1)s + 1)."""
    a = np.array([[1.0, 2], [3, 4]])
    assert cl.dilate(a, 2).tolist() == [[1, 0, 2], [0, 0, 0], [3, 0, 4]]
    assert cl.dilate(a, (1, 3)).tolist() == [[1, 0, 0, 2], [3, 0, 0, 4]]
    np.testing.assert_array_equal(cl.dilate(a, 1), a)
    assert cl.dilate(np.ones((2, 3, 4, 5)), (2, 3)).shape == (2, 3, 7, 13)


def test_pad_int_and_pair():
    """pad adds zeros on both sides of the last two axes, the same amount or (ph, pw)."""
    a = np.array([[1.0, 2]])
    assert cl.pad(a, 1).tolist() == [[0, 0, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]]
    assert cl.pad(a, (0, 2)).tolist() == [[0, 0, 1, 2, 0, 0]]
    assert cl.pad(np.ones((2, 3, 4, 5)), (1, 2)).shape == (2, 3, 6, 9)


def test_pad_per_side_and_negative_crops():
    """((top, bottom), (left, right)) pads each side separately; negative amounts crop."""
    a = np.arange(1.0, 10.0).reshape(3, 3)
    assert cl.pad(a, ((1, 0), (0, 2))).tolist() == [
        [0, 0, 0, 0, 0],
        [1, 2, 3, 0, 0],
        [4, 5, 6, 0, 0],
        [7, 8, 9, 0, 0],
    ]
    assert cl.pad(a, -1).tolist() == [[5.0]]
    assert cl.pad(a, ((-1, 0), (0, -2))).tolist() == [[4.0], [7.0]]
    assert cl.pad(a, ((-2, 1), (1, -1))).tolist() == [[0, 7, 8], [0, 0, 0]]


def test_pad_then_negative_pad_is_identity():
    """Cropping what was padded gives back the original array."""
    a = np.random.default_rng(1).standard_normal((2, 1, 3, 4))
    np.testing.assert_array_equal(cl.pad(cl.pad(a, (2, 3)), (-2, -3)), a)


def test_pad_cropping_everything_names_the_sizes():
    """Cropping more rows than the array has is a ValueError naming the padding and the size."""
    with pytest.raises(ValueError, match=r"-2.*3x3"):
        cl.pad(np.ones((3, 3)), -2)


# --- bad inputs: one test per kind, each message names the values ------------------------------

X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 2, 2))


def test_x_wrong_ndim():
    """A 3-D x (a forgotten batch axis) names the expected layout and the shape it got."""
    with pytest.raises(ValueError, match=r"x must be 4-D .*\(N, C, H, W\).*3-D .*\(3, 5, 5\)"):
        cl.conv2d_forward(X[0], W)


def test_w_wrong_ndim():
    """A 3-D w names the expected layout and the shape it got."""
    with pytest.raises(ValueError, match=r"w must be 4-D .*\(D, C, kh, kw\).*\(3, 2, 2\)"):
        cl.conv2d_forward(X, W[0])


def test_channel_mismatch_names_both_shapes():
    """x with C=3 and w with C=2: the message names both channel counts and both shapes."""
    with pytest.raises(ValueError, match=r"C=3.*\(2, 3, 5, 5\).*C=2.*\(4, 2, 2, 2\)"):
        cl.conv2d_forward(X, np.zeros((4, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"C=3.*C=2"):
        cl.conv2d_backward(np.zeros((2, 4, 4, 4)), X, np.zeros((4, 2, 2, 2)))


def test_bias_length():
    """A bias of length 3 for D=4 kernels names both lengths."""
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        cl.conv2d_forward(X, W, b=np.zeros(3))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        reference.conv2d_forward(X, W, b=np.zeros(3))


def test_dy_wrong_shape():
    """dy of the wrong shape names the forward output's shape and the shape it got."""
    with pytest.raises(ValueError, match=r"\(2, 4, 4, 4\).*\(2, 4, 5, 5\)"):
        cl.conv2d_backward(np.zeros((2, 4, 5, 5)), X, W)
    with pytest.raises(ValueError, match=r"\(2, 4, 2, 2\).*\(2, 4, 4, 4\)"):
        reference.conv2d_backward(np.zeros((2, 4, 4, 4)), X, W, stride=2)
    with pytest.raises(ValueError, match=r"dy must be 4-D .*\(2, 4, 4\)"):
        reference.conv2d_backward_input(np.zeros((2, 4, 4)), W, X.shape)
    with pytest.raises(ValueError, match=r"\(2, 4, 4, 4\).*\(2, 4, 4, 3\)"):
        reference.conv2d_backward_input(np.zeros((2, 4, 4, 3)), W, X.shape)


@pytest.mark.parametrize("stride", [0, -1, (1, 0), (-2, 1)])
def test_stride_below_one(stride):
    """A stride < 1 on either axis is a ValueError naming the stride."""
    with pytest.raises(ValueError, match=rf"stride must be >= 1.*got {re.escape(repr(stride))}"):
        cl.conv2d_forward(X, W, stride=stride)


@pytest.mark.parametrize("stride", [2.5, (1, 1.5), "2"])
def test_stride_not_an_integer(stride):
    """A non-integer stride (2.5, a float in a pair, a string) is a TypeError naming it."""
    with pytest.raises(TypeError, match=r"stride must be an int.*got"):
        cl.conv2d_forward(X, W, stride=stride)
    with pytest.raises(TypeError, match=r"stride must be an int"):
        cl.conv2d_backward(np.zeros((2, 4, 4, 4)), X, W, stride=stride)


def test_negative_padding():
    """Negative padding (e.g. (0, -1)) is a ValueError naming the padding."""
    with pytest.raises(ValueError, match=r"padding must be >= 0.*\(0, -1\)"):
        cl.conv2d_forward(X, W, padding=(0, -1))
    with pytest.raises(ValueError, match=r"padding must be >= 0.*-2"):
        reference.conv2d_forward(X, W, padding=-2)


def test_kernel_larger_than_padded_input():
    """A 4x8 kernel on a 5x5 input padded by 1 (7x7) names the kernel and the padded size."""
    with pytest.raises(ValueError, match=r"kernel 4x8 .*larger than the padded input 7x7"):
        cl.conv2d_forward(X, np.zeros((1, 3, 4, 8)), padding=1)
    with pytest.raises(ValueError, match=r"kernel 6x1 .*5x5"):
        cl.conv2d_backward(np.zeros((2, 1, 1, 5)), X, np.zeros((1, 3, 6, 1)))


def test_backward_input_bad_x_shape():
    """reference.conv2d_backward_input with a 3-entry x_shape names what it got."""
    with pytest.raises(ValueError, match=r"x_shape must be .*\(N, C, H, W\).*\(3, 5, 5\)"):
        reference.conv2d_backward_input(np.zeros((2, 4, 4, 4)), W, (3, 5, 5))


def test_non_numeric_input():
    """Strings instead of numbers are a TypeError naming the dtype."""
    with pytest.raises(TypeError, match=r"x must hold real numbers.*<U1"):
        cl.conv2d_forward(np.full((1, 3, 5, 5), "a"), W)


@pytest.mark.parametrize(
    ("padding", "expected_rows"),
    [(((2, -4), (0, 0)), [[0, 0, 0]]), (((-4, 2), (0, 0)), [[0, 0, 0]]), (((1, -3), (0, 0)), [[0, 0, 0]])],
)
def test_pad_crop_past_the_array_leaves_only_zeros(padding, expected_rows):
    """Padding then cropping past every input row leaves the other side's zeros, of the promised size."""
    out = cl.pad(np.arange(1.0, 10.0).reshape(3, 3), padding)
    np.testing.assert_array_equal(out, np.array(expected_rows, dtype=float))


def test_pad_mixed_signs_is_pad_then_crop():
    """Mixed signs equal zero-padding the positive sides, then slicing off the negative ones."""
    a = np.arange(1.0, 13.0).reshape(3, 4)
    padded = np.pad(a, ((2, 0), (0, 1)))  # top 2, right 1
    np.testing.assert_array_equal(cl.pad(a, ((2, -1), (-3, 1))), padded[:-1, 3:])


def test_pad_rejects_a_negative_output_size():
    """Cropping more rows than the padded array has is an error naming the padding and the size."""
    with pytest.raises(ValueError, match=r"crops more than the 3x3 array"):
        cl.pad(np.ones((3, 3)), ((-2, -2), (0, 0)))
