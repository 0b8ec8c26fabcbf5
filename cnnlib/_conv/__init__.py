"""The fast path behind ``cnnlib.conv`` and ``cnnlib.conv_transpose`` (private).

``cnnlib.conv`` validates the arguments and calls ``forward``, ``backward`` and
``input_grad`` here, which assume checked arrays. Each call takes one of two routes:

- ``grid.py``: the input laid out in a flat work buffer (``buffer.py``: one for the whole batch
  when the forward keeps it for the backward, else one per block of images), so that im2col is one
  strided copy per phase read and col2im kh·kw long ``+=``; the fast route for the usual
  shapes. At stride 1, with D <= 2C and padding p <= dil·(k − 1), its ∂E/∂x is itself a
  convolution, of δ with rot180(w) (``_input_grad_is_a_convolution``,
  ``_input_grad_by_convolution``).
- ``windows.py``: the real windows only (``sliding_window_view``), for the shapes where
  the grid would be mostly garbage (a kernel as large as the input, a huge stride).

``route.py`` chooses between them (and lets tests force one); ``layout.py`` holds the
sizes both read; ``products.py`` the grouped matrix products; ``workspace.py`` the
work arrays kept between calls; ``cnnlib._parallel`` runs the grid's blocks on the cores
the BLAS may use. Imports go one way: this module -> route -> grid, windows; grid -> buffer
-> workspace; grid, windows -> products (-> cnnlib._parallel); layout imports none of them.

Explained in notebooks/07_fast_convolution.ipynb.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import buffer, grid, windows
from .layout import Layout, layout, transposed
from .route import Route, choose, forced

__all__ = [
    "ConvCache", "Route", "backward", "cache_fits", "cached_input", "forced", "forward", "input_grad",
    "route_of",
]  # fmt: skip


class ConvCache(NamedTuple):
    """What ``forward`` keeps for ``backward``: a copy of the zero-padded input, laid out for its route.

    ``buffer`` is the grid's work buffer on the grid route, else the padded input of
    ``windows.padded_input``; ``route`` says which. ``x_dtype`` is the dtype of the
    caller's x (the buffer's may be wider), so that the backward's result dtype does
    not depend on whether a cache was passed.
    """

    buffer: np.ndarray
    layout: Layout
    x_dtype: np.dtype
    route: str


def route_of(x_shape, w_shape, stride, padding, out_shape, dilation=(1, 1), groups=1) -> Route:
    """The route (and its block size and columns) a convolution of these checked sizes takes."""
    return choose(layout(x_shape, w_shape, stride, padding, out_shape, dilation, groups))


def forward(x, w, b, stride, padding, out_shape, dilation=(1, 1), groups=1, keep=True):
    """y = x ★ w + b on checked arrays, and the ConvCache that lets ``backward`` skip laying x out again.

    keep False: (y, None). The grid route then lays x out block by block in buffers of the
    blocks' own, which stay in the CPU cache, instead of one buffer for the whole batch.
    """
    N, D, Ho, Wo = out_shape
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    g = layout(x.shape, w.shape, stride, padding, out_shape, dilation, groups)
    route = choose(g)
    if route.name == "windows":
        buf = windows.padded_input(x, g, dtype)
        if 0 in (N, g.C, D):  # no product to compute: y is the bias (a sum over no channel is 0)
            y = np.zeros(out_shape, dtype=dtype)
        else:
            y = windows.forward(buf, w, g, route.block_bytes)
    else:
        buf = buffer.zero_buffer(g, dtype) if keep else None  # each block lays out its images of x
        w2 = w.astype(dtype, copy=False).reshape(D, -1)
        b = None if b is None else b.astype(dtype, copy=False)
        y = grid.forward(x, buf, g, w2, out_shape, route.block_bytes, b)  # the bias added block by block
        return y, ConvCache(buf, g, x.dtype, route.name) if keep else None
    if b is not None:
        # (windows route) once, on the contiguous result: NumPy runs it as N·D loops of Ho·Wo, where
        # fusing it into the copy of each block would cost one (slower) ufunc loop per row of Wo
        y += b.reshape(1, D, 1, 1)
    return y, ConvCache(buf, g, x.dtype, route.name) if keep else None


def cache_fits(cache, x_shape, w_shape, stride, padding, out_shape, dilation=(1, 1), groups=1):
    """True when ``cache`` was made by ``forward`` for these shapes, stride, padding, dilation and groups."""
    return isinstance(cache, ConvCache) and cache.layout == layout(
        x_shape, w_shape, stride, padding, out_shape, dilation, groups
    )


def cached_input(cache):
    """The forward's x (N, C, H, W), rebuilt from a cache (a new array of the caller's dtype).

    On the windows route pixels that no window reads were not kept: they come back as
    zeros, which changes no gradient (they enter none).
    """
    buf, g, x_dtype, route_name = cache
    x = windows.crop(buf, g) if route_name == "windows" else buffer.from_buffer(buf, g)
    return x.astype(x_dtype, copy=False)


def backward(dy, x, w, stride, padding, out_shape, cache=None, dilation=(1, 1), groups=1, need_dx=True):
    """(dx, dw, db) on checked arrays; a fitting ``cache`` from ``forward`` skips re-laying x out.

    With a cache, its x is the one used (x may be None: its shape and values are in the cache).
    need_dx=False skips ∂E/∂x (dx is None), for a transposed convolution's dw.
    """
    if cache is None:
        g = layout(x.shape, w.shape, stride, padding, out_shape, dilation, groups)
    else:
        g = cache.layout
    dtype = np.result_type(dy, w, x if cache is None else cache.x_dtype)
    if 0 in (g.N, g.C, g.D):  # no product: sums over no image, channel or kernel are 0
        return np.zeros(g.x_shape, dtype), np.zeros(w.shape, dtype), dy.sum(axis=(0, 2, 3), dtype=dtype)
    route = choose(g)
    if cache is not None and cache.buffer.dtype == dtype and cache.route == route.name:
        buf = cache.buffer
    else:  # no cache, or one of another dtype or route: lay x out again (the cache's x, if any)
        x = x if cache is None else cached_input(cache)
        buf = None
    if route.name == "windows":
        if buf is None:
            buf = windows.padded_input(x, g, dtype)
        return windows.backward(dy, buf, w, g, need_dx, route.block_bytes)
    x_to_lay_out = x if buf is None else None  # then each block lays out its own images of x
    w = w.astype(dtype, copy=False)
    by_convolution, block = need_dx and _input_grad_is_a_convolution(g), route.block_bytes
    with np.errstate(invalid="ignore"):  # 0·inf of garbage columns: see just below
        dx, dw, db = grid.backward(
            dy, buf, g, w.reshape(g.D, -1), need_dx and not by_convolution, block, x_to_lay_out
        )
        if by_convolution:
            dx = _input_grad_by_convolution(dy, w, g, block)
    # The grid's garbage columns meet δ = 0 and, in ∂E/∂x, land on pixels no window
    # reads: harmless for finite numbers, but 0·inf = NaN. That can only show in dw
    # (an inf or NaN of xp in a garbage column) or, through wᵀδ, when w itself is not
    # finite. Both are small to check, x is never scanned; then the exact route, whose
    # products are exactly the reference's, decides where inf and NaN belong.
    if not (np.isfinite(dw).all() and np.isfinite(w).all()):
        x = buffer.from_buffer(buf, g) if buf is not None else x
        return windows.backward(dy, windows.padded_input(x, g, dtype), w, g, need_dx)
    return dx, dw, db


def input_grad(dy, w, x_shape, stride, padding, out_shape):
    """∂E/∂x alone, from δ and w (no x): what a transposed convolution computes."""
    g = layout(x_shape, w.shape, stride, padding, out_shape)
    dtype = np.result_type(dy, w)
    if 0 in (g.N, g.C, g.D):
        return np.zeros(x_shape, dtype)
    route = choose(g)
    if route.name == "windows":
        return windows.backward(dy, None, w, g, block_bytes=route.block_bytes)[0]
    if not np.isfinite(w).all():  # the exact route: see ``backward``
        return windows.backward(dy, None, w, g)[0]
    w = w.astype(dtype, copy=False)
    with np.errstate(invalid="ignore"):
        if _input_grad_is_a_convolution(g):
            return _input_grad_by_convolution(dy, w, g, route.block_bytes)
        return grid.backward(dy, None, g, w.reshape(g.D, -1), block_bytes=route.block_bytes)[0]


def _input_grad_is_a_convolution(g):
    """Whether the grid computes ∂E/∂x as a convolution of δ (else by col2im, kh·kw long ``+=``).

    At stride 1, ∂E/∂x is δ correlated with rot180(w), channels swapped
    (``layout.transposed``): the forward's im2col copy and product, on δ. The copy costs
    D·kh·kw entries per position, the ``+=`` C·kh·kw entries at about 1.5 copies each,
    and the convolution's product has the larger inner size D·kh·kw: measured on one
    thread, the convolution took 0.5-0.75x col2im's time for D <= C and 0.9x at D = 2C,
    and 1.5-3x for D >= 3C (a first layer: C = 1 or 3).
    """
    if g.sh != 1 or g.sw != 1 or g.D > 2 * g.C:
        return False
    gt = transposed(g)
    return min(gt.ph, gt.pw) >= 0 and not gt.wasteful


def _input_grad_by_convolution(dy, w, g, block_bytes):
    """∂E/∂x = pad(δ) ★ rot180(w) with the channels swapped (stride 1), in w's dtype."""
    gt = transposed(g)
    w_t = w.reshape(g.G, g.D // g.G, g.C // g.G, g.kh, g.kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    # a copy: a view with negative strides would send the products to NumPy's slow loops
    w_t = np.ascontiguousarray(w_t).reshape(g.C, -1)
    return grid.forward(dy, None, gt, w_t, g.x_shape, block_bytes)  # δ laid out block by block
