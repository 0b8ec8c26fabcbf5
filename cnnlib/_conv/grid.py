"""The grid route of the fast path: the work buffer, im2col/col2im on it, and the matrix products.

``cnnlib.conv`` validates the arguments; ``cnnlib._conv`` chooses this route (or the
windows route) and calls ``forward`` and ``backward`` here with checked arrays. How it
is fast (measured in benchmarks/bench_conv.py):

- Layout. The zero-padded input is copied into a flat, channel-major work buffer,
  split into phases (sh, sw, C, N, Hq, Wq) (see the stride below), each block of
  images by the thread that makes its columns (``lay_out``): into one buffer for the
  whole batch when the forward keeps it for the backward (a layer's cache), else into
  a small one of the block's own, still in the CPU cache when read (``_own_columns``). Output
  position (img, i, j) is given the column img·P + i·Wq + j of an Hc x Wq grid per
  image; the grid is a little larger than Ho x Wo, and its extra "garbage" entries are
  computed and thrown away. In exchange, the pixels under kernel offset (m, n) for all
  windows of an image are one contiguous run per channel in the buffer (of all images of
  the channel when the grid keeps every row, Hc = Hq) (``_shifted``).
- im2col is then one copy of a strided view per phase that some offset reads
  (``_im2col_sources``: one at stride 1) and col2im is kh·kw ``+=`` on long contiguous runs
  of a ∂E/∂xp of the block's own images (``backward``): NumPy pays its
  per-inner-loop cost (~1 µs for an in-place ufunc) per run, not per row of Wo, and
  copies and adds run at memory speed (a run with a step of 2 took 3-4x as long).
- Forward, ∂E/∂w and the columns of ∂E/∂x are matrix products
  (D, C·kh·kw) @ (C·kh·kw, columns) and its transposes, one per block of images.
  The blocks (``GRID_BLOCK_BYTES``) keep columns and their gradient in the CPU cache
  between the copy that makes them and the products that read them, and all work
  arrays are reused between calls (``workspace.work_array``), the large results too once
  nobody holds them (``cnnlib._memory.new_array``). The blocks run side by side on the
  cores the BLAS may use (``cnnlib._parallel.run``).
- A stride s becomes stride 1 by splitting the padded input into sh·sw phases
  xp[a::sh, b::sw]: since i·s + m = (i + m // s)·s + m mod s, offset (m, n) reads phase
  (m mod sh, n mod sw) from its row m // sh and column n // sw on, with step 1.
- Dilation d only moves where offset (m, n) starts reading: padded row m·d, column
  n·d (``Layout.start``): the same copies and products per grid position as the
  plain convolution. The d(k − 1) rows a dilated kernel reaches past the last output
  row are not computed (``Layout.Hc``); its garbage columns still grow with the span
  d(k − 1) + 1 (measured against the plain convolution with the same output: ~1.0x at
  d = 2, 1.1-1.2x at d = 4, benchmarks/bench_family.py).
- Groups split the rows of the columns (channel-major) and the kernels into G
  blocks: the products become G stacked products of 1/G the size each
  (``products.group_matmul``), the copies stay as they are.

Explained in notebooks/07_fast_convolution.ipynb.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

from .. import _parallel as parallel
from .._memory import new_array
from .products import group_matmul
from .workspace import work_array

# Columns are made and consumed one block of images at a time, so that the block's
# columns (and in the backward their gradient) stay in the CPU's cache between the
# copy that makes them and the matrix products that read them; one buffer is reused
# for every block. A full batch of columns (25 MB for benchmarks/bench_conv.py's case B in float32, 50 MB in
# float64) would go out to memory and back, and a fresh array that large is paid for
# again in page faults on every call. 2 MiB was the fastest of 1-4 MiB on every case of
# benchmarks/bench_layers.py (A, C, R32, L64: 0.9-1.0x the time of 1 MiB; DW128 0.75x; B 0.7x,
# whose col2im blocks of 1 MiB were too small for two threads), 1 MiB of 128 KiB .. 8 MiB before.
GRID_BLOCK_BYTES = 1 << 21

# Below this many multiply-adds per product pass (~1 ms of products in float32) the blocks
# run in the calling thread: waking another costs more than it saves (bench_conv.py's case
# A and notebook 09's 8-channel layers ran 1.3-1.7x slower on two threads).
PARALLEL_MIN_MACS = 1 << 25


def _alone(g):
    return g.N * g.P * g.K * (g.D // g.G) < PARALLEL_MIN_MACS


class Block(NamedTuple):
    """Images first..stop-1 and groups g0..g1-1: whose columns are made, and multiplied, at once."""

    first: int
    stop: int
    g0: int
    g1: int

    def images(self):
        return slice(self.first, self.stop)

    def channels(self, g):
        return slice(self.g0 * (g.C // g.G), self.g1 * (g.C // g.G))

    def kernels(self, g):
        return slice(self.g0 * (g.D // g.G), self.g1 * (g.D // g.G))


def blocks(g, itemsize, block_bytes=GRID_BLOCK_BYTES):
    """The blocks whose columns fill about ``block_bytes``, and the largest one's (images, groups).

    Whole images with all their groups; when one image's columns are larger than that,
    one image and as many groups as fit (a depthwise 56 x 56 layer with 128 channels:
    14 MiB of columns per image in float32, 17 channels per block). The groups' products
    are independent, so a smaller block changes no sum, and its columns stay in the cache
    (3x faster stacked products than on a whole image's columns).
    """
    per_image = g.K * g.P * itemsize
    if per_image <= block_bytes or g.G == 1:
        step = min(g.N, max(1, block_bytes // per_image))
        n = -(-g.N // step)
        if n % 2 and n > 1 and not _alone(g):  # even, for two threads: with three blocks one idles a third
            step = -(-g.N // (n + 1))
        return [Block(i, min(i + step, g.N), 0, g.G) for i in range(0, g.N, step)], (step, g.G)
    per_block = min(g.G, max(1, block_bytes * g.G // per_image))
    groups = [(h, min(h + per_block, g.G)) for h in range(0, g.G, per_block)]
    return [Block(i, i + 1, g0, g1) for i in range(g.N) for g0, g1 in groups], (1, per_block)


def _phases(buf, g):
    """For each phase (a, b): (view (C, N, rows, cols) of the buffer, the rows and columns of x it holds).

    Phase (a, b) holds the padded pixels (u·sh + a, v·sw + b): its row u is row
    u·sh + a - ph of x, and the first one inside x is u0 = ceil((ph - a)/sh); the same
    for its columns.
    """
    phases = buf[: g.sh * g.sw * g.phase_size].reshape(g.sh, g.sw, g.C, g.N, g.Hq, g.Wq)

    def inside(a, s, p, size):  # (slice of the phase, slice of x) along one axis
        u0 = -((a - p) // s)
        first = u0 * s + a - p
        return slice(u0, u0 + len(range(first, size, s))), slice(first, size, s)

    out = []
    for a in range(g.sh):
        rows, x_rows = inside(a, g.sh, g.ph, g.H)
        for b in range(g.sw):
            cols, x_cols = inside(b, g.sw, g.pw, g.W)
            out.append((phases[a, b, :, :, rows, cols], (x_rows, x_cols)))
    return out


def zero_buffer(g, dtype):
    """A new flat work buffer of layout g, all zeros: phases (sh, sw, C, N, Hq, Wq), then a zero tail."""
    buf = new_array((g.buffer_size,), np.dtype(dtype))
    buf.fill(0)
    return buf


def _block_layout(g, images, groups):
    """The layout of a block's own buffer: its images and its groups' channels."""
    return g._replace(N=images, C=groups * (g.C // g.G), D=groups * (g.D // g.G), G=groups)


def _block_views(gb, xbuf, dbuf):
    """Views of a block's buffers (layout gb): x's and its im2col sources, ∂E/∂xp's and its col2im targets.

    The targets are ``_shifted`` views (G, C/G, images, P), the channel axis split by
    group as the columns' gradient is; None where the buffer is None.
    """
    x_here = d_here = x_sources = targets = None
    if xbuf is not None:
        x_here = xbuf[: gb.buffer_size]
        x_sources = _im2col_sources(x_here, gb)
    if dbuf is not None:
        d_here = dbuf[: gb.buffer_size]
        shape = (gb.G, gb.C // gb.G, gb.N, gb.P)
        targets = [_shifted(d_here, gb, m, n).reshape(shape) for m in range(gb.kh) for n in range(gb.kw)]
    return x_here, x_sources, d_here, targets


def lay_out(x, phases, images=slice(None), channels=slice(None)):
    """Copy x[images, channels] into the buffer whose ``_phases`` are given; padding and tail stay zero.

    One copy per phase, straight from x: padding, channel-major order, the phase split
    and the conversion to the buffer's dtype all happen in that single pass.
    """
    for phase, (rows, cols) in phases:
        phase[channels, images] = x[images, channels][:, :, rows, cols].transpose(1, 0, 2, 3)


def take_out(phases, out, images=slice(None), channels=slice(None)):
    """Inverse of ``lay_out``: out[images, channels] = the part of the buffer inside the padding."""
    for phase, (rows, cols) in phases:
        out[images, channels][:, :, rows, cols] = phase[channels, images].transpose(1, 0, 2, 3)


def from_buffer(buf, g):
    """The (N, C, H, W) image inside the padding of buffer buf, as a new array."""
    x = new_array((g.N, g.C, g.H, g.W), buf.dtype)
    take_out(_phases(buf, g), x)
    return x


def _shifted(buf, g, m, n):
    """View (C, N, P) of the work buffer under kernel offset (m, n), no copy.

    Entry [c, img, i·Wq + j] is xp[img, c, i·sh + m, j·sw + n] for every output
    (i < Ho, j < Wo) (m·dil_h and n·dil_w when dilated): in phase (m mod sh, n mod sw),
    that pixel is row i + m//sh, column j + n//sw of image img, at flat index
    start(m, n) + img·Hq·Wq + i·Wq + j. So the windows of one image form ONE contiguous
    run per channel (of all images, when Hc = Hq: NumPy then merges the two axes), and
    copies and ``+=`` on it are a few long NumPy loops (a (C, N, Ho, Wo) view would
    cost one inner loop per row of Wo, several times slower). The other entries
    (i >= Ho or j >= Wo) are garbage: they read the next row or image, and what they
    compute is thrown away.
    """
    start = g.start(m, n)
    image = buf[start : start + g.phase_size].reshape(g.C, g.N, g.Hq * g.Wq)
    return image[:, :, : g.Hc * g.Wq]


def _im2col_sources(buf, g):
    """Per phase: the offsets (m, n) reading it, and their rows (c, m, n) of the columns as one strided view.

    Within one phase, offsets (m, n) only move the start of ``_shifted``'s view by
    (m//sh)·Wq + n//sw, so the views of all of them are one array with two extra axes:
    shape (C, #m, #n, N, P). One copy of it fills all those rows. Dilated, offset m
    reads row phase (m·dil_h) mod sh; the offsets of one phase are m0, m0 + t, ... with
    t = sh / gcd(sh, dil_h), t·dil_h/sh rows apart (t = sh, one row, when dil = 1);
    the same for n along the columns.
    """
    th, tw = g.sh // math.gcd(g.sh, g.dil_h), g.sw // math.gcd(g.sw, g.dil_w)
    sources = []
    for m0 in range(min(th, g.kh)):
        for n0 in range(min(tw, g.kw)):
            shape = (g.C, len(range(m0, g.kh, th)), len(range(n0, g.kw, tw)), g.N, g.P)
            steps = (g.N * g.Hq * g.Wq, th * g.dil_h // g.sh * g.Wq, tw * g.dil_w // g.sw, g.Hq * g.Wq, 1)
            strides = [s * buf.itemsize for s in steps]
            # the constructor, not np.lib.stride_tricks.as_strided (5x its cost), which also checks
            # that the view stays inside buf (its zero tail covers the last offsets' reach)
            view = np.ndarray(
                shape, buf.dtype, buffer=buf, offset=g.start(m0, n0) * buf.itemsize, strides=strides
            )
            view.flags.writeable = False
            sources.append((slice(m0, None, th), slice(n0, None, tw), view))
    return sources


def _im2col(sources, blk, g, out):
    """Columns (groups, C/G·kh·kw, images·P) of block ``blk``, written into out (C, kh, kw, images, P)."""
    k, ch = blk.stop - blk.first, blk.channels(g)
    n_ch = ch.stop - ch.start
    for m_rows, n_cols, view in sources:
        out[:n_ch, m_rows, n_cols, :k] = view[ch, ..., blk.first : blk.stop, :]
    return out[:n_ch, :, :, :k].reshape(blk.g1 - blk.g0, g.K // g.G, k * g.P)


def _per_thread(make):
    """A function returning ``make()``, made once in each thread: a call's work arrays in its threads."""
    made = {}

    def mine():
        thread = threading.get_ident()
        if thread not in made:
            made[thread] = make()
        return made[thread]

    return mine


def forward(x, buf, g, w2, out_shape, block_bytes=GRID_BLOCK_BYTES, b=None):
    """y (N, D, Ho, Wo) = w2 (D, C/G·kh·kw) @ the columns of x laid out in buf, + b (D,) if given.

    Each block first lays out its own images of x (``lay_out``) on its own thread, so
    that the copy runs on every core: into buf, all zeros (``zero_buffer``), which then
    holds all of x for the backward (a block's garbage columns may read another's
    images, half written: thrown away); or, buf None, into a buffer of its own
    (``_own_columns``). The bias is added block by block, on y's part still in the cache.
    """
    dtype = w2.dtype
    todo, (step, groups) = blocks(g, dtype.itemsize, block_bytes)
    gb = _block_layout(g, step, groups)
    sources, phases = (None, None) if buf is None else (_im2col_sources(buf, g), _phases(buf, g))
    w3 = w2.reshape(g.G, g.D // g.G, -1)  # kernels by group: (G, D/G, C/G·kh·kw)
    y = new_array(out_shape, dtype)

    def work_arrays():
        cols = work_array("cols", (groups * g.C // g.G, g.kh, g.kw, step, g.P), dtype)
        xbuf = work_array("xbuf", (gb.buffer_size,), dtype) if buf is None else None
        return cols, _block_views(gb, xbuf, None)[:2]

    mine = _per_thread(work_arrays)

    def block(blk):
        cols, own_buffer = mine()
        if buf is None:
            columns = _own_columns(x, blk, gb, own_buffer, cols)
        else:
            lay_out(x, phases, blk.images(), blk.channels(g))
            columns = _im2col(sources, blk, g, cols)
        with np.errstate(invalid="ignore"):  # garbage columns may compute 0·inf: thrown away below
            y_all = group_matmul(w3[blk.g0 : blk.g1], columns)
        y_all = y_all.reshape(-1, blk.stop - blk.first, g.Hc, g.Wq)[:, :, : g.Ho, : g.Wo]  # drop the garbage
        y[blk.first : blk.stop, blk.kernels(g)] = y_all.transpose(1, 0, 2, 3)  # (N, D) order
        if b is not None:
            y[blk.first : blk.stop, blk.kernels(g)] += b[blk.kernels(g), None, None]

    parallel.run(block, todo, alone=_alone(g))
    return y


def _own_columns(x, blk, gb, own_buffer, cols):
    """The columns of block ``blk``, its images of x first laid out in its own buffer.

    own_buffer: (flat buffer, its im2col sources) in layout gb (``_block_views``). The buffer
    is zeroed first (the padding) and stays in the CPU cache from there to the columns;
    the garbage columns read other pixels of it or its zero tail (thrown away).
    """
    x_here, x_sources = own_buffer
    own = Block(0, blk.stop - blk.first, 0, blk.g1 - blk.g0)  # the block in its own buffer
    x_here.fill(0)
    lay_out(x[blk.images(), blk.channels(gb)], _phases(x_here, gb), own.images(), own.channels(gb))
    return _im2col(x_sources, own, gb, cols)


def _delta_on_grid(dy, blk, g, delta_all):
    """δ of block ``blk`` on the grid, (groups, D/G, images·P), written into ``delta_all``.

    delta_all (≥ its kernels, ≥ its images, Hc, Wq) is zero at the garbage entries
    (i >= Ho or j >= Wo), which are never written: the garbage columns add nothing to dw
    and get exactly 0 gradient.
    """
    k, n_d = blk.stop - blk.first, (blk.g1 - blk.g0) * (g.D // g.G)
    delta_all[:n_d, :k, : g.Ho, : g.Wo] = dy[blk.first : blk.stop, blk.kernels(g)].transpose(1, 0, 2, 3)
    return delta_all[:n_d, :k].reshape(blk.g1 - blk.g0, g.D // g.G, k * g.P)


def backward(dy, buf, g, w2, need_dx=True, block_bytes=GRID_BLOCK_BYTES, x=None):
    """(dx, dw, db) in w2's dtype: dw = δ @ (the columns of xp)ᵀ, dx = col2im(w2ᵀ @ δ), db = Σ δ.

    xp is buf, the forward's work buffer holding the whole batch, or, x given instead,
    each block lays its own images of x out in a buffer of its own (``_block_layout``);
    neither: no dw. need_dx False skips dx. dw is summed over the blocks in block order.
    For dx each block adds its column entries onto the pixels they came from in a ∂E/∂xp
    of its own images and channels, and takes them out into dx. A block's buffers are
    work arrays of its thread, zeroed first: from the zeroing to the last read they stay
    in the cache, and no two threads ever write to the same memory. The garbage entries
    of ∂E/∂x land in the block's own buffer too, on pixels of its other rows, images or
    channels or on its zero tail: exact zeros (w is finite, see cnnlib._conv.backward),
    they add nothing.
    """
    dtype = w2.dtype
    todo, (step, groups) = blocks(g, dtype.itemsize, block_bytes)
    Cg, Dg, offsets = g.C // g.G, g.D // g.G, g.kh * g.kw
    # for dx the rows of w2ᵀ in (m, n, c) order: the columns' gradient under one offset is
    # then one contiguous run per group, and col2im's += run as long 1-D loops (NumPy 2.4
    # buffers a 2-D += whose rows are shorter than ~2,300 entries: 2-4x the time)
    w_mnc = w2.reshape(g.G, Dg, Cg, offsets).transpose(0, 3, 2, 1).reshape(g.G, -1, Dg) if need_dx else None
    sources = None if buf is None else _im2col_sources(buf, g)
    need_dw = buf is not None or x is not None
    # dwᵀ: (K, ·) @ (·, D), the faster GEMM
    dw_t = np.zeros((g.G, Cg * offsets, Dg), dtype) if need_dw else None
    db = np.zeros(g.D, dtype)  # from δ on the grid, block by block: its garbage entries are 0

    gb = _block_layout(g, step, groups)  # a smaller last block uses the first images and groups

    def work_arrays():
        delta = work_array("delta", (groups * Dg, step, g.Hc, g.Wq), dtype, zero=True)
        cols = work_array("cols", (groups * Cg, g.kh, g.kw, step, g.P), dtype) if need_dw else None
        dcols = work_array("dcols", (groups, offsets * Cg, step * g.P), dtype) if need_dx else None
        xbuf = work_array("xbuf", (gb.buffer_size,), dtype) if x is not None else None
        dbuf = work_array("dbuf", (gb.buffer_size,), dtype) if need_dx else None
        x_here, x_sources, d_here, targets = _block_views(gb, xbuf, dbuf)
        return delta, cols, dcols, (x_here, x_sources), d_here, targets

    mine = _per_thread(work_arrays)
    dx = new_array(g.x_shape, dtype) if need_dx else None

    def block(blk):
        delta_all, cols, dcols, own_buffer, d_here, targets = mine()
        k, ng, ch, images = blk.stop - blk.first, blk.g1 - blk.g0, blk.channels(g), slice(blk.first, blk.stop)
        own = Block(0, k, 0, ng)  # the block in its own buffers
        delta = _delta_on_grid(dy, blk, g, delta_all)
        part = None
        if x is not None:
            part = group_matmul(_own_columns(x, blk, gb, own_buffer, cols), delta.transpose(0, 2, 1))
        elif sources is not None:
            part = group_matmul(_im2col(sources, blk, g, cols), delta.transpose(0, 2, 1))
        if need_dx:
            d = group_matmul(w_mnc[blk.g0 : blk.g1], delta, out=dcols[:ng, :, : k * g.P])
            d = d.reshape(ng, offsets, Cg, k, g.P)
            d_here.fill(0)
            for i, target in enumerate(targets):
                target[:ng, :, :k] += d[:, i]
            take_out(_phases(d_here, gb), dx[images, ch], own.images(), own.channels(gb))
        return blk, part, delta.sum(axis=-1)

    def add(result):
        blk, part, db_part = result
        if part is not None:
            dw_t[blk.g0 : blk.g1] += part
        db[blk.kernels(g)] += db_part.reshape(-1)

    # col2im is kh·kw += per block: below ~8K entries each (a few µs, about what the
    # interpreter spends on one), a second core does not pay (bench_conv.py's case B,
    # 3 channels x 2 images x 36 x 36 per += in 1 MiB blocks, took 1.2x as long on two threads)
    small_scatter = need_dx and groups * Cg * step * g.P < 1 << 13
    parallel.run(block, todo, gather=add, alone=_alone(g) or small_scatter)
    dw = None
    if dw_t is not None:
        dw = dw_t.transpose(0, 2, 1).reshape(g.D, -1, g.kh, g.kw)
    return dx, dw, db
