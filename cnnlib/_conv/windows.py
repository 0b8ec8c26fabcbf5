"""The windows route of the fast path: for shapes where the grid route would mostly compute garbage.

The grid route (``grid.py``) computes every position of an Hq x Wq grid per image (about the
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
``cnnlib._conv.backward`` also comes here when its result is not finite.

Dilation d takes every d-th entry of a window d(k − 1) + 1 wide; groups make the
products G stacked products (``products.group_matmul``). The functions read the sizes
from the layout ``g`` (``layout.py``) (N, C, H, W, D, kh, kw, strides, padding, Ho, Wo,
dilation, G). This module assumes checked arrays, like ``grid.py``.
"""

from __future__ import annotations

import numpy as np

from .products import group_matmul

# The columns of a block take at most this much memory (one image's row of windows
# at least): enough rows for an efficient matrix product, small enough that a large
# kernel on a large batch never holds all its columns at once.
WINDOWS_BLOCK_BYTES = 1 << 23


def _used_region(g):
    """Rows and columns of the padded input that some window reads: (Ho-1)·s + d(k-1) + 1."""
    return (g.Ho - 1) * g.sh + (g.kh - 1) * g.dil_h + 1, (g.Wo - 1) * g.sw + (g.kw - 1) * g.dil_w + 1


def padded_input(x, g, dtype):
    """The zero-padded x, cropped to the rows and columns windows read, as a new array of ``dtype``.

    Cropping is what keeps a huge stride cheap: with one window per axis only k
    rows are kept, however far apart the windows would be.
    """
    (ph, pw), (Hu, Wu) = (g.ph, g.pw), _used_region(g)
    xp = np.zeros((g.N, g.C, Hu, Wu), dtype=dtype)
    hu, wu = min(g.H, Hu - ph), min(g.W, Wu - pw)  # x's rows and columns inside the used region
    if hu > 0 and wu > 0:
        xp[:, :, ph : ph + hu, pw : pw + wu] = x[:, :, :hu, :wu]
    return xp


def _ranges(g, itemsize, block_bytes):
    """Yield (images, output rows) blocks whose columns fill about ``block_bytes``."""
    row_bytes = g.Wo * g.K * itemsize  # the columns of one output row of one image
    rows = max(1, min(g.Ho, block_bytes // row_bytes))
    images = max(1, block_bytes // (row_bytes * g.Ho)) if rows == g.Ho else 1
    for first in range(0, g.N, images):
        for i0 in range(0, g.Ho, rows):
            yield slice(first, min(first + images, g.N)), slice(i0, min(i0 + rows, g.Ho))


def _columns(xp, g, imgs, out_rows):
    """The columns (n·rows·Wo, C·kh·kw) of a block: one copy of its windows."""
    span = ((g.kh - 1) * g.dil_h + 1, (g.kw - 1) * g.dil_w + 1)
    windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(2, 3))
    windows = windows[:, :, :: g.sh, :: g.sw, :: g.dil_h, :: g.dil_w]
    # (n, C, rows, Wo, kh, kw) -> (n, rows, Wo, C, kh, kw): rows of the GEMM
    return windows[imgs, :, out_rows].transpose(0, 2, 3, 1, 4, 5).reshape(-1, g.K)


def _by_group(a, G):
    """(R, G·k) -> (G, R, k): the columns of each group of channels (or kernels)."""
    return a.reshape(a.shape[0], G, -1).transpose(1, 0, 2)


def _from_groups(a):
    """(G, R, k) -> (R, G·k), the inverse of ``_by_group``."""
    return a.transpose(1, 0, 2).reshape(a.shape[1], -1)


def forward(xp, w, g, block_bytes=WINDOWS_BLOCK_BYTES):
    """y (N, D, Ho, Wo) = windows of xp @ wᵀ, without the bias; xp from ``padded_input``."""
    w3 = w.astype(xp.dtype, copy=False).reshape(g.G, g.D // g.G, -1)  # (G, D/G, C/G·kh·kw)
    y = np.empty((g.N, g.D, g.Ho, g.Wo), dtype=xp.dtype)
    for imgs, rows in _ranges(g, xp.itemsize, block_bytes):
        cols = _columns(xp, g, imgs, rows)
        y_blk = _from_groups(group_matmul(_by_group(cols, g.G), w3.transpose(0, 2, 1)))
        y[imgs, :, rows] = y_blk.reshape(-1, rows.stop - rows.start, g.Wo, g.D).transpose(0, 3, 1, 2)
    return y


def backward(dy, xp, w, g, need_dx=True, block_bytes=WINDOWS_BLOCK_BYTES):
    """(dx, dw, db) from δ and xp (from ``padded_input``, in the result dtype).

    xp None computes dx alone (dw None), need_dx False dw alone (dx None).
    """
    (kh, kw), (sh, sw), (dh, dwl), Wo = (g.kh, g.kw), (g.sh, g.sw), (g.dil_h, g.dil_w), g.Wo
    dtype = np.result_type(dy, w) if xp is None else xp.dtype
    w3 = w.astype(dtype, copy=False).reshape(g.G, g.D // g.G, -1)
    dw = None if xp is None else np.zeros((g.G, g.D // g.G, w3.shape[2]), dtype=dtype)
    dxp = np.zeros((g.N, g.C, *_used_region(g)), dtype=dtype) if need_dx else None
    for imgs, rows in _ranges(g, dtype.itemsize, block_bytes):
        delta = dy[imgs, :, rows].transpose(0, 2, 3, 1).astype(dtype, copy=False).reshape(-1, g.D)
        delta = _by_group(delta, g.G)  # (G, R, D/G)
        if dw is not None:
            dw += group_matmul(delta.transpose(0, 2, 1), _by_group(_columns(xp, g, imgs, rows), g.G))
        if dxp is None:
            continue
        n_rows = rows.stop - rows.start
        dcols = _from_groups(group_matmul(delta, w3)).reshape(-1, n_rows, Wo, g.C, kh, kw)
        # col2im: each column entry back onto the pixel it was read from. Loop over
        # whichever is fewer, the kernel offsets or the windows: a 64x64 kernel with one
        # output position is one += of a (n, C, 64, 64) block, not 4096 tiny ones.
        top = rows.start * sh
        if kh * kw <= n_rows * Wo:
            for m in range(kh):
                for n in range(kw):
                    r, c = top + m * dh, n * dwl
                    pixels = dxp[imgs, :, r : r + (n_rows - 1) * sh + 1 : sh, c : c + (Wo - 1) * sw + 1 : sw]
                    pixels += dcols[..., m, n].transpose(0, 3, 1, 2)
        else:
            for i in range(n_rows):
                for j in range(Wo):
                    r, c = top + i * sh, j * sw
                    dxp[imgs, :, r : r + (kh - 1) * dh + 1 : dh, c : c + (kw - 1) * dwl + 1 : dwl] += dcols[
                        :, i, j
                    ]
    dx = None if dxp is None else crop(dxp, g)
    dw = None if dw is None else dw.reshape(w.shape)
    return dx, dw, dy.sum(axis=(0, 2, 3), dtype=dtype)


def crop(xp, g):
    """The (N, C, H, W) image inside the padding of a ``padded_input``-shaped array, as a new array.

    Rows and columns of x past the used region (never read by a window) are zeros.
    """
    (H, W), (ph, pw) = (g.H, g.W), (g.ph, g.pw)
    x = np.zeros((g.N, g.C, H, W), dtype=xp.dtype)
    hu, wu = min(H, xp.shape[2] - ph), min(W, xp.shape[3] - pw)
    if hu > 0 and wu > 0:
        x[:, :, :hu, :wu] = xp[:, :, ph : ph + hu, pw : pw + wu]
    return x
