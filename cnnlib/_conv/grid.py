"""The grid route of the fast path: im2col/col2im on the work buffer (``buffer.py``) and the matrix products.

``cnnlib.conv`` validates the arguments; ``cnnlib._conv`` chooses this route (or the
windows route) and calls ``forward`` and ``backward`` here with checked arrays. How it
is fast (measured in benchmarks/bench_conv.py):

- Layout. The zero-padded input is copied into a flat, channel-major work buffer,
  split into phases (sh, sw, C, N, Hq, Wq) (see the stride below), each block of
  images by the thread that makes its columns (``buffer.lay_out``): into one buffer for the
  whole batch when the forward keeps it for the backward (a layer's cache), else into
  a small one of the block's own, still in the CPU cache when read (``_own_columns``). Output
  position (img, i, j) is given the column img·P + i·Wq + j of an Hc x Wq grid per
  image; the grid is a little larger than Ho x Wo, and its extra "garbage" entries are
  computed and thrown away. In exchange, the pixels under kernel offset (m, n) for all
  windows of an image are one contiguous run per channel in the buffer (of all images of
  the channel when the grid keeps every row, Hc = Hq) (``buffer.shifted``).
- im2col is then one copy of a strided view per phase that some offset reads
  (``buffer.im2col_sources``: one at stride 1) and col2im is kh·kw ``+=`` on long contiguous runs
  of a ∂E/∂xp of the block's own images (``backward``): NumPy pays its
  per-inner-loop cost (~1 µs for an in-place ufunc) per run, not per row of Wo, and
  copies and adds run at memory speed (a run with a step of 2 took 3-4x as long).
- Forward, ∂E/∂w and the columns of ∂E/∂x are matrix products
  (D, C·kh·kw) @ (C·kh·kw, columns) and its transposes, one per block of images.
  The blocks (``GRID_BLOCK_BYTES``) keep columns and their gradient in the CPU cache
  between the copy that makes them and the products that read them, and all work
  arrays are reused between calls (``workspace.work_array``), the views on them too
  (``buffer.block_work``), the large results too once nobody holds them
  (``cnnlib._memory.new_array``). The blocks run side by side on the cores the BLAS
  may use (``cnnlib._parallel.run``).
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

from typing import NamedTuple

import numpy as np

from .. import _parallel as parallel
from .._memory import new_array
from .buffer import block_work, im2col, im2col_sources, lay_out, phase_views, take_out
from .products import group_matmul
from .workspace import per_thread

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


def _block_layout(g, images, groups):
    """The layout of a block's own buffer: its images and its groups' channels."""
    return g._replace(N=images, C=groups * (g.C // g.G), D=groups * (g.D // g.G), G=groups)


def forward(x, buf, g, w2, out_shape, block_bytes=GRID_BLOCK_BYTES, b=None):
    """y (N, D, Ho, Wo) = w2 (D, C/G·kh·kw) @ the columns of x laid out in buf, + b (D,) if given.

    Each block first lays out its own images of x (``buffer.lay_out``) on its own thread, so
    that the copy runs on every core: into buf, all zeros (``buffer.zero_buffer``), which then
    holds all of x for the backward (a block's garbage columns may read another's
    images, half written: thrown away); or, buf None, into a buffer of its own
    (``_own_columns``). The bias is added block by block, on y's part still in the cache.
    """
    dtype = w2.dtype
    todo, (step, groups) = blocks(g, dtype.itemsize, block_bytes)
    gb = _block_layout(g, step, groups)
    sources, phases = (None, None) if buf is None else (im2col_sources(buf, g), phase_views(buf, g))
    w3 = w2.reshape(g.G, g.D // g.G, -1)  # kernels by group: (G, D/G, C/G·kh·kw)
    y = new_array(out_shape, dtype)
    mine = per_thread(lambda: block_work(gb, dtype, cols=True, x=buf is None))

    def block(blk):
        work = mine()
        if buf is None:
            columns = _own_columns(x, blk, gb, work)
        else:
            lay_out(x, phases, blk.images(), blk.channels(g))
            columns = im2col(sources, blk, g, work.cols)
        with np.errstate(invalid="ignore"):  # garbage columns may compute 0·inf: thrown away below
            y_all = group_matmul(w3[blk.g0 : blk.g1], columns)
        y_all = y_all.reshape(-1, blk.stop - blk.first, g.Hc, g.Wq)[:, :, : g.Ho, : g.Wo]  # drop the garbage
        y[blk.first : blk.stop, blk.kernels(g)] = y_all.transpose(1, 0, 2, 3)  # (N, D) order
        if b is not None:
            y[blk.first : blk.stop, blk.kernels(g)] += b[blk.kernels(g), None, None]

    parallel.run(block, todo, alone=_alone(g))
    return y


def _own_columns(x, blk, gb, work):
    """The columns of block ``blk``, its images of x first laid out in its own buffer (``Work``, layout gb).

    The buffer is zeroed first (the padding) and stays in the CPU cache from there to the
    columns; the garbage columns read other pixels of it or its zero tail (thrown away).
    """
    own = Block(0, blk.stop - blk.first, 0, blk.g1 - blk.g0)  # the block in its own buffer
    work.x_here.fill(0)
    lay_out(x[blk.images(), blk.channels(gb)], work.x_phases, own.images(), own.channels(gb))
    return im2col(work.x_sources, own, gb, work.cols)


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
    sources = None if buf is None else im2col_sources(buf, g)
    need_dw = buf is not None or x is not None
    # dwᵀ: (K, ·) @ (·, D), the faster GEMM
    dw_t = np.zeros((g.G, Cg * offsets, Dg), dtype) if need_dw else None
    db = np.zeros(g.D, dtype)  # from δ on the grid, block by block: its garbage entries are 0

    gb = _block_layout(g, step, groups)  # a smaller last block uses the first images and groups

    def zeroed_work():
        work = block_work(gb, dtype, cols=need_dw, x=x is not None, delta=True, dx=need_dx)
        work.delta.fill(0)  # once per call: the blocks never write its garbage entries
        return work

    mine = per_thread(zeroed_work)
    dx = new_array(g.x_shape, dtype) if need_dx else None

    def block(blk):
        work = mine()
        k, ng, ch, images = blk.stop - blk.first, blk.g1 - blk.g0, blk.channels(g), slice(blk.first, blk.stop)
        own = Block(0, k, 0, ng)  # the block in its own buffers
        delta = _delta_on_grid(dy, blk, g, work.delta)
        part = None
        if x is not None:
            part = group_matmul(_own_columns(x, blk, gb, work), delta.transpose(0, 2, 1))
        elif sources is not None:
            part = group_matmul(im2col(sources, blk, g, work.cols), delta.transpose(0, 2, 1))
        if need_dx:  # into the columns' memory: they were read just above
            d = group_matmul(w_mnc[blk.g0 : blk.g1], delta, out=work.dcols[:ng, :, : k * g.P])
            d = d.reshape(ng, offsets, Cg, k, g.P)
            work.d_here.fill(0)
            for i, target in enumerate(work.targets):
                target[:ng, :, :k] += d[:, i]
            take_out(work.d_phases, dx[images, ch], own.images(), own.channels(gb))
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
