"""Vectorised 2-D convolution (cross-correlation) forward and backward, and its helpers.

The helpers are the operations the derivations name: ``pad``, ``dilate``, ``rot180``.
``conv2d_forward`` lays the input out as im2col columns and multiplies them by the
kernels, one matrix product per block of images; ``conv2d_backward`` computes ∂E/∂w as
the same product transposed and ∂E/∂x as the kernels' transpose times δ, whose columns
are added back (col2im) into the positions each kernel offset (m, n) touched (at stride
1, with at most twice as many kernels as channels and padding at most dil·(k − 1), the
grid route below computes it as the forward convolution of the padded δ with rot180(w)
instead). Both are checked against
``cnnlib.reference`` and finite differences.

The machinery that makes them fast is the private package ``cnnlib._conv``: a work
buffer laid out so that im2col is one copy per phase (the "grid" route), or, for
shapes where that grid would be mostly wasted (a kernel as large as the input, a stride
far beyond it), only the real windows (the "windows" route), so that time and memory
follow N·D·Ho·Wo·C·kh·kw. ``route_of`` says which route a convolution takes and
``forced_route`` chooses one: the seam the tests and benchmarks use.

Edge rules (the same in ``cnnlib.reference``):

- NaN and inf: every entry equals the reference's loops, NaN and inf positions
  included: an inf or NaN reaches only the outputs and gradients that depend on
  it (0·inf = NaN where the loops multiply it by a zero δ or weight), never an
  entry whose windows do not read it.
- dtypes: float32 arrays stay float32, any other real numbers (ints, bools,
  nested lists) become float64; complex, datetime64, timedelta64, strings and
  objects are a TypeError naming the dtype. y has ``np.result_type(x, w, b)``;
  dx, dw and db all have ``np.result_type(dy, x, w)``.
- Empty arrays: N = 0, C = 0 or D = 0 give arrays of the right shapes (y is the
  bias where there is an output: a sum over no channel is 0); an empty H or W
  with enough padding is a convolution of zeros, as ``conv_output_size`` counts.
- ``stride`` and ``padding`` take an int, a pair, a 0-d or a length-2 integer array.

Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb; made fast in
notebooks/07_fast_convolution.ipynb.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import ArrayLike

from . import _conv
from .shapes import (
    IntOrPair,
    as_float_array,
    padding_sides,
    validate_bias,
    validate_conv_args,
    validate_dilation,
    validate_dy,
    validate_groups,
    validate_stride,
)


def pad(x: ArrayLike, padding: IntOrPair | tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
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
    (top, bottom), (left, right) = padding_sides(padding)
    H, W = x.shape[-2:]
    Ho, Wo = H + top + bottom, W + left + right
    if Ho < 0 or Wo < 0:
        raise ValueError(f"padding {padding!r} crops more than the {H}x{W} array holds")
    out = np.zeros(x.shape[:-2] + (Ho, Wo), dtype=x.dtype)
    # output row r holds input row r - top; copy the rows (and columns) where both exist.
    # A crop on one side larger than the array leaves only zeros from the other side's padding.
    r0, r1 = max(0, -top), min(H, Ho - top)
    c0, c1 = max(0, -left), min(W, Wo - left)
    if r0 < r1 and c0 < c1:
        out[..., r0 + top : r1 + top, c0 + left : c1 + left] = x[..., r0:r1, c0:c1]
    return out


def dilate(a: ArrayLike, stride: IntOrPair) -> np.ndarray:
    """Insert s - 1 zeros between neighbouring entries along the last two axes.

    Parameters
    ----------
    a : ndarray of shape (..., Ho, Wo)
    stride : int or (sh, sw)

    Returns
    -------
    ndarray of shape (..., (Ho - 1)·sh + 1, (Wo - 1)·sw + 1)
        out[..., i·sh, j·sw] = a[..., i, j], zeros elsewhere; an empty axis (Ho = 0)
        stays empty.

    Notes
    -----
    With stride s, output (i, j) sits over input row i·s: dilating δ puts each
    delta back at the input position its window started from.
    Derived in notebooks/03_stride.ipynb.
    """
    a = as_float_array(a, "a")
    if a.ndim < 2:
        raise ValueError(f"a must have at least 2 dimensions (..., H, W), got shape {a.shape}")
    sh, sw = validate_stride(stride)
    Ho, Wo = a.shape[-2:]
    # max(0, ·): an empty axis stays empty (no entry, so no zeros between entries)
    out = np.zeros(a.shape[:-2] + (max(0, (Ho - 1) * sh + 1), max(0, (Wo - 1) * sw + 1)), dtype=a.dtype)
    out[..., ::sh, ::sw] = a
    return out


def rot180(w: ArrayLike) -> np.ndarray:
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


def conv2d_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """Cross-correlation of a batch of images with D kernels, plus a bias per kernel.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    w : array-like of shape (D, C/groups, kh, kw)
    b : array-like of shape (D,) or None
    stride : int or (sh, sw)
    padding : int or (ph, pw)
        Zero padding on each side.
    dilation : int or (dh, dw)
        Step between the kernel's taps (1: a plain kernel; d: atrous, d − 1 skipped
        pixels between taps).
    groups : int
        G, dividing C and D: kernels d of group g = d // (D/G) read only the input
        channels g·C/G .. (g+1)·C/G − 1 (G = C = D: a depthwise convolution).

    Returns
    -------
    y : ndarray of shape (N, D, Ho, Wo)
        Ho = floor((H + 2ph - dh·(kh - 1) - 1)/sh) + 1, Wo likewise (PyTorch's sizes).

    Notes
    -----
    A cross-correlation (the kernel is not flipped), with xp the padded input:

        y[d, i, j] = b[d] + Σ_c Σ_m Σ_n w[d, c, m, n] · xp[c, i·s + m, j·s + n]

    computed as one matrix product w (D, C·kh·kw) @ im2col(xp) (C·kh·kw, N·Ho·Wq).
    Dilated and grouped, the pixel read is xp[g·C/G + c, i·s + m·d, j·s + n·d], c < C/G:
    the same products with other start offsets, and G stacked products of 1/G the size.
    Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb; dilation and groups
    taught in notebooks/08_convolution_family.ipynb.
    """
    return _forward(x, w, b, stride, padding, dilation, groups, keep=False)[0]


def conv2d_forward_with_cache(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> tuple[np.ndarray, _conv.ConvCache]:
    """``conv2d_forward`` that also returns a cache for ``conv2d_backward(..., cache=cache)``.

    Returns
    -------
    y : ndarray of shape (N, D, Ho, Wo)
    cache : opaque
        A copy of the zero-padded x, already laid out the way the backward reads it
        for ∂E/∂w; handing it back skips that copy (the ``Conv2D`` layer does this).
        It holds no reference to the caller's x.
    """
    return _forward(x, w, b, stride, padding, dilation, groups, keep=True)


def _forward(x, w, b, stride, padding, dilation, groups, keep):
    """Both forwards: the arguments checked, then y and (keep) the cache, else None."""
    x, w, stride, padding, out_shape = validate_conv_args(x, w, stride, padding, dilation, groups)
    b = validate_bias(b, out_shape[1])
    dilation, groups = validate_dilation(dilation), validate_groups(groups, x.shape[1], w.shape[0])
    return _conv.forward(x, w, b, stride, padding, out_shape, dilation, groups, keep)


def conv2d_backward(
    dy: ArrayLike,
    x: ArrayLike | None,
    w: ArrayLike,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    *,
    cache: _conv.ConvCache | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``conv2d_forward`` with respect to its input, kernels and bias.

    Parameters
    ----------
    dy : array-like of shape (N, D, Ho, Wo)
        δ = ∂E/∂y.
    x : array-like of shape (N, C, H, W), or None when ``cache`` is given
        The forward input. The cache holds a copy of it, so a layer need not keep x
        (which its caller may change in place before the backward).
    w : array-like of shape (D, C/groups, kh, kw)
    stride, padding, dilation : int or pair, as in the forward.
    groups : int, as in the forward.
    cache : None or the cache from ``conv2d_forward_with_cache`` on the same x, w and arguments
        Skips laying x out again; the result is the same. The cache holds the forward's
        x, so its values are the ones used: an x passed with it must agree with it in
        shape and dtype (else a ValueError), and then only says which x that is.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (D, C/groups, kh, kw)
    db : ndarray of shape (D,)
        Always returned, also when the forward had no bias.

    Notes
    -----
    ∂E/∂w[d, c, m, n] = Σ_N Σ_i Σ_j δ[d, i, j] · xp[c, i·s + m, j·s + n]
    ∂E/∂b[d]          = Σ_N Σ_i Σ_j δ[d, i, j]
    ∂E/∂xp[c, i·s + m, j·s + n] += Σ_d δ[d, i, j] · w[d, c, m, n]  for every (m, n),
    then ∂E/∂x = ∂E/∂xp with p cropped from each side. As correlations (dilation 1):
    ∂E/∂w = xp[:(Ho−1)s + kh, :(Wo−1)s + kw] ★ dilate(δ, s), with xp cut first: its last
    r = (H + 2p − kh) mod s rows (and columns likewise) meet no weight. ∂E/∂xp is the full
    cross-correlation of dilate(δ, s) with rot180(w), then r zero rows (and columns) appended;
    ∂E/∂x crops p from that.
    As matrices: dw = δ (D, N·Ho·Wq) @ im2col(xp)ᵀ and ∂E/∂xp = col2im(wᵀ @ δ).
    Dilated and grouped: m·d and n·d for m and n in the pixel index, channel g·C/G + c,
    one product per group. Stride and dilation trade places in ∂E/∂w: it is xp
    dilated-correlated with δ, with the forward's dilation as the stride.
    Derived in notebooks/01_single_kernel.ipynb to 04_padding.ipynb; dilation and groups
    taught in notebooks/08_convolution_family.ipynb.
    """
    x_given = x is not None
    if not x_given:
        if not isinstance(cache, _conv.ConvCache):
            raise ValueError(
                "x may be None only when cache comes from conv2d_forward_with_cache, "
                f"got cache={type(cache).__name__}"
            )
        # stands in for x in the checks below (shape and dtype, no memory); the values come from the cache
        x = np.broadcast_to(np.zeros((), cache.x_dtype), cache.layout.x_shape)
    x, w, stride, padding, out_shape = validate_conv_args(x, w, stride, padding, dilation, groups)
    dilation, groups = validate_dilation(dilation), validate_groups(groups, x.shape[1], w.shape[0])
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    args = (stride, padding, out_shape, dilation, groups)
    if cache is not None and not _conv.cache_fits(cache, x.shape, w.shape, *args):
        raise ValueError(
            "cache must come from conv2d_forward_with_cache with the same shapes, stride, padding, "
            f"dilation and groups (x {x.shape}, w {w.shape}, stride {stride}, padding {padding}, "
            f"dilation {dilation}, groups {groups}), got {type(cache).__name__}"
        )
    if x_given and cache is not None and x.dtype != cache.x_dtype:
        # one x per cache: which one wins must not depend on dtypes, so they must agree
        raise ValueError(
            f"x has dtype {x.dtype} but the cache was made from an x of dtype {cache.x_dtype}: "
            "pass x=None to use the cache's x, or the cache of this x"
        )
    return _conv.backward(dy, x if x_given else None, w, stride, padding, out_shape, cache, dilation, groups)


def route_of(
    x_shape: tuple[int, int, int, int],
    w_shape: tuple[int, int, int, int],
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> _conv.Route:
    """Which route ``conv2d_forward`` takes for these sizes, with its block size and columns.

    Parameters
    ----------
    x_shape : (N, C, H, W)
    w_shape : (D, C/groups, kh, kw)
    stride, padding, dilation, groups : as in ``conv2d_forward`` (checked the same way)

    Returns
    -------
    route : named tuple (name, block_bytes, columns)
        ``name`` is "grid" (the work buffer: usual shapes) or "windows" (only the real
        windows: when the grid would be more than about half garbage, and for empty
        arrays); ``block_bytes`` bounds the columns made at once; ``columns`` is the
        width of the matrix products over the batch (N·Ho·Wo plus, on the grid, the
        garbage positions). ``forced_route`` changes the answer inside its block.
    """
    x = np.broadcast_to(np.zeros(()), tuple(x_shape))  # shape only: no memory
    w = np.broadcast_to(np.zeros(()), tuple(w_shape))
    x, w, stride, padding, out_shape = validate_conv_args(x, w, stride, padding, dilation, groups)
    dilation, groups = validate_dilation(dilation), validate_groups(groups, x.shape[1], w.shape[0])
    return _conv.route_of(x.shape, w.shape, stride, padding, out_shape, dilation, groups)


@contextmanager
def forced_route(name: str, block_bytes: int | None = None) -> Iterator[None]:
    """Send every convolution inside the ``with`` block to one route: for tests and benchmarks.

    Parameters
    ----------
    name : "grid" or "windows"
        The route (see ``route_of``). Results equal the other route's to rounding;
        only speed and memory differ. Empty arrays still take the windows route, and
        a grid backward that meets inf or NaN still finishes on the windows route.
    block_bytes : int >= 1 or None
        Columns made at once on that route, in bytes (at least one image, or one
        output row on the windows route); None keeps the route's own size. 1 makes
        the smallest blocks, which is how the tests cover the seams between blocks.

    Holds for the current thread (a context variable) and ends with the block; a cache
    made under one route is read correctly under the other.
    """
    with _conv.forced(name, block_bytes):
        yield
