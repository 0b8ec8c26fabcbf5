"""Vectorised max and average pooling, forward and backward.

Windows may overlap (stride < size); the backward then accumulates (+=) the
gradient of every window a pixel belongs to. Max pooling routes each window's
gradient to its first maximum in row-major order, the rule ``np.argmax`` follows
and ``cnnlib.reference`` spells out.

Edge rules (the same in ``cnnlib.reference``):

- NaN: a window holding a NaN has maximum NaN (as ``np.max`` and PyTorch), and
  its δ goes to the first NaN in row-major order; a NaN is never silently dropped.
  Average pooling propagates NaN and inf like any sum.
- Ties: the first maximum in row-major order gets the window's δ.
- dtypes: float32 input stays float32; any other real numbers (ints, bools, lists)
  become float64; other dtypes (complex, datetime64, timedelta64, strings,
  objects) are a TypeError naming the dtype. The backward's dx has
  ``np.result_type(dy, x)``.
- Empty arrays: N = 0 or C = 0 give empty results of the right shape.

How it is fast (measured in benchmarks/bench_train.py): a pooling window has few
offsets (m, n) (4 for 2x2) but the batch has many windows, so the functions loop
over the offsets and, per offset, do one whole-array operation on the strided view
x[..., m::s, n::s] of all windows at once. Reducing over the small window axes of a
``sliding_window_view`` instead is several times slower (NumPy's reductions run their
inner loop over the tiny axis). The max-pool backward finds each window's winner by
a scan over the offsets and writes δ there through one flat index array (a sum with
``np.bincount`` when windows overlap), instead of kh·kw masked copies.

Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .shapes import (
    IntOrPair,
    as_float_array,
    validate_dy,
    validate_pool_args,
)


def _offset_views(a, size, stride, out_shape):
    """Yield a[..., m + i·sh, n + j·sw] over (i, j) as an (N, C, Ho, Wo) view, for each offset (m, n).

    Offsets come in row-major order (m, then n): the order of the reference's loops,
    which is what makes "the first maximum" and the summation order match it.
    """
    (kh, kw), (sh, sw), (Ho, Wo) = size, stride, out_shape[2:]
    for m in range(kh):
        for n in range(kw):
            yield a[:, :, m : m + (Ho - 1) * sh + 1 : sh, n : n + (Wo - 1) * sw + 1 : sw]


def _overlapping(size, stride):
    return stride[0] < size[0] or stride[1] < size[1]


def maxpool2d_forward(x: ArrayLike, size: IntOrPair, stride: IntOrPair | None = None) -> np.ndarray:
    """Max pooling over (kh, kw) windows.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    size : int or (kh, kw)
    stride : int or (sh, sw) or None
        None means stride = size.

    Returns
    -------
    y : ndarray of shape (N, C, Ho, Wo)
        Ho = floor((H - kh)/sh) + 1, Wo likewise.

    Notes
    -----
    y[c, i, j] = max_{m, n} x[c, i·s + m, j·s + n]; NaN if the window holds a NaN
    (as ``np.max`` and PyTorch: a NaN is never silently dropped).
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = validate_pool_args(x, size, stride)
    views = _offset_views(x, size, stride, out_shape)
    y = next(views).copy()
    for v in views:
        np.maximum(y, v, out=y)  # a NaN in the window makes its maximum NaN (np.max's and PyTorch's rule)
    return y


def _first_max_offset(x, size, stride, out_shape):
    """For every window, where its winner sits: m·W + n from its top-left pixel.

    The winner is the first maximum in row-major order (np.argmax's rule), or the
    first NaN when the window holds one (the pixel that made the output NaN).

    Scans the offsets (m, n) in row-major order keeping the best value so far; an
    offset wins where it is strictly greater, so a later equal value never takes over
    (ties go to the first). Each offset's view is first copied to a contiguous array:
    comparisons and maxima on the strided view cost NumPy one inner loop per row of Wo.
    Selections are done with arithmetic, not ``np.where`` or masked copies, which are
    10-40x slower on the random masks pooling produces.
    """
    W = x.shape[3]
    # int32 halves the memory traffic of the index arrays; it holds any index of x
    # up to 2**31 entries (the caller adds the window's position to it)
    winner = np.zeros(out_shape, dtype=np.int32 if x.size < 2**31 else np.intp)
    offsets = [divmod(k, size[1]) for k in range(size[0] * size[1])]
    views = _offset_views(x, size, stride, out_shape)
    best = np.array(next(views))
    for (m, n), v in zip(offsets[1:], views, strict=True):
        v = np.ascontiguousarray(v)
        better = v > best  # False wherever best or v is NaN: a NaN best stays, NaN v never wins here
        np.maximum(best, v, out=best)  # NaN-propagating: best is NaN from a window's first NaN on
        # m·W + n only grows along the scan (n < kw <= W), so "it where better, else
        # keep" is a maximum
        np.maximum(winner, better * winner.dtype.type(m * W + n), out=winner)
    nan_windows = np.isnan(best)  # one pass over the output, which is smaller than x
    if nan_windows.any():  # rare: point those windows at their first NaN instead
        views = list(_offset_views(x, size, stride, out_shape))
        for (m, n), v in reversed(list(zip(offsets, views, strict=True))):  # the first offset last
            winner[nan_windows & np.isnan(v)] = m * W + n
    return winner


def maxpool2d_backward(
    dy: ArrayLike, x: ArrayLike, size: IntOrPair, stride: IntOrPair | None = None
) -> np.ndarray:
    """Gradient of max pooling: each window's δ goes to its (first) maximum.

    Parameters
    ----------
    dy : array-like of shape (N, C, Ho, Wo)
    x : array-like of shape (N, C, H, W)
        The forward input (the winners are found again from it).
    size, stride : as in ``maxpool2d_forward``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    Notes
    -----
    ∂E/∂x[c, u, v] = Σ over windows (i, j) whose winner is (u, v) of δ[c, i, j].
    Ties: the first maximum in row-major order wins (np.argmax's rule). A window
    holding a NaN (whose output is NaN) routes its δ to its first NaN, the pixel
    the output came from: np.argmax's rule (PyTorch also routes it to a NaN; its
    CPU kernel picks the last one when a window holds several).
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = validate_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    # the flat index in x of every window's winner: its top-left pixel + m·W + n
    (sh, sw), (N, C, Ho, Wo), (H, W) = stride, out_shape, x.shape[2:]
    winner = _first_max_offset(x, size, stride, out_shape)
    step = winner.dtype.type  # keep the index arithmetic in winner's integer type
    # + where window (i, j) starts in its image, + where each image starts
    winner += np.arange(0, Ho * sh * W, step(sh * W)).reshape(Ho, 1) + np.arange(0, Wo * sw, step(sw))
    winner += np.arange(0, N * C * H * W, step(H * W)).reshape(N, C, 1, 1)
    winner = winner.ravel()
    dtype = np.result_type(dy, x)
    if _overlapping(size, stride):  # a pixel may win several windows: sum their deltas
        # bincount adds in window order, as the reference's loops do (in float64)
        dx = np.bincount(winner, weights=dy.ravel(), minlength=x.size).astype(dtype, copy=False)
    else:  # each pixel wins at most one window: a plain write; only winners are touched,
        # so an inf or NaN in δ stays where the reference puts it
        dx = np.zeros(x.size, dtype=dtype)
        dx[winner] = dy.ravel()
    return dx.reshape(x.shape)


def avgpool2d_forward(x: ArrayLike, size: IntOrPair, stride: IntOrPair | None = None) -> np.ndarray:
    """Average pooling over (kh, kw) windows.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    size : int or (kh, kw)
    stride : int or (sh, sw) or None
        None means stride = size.

    Returns
    -------
    y : ndarray of shape (N, C, Ho, Wo)

    Notes
    -----
    y[c, i, j] = 1/(kh·kw) · Σ_m Σ_n x[c, i·s + m, j·s + n].
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = validate_pool_args(x, size, stride)
    views = _offset_views(x, size, stride, out_shape)
    y = next(views).copy()
    for v in views:
        y += v
    y /= size[0] * size[1]
    return y


def avgpool2d_backward(
    dy: ArrayLike, x: ArrayLike, size: IntOrPair, stride: IntOrPair | None = None
) -> np.ndarray:
    """Gradient of average pooling: δ/(kh·kw) to every pixel of each window.

    Parameters
    ----------
    dy : array-like of shape (N, C, Ho, Wo)
    x : array-like of shape (N, C, H, W)
        The forward input (only its shape is used).
    size, stride : as in ``avgpool2d_forward``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    Notes
    -----
    ∂E/∂x[c, i·s + m, j·s + n] += δ[c, i, j] / (kh·kw), accumulated over overlapping windows.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, size, stride, out_shape = validate_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    share = dy / (size[0] * size[1])
    dx = np.zeros(x.shape, dtype=np.result_type(dy, x))
    overlapping = _overlapping(size, stride)
    for dx_k in _offset_views(dx, size, stride, out_shape):
        if overlapping:
            dx_k += share
        else:
            dx_k[...] = share
    return dx
