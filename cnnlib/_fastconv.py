"""The fast path of ``cnnlib.conv``: the work buffer, im2col/col2im on it, and the matrix products.

``cnnlib.conv`` validates the arguments and calls ``forward``/``backward`` here; this
module assumes checked arrays. How it is fast (measured in benchmarks/bench_conv.py):

- Layout. The zero-padded batch is copied once into a flat, channel-major work
  buffer (row phases, C, N, Hq, Wr) (see the stride below). Output position (img, i, j) is given the column
  img·P + i·Wq + j of an Hc x Wq grid per image; the grid is a little larger than
  Ho x Wo, and its extra "garbage" entries are computed and thrown away. In exchange,
  the pixels under kernel offset (m, n) for ALL windows of all images of a channel
  are one run of constant step in the buffer, starting at m·Wr + n (``_shifted``).
- im2col is then one copy of a strided view (``_im2col_sources``) and col2im is
  kh·kw ``+=`` on long runs: NumPy pays its per-inner-loop cost (~1 µs for an
  in-place ufunc) per run, not per row of Wo.
- Forward, ∂E/∂w and the columns of ∂E/∂x are matrix products
  (D, C·kh·kw) @ (C·kh·kw, columns) and its transposes, one per block of images.
  The blocks (``_BLOCK_BYTES``) keep columns and their gradient in the CPU cache
  between the copy that makes them and the products that read them, and all work
  arrays are reused between calls (``_workspace.work_array``).
- A stride s becomes stride 1 by splitting the rows into s "row phases"
  (xp[a::s]) and making each buffer row Wr = Wq·s wide: offset (m, n) then reads
  phase m mod s from row m // s, every s-th column.
- Dilation d only moves where offset (m, n) starts reading: padded row m·d, column
  n·d (``_Layout.start``): the same copies and products per grid position as the
  plain convolution. The d(k − 1) rows a dilated kernel reaches past the last output
  row are not computed (``_Layout.Hc``); its garbage columns still grow with the span
  d(k − 1) + 1 (measured against the plain convolution with the same output: ~1.0x at
  d = 2, 1.1-1.2x at d = 4, benchmarks/bench_family.py).
- Groups split the rows of the columns (channel-major) and the kernels into G
  blocks: the products become G stacked products of 1/G the size each
  (``_windowconv.group_matmul``), the copies stay as they are.

Explained in notebooks/07_fast_convolution.ipynb.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _windowconv
from ._windowconv import group_matmul
from ._workspace import work_array

# Columns are made and consumed one block of images at a time, so that the block's
# columns (and in the backward their gradient) stay in the CPU's cache between the
# copy that makes them and the matrix products that read them; one buffer is reused
# for every block. A full batch of columns (22 MB for case B in float32, 44 MB in
# float64) would go out to memory and back, and a fresh array that large is paid for
# again in page faults on every call. 1 MiB was the fastest of 128 KiB .. 8 MiB.
_BLOCK_BYTES = 1 << 20


class _Layout(NamedTuple):
    """Sizes of a convolution and of its channel-major, row-phase work buffer."""

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
    Hq: int  # rows of one row phase: ceil((H + 2ph) / sh)
    Wq: int  # ceil((W + 2pw) / sw): output columns computed per row (j < Wo are kept)
    dil_h: int = 1  # dilation: offset (m, n) reads padded row i·sh + m·dil_h, column j·sw + n·dil_w
    dil_w: int = 1
    G: int = 1  # groups: channels and kernels in G blocks, kernel d reading only its block's channels

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def Wr(self):
        """Width of a buffer row: the padded width rounded up to a multiple of sw."""
        return self.Wq * self.sw

    @property
    def K(self):
        """Rows of the columns matrix: one per (c, m, n)."""
        return self.C * self.kh * self.kw

    @property
    def dilation(self):
        return (self.dil_h, self.dil_w)

    @property
    def Hc(self):
        """Rows of window positions computed per image: Hq, or only the Ho output rows.

        With all Hq rows the windows of all images are one run per channel, copied and
        added in C long NumPy loops; skipping rows i >= Ho costs a loop per image and
        channel (+20% on case A) and saves their products: worth it for a dilated kernel
        (d(k − 1) rows past the last output) or when they are a quarter of the grid.
        """
        return self.Ho if self.dil_h > 1 or 4 * (self.Hq - self.Ho) > self.Hq else self.Hq

    @property
    def P(self):
        """Columns per image: Hc rows of Wq window positions; only i < Ho, j < Wo are outputs."""
        return self.Hc * self.Wq

    @property
    def phase_size(self):
        """Entries of one row phase: (C, N, Hq, Wr)."""
        return self.C * self.N * self.Hq * self.Wr

    @property
    def buffer_size(self):
        # the shifted view of the last row phase runs past its end by at most
        # (kh-1)·dil_h//sh rows and a row's width: a zero tail keeps it inside the buffer
        return self.sh * self.phase_size + ((self.kh - 1) * self.dil_h // self.sh + 1) * self.Wr

    @property
    def wasteful(self):
        """True when the grid would be mostly garbage: ``cnnlib._windowconv`` is then cheaper.

        Grid positions per output (P / Ho·Wo) and buffer per padded pixel are 1.0-1.4
        for the usual shapes; a kernel as large as the input makes the first ~H·W, a
        stride far beyond the input the second ~stride². Past about 2x the real windows
        alone are faster (crossover 1.8x-2.6x measured on 32x32 inputs, 5x5 to 23x23 kernels).
        """
        padded = (self.H + 2 * self.ph) * (self.W + 2 * self.pw)
        return self.P > 2 * self.Ho * self.Wo or self.sh * self.Hq * self.Wr > 2 * padded

    def start(self, m, n=0):
        """Flat index, in the work buffer, of the first pixel kernel offset (m, n) reads.

        That pixel is padded row m·dil_h, column n·dil_w: row (m·dil_h) // sh of row
        phase (m·dil_h) mod sh.
        """
        r = m * self.dil_h
        return (r % self.sh) * self.phase_size + (r // self.sh) * self.Wr + n * self.dil_w

    def image_blocks(self, itemsize):
        """(first, stop) image ranges whose columns fill about _BLOCK_BYTES, and the largest size."""
        step = min(self.N, max(1, _BLOCK_BYTES // (self.K * self.P * itemsize)))
        return [(i, min(i + step, self.N)) for i in range(0, self.N, step)], step


def _layout(x_shape, w_shape, stride, padding, out_shape, dilation=(1, 1), groups=1):
    (N, C, H, W), (D, _, kh, kw), (sh, sw), (ph, pw) = x_shape, w_shape, stride, padding
    Hq, Wq = -(-(H + 2 * ph) // sh), -(-(W + 2 * pw) // sw)  # ceil
    return _Layout(N, C, H, W, D, kh, kw, sh, sw, ph, pw, *out_shape[2:], Hq, Wq, *dilation, groups)


def _row_phases(buf, g):
    """For each row phase a: (view (C, N, rows, W) of the buffer, the rows of x it holds).

    Phase a holds the padded rows a, a + sh, ...: its row u is padded row u·sh + a, i.e.
    row u·sh + a - ph of x; the first one inside x is u0 = ceil((ph - a)/sh).
    """
    phases = buf[: g.sh * g.phase_size].reshape(g.sh, g.C, g.N, g.Hq, g.Wr)
    out = []
    for a in range(g.sh):
        u0 = -((a - g.ph) // g.sh)
        r0 = u0 * g.sh + a - g.ph
        rows = range(r0, g.H, g.sh)
        out.append((phases[a, :, :, u0 : u0 + len(rows), g.pw : g.pw + g.W], slice(r0, g.H, g.sh)))
    return out


def _to_buffer(x, g, keep=True):
    """Zero-pad x and lay it out as the flat work buffer: row phases (sh, C, N, Hq, Wr), then a zero tail.

    One copy per row phase, straight from x: padding, channel-major order and the
    row split all happen in that single pass. keep=False returns a reused work array,
    for callers that do not hand the buffer on.
    """
    shape = (g.buffer_size,)
    buf = np.zeros(shape, dtype=x.dtype) if keep else work_array("buf", shape, x.dtype, zero=True)
    for phase, rows in _row_phases(buf, g):
        phase[...] = x[:, :, rows].transpose(1, 0, 2, 3)
    return buf


def _from_buffer(buf, g):
    """Inverse of ``_to_buffer``: the (N, C, H, W) image inside the padding, as a new array."""
    x = np.empty((g.N, g.C, g.H, g.W), dtype=buf.dtype)
    for phase, rows in _row_phases(buf, g):
        x[:, :, rows] = phase.transpose(1, 0, 2, 3)
    return x


def _shifted(buf, g, m, n):
    """View (C, N, P) of the work buffer under kernel offset (m, n), no copy.

    Entry [c, img, i·Wq + j] is xp[img, c, i·sh + m, j·sw + n] for every output
    (i < Ho, j < Wo) (m·dil_h and n·dil_w when dilated): in row phase m mod sh, that
    pixel is row i + m//sh, column j·sw + n of image img, at flat index
    img·Hq·Wr + (i + m//sh)·Wr + j·sw + n, i.e. start(m, n) + img·Hq·Wr + sw·(i·Wq + j)
    since Wr = sw·Wq. So the windows of one image form ONE run of constant step sw per
    channel (of all images, when Hc = Hq: NumPy then merges the two axes), and copies
    and ``+=`` on it are a few long NumPy loops (a (C, N, Ho, Wo) view would cost one
    inner loop per row of Wo, several times slower). The other entries (i >= Ho or
    j >= Wo) are garbage: they read the next row or image, and what they compute is
    thrown away.
    """
    start = g.start(m, n)
    image = buf[start : start + g.phase_size].reshape(g.C, g.N, g.Hq * g.Wr)
    return image[:, :, : g.Hc * g.Wr : g.sw]


def _im2col_sources(buf, g):
    """Per row phase: the rows (c, m, n) of the columns whose offsets m read it, as one strided view, no copy.

    Within one row phase, offsets (m, n) only move the start of ``_shifted``'s view by
    (m//sh)·Wr + n, so the views of all of them are one array with two extra axes,
    of steps Wr and 1: shape (C, #m, kw, N, P). One copy of it fills all those rows.
    Dilated, offset m reads phase (m·dil_h) mod sh; the offsets of one phase are
    m0, m0 + t, ... with t = sh / gcd(sh, dil_h), t·dil_h/sh rows apart, and n steps
    dil_w columns (t = sh, one row and one column when dil = 1).
    """
    t = g.sh // math.gcd(g.sh, g.dil_h)
    sources = []
    for m0 in range(min(t, g.kh)):
        shape = (g.C, len(range(m0, g.kh, t)), g.kw, g.N, g.P)
        steps = (g.N * g.Hq * g.Wr, t * g.dil_h // g.sh * g.Wr, g.dil_w, g.Hq * g.Wr, g.sw)
        strides = [s * buf.itemsize for s in steps]
        view = np.lib.stride_tricks.as_strided(buf[g.start(m0) :], shape, strides, writeable=False)
        sources.append(((slice(None), slice(m0, None, t)), view))
    return sources


def _im2col(sources, first, stop, g, out):
    """Columns (K, (stop - first)·P) of images first..stop-1, written into out (C, kh, kw, ≥ that, P)."""
    k = stop - first
    for rows, view in sources:
        out[rows + (slice(None), slice(0, k))] = view[..., first:stop, :]
    return out[:, :, :, :k].reshape(g.K, k * g.P)


class ConvCache(NamedTuple):
    """What ``forward`` keeps for ``backward``: a copy of the zero-padded input, laid out for its route.

    ``buffer`` is the grid's work buffer when ``layout.wasteful`` is False, else the
    padded input of ``_windowconv.padded_input``; ``x_dtype`` is the dtype of the
    caller's x (the buffer's may be wider), so that the backward's result dtype does
    not depend on whether a cache was passed.
    """

    buffer: np.ndarray
    layout: _Layout
    x_dtype: np.dtype


def _windows_route(g):
    """Whether ``_windowconv`` computes this convolution (see ``_Layout.wasteful``).

    Empty arrays go there too: it copes with an empty H or W (padding only), and
    for N, C or D = 0 its padded input is the (tiny) cache.
    """
    return g.wasteful or 0 in (g.N, g.C, g.D, g.H, g.W)


def forward(x, w, b, stride, padding, out_shape, dilation=(1, 1), groups=1):
    """y = x ★ w + b on checked arrays, and the ConvCache that lets ``backward`` skip laying x out again."""
    N, D, Ho, Wo = out_shape
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    g = _layout(x.shape, w.shape, stride, padding, out_shape, dilation, groups)
    if _windows_route(g):
        buf = _windowconv.padded_input(x, g, dtype)
        if 0 in (N, g.C, D):  # no product to compute: y is the bias (a sum over no channel is 0)
            y = np.zeros(out_shape, dtype=dtype)
        else:
            y = _windowconv.forward(buf, w, g)
    else:
        buf = _to_buffer(x.astype(dtype, copy=False), g)
        y = _grid_forward(buf, g, w.astype(dtype, copy=False).reshape(D, -1), out_shape)
    if b is not None:
        # once, on the contiguous result: NumPy runs it as N·D loops of Ho·Wo, where
        # fusing it into the copy of each block would cost one (slower) ufunc loop per row of Wo
        y += b.reshape(1, D, 1, 1)
    return y, ConvCache(buf, g, x.dtype)


def _grid_forward(buf, g, w2, out_shape):
    sources = _im2col_sources(buf, g)
    blocks, step = g.image_blocks(buf.itemsize)
    cols = work_array("cols", (g.C, g.kh, g.kw, step, g.P), buf.dtype)
    w3 = w2.reshape(g.G, g.D // g.G, -1)  # kernels by group: (G, D/G, C/G·kh·kw)
    y = np.empty(out_shape, dtype=buf.dtype)
    for first, stop in blocks:
        columns = _im2col(sources, first, stop, g, cols)
        with np.errstate(invalid="ignore"):  # garbage columns may compute 0·inf: thrown away below
            y_all = group_matmul(w3, columns.reshape(g.G, w3.shape[2], -1))
        y_all = y_all.reshape(g.D, stop - first, g.Hc, g.Wq)
        y[first:stop] = y_all[:, :, : g.Ho, : g.Wo].transpose(1, 0, 2, 3)  # drop the garbage, (N, D) order
    return y


def cache_fits(cache, x_shape, w_shape, stride, padding, out_shape, dilation=(1, 1), groups=1):
    """True when ``cache`` was made by ``forward`` for these shapes, stride, padding, dilation and groups."""
    return isinstance(cache, ConvCache) and cache.layout == _layout(
        x_shape, w_shape, stride, padding, out_shape, dilation, groups
    )


def cached_input(cache):
    """The forward's x (N, C, H, W), rebuilt from a cache (a new array of the caller's dtype).

    On the windows route pixels that no window reads were not kept: they come back as
    zeros, which changes no gradient (they enter none).
    """
    buf, g, x_dtype = cache
    x = _windowconv.crop(buf, g) if _windows_route(g) else _from_buffer(buf, g)
    return x.astype(x_dtype, copy=False)


def backward(dy, x, w, stride, padding, out_shape, cache=None, dilation=(1, 1), groups=1, need_dx=True):
    """(dx, dw, db) on checked arrays; a fitting ``cache`` from ``forward`` skips re-laying x out.

    x may be None when a cache is given: its shape and values are in the cache.
    need_dx=False skips ∂E/∂x (dx is None), for a transposed convolution's dw.
    """
    if cache is None:
        g = _layout(x.shape, w.shape, stride, padding, out_shape, dilation, groups)
    else:
        g = cache.layout
    dtype = np.result_type(dy, w, x if cache is None else cache.x_dtype)
    if 0 in (g.N, g.C, g.D):  # no product: sums over no image, channel or kernel are 0
        return np.zeros(g.x_shape, dtype), np.zeros(w.shape, dtype), dy.sum(axis=(0, 2, 3), dtype=dtype)
    if cache is not None and cache.buffer.dtype == dtype:
        buf = cache.buffer
    else:  # no cache, or one of another dtype: lay x out again in this one
        x = cached_input(cache) if x is None else x
        buf = None
    if _windows_route(g):
        if buf is None:
            buf = _windowconv.padded_input(x, g, dtype)
        return _windowconv.backward(dy, buf, w, g, need_dx)
    if buf is None:
        buf = _to_buffer(x.astype(dtype, copy=False), g, keep=False)
    w = w.astype(dtype, copy=False)
    with np.errstate(invalid="ignore"):  # 0·inf of garbage columns: see just below
        dx, dw = _grid_backward(dy, buf, g, w.reshape(g.D, -1), need_dx)
    # The grid's garbage columns meet δ = 0 and, in ∂E/∂x, land on pixels no window
    # reads: harmless for finite numbers, but 0·inf = NaN. That can only show in dw
    # (an inf or NaN of xp in a garbage column) or, through wᵀδ, when w itself is not
    # finite. Both are small to check, x is never scanned; then the exact route, whose
    # products are exactly the reference's, decides where inf and NaN belong.
    if not (np.isfinite(dw).all() and np.isfinite(w).all()):
        xp = _windowconv.padded_input(_from_buffer(buf, g), g, dtype)
        return _windowconv.backward(dy, xp, w, g, need_dx)
    return dx, dw, dy.sum(axis=(0, 2, 3), dtype=dtype)


def input_grad(dy, w, x_shape, stride, padding, out_shape):
    """∂E/∂x alone, from δ and w (no x): what a transposed convolution computes."""
    g = _layout(x_shape, w.shape, stride, padding, out_shape)
    dtype = np.result_type(dy, w)
    if 0 in (g.N, g.C, g.D):
        return np.zeros(x_shape, dtype)
    if _windows_route(g) or not np.isfinite(w).all():  # the exact route: see ``backward``
        return _windowconv.backward(dy, None, w, g)[0]
    with np.errstate(invalid="ignore"):
        dx, _ = _grid_backward(dy, None, g, w.astype(dtype, copy=False).reshape(g.D, -1), dtype=dtype)
    return dx


def _grid_backward(dy, buf, g, w2, need_dx=True, dtype=None):
    """(dx, dw) on the grid; buf None skips dw (dtype then given), need_dx False skips dx."""
    dtype = buf.dtype if buf is not None else dtype
    blocks, step = g.image_blocks(dtype.itemsize)
    G, Dg = g.G, g.D // g.G
    w3 = w2.reshape(G, Dg, -1)  # kernels by group: (G, D/G, Kg) with Kg = C/G·kh·kw
    Kg = w3.shape[2]
    # δ on the grid; its garbage entries (i >= Ho or j >= Wo) are zeroed once and never
    # written, so the garbage columns add nothing to dw and get exactly 0 gradient
    delta_all = work_array("delta", (g.D, step, g.Hc, g.Wq), dtype, zero=True)
    if buf is not None:
        sources = _im2col_sources(buf, g)
        cols = work_array("cols", (g.C, g.kh, g.kw, step, g.P), dtype)
        dw_t = np.zeros((G, Kg, Dg), dtype=dtype)  # dwᵀ: (K, ·) @ (·, D) is the faster GEMM shape here
    if need_dx:
        dcols = work_array("dcols", (G, Kg, step * g.P), dtype)
        dbuf = work_array("dbuf", (g.buffer_size,), dtype, zero=True)
        targets = [(m, n, _shifted(dbuf, g, m, n)) for m in range(g.kh) for n in range(g.kw)]
    for first, stop in blocks:
        k = stop - first
        delta_all[:, :k, : g.Ho, : g.Wo] = dy[first:stop].transpose(1, 0, 2, 3)
        delta = delta_all[:, :k].reshape(G, Dg, k * g.P)
        if buf is not None:
            columns = _im2col(sources, first, stop, g, cols).reshape(G, Kg, k * g.P)
            dw_t += group_matmul(columns, delta.transpose(0, 2, 1))
        if not need_dx:
            continue
        d = group_matmul(w3.transpose(0, 2, 1), delta, out=dcols[:, :, : k * g.P])
        d = d.reshape(g.C, g.kh, g.kw, k * g.P)
        for m, n, target in targets:  # col2im: every column entry back onto the pixel it came from
            # garbage entries hold exact zeros (w is finite, see backward), so it does not
            # matter where they land
            target[:, first:stop] += d[:, m, n].reshape(g.C, k, g.P)
    dx = _from_buffer(dbuf, g) if need_dx else None
    dw = None if buf is None else dw_t.transpose(0, 2, 1).reshape(g.D, -1, g.kh, g.kw)
    return dx, dw
