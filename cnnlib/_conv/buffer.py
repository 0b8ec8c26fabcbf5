"""The grid route's work buffer (private): where the padded input lies in it, and the views its copies use.

The buffer is flat and channel-major, split into the stride's phases: (sh, sw, C, N, Hq,
Wq), then a zero tail that the last offsets' garbage columns read. ``lay_out`` copies x
into it and ``take_out`` back; ``shifted`` is the view under one kernel offset (one
contiguous run per channel and image), ``im2col_sources`` the views that ``im2col``
copies the columns from, one per phase. ``Work`` is the set a thread's blocks reuse
(``grid.py`` explains the route).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._memory import new_array
from .workspace import kept_views, work_array


def phase_views(buf, g):
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


class Work(NamedTuple):
    """A thread's work arrays for the blocks of one layout, and views on them (None: not asked for).

    cols (C, kh, kw, images, P) receives a block's columns; dcols (G, kh·kw·C/G,
    images·P), their gradient, is the same memory (the columns are read before it is
    written). x_here holds the block's images when the block lays them out itself (no
    buffer of the whole batch), with its ``phase_views`` and ``im2col_sources``; d_here
    the block's ∂E/∂xp, with its phases and the ``shifted`` views (G, C/G, images, P)
    that col2im adds to, the channel axis split by group as the columns' gradient is;
    delta (D, images, Hc, Wq) δ on the grid.
    """

    cols: np.ndarray | None
    dcols: np.ndarray | None
    x_here: np.ndarray | None
    x_phases: list | None
    x_sources: list | None
    delta: np.ndarray | None
    d_here: np.ndarray | None
    d_phases: list | None
    targets: list | None


def block_work(gb, dtype, cols=False, x=False, delta=False, dx=False):
    """This thread's ``Work`` for layout gb, its views made once and kept (``workspace.kept_views``)."""

    def make():
        # the columns' gradient goes where the columns were: one array, two shapes
        cols_memory = work_array("cols", (gb.C * gb.kh * gb.kw * gb.N * gb.P,), dtype) if cols or dx else None
        x_here = work_array("xbuf", (gb.buffer_size,), dtype) if x else None
        d_here = work_array("dbuf", (gb.buffer_size,), dtype) if dx else None
        shape = (gb.G, gb.C // gb.G, gb.N, gb.P)
        return Work(
            cols=cols_memory.reshape(gb.C, gb.kh, gb.kw, gb.N, gb.P) if cols else None,
            dcols=cols_memory.reshape(gb.G, gb.kh * gb.kw * gb.C // gb.G, gb.N * gb.P) if dx else None,
            x_here=x_here,
            x_phases=phase_views(x_here, gb) if x else None,
            x_sources=im2col_sources(x_here, gb) if x else None,
            delta=work_array("delta", (gb.D, gb.N, gb.Hc, gb.Wq), dtype) if delta else None,
            d_here=d_here,
            d_phases=phase_views(d_here, gb) if dx else None,
            targets=[shifted(d_here, gb, m, n).reshape(shape) for m in range(gb.kh) for n in range(gb.kw)]
            if dx
            else None,
        )

    return kept_views(("grid", gb, np.dtype(dtype), cols, x, delta, dx), make)


def lay_out(x, phases, images=slice(None), channels=slice(None)):
    """Copy x[images, channels] into the buffer whose ``phase_views`` are given; padding and tail stay zero.

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
    take_out(phase_views(buf, g), x)
    return x


def shifted(buf, g, m, n):
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


def im2col_sources(buf, g):
    """Per phase: the offsets (m, n) reading it, and their rows (c, m, n) of the columns as one strided view.

    Within one phase, offsets (m, n) only move the start of ``shifted``'s view by
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


def im2col(sources, blk, g, out):
    """Columns (groups, C/G·kh·kw, images·P) of block ``blk``, written into out (C, kh, kw, images, P)."""
    k, ch = blk.stop - blk.first, blk.channels(g)
    n_ch = ch.stop - ch.start
    for m_rows, n_cols, view in sources:
        out[:n_ch, m_rows, n_cols, :k] = view[ch, ..., blk.first : blk.stop, :]
    return out[:n_ch, :, :, :k].reshape(blk.g1 - blk.g0, g.K // g.G, k * g.P)
