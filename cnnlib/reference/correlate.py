"""Loops of one 2-D array with one 2-D kernel (★ and ∗), and the windows im2col copies."""

from __future__ import annotations

import numpy as np

from ..shapes import as_float_array, validate_ndim, validate_stride


def _valid_2d(a, k):
    """Checked 2-D a (H, W), k (kh, kw) and the zeros (H − kh + 1, W − kw + 1) of their valid output."""
    a, k = as_float_array(a, "a"), as_float_array(k, "k")
    validate_ndim(a, 2, "a", "(H, W)")
    validate_ndim(k, 2, "k", "(kh, kw)")
    (H, W), (kh, kw) = a.shape, k.shape
    if kh > H or kw > W:
        raise ValueError(f"kernel {k.shape} is larger than the array {a.shape}")
    return a, k, np.zeros((H - kh + 1, W - kw + 1), dtype=np.result_type(a, k))


def correlate2d(a, k):
    """Valid cross-correlation of one 2-D array with one 2-D kernel (no flip).

    Parameters
    ----------
    a : ndarray of shape (H, W)
    k : ndarray of shape (kh, kw)

    Returns
    -------
    out : ndarray of shape (H - kh + 1, W - kw + 1)

    Notes
    -----
    out[i, j] = Σ_m Σ_n a[i + m, j + n] · k[m, n]   (cross-correlation, a ★ k).
    Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    a, k, out = _valid_2d(a, k)
    kh, kw = k.shape
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for m in range(kh):
                for n in range(kw):
                    out[i, j] += a[i + m, j + n] * k[m, n]
    return out


def convolve2d(a, k):
    """Valid true convolution of one 2-D array with one 2-D kernel (kernel flipped).

    Notes
    -----
    out[i, j] = Σ_m Σ_n a[i + kh - 1 - m, j + kw - 1 - n] · k[m, n]
    which equals correlate2d(a, rot180(k)): a ∗ k = a ★ rot180(k).
    Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    a, k, out = _valid_2d(a, k)
    kh, kw = k.shape
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for m in range(kh):
                for n in range(kw):
                    out[i, j] += a[i + kh - 1 - m, j + kw - 1 - n] * k[m, n]
    return out


def im2col_windows(xp, kh, kw, stride=1):
    """The windows of an (already padded) input, kernel offsets first: im2col before the reshape.

    Parameters
    ----------
    xp : array-like of shape (N, C, Hp, Wp)
        The padded input.
    kh, kw : int
        Kernel size.
    stride : int or (sh, sw)

    Returns
    -------
    ndarray of shape (N, C, kh, kw, Ho, Wo)
        cols[img, c, m, n, i, j] = xp[img, c, i·sh + m, j·sw + n], a new array;
        Ho = (Hp − kh) // sh + 1, Wo likewise. Reshaped to (N, C·kh·kw, Ho·Wo) it is the
        column matrix of each image.

    Notes
    -----
    Built from ``numpy.lib.stride_tricks.sliding_window_view``, a view with two extra
    axes (no copy) from which every s-th window is taken: the one vectorised function of
    ``cnnlib.reference``, on purpose, because notebook 07's im2col exercise (a dilated
    kernel's windows, slice by slice) is checked against it: the windows of the kernel's
    whole span, every d-th tap kept (tests/test_reference_windows.py checks it against
    its loop definition).
    ``cnnlib.curvature`` builds its design matrix with it. Derived in
    notebooks/07_fast_convolution.ipynb.
    """
    xp = np.asarray(xp, dtype=float)
    sh, sw = validate_stride(stride)
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return np.ascontiguousarray(view.transpose(0, 1, 4, 5, 2, 3))
