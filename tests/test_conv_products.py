"""The fast path's products, seen through the public API: the depthwise broadcast (an inner size of 1)
and the mid-sized products cut into one-thread pieces give the convolution's gradients, on both routes."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import cnnlib as cl
from cnnlib.conv import forced_route


def _gradients_by_einsum(dy, x, w, groups):
    """Stride 1, no padding: dw and dx from the windows of x, one einsum per group (an independent oracle)."""
    G, (D, Cg, kh, kw) = groups, w.shape
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))  # (N, C, Ho, Wo, kh, kw)
    dw, dx = np.zeros_like(w), np.zeros_like(x)
    Dg, (Ho, Wo) = D // G, dy.shape[2:]
    for g in range(G):
        out_ch, in_ch = slice(g * Dg, (g + 1) * Dg), slice(g * Cg, (g + 1) * Cg)
        dyg, wg = dy[:, out_ch], w[out_ch]
        dw[out_ch] = np.einsum("bdij,bcijmn->dcmn", dyg, windows[:, in_ch])
        for m in range(kh):
            for n in range(kw):
                dx[:, in_ch, m : m + Ho, n : n + Wo] += np.einsum("bdij,dc->bcij", dyg, wg[:, :, m, n])
    return dx, dw


@pytest.mark.parametrize("route", ["grid", "windows"])
@pytest.mark.parametrize(
    "N, C, D, H, k, groups",
    [
        (2, 6, 6, 9, 3, 6),  # depthwise: the ∂E/∂x products have an inner size of 1
        (1, 4, 4, 5, 1, 4),  # depthwise 1x1
        (2, 8, 16, 18, 3, 1),  # ∂E/∂w is a 16 x 72 x 512 product: cut into one-thread pieces
        (2, 8, 8, 12, 3, 2),  # grouped
    ],
)
def test_products_give_the_gradients(route, N, C, D, H, k, groups):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((N, C, H, H)), rng.standard_normal((D, C // groups, k, k))
    dy = rng.standard_normal((N, D, H - k + 1, H - k + 1))
    with forced_route(route):
        dx, dw, _ = cl.conv2d_backward(dy, x, w, groups=groups)
    dx_ref, dw_ref = _gradients_by_einsum(dy, x, w, groups)
    assert cl.gradcheck.rel_error(dx, dx_ref) < 1e-13
    assert cl.gradcheck.rel_error(dw, dw_ref) < 1e-13
