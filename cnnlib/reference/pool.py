"""Loops of max and average pooling, forward and backward."""

from __future__ import annotations

import numpy as np

from ..shapes import as_float_array, validate_dy, validate_pool_args


def maxpool2d_forward(x, size, stride=None):
    """Max pooling as loops.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    size : int or (int, int)
        Window (kh, kw).
    stride : int or (int, int) or None
        None means stride = size (non-overlapping windows).

    Returns
    -------
    y : ndarray of shape (N, C, Ho, Wo)

    Notes
    -----
    y[c, i, j] = max_{m, n} x[c, i·s + m, j·s + n]; NaN if the window holds a NaN.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), (N, C, Ho, Wo) = validate_pool_args(x, size, stride)
    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best = x[img, c, i * sh, j * sw]
                    for m in range(kh):
                        for n in range(kw):
                            v = x[img, c, i * sh + m, j * sw + n]
                            if v > best or (np.isnan(v) and not np.isnan(best)):  # a NaN beats every number
                                best = v
                    y[img, c, i, j] = best
    return y


def maxpool2d_backward(dy, x, size, stride=None):
    """Max pooling backward as loops: each window's δ goes to its first maximum.

    Parameters
    ----------
    dy : ndarray of shape (N, C, Ho, Wo)
    x : ndarray of shape (N, C, H, W)
    size, stride : as in ``maxpool2d_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    Notes
    -----
    ∂y[c, i, j]/∂x[c, u, v] is 1 for the winner (u, v) of window (i, j) and 0 for
    every other pixel, so ∂E/∂x[c, u, v] = Σ over the windows that (u, v) wins of
    δ[c, i, j] (+=: with overlapping windows one pixel can win several). Ties go
    to the first maximum in row-major order (smallest m, then smallest n). A NaN
    counts as larger than every number: a window holding one sends its δ to its
    first NaN, the pixel its NaN output came from.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), out_shape = validate_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    N, C, Ho, Wo = out_shape
    dx = np.zeros(x.shape, dtype=np.result_type(dy, x))
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    # start from the window's first pixel, so a window of -inf still has a winner
                    best, winner = x[img, c, i * sh, j * sw], (0, 0)
                    for m in range(kh):
                        for n in range(kw):
                            v = x[img, c, i * sh + m, j * sw + n]
                            # '>' keeps the first max; the first NaN beats every number
                            if v > best or (np.isnan(v) and not np.isnan(best)):
                                best, winner = v, (m, n)
                    m, n = winner
                    dx[img, c, i * sh + m, j * sw + n] += dy[img, c, i, j]
    return dx


def avgpool2d_forward(x, size, stride=None):
    """Average pooling as loops.

    Notes
    -----
    y[c, i, j] = 1/(kh·kw) · Σ_m Σ_n x[c, i·s + m, j·s + n].
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), (N, C, Ho, Wo) = validate_pool_args(x, size, stride)
    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    total = 0.0
                    for m in range(kh):
                        for n in range(kw):
                            total += x[img, c, i * sh + m, j * sw + n]
                    y[img, c, i, j] = total / (kh * kw)
    return y


def avgpool2d_backward(dy, x, size, stride=None):
    """Average pooling backward as loops: δ/(kh·kw) to every pixel of the window.

    Notes
    -----
    ∂y[c, i, j]/∂x[c, i·s + m, j·s + n] = 1/(kh·kw), so every pixel of window (i, j)
    receives δ[c, i, j]/(kh·kw), accumulated (+=) over overlapping windows.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), out_shape = validate_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    N, C, Ho, Wo = out_shape
    dx = np.zeros(x.shape, dtype=np.result_type(dy, x))
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    for m in range(kh):
                        for n in range(kw):
                            dx[img, c, i * sh + m, j * sw + n] += dy[img, c, i, j] / (kh * kw)
    return dx
