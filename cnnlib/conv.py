"""Vectorised 2-D convolution (cross-correlation) forward and backward, and its helpers.

The helpers are the operations the derivations name: ``pad``, ``dilate``, ``rot180``.
``conv2d_forward`` lays the input out as im2col columns (``sliding_window_view``) and
multiplies them by the kernels in one batched matmul; ``conv2d_backward`` computes
∂E/∂w as the same matmul transposed and ∂E/∂x by accumulating, for each kernel
offset (m, n), the product of δ and w[:, :, m, n] into the strided positions that
offset touched. Both are checked against ``cnnlib.reference`` and finite differences.

Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb; made fast in
notebooks/07_fast_convolution.ipynb.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .shapes import (
    as_float_array,
    as_pair,
    check_bias,
    check_conv_args,
    check_dy,
    check_stride,
)


def pad(x, padding):
    """Add zeros around the last two axes (negative amounts crop instead).

    Parameters
    ----------
    x : ndarray of shape (..., H, W)
    padding : int, (ph, pw) or ((top, bottom), (left, right))
        Zeros to add on each side. A negative amount removes that many rows or
        columns, which is how the transposed-convolution formula for ∂E/∂x reads
        when k - p - 1 < 0.

    Returns
    -------
    ndarray of shape (..., H + top + bottom, W + left + right)
        A new array; x is not modified.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., H, W), got shape {x.shape}")
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and isinstance(padding[0], (tuple, list)):
        (top, bottom), (left, right) = as_pair(padding[0], "padding"), as_pair(padding[1], "padding")
    else:
        (top, left) = as_pair(padding, "padding")
        bottom, right = top, left
    H, W = x.shape[-2:]
    if H + top + bottom < 0 or W + left + right < 0:
        raise ValueError(f"padding {padding!r} crops more than the {H}x{W} array holds")
    out = np.zeros(x.shape[:-2] + (H + top + bottom, W + left + right), dtype=x.dtype)
    # source rows [max(0,-top), H - max(0,-bottom)) land at [max(0,top), ...)
    src = x[..., max(0, -top) : H - max(0, -bottom), max(0, -left) : W - max(0, -right)]
    out[..., max(0, top) : max(0, top) + src.shape[-2], max(0, left) : max(0, left) + src.shape[-1]] = src
    return out


def dilate(a, stride):
    """Insert s - 1 zeros between neighbouring entries along the last two axes.

    Parameters
    ----------
    a : ndarray of shape (..., Ho, Wo)
    stride : int or (sh, sw)

    Returns
    -------
    ndarray of shape (..., (Ho - 1)·sh + 1, (Wo - 1)·sw + 1)
        out[..., i·sh, j·sw] = a[..., i, j], zeros elsewhere.

    Notes
    -----
    With stride s, output (i, j) sits over input row i·s: dilating δ puts each
    delta back at the input position its window started from.
    Derived in notebooks/03_stride.ipynb.
    """
    a = as_float_array(a, "a")
    if a.ndim < 2:
        raise ValueError(f"a must have at least 2 dimensions (..., H, W), got shape {a.shape}")
    sh, sw = check_stride(stride)
    Ho, Wo = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + ((Ho - 1) * sh + 1, (Wo - 1) * sw + 1), dtype=a.dtype)
    out[..., ::sh, ::sw] = a
    return out


def rot180(w):
    """Flip a kernel in both spatial axes (the last two): rot180(w)[..., m, n] = w[..., kh-1-m, kw-1-n].

    Parameters
    ----------
    w : ndarray of shape (..., kh, kw)

    Returns
    -------
    ndarray of shape (..., kh, kw)
        A new array.

    Notes
    -----
    True convolution is cross-correlation with the rotated kernel: a ∗ w = a ★ rot180(w).
    Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    w = as_float_array(w, "w")
    if w.ndim < 2:
        raise ValueError(f"w must have at least 2 dimensions (..., kh, kw), got shape {w.shape}")
    return w[..., ::-1, ::-1].copy()


def _windows(x, kh, kw, sh, sw, Ho, Wo):
    """View of every window: shape (N, C, Ho, Wo, kh, kw), no copy."""
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return win[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw]


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Cross-correlation of a batch of images with D kernels, plus a bias per kernel.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    w : array-like of shape (D, C, kh, kw)
    b : array-like of shape (D,) or None
    stride : int or (sh, sw)
    padding : int or (ph, pw)
        Zero padding on each side.

    Returns
    -------
    y : ndarray of shape (N, D, Ho, Wo)
        Ho = floor((H + 2ph - kh)/sh) + 1, Wo likewise.

    Notes
    -----
    A cross-correlation (the kernel is not flipped), with xp the padded input:

        y[d, i, j] = b[d] + Σ_c Σ_m Σ_n w[d, c, m, n] · xp[c, i·s + m, j·s + n]

    Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb.
    """
    x, w, (sh, sw), (ph, pw), (N, D, Ho, Wo) = check_conv_args(x, w, stride, padding)
    b = check_bias(b, D)
    C, kh, kw = w.shape[1:]
    xp = pad(x, (ph, pw)) if ph or pw else x
    win = _windows(xp, kh, kw, sh, sw, Ho, Wo)  # (N, C, Ho, Wo, kh, kw)
    # im2col: one row per output position, one column per (c, m, n)
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(N, Ho * Wo, C * kh * kw)
    y = cols @ w.reshape(D, C * kh * kw).T  # (N, Ho·Wo, D)
    y = y.transpose(0, 2, 1).reshape(N, D, Ho, Wo)
    if b is not None:
        y = y + b.reshape(1, D, 1, 1)
    return np.ascontiguousarray(y)


def conv2d_backward(dy, x, w, stride=1, padding=0):
    """Gradients of ``conv2d_forward`` with respect to its input, kernels and bias.

    Parameters
    ----------
    dy : array-like of shape (N, D, Ho, Wo)
        δ = ∂E/∂y.
    x : array-like of shape (N, C, H, W)
        The forward input.
    w : array-like of shape (D, C, kh, kw)
    stride, padding : int or pair, as in the forward.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (D, C, kh, kw)
    db : ndarray of shape (D,)
        Always returned, also when the forward had no bias.

    Notes
    -----
    ∂E/∂w[d, c, m, n] = Σ_N Σ_i Σ_j δ[d, i, j] · xp[c, i·s + m, j·s + n]   (xp ★ dilate(δ, s))
    ∂E/∂b[d]          = Σ_N Σ_i Σ_j δ[d, i, j]
    ∂E/∂xp[c, i·s + m, j·s + n] += Σ_d δ[d, i, j] · w[d, c, m, n]  for every (m, n),
    then ∂E/∂x = ∂E/∂xp with p cropped from each side; this equals the full
    cross-correlation of dilate(δ, s) with rot180(w).
    Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb.
    """
    x, w, (sh, sw), (ph, pw), out_shape = check_conv_args(x, w, stride, padding)
    dy = as_float_array(dy, "dy")
    check_dy(dy, out_shape)
    N, D, Ho, Wo = out_shape
    C, kh, kw = w.shape[1:]
    H, W = x.shape[2:]
    xp = pad(x, (ph, pw)) if ph or pw else x
    win = _windows(xp, kh, kw, sh, sw, Ho, Wo)
    dw = np.tensordot(dy, win, axes=([0, 2, 3], [0, 2, 3]))  # (D, C, kh, kw)
    db = dy.sum(axis=(0, 2, 3))
    dtype = np.result_type(dy, w)
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
    for m in range(kh):
        for n in range(kw):
            # every output (i, j) used pixel (i·s + m, j·s + n) with weight w[:, :, m, n]
            contrib = np.einsum("ndij,dc->ncij", dy, w[:, :, m, n])
            dxp[:, :, m : m + (Ho - 1) * sh + 1 : sh, n : n + (Wo - 1) * sw + 1 : sw] += contrib
    dx = dxp[:, :, ph : ph + H, pw : pw + W]
    return np.ascontiguousarray(dx), dw, db
