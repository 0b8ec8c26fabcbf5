"""The convolution route for shapes where ``cnnlib._fastconv``'s grid would mostly be garbage.

``_fastconv`` computes every position of an Hq x Wq grid per image (about the
padded input's size, divided by the stride) and keeps the Ho x Wo real ones. That is
a few percent of extra work for the usual shapes, but a kernel as large as the input
(Ho = Wo = 1) would compute all Hq·Wq positions, and a stride far larger than the
input would make its buffer rows (rounded up to a multiple of the stride) huge.
Here the columns are the real windows only: a ``sliding_window_view`` of the
padded input, every s-th window, copied block by block into a (rows, C·kh·kw)
matrix and multiplied once per block. Time and memory then follow
N·D·Ho·Wo·C·kh·kw, whatever the kernel size and stride.

Every product computed is one the loops of ``cnnlib.reference`` compute, and no
other: an inf or NaN reaches exactly the entries that depend on it, which is why
``_fastconv.backward`` also comes here when its result is not finite.

This module assumes checked arrays, like ``_fastconv``.
"""

from __future__ import annotations

import numpy as np

# The columns of a block take at most this much memory (one image's row of windows
# at least): enough rows for an efficient matrix product, small enough that a large
# kernel on a large batch never holds all its columns at once.
_BLOCK_BYTES = 1 << 23


def _used_region(w_shape, stride, out_shape):
    """Rows and columns of the padded input that some window reads: (Ho-1)·s + k."""
    (kh, kw), (sh, sw), (Ho, Wo) = w_shape[2:], stride, out_shape[2:]
    return (Ho - 1) * sh + kh, (Wo - 1) * sw + kw


def padded_input(x, w_shape, stride, padding, out_shape, dtype):
    """The zero-padded x, cropped to the rows and columns windows read, as a new array of ``dtype``.

    Cropping is what keeps a huge stride cheap: with one window per axis only k
    rows are kept, however far apart the windows would be.
    """
    N, C, H, W = x.shape
    (ph, pw), (Hu, Wu) = padding, _used_region(w_shape, stride, out_shape)
    xp = np.zeros((N, C, Hu, Wu), dtype=dtype)
    hu, wu = min(H, Hu - ph), min(W, Wu - pw)  # x's rows and columns inside the used region
    if hu > 0 and wu > 0:
        xp[:, :, ph : ph + hu, pw : pw + wu] = x[:, :, :hu, :wu]
    return xp


def _blocks(xp, w_shape, stride, out_shape):
    """Yield (images, output rows, columns (n·rows·Wo, C·kh·kw)) block by block."""
    (N, C), (kh, kw), (sh, sw), (Ho, Wo) = xp.shape[:2], w_shape[2:], stride, out_shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    row_bytes = Wo * C * kh * kw * xp.itemsize  # the columns of one output row of one image
    rows = max(1, min(Ho, _BLOCK_BYTES // row_bytes))
    images = max(1, _BLOCK_BYTES // (row_bytes * Ho)) if rows == Ho else 1
    for first in range(0, N, images):
        imgs = slice(first, min(first + images, N))
        for i0 in range(0, Ho, rows):
            out_rows = slice(i0, min(i0 + rows, Ho))
            # (n, C, rows, Wo, kh, kw) -> (n, rows, Wo, C, kh, kw): one copy, rows of the GEMM
            block = windows[imgs, :, out_rows].transpose(0, 2, 3, 1, 4, 5)
            yield imgs, out_rows, block.reshape(-1, C * kh * kw)


def forward(xp, w, out_shape, stride):
    """y (N, D, Ho, Wo) = windows of xp @ wᵀ, without the bias; xp from ``padded_input``."""
    D = w.shape[0]
    w2 = w.astype(xp.dtype, copy=False).reshape(D, -1)
    y = np.empty(out_shape, dtype=xp.dtype)
    for imgs, rows, cols in _blocks(xp, w.shape, stride, out_shape):
        y_blk = (cols @ w2.T).reshape(-1, rows.stop - rows.start, out_shape[3], D)
        y[imgs, :, rows] = y_blk.transpose(0, 3, 1, 2)
    return y


def backward(dy, xp, w, x_shape, stride, padding, out_shape):
    """(dx, dw, db) from δ and xp (from ``padded_input``, in the result dtype)."""
    (C, kh, kw), (D, (sh, sw)), Wo = w.shape[1:], (w.shape[0], stride), out_shape[3]
    dtype = xp.dtype
    w2 = w.astype(dtype, copy=False).reshape(D, -1)
    dw = np.zeros((D, C * kh * kw), dtype=dtype)
    dxp = np.zeros(xp.shape, dtype=dtype)
    for imgs, rows, cols in _blocks(xp, w.shape, stride, out_shape):
        delta = dy[imgs, :, rows].transpose(0, 2, 3, 1).astype(dtype, copy=False).reshape(-1, D)
        dw += delta.T @ cols
        n_rows = rows.stop - rows.start
        dcols = (delta @ w2).reshape(-1, n_rows, Wo, C, kh, kw)
        # col2im: each column entry back onto the pixel it was read from. Loop over
        # whichever is fewer, the kernel offsets or the windows: a 64x64 kernel with one
        # output position is one += of a (n, C, 64, 64) block, not 4096 tiny ones.
        top = rows.start * sh
        if kh * kw <= n_rows * Wo:
            for m in range(kh):
                for n in range(kw):
                    r, c = top + m, n
                    pixels = dxp[imgs, :, r : r + (n_rows - 1) * sh + 1 : sh, c : c + (Wo - 1) * sw + 1 : sw]
                    pixels += dcols[..., m, n].transpose(0, 3, 1, 2)
        else:
            for i in range(n_rows):
                for j in range(Wo):
                    r, c = top + i * sh, j * sw
                    dxp[imgs, :, r : r + kh, c : c + kw] += dcols[:, i, j]
    return crop(dxp, x_shape, padding), dw.reshape(w.shape), dy.sum(axis=(0, 2, 3), dtype=dtype)


def crop(xp, x_shape, padding):
    """The (N, C, H, W) image inside the padding of a ``padded_input``-shaped array, as a new array.

    Rows and columns of x past the used region (never read by a window) are zeros.
    """
    (H, W), (ph, pw) = x_shape[2:], padding
    x = np.zeros(x_shape, dtype=xp.dtype)
    hu, wu = min(H, xp.shape[2] - ph), min(W, xp.shape[3] - pw)
    if hu > 0 and wu > 0:
        x[:, :, :hu, :wu] = xp[:, :, ph : ph + hu, pw : pw + wu]
    return x
