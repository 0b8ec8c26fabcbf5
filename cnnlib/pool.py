"""Vectorised max and average pooling, forward and backward.

Windows may overlap (stride < size); the backward then accumulates (+=) the
gradient of every window a pixel belongs to. Max pooling routes each window's
gradient to its first maximum in row-major order, the rule ``np.argmax`` follows
and ``cnnlib.reference`` spells out.

Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .shapes import (
    as_float_array,
    check_dy,
    check_pool_args,
)


def _windows(x, size, stride, out_shape):
    """View of every pooling window: shape (N, C, Ho, Wo, kh, kw), no copy."""
    (kh, kw), (sh, sw), (Ho, Wo) = size, stride, out_shape[2:]
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return win[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw]


def _scatter(x_shape, dtype, parts, stride, out_shape):
    """dx[..., i·s + m, j·s + n] += parts[m][n][..., i, j] for every window offset (m, n)."""
    (sh, sw), (Ho, Wo) = stride, out_shape[2:]
    dx = np.zeros(x_shape, dtype=dtype)
    for m, row in enumerate(parts):
        for n, part in enumerate(row):
            dx[:, :, m : m + (Ho - 1) * sh + 1 : sh, n : n + (Wo - 1) * sw + 1 : sw] += part
    return dx


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
    return _windows(x, size, stride, out_shape).max(axis=(4, 5))


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
    (kh, kw) = size
    win = _windows(x, size, stride, out_shape)
    winner = win.reshape(out_shape + (kh * kw,)).argmax(axis=-1)  # row-major index m·kw + n
    zero = np.zeros((), dtype=dy.dtype)
    parts = [[np.where(winner == m * kw + n, dy, zero) for n in range(kw)] for m in range(kh)]
    return _scatter(x.shape, np.result_type(dy, x), parts, stride, out_shape)


def avgpool2d_forward(x, size, stride=None):
    """Average pooling over (kh, kw) windows.

    Notes
    -----
    y[c, i, j] = 1/(kh·kw) · Σ_m Σ_n x[c, i·s + m, j·s + n].
    Shapes and arguments as in ``maxpool2d_forward``.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = check_pool_args(x, size, stride)
    return _windows(x, size, stride, out_shape).mean(axis=(4, 5))


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
    kh, kw = size
    share = dy / (kh * kw)
    parts = [[share] * kw for _ in range(kh)]
    return _scatter(x.shape, np.result_type(dy, x), parts, stride, out_shape)
