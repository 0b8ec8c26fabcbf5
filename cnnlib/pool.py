"""Vectorised max and average pooling, forward and backward.

Windows may overlap (stride < size); the backward then accumulates (+=) the
gradient of every window a pixel belongs to. Max pooling routes each window's
gradient to its first maximum in row-major order, the rule ``np.argmax`` follows
and ``cnnlib.reference`` spells out.

How it is fast: a pooling window has few offsets (m, n) (4 for 2x2) but the batch
has many windows, so every function loops over the offsets and, per offset, does
one whole-array operation on the strided view x[..., m::s, n::s] of all windows at
once. Reducing over the small window axes of a ``sliding_window_view`` instead is
several times slower (NumPy's reductions run their inner loop over the tiny axis).

Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import numpy as np

from .shapes import (
    as_float_array,
    check_dy,
    check_pool_args,
)


def _offset_views(a, size, stride, out_shape):
    """Yield a[..., m + i·sh, n + j·sw] over (i, j) as an (N, C, Ho, Wo) view, for each offset (m, n).

    Offsets come in row-major order (m, then n): the order of the reference's loops,
    which is what makes "the first maximum" and the summation order match it.
    """
    (kh, kw), (sh, sw), (Ho, Wo) = size, stride, out_shape[2:]
    for m in range(kh):
        for n in range(kw):
            yield a[:, :, m : m + (Ho - 1) * sh + 1 : sh, n : n + (Wo - 1) * sw + 1 : sw]


def _overlapping(size, stride):
    return stride[0] < size[0] or stride[1] < size[1]


def maxpool2d_forward(x, size, stride=None):
    """Max pooling over (kh, kw) windows.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    size : int or (kh, kw)
    stride : int or (sh, sw) or None
        None means stride = size.

    Returns
    -------
    y : ndarray of shape (N, C, Ho, Wo)
        Ho = floor((H - kh)/sh) + 1, Wo likewise.

    Notes
    -----
    y[c, i, j] = max_{m, n} x[c, i·s + m, j·s + n].
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = check_pool_args(x, size, stride)
    views = _offset_views(x, size, stride, out_shape)
    y = next(views).copy()
    for v in views:
        np.maximum(y, v, out=y)
    return y


def _first_max_offset(x, size, stride, out_shape):
    """For every window, the row-major index m·kw + n of its first maximum (np.argmax's rule)."""
    views = _offset_views(x, size, stride, out_shape)
    best = next(views).copy()
    # uint8 holds any index of a window up to 16x16; wider windows need more bits
    winner = np.zeros(out_shape, dtype=np.uint8 if size[0] * size[1] <= 256 else np.intp)
    for k, v in enumerate(views, start=1):
        better = v > best  # strictly greater: an equal later value does not take over (ties -> first)
        np.copyto(best, v, where=better)
        winner[better] = k
    return winner


def maxpool2d_backward(dy, x, size, stride=None):
    """Gradient of max pooling: each window's δ goes to its (first) maximum.

    Parameters
    ----------
    dy : array-like of shape (N, C, Ho, Wo)
    x : array-like of shape (N, C, H, W)
        The forward input (the winners are found again from it).
    size, stride : as in ``maxpool2d_forward``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    Notes
    -----
    ∂E/∂x[c, u, v] = Σ over windows (i, j) whose winner is (u, v) of δ[c, i, j].
    Ties: the first maximum in row-major order wins (np.argmax's rule).
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = check_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    check_dy(dy, out_shape)
    winner = _first_max_offset(x, size, stride, out_shape)
    dx = np.zeros(x.shape, dtype=np.result_type(dy, x))
    zero = dx.dtype.type(0)
    overlapping = _overlapping(size, stride)
    for k, dx_k in enumerate(_offset_views(dx, size, stride, out_shape)):
        routed = np.where(winner == k, dy, zero)
        if overlapping:  # a pixel may win several windows: sum their deltas
            dx_k += routed
        else:  # each pixel is in at most one window: a plain write is enough
            dx_k[...] = routed
    return dx


def avgpool2d_forward(x, size, stride=None):
    """Average pooling over (kh, kw) windows.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    size : int or (kh, kw)
    stride : int or (sh, sw) or None
        None means stride = size.

    Returns
    -------
    y : ndarray of shape (N, C, Ho, Wo)

    Notes
    -----
    y[c, i, j] = 1/(kh·kw) · Σ_m Σ_n x[c, i·s + m, j·s + n].
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = check_pool_args(x, size, stride)
    views = _offset_views(x, size, stride, out_shape)
    y = next(views).copy()
    for v in views:
        y += v
    y /= size[0] * size[1]
    return y


def avgpool2d_backward(dy, x, size, stride=None):
    """Gradient of average pooling: δ/(kh·kw) to every pixel of each window.

    Parameters
    ----------
    dy : array-like of shape (N, C, Ho, Wo)
    x : array-like of shape (N, C, H, W)
        The forward input (only its shape is used).
    size, stride : as in ``avgpool2d_forward``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    Notes
    -----
    ∂E/∂x[c, i·s + m, j·s + n] += δ[c, i, j] / (kh·kw), accumulated over overlapping windows.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = check_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    check_dy(dy, out_shape)
    share = dy / (size[0] * size[1])
    dx = np.zeros(x.shape, dtype=np.result_type(dy, x))
    overlapping = _overlapping(size, stride)
    for dx_k in _offset_views(dx, size, stride, out_shape):
        if overlapping:
            dx_k += share
        else:
            dx_k[...] = share
    return dx
