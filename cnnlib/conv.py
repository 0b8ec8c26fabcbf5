"""Vectorised 2-D convolution (cross-correlation) forward and backward, and its helpers.

The helpers are the operations the derivations name: ``pad``, ``dilate``, ``rot180``.
``conv2d_forward`` lays the input out as im2col columns and multiplies them by the
kernels in one matrix product; ``conv2d_backward`` computes ∂E/∂w as the same product
transposed and ∂E/∂x as the kernels' transpose times δ, whose columns are added back
(col2im) into the positions each kernel offset (m, n) touched. Both are checked
against ``cnnlib.reference`` and finite differences.

How it is fast (measured in benchmarks/bench_conv.py): the batch is laid out
channel-major, as one "wide" image per channel in which every row of the padded
input keeps its full width Wq (the garbage columns j >= Wo are computed and thrown
away). Then, for a kernel offset (m, n), the inputs under all windows of all images
are ONE contiguous slice of that buffer, shifted by m·Wq + n, so that

- im2col is kh·kw copies of long contiguous runs (not N·C·Ho short rows of Wo),
- col2im is kh·kw contiguous ``+=`` of the same slices,
- forward, ∂E/∂w and the columns of ∂E/∂x are each ONE large matrix product,
  (D, C·kh·kw) @ (C·kh·kw, N·Ho·Wq) and its transposes, the shape BLAS runs fastest.

A stride s is turned into stride 1 first: the padded input is split into s·s
"phases" xp[a::s, b::s]; offset (m, n) reads phase (m mod s, n mod s) shifted by
(m // s, n // s).

Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb; made fast in
notebooks/07_fast_convolution.ipynb.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

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


class _Layout(NamedTuple):
    """Sizes of a convolution and of its channel-major, phase-split work buffer."""

    N: int
    C: int
    H: int
    W: int
    D: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    Ho: int
    Wo: int
    Hq: int  # rows of one phase image: ceil((H + 2ph) / sh)
    Wq: int  # its columns, also the width of the "wide" output rows

    @property
    def block(self):
        """Entries of one phase: (C, N, Hq, Wq)."""
        return self.C * self.N * self.Hq * self.Wq

    @property
    def buffer_size(self):
        # the shifted slice of the last phase runs past its end by at most
        # (kh-1)//sh rows and (kw-1)//sw columns: a zero tail keeps it in bounds
        return self.sh * self.sw * self.block + ((self.kh - 1) // self.sh + 1) * self.Wq


def _layout(x_shape, w_shape, stride, padding, out_shape):
    (N, C, H, W), (D, _, kh, kw), (sh, sw), (ph, pw) = x_shape, w_shape, stride, padding
    Ho, Wo = out_shape[2:]
    return _Layout(
        N, C, H, W, D, kh, kw, sh, sw, ph, pw, Ho, Wo, -(-(H + 2 * ph) // sh), -(-(W + 2 * pw) // sw)
    )


def _shifted(buf, g, m, n):
    """View (C, N, Ho·Wq) of the work buffer under kernel offset (m, n), no copy.

    Entry [c, img, i·Wq + j] is xp[img, c, i·sh + m, j·sw + n] for j < Wo (garbage for
    j >= Wo): within phase (m mod sh, n mod sw), the window at (i, j) starts at
    (i + m//sh, j + n//sw), which in a row-major phase image is the flat index
    i·Wq + j shifted by (m//sh)·Wq + n//sw.
    """
    start = ((m % g.sh) * g.sw + n % g.sw) * g.block + (m // g.sh) * g.Wq + n // g.sw
    return buf[start : start + g.block].reshape(g.C, g.N, g.Hq * g.Wq)[:, :, : g.Ho * g.Wq]


def _to_buffer(x, g):
    """Zero-pad x and lay it out as the flat work buffer: phases (sh, sw, C, N, Hq, Wq), then a zero tail."""
    buf = np.zeros(g.buffer_size, dtype=x.dtype)
    phases = buf[: g.sh * g.sw * g.block].reshape(g.sh, g.sw, g.C, g.N, g.Hq, g.Wq)
    if g.sh == g.sw == 1:  # one phase: pad and transpose in a single copy
        phases[0, 0, :, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = x.transpose(1, 0, 2, 3)
    else:
        xp = np.zeros((g.N, g.C, g.Hq * g.sh, g.Wq * g.sw), dtype=x.dtype)
        xp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = x
        # xp[img, c, u·sh + a, v·sw + b] -> phases[a, b, c, img, u, v]
        phases[...] = xp.reshape(g.N, g.C, g.Hq, g.sh, g.Wq, g.sw).transpose(3, 5, 1, 0, 2, 4)
    return buf


def _from_buffer(buf, g):
    """Inverse of ``_to_buffer``: the (N, C, H, W) image inside the padding, as a new array."""
    phases = buf[: g.sh * g.sw * g.block].reshape(g.sh, g.sw, g.C, g.N, g.Hq, g.Wq)
    if g.sh == g.sw == 1:
        xp = phases[0, 0].transpose(1, 0, 2, 3)
    else:
        xp = np.empty((g.N, g.C, g.Hq, g.sh, g.Wq, g.sw), dtype=buf.dtype)
        xp[...] = phases.transpose(3, 2, 4, 0, 5, 1)
        xp = xp.reshape(g.N, g.C, g.Hq * g.sh, g.Wq * g.sw)
    return np.ascontiguousarray(xp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W])


def _im2col(x, g):
    """Columns (C·kh·kw, N·Ho·Wq): row (c, m, n) holds xp[img, c, i·sh + m, j·sw + n] over (img, i, j)."""
    buf = _to_buffer(x, g)
    cols = np.empty((g.C, g.kh, g.kw, g.N, g.Ho * g.Wq), dtype=x.dtype)
    for m in range(g.kh):
        for n in range(g.kw):
            cols[:, m, n] = _shifted(buf, g, m, n)
    return cols.reshape(g.C * g.kh * g.kw, g.N * g.Ho * g.Wq)


def _col2im(dcols, g):
    """Adjoint of ``_im2col``: add every column entry back onto the input pixel it was copied from."""
    buf = np.zeros(g.buffer_size, dtype=dcols.dtype)
    dcols = dcols.reshape(g.C, g.kh, g.kw, g.N, g.Ho * g.Wq)
    for m in range(g.kh):
        for n in range(g.kw):
            # garbage columns j >= Wo hold exact zeros (δ is zero there), so they may land anywhere
            _shifted(buf, g, m, n)[...] += dcols[:, m, n]
    return _from_buffer(buf, g)


def _wide_delta(dy, g, dtype):
    """δ on the wide grid, (D, N·Ho·Wq), with zeros in the garbage columns j >= Wo."""
    dyw = np.zeros((g.D, g.N, g.Ho, g.Wq), dtype=dtype)
    dyw[..., : g.Wo] = dy.transpose(1, 0, 2, 3)
    return dyw.reshape(g.D, g.N * g.Ho * g.Wq)


def _forward(x, w, b, stride, padding):
    """conv2d_forward, also returning (cols, layout) for the backward to reuse."""
    x, w, stride, padding, out_shape = check_conv_args(x, w, stride, padding)
    N, D, Ho, Wo = out_shape
    b = check_bias(b, D)
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    g = _layout(x.shape, w.shape, stride, padding, out_shape)
    cols = _im2col(x.astype(dtype, copy=False), g)
    y_wide = (w.astype(dtype, copy=False).reshape(D, -1) @ cols).reshape(D, N, Ho, g.Wq)
    # dropping the garbage columns, going back to (N, D) order and adding b: one pass
    y = np.empty(out_shape, dtype=dtype)
    y_valid = y_wide[..., :Wo].transpose(1, 0, 2, 3)
    if b is None:
        y[...] = y_valid
    else:
        np.add(y_valid, b.reshape(1, D, 1, 1), out=y)
    return y, (cols, g)


def _backward(dy, x, w, stride, padding, saved=None):
    """conv2d_backward; ``saved`` = (cols, layout) from ``_forward`` on the same x, w skips im2col."""
    x, w, stride, padding, out_shape = check_conv_args(x, w, stride, padding)
    dy = as_float_array(dy, "dy")
    check_dy(dy, out_shape)
    dtype = np.result_type(dy, x, w)
    if saved is None or saved[0].dtype != dtype:
        g = _layout(x.shape, w.shape, stride, padding, out_shape)
        cols = _im2col(x.astype(dtype, copy=False), g)
    else:
        cols, g = saved
    dyw = _wide_delta(dy, g, dtype)
    w2 = w.astype(dtype, copy=False).reshape(g.D, -1)
    dw = (dyw @ cols.T).reshape(w.shape)
    dx = _col2im(w2.T @ dyw, g)
    db = dy.sum(axis=(0, 2, 3))
    return dx, dw, db


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

    computed as one matrix product w (D, C·kh·kw) @ im2col(xp) (C·kh·kw, N·Ho·Wq).
    Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb.
    """
    return _forward(x, w, b, stride, padding)[0]


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
    As matrices: dw = δ (D, N·Ho·Wq) @ im2col(xp)ᵀ and ∂E/∂xp = col2im(wᵀ @ δ).
    Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb.
    """
    return _backward(dy, x, w, stride, padding)
