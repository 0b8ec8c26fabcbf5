"""The arithmetic of windows in cnnlib.shapes: coverage maps, the padding of ∂E/∂x as a transposed
convolution, and the multiply-adds of the dilate-pad-rot180 route."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import cnnlib as cl


def _dx_library(dy, w, hw, s, p):
    x = np.zeros((1, 1) + tuple(hw))
    return cl.conv2d_backward(dy[None, None], x, w[None, None], s, p)[0][0, 0]


def _transposed(dy, w, hw, s, p):
    """∂E/∂x as pad(dilate(δ, s), amounts) ★ rot180(w), the amounts per axis."""
    (H, W), (kh, kw) = hw, w.shape
    rows = cl.shapes.transposed_conv_padding(H, kh, s, p)
    cols = cl.shapes.transposed_conv_padding(W, kw, s, p)
    hat = cl.pad(cl.dilate(dy, s), (rows, cols))
    return cl.conv2d_forward(hat[None, None], cl.rot180(w)[None, None])[0, 0]


def _all_cases(max_hw=6, max_k=4, max_s=3, max_p=3):
    rng = np.random.default_rng(0)
    for H, kh, s, p in itertools.product(range(1, max_hw + 1), range(1, max_k + 1), range(1, max_s + 1),
                                         range(max_p + 1)):  # fmt: skip
        if kh > H + 2 * p:
            continue
        W, kw = max(1, kh - 2 * p) + (H % 3), max(1, (kh % 3) + 1)
        kw = min(kw, W + 2 * p)
        Ho, Wo = cl.conv_output_size(H, kh, s, p), cl.conv_output_size(W, kw, s, p)
        yield rng.standard_normal((Ho, Wo)), rng.standard_normal((kh, kw)), (H, W), s, p


@pytest.mark.parametrize(
    "H, W, k, s, p",
    [(7, 8, 3, 2, 1), (9, 9, 2, 3, 0), (6, 5, (3, 2), (2, 3), (1, 2)), (5, 5, 5, 1, 0), (4, 4, 1, 1, 2)],
)
def test_coverage_map_is_the_input_gradient_of_ones(H, W, k, s, p):
    """With δ = 1 and w = 1, ∂E/∂x[u, v] counts the outputs whose window holds (u, v)."""
    (kh, kw), (sh, sw), (ph, pw) = (
        cl.shapes.validate_size(k),
        cl.shapes.validate_stride(s),
        cl.shapes.validate_padding(p),
    )
    Ho, Wo = cl.conv_output_size(H, kh, sh, ph), cl.conv_output_size(W, kw, sw, pw)
    dx = cl.conv2d_backward(np.ones((1, 1, Ho, Wo)), np.zeros((1, 1, H, W)), np.ones((1, 1, kh, kw)), s, p)[0]
    cov = cl.shapes.coverage_map(H, W, k, s, p)
    assert cov.shape == (H, W)
    assert np.issubdtype(cov.dtype, np.integer)
    np.testing.assert_array_equal(cov, dx[0, 0])


def test_coverage_map_by_hand_and_padded():
    # 1-D: n = 7, k = 3, s = 2, p = 0: windows at rows 0-2, 2-4, 4-6 -> counts 1 1 2 1 2 1 1
    rows = cl.shapes.coverage_map(7, 1, (3, 1), (2, 1))[:, 0]
    np.testing.assert_array_equal(rows, [1, 1, 2, 1, 2, 1, 1])
    # s > k leaves rows between windows uncovered; r = (7 - 2) mod 3 = 2 rows at the end too
    rows = cl.shapes.coverage_map(7, 1, (2, 1), (3, 1))[:, 0]
    np.testing.assert_array_equal(rows, [1, 1, 0, 1, 1, 0, 0])
    # padded=True includes the frame; the inner part is the unpadded map
    full = cl.shapes.coverage_map(6, 6, 3, 2, 1, padded=True)
    assert full.shape == (8, 8)
    np.testing.assert_array_equal(full[1:7, 1:7], cl.shapes.coverage_map(6, 6, 3, 2, 1))
    # k a multiple of s: uniform k/s away from the borders
    inner = cl.shapes.coverage_map(12, 12, 4, 2)[3:-3, 3:-3]
    assert np.all(inner == 4)


def test_transposed_convolution_equals_backward_for_every_small_case():
    n = 0
    for dy, w, hw, s, p in _all_cases():
        np.testing.assert_allclose(_transposed(dy, w, hw, s, p), _dx_library(dy, w, hw, s, p), atol=1e-12)
        n += 1
    assert n > 200


def test_transposed_padding_values_and_negative_amounts():
    # k = 3, p = 1, H = 7, s = 2: r = (7 + 2 - 3) mod 2 = 0
    assert cl.shapes.transposed_conv_padding(7, 3, 2, 1) == (1, 1)
    # r = (8 + 2 - 3) mod 2 = 1 extra zero at the end
    assert cl.shapes.transposed_conv_padding(8, 3, 2, 1) == (1, 2)
    # 1x1 kernel with p = 2: the windows over pure padding are cropped away
    assert cl.shapes.transposed_conv_padding(5, 1, 1, 2) == (-2, -2)
    # asymmetric "same" padding of an even kernel, stride 1: the sides swap
    assert cl.shapes.transposed_conv_padding(6, 4, 1, (1, 2)) == (2, 1)
    # no padding, stride 1: the "full" padding k - 1 of notebook 01
    assert cl.shapes.transposed_conv_padding(5, 3) == (2, 2)


def test_transposed_padding_asymmetric_matches_backward_through_padded_input():
    rng = np.random.default_rng(3)
    for n, k, s, top, bottom in itertools.product(range(1, 7), range(1, 5), range(1, 4), range(3), range(3)):
        if k > n + top + bottom:
            continue
        x = np.zeros((1, 1, n, n))
        w = rng.standard_normal((1, 1, k, k))
        xp = cl.pad(x, ((top, bottom), (top, bottom)))
        Ho = (n + top + bottom - k) // s + 1
        dy = rng.standard_normal((1, 1, Ho, Ho))
        dxp = cl.conv2d_backward(dy, xp, w, s, 0)[0]
        expected = cl.pad(dxp, ((-top, -bottom), (-top, -bottom)))[0, 0]
        amounts = cl.shapes.transposed_conv_padding(n, k, s, (top, bottom))
        hat = cl.pad(cl.dilate(dy[0, 0], s), (amounts, amounts))
        got = cl.conv2d_forward(hat[None, None], cl.rot180(w))[0, 0]
        np.testing.assert_allclose(got, expected, atol=1e-12)


def _counted_dilated_route(Ho, Wo, kh, kw, s):
    """The rot180 route's counts: build pad(dilate(1, s), k − 1), count the zeros in every window."""
    full = cl.pad(cl.dilate(np.ones((Ho, Wo)), s), (kh - 1, kw - 1))
    windows = np.lib.stride_tricks.sliding_window_view(full, (kh, kw))
    return windows.size, int(np.count_nonzero(windows == 0))


@pytest.mark.parametrize(
    "Ho,Wo,kh,kw,s", [(1, 1, 1, 1, 1), (3, 4, 3, 2, 2), (5, 5, 2, 2, 3), (4, 3, 1, 3, 4), (6, 2, 4, 4, 2)]
)
def test_dilated_route_counts_equal_counting_the_zeros(Ho, Wo, kh, kw, s):
    assert cl.shapes.dilated_route_counts(Ho, Wo, kh, kw, s) == _counted_dilated_route(Ho, Wo, kh, kw, s)


def test_dilated_route_zero_share_tends_to_one_minus_one_over_s_squared():
    for s in (1, 2, 3, 4):
        total, zero = cl.shapes.dilated_route_counts(400, 400, 3, 3, s)
        assert abs(zero / total - (s * s - 1) / (s * s)) < 0.01
    # at s = 1 only the k - 1 border is wasted
    total, zero = cl.shapes.dilated_route_counts(10, 10, 3, 3, 1)
    assert (total, zero) == (12 * 12 * 9, (144 - 100) * 9)


def test_dilated_route_useful_products_are_the_accumulation_products():
    # the products that meet a delta: Ho·Wo·kh·kw, what the offset accumulation computes
    total, zero = cl.shapes.dilated_route_counts(7, 5, 3, 2, 2)
    assert total - zero == 7 * 5 * 3 * 2
