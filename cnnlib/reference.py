"""Loop implementations that read like the course's equations, index by index.

Slow on purpose: every line of these functions is a line of a derivation in the
notebooks, with the same index names (x[c, i, j], y[d, i, j], w[d, c, m, n],
stride s, padding p). They are the oracles the fast versions in ``cnnlib.conv``
and ``cnnlib.pool`` are tested against. ``img`` indexes the examples of a batch.

The arguments are validated exactly as in the fast versions (same messages).
"""

from __future__ import annotations

import numpy as np

from .shapes import (
    as_float_array,
    output_shape,
    validate_bias,
    validate_conv_args,
    validate_dy,
    validate_ndim,
    validate_padding,
    validate_pool_args,
    validate_stride,
)


def _zero_pad(x, ph, pw):
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    xp[:, :, ph : ph + H, pw : pw + W] = x
    return xp


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Cross-correlation of x with D kernels, plus bias, as nested loops.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (D, C, kh, kw)
    b : ndarray of shape (D,) or None
    stride : int or (int, int)
    padding : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, D, Ho, Wo)

    Notes
    -----
    With xp the zero-padded input (xp[c, i + p, j + p] = x[c, i, j]):

        y[d, i, j] = b[d] + Σ_c Σ_m Σ_n w[d, c, m, n] · xp[c, i·s + m, j·s + n]

    a cross-correlation (the kernel is not flipped). Derived in
    notebooks/01_single_kernel.ipynb, 02_multi_kernel.ipynb, 03_stride.ipynb, 04_padding.ipynb.
    """
    x, w, (sh, sw), (ph, pw), (N, D, Ho, Wo) = validate_conv_args(x, w, stride, padding)
    C, kh, kw = w.shape[1:]
    b = validate_bias(b, D)
    xp = _zero_pad(x, ph, pw)
    y = np.zeros((N, D, Ho, Wo), dtype=np.result_type(x, w))
    for img in range(N):
        for d in range(D):
            for i in range(Ho):
                for j in range(Wo):
                    total = 0.0 if b is None else b[d]
                    for c in range(C):
                        for m in range(kh):
                            for n in range(kw):
                                total += w[d, c, m, n] * xp[img, c, i * sh + m, j * sw + n]
                    y[img, d, i, j] = total
    return y


def conv2d_backward(dy, x, w, stride=1, padding=0):
    """Gradients of a strided, padded cross-correlation, as nested loops.

    Parameters
    ----------
    dy : ndarray of shape (N, D, Ho, Wo)
        δ = ∂E/∂y, the upstream gradient.
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (D, C, kh, kw)
    stride, padding : int or (int, int)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of shape (D, C, kh, kw)
    db : ndarray of shape (D,)

    Notes
    -----
    y[d, i, j] depends on w[d, c, m, n] through the single product
    w[d, c, m, n] · xp[c, i·s + m, j·s + n], so the chain rule gives, summing over
    every output that used the weight or the input pixel:

        ∂E/∂w[d, c, m, n] = Σ_i Σ_j δ[d, i, j] · xp[c, i·s + m, j·s + n]
        ∂E/∂xp[c, i·s + m, j·s + n] += δ[d, i, j] · w[d, c, m, n]
        ∂E/∂b[d] = Σ_i Σ_j δ[d, i, j]

    and ∂E/∂x is ∂E/∂xp with the padding cropped off. Each output adds (+=) its
    share: one input pixel feeds many outputs. Derived in notebooks/01_single_kernel.ipynb
    to 04_padding.ipynb.
    """
    x, w, (sh, sw), (ph, pw), out_shape = validate_conv_args(x, w, stride, padding)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    N, D, Ho, Wo = out_shape
    C, kh, kw = w.shape[1:]
    xp = _zero_pad(x, ph, pw)
    dtype = np.result_type(dy, x, w)
    dxp = np.zeros(xp.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    db = np.zeros(D, dtype=dtype)
    for img in range(N):
        for d in range(D):
            for i in range(Ho):
                for j in range(Wo):
                    db[d] += dy[img, d, i, j]
                    for c in range(C):
                        for m in range(kh):
                            for n in range(kw):
                                dw[d, c, m, n] += dy[img, d, i, j] * xp[img, c, i * sh + m, j * sw + n]
                                dxp[img, c, i * sh + m, j * sw + n] += dy[img, d, i, j] * w[d, c, m, n]
    H, W = x.shape[2:]
    dx = dxp[:, :, ph : ph + H, pw : pw + W].copy()
    return dx, dw, db


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


def conv2d_backward_input(dy, w, x_shape, stride=1, padding=0):
    """∂E/∂x as a full cross-correlation of the dilated δ with rot180(w), as loops.

    The "gather" form of the input gradient: instead of each output scattering
    its share back (as in ``conv2d_backward``), each input pixel collects from the
    outputs whose windows cover it.

    Parameters
    ----------
    dy : ndarray of shape (N, D, Ho, Wo)
    w : ndarray of shape (D, C, kh, kw)
    x_shape : tuple (N, C, H, W)
        Shape of the forward input.
    stride, padding : int or (int, int)

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    Notes
    -----
    Dilate δ by s (s - 1 zeros between entries), pad it with k - 1 zeros on every
    side ("full"), then

        ∂E/∂xp[c, u, v] = Σ_d Σ_m Σ_n δ_full[d, u + m, v + n] · rot180(w)[d, c, m, n]

    i.e. ∂E/∂xp = δ_full ★ rot180(w) summed over d. Rows of xp past the last window
    (when (H + 2p - k) mod s ≠ 0) get zero. Finally crop p from each side.
    Derived in notebooks/01_single_kernel.ipynb, 03_stride.ipynb, 04_padding.ipynb.
    """
    dy, w = as_float_array(dy, "dy"), as_float_array(w, "w")
    validate_ndim(dy, 4, "dy", "(N, D, Ho, Wo)")
    validate_ndim(w, 4, "w", "(D, C, kh, kw)")
    x_shape = tuple(x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be the 4-tuple (N, C, H, W) of the forward input, got {x_shape}")
    out_shape = output_shape(x_shape, w.shape, stride, padding)
    validate_dy(dy, out_shape)
    (sh, sw), (ph, pw) = validate_stride(stride), validate_padding(padding)
    N, C, H, W = x_shape
    D, _, kh, kw = w.shape
    Ho, Wo = dy.shape[2:]
    # dilate: δ[d, i, j] lands at row i·s, column j·s
    dil = np.zeros((N, D, (Ho - 1) * sh + 1, (Wo - 1) * sw + 1), dtype=dy.dtype)
    for i in range(Ho):
        for j in range(Wo):
            dil[:, :, i * sh, j * sw] = dy[:, :, i, j]
    # full padding: k - 1 zeros on each side
    full = np.zeros((N, D, dil.shape[2] + 2 * (kh - 1), dil.shape[3] + 2 * (kw - 1)), dy.dtype)
    full[:, :, kh - 1 : kh - 1 + dil.shape[2], kw - 1 : kw - 1 + dil.shape[3]] = dil
    flipped = w[:, :, ::-1, ::-1]
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=np.result_type(dy, w))
    rows, cols = full.shape[2] - kh + 1, full.shape[3] - kw + 1  # (Ho-1)s + k: rows any window covers
    for img in range(N):
        for c in range(C):
            for u in range(rows):
                for v in range(cols):
                    total = 0.0
                    for d in range(D):
                        for m in range(kh):
                            for n in range(kw):
                                total += full[img, d, u + m, v + n] * flipped[d, c, m, n]
                    dxp[img, c, u, v] = total
    return dxp[:, :, ph : ph + H, pw : pw + W].copy()


def maxpool2d_forward(x, size, stride=None):
    """Max pooling as loops.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    size : int or (int, int)
        Window (kh, kw).
    stride : int or (int, int) or None
        None means stride = size (non-overlapping windows).

    Returns
    -------
    y : ndarray of shape (N, C, Ho, Wo)

    Notes
    -----
    y[c, i, j] = max_{m, n} x[c, i·s + m, j·s + n]; NaN if the window holds a NaN.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), (N, C, Ho, Wo) = validate_pool_args(x, size, stride)
    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best = x[img, c, i * sh, j * sw]
                    for m in range(kh):
                        for n in range(kw):
                            v = x[img, c, i * sh + m, j * sw + n]
                            if v > best or (np.isnan(v) and not np.isnan(best)):  # a NaN beats every number
                                best = v
                    y[img, c, i, j] = best
    return y


def maxpool2d_backward(dy, x, size, stride=None):
    """Max pooling backward as loops: each window's δ goes to its first maximum.

    Parameters
    ----------
    dy : ndarray of shape (N, C, Ho, Wo)
    x : ndarray of shape (N, C, H, W)
    size, stride : as in ``maxpool2d_forward``

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)

    Notes
    -----
    ∂y[c, i, j]/∂x[c, u, v] is 1 for the winner (u, v) of window (i, j) and 0 for
    every other pixel, so ∂E/∂x[c, u, v] = Σ over the windows that (u, v) wins of
    δ[c, i, j] (+=: with overlapping windows one pixel can win several). Ties go
    to the first maximum in row-major order (smallest m, then smallest n). A NaN
    counts as larger than every number: a window holding one sends its δ to its
    first NaN, the pixel its NaN output came from.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), out_shape = validate_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    N, C, Ho, Wo = out_shape
    dx = np.zeros(x.shape, dtype=np.result_type(dy, x))
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    # start from the window's first pixel, so a window of -inf still has a winner
                    best, winner = x[img, c, i * sh, j * sw], (0, 0)
                    for m in range(kh):
                        for n in range(kw):
                            v = x[img, c, i * sh + m, j * sw + n]
                            # '>' keeps the first max; the first NaN beats every number
                            if v > best or (np.isnan(v) and not np.isnan(best)):
                                best, winner = v, (m, n)
                    m, n = winner
                    dx[img, c, i * sh + m, j * sw + n] += dy[img, c, i, j]
    return dx


def avgpool2d_forward(x, size, stride=None):
    """Average pooling as loops.

    Notes
    -----
    y[c, i, j] = 1/(kh·kw) · Σ_m Σ_n x[c, i·s + m, j·s + n].
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), (N, C, Ho, Wo) = validate_pool_args(x, size, stride)
    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    total = 0.0
                    for m in range(kh):
                        for n in range(kw):
                            total += x[img, c, i * sh + m, j * sw + n]
                    y[img, c, i, j] = total / (kh * kw)
    return y


def avgpool2d_backward(dy, x, size, stride=None):
    """Average pooling backward as loops: δ/(kh·kw) to every pixel of the window.

    Notes
    -----
    ∂y[c, i, j]/∂x[c, i·s + m, j·s + n] = 1/(kh·kw), so every pixel of window (i, j)
    receives δ[c, i, j]/(kh·kw), accumulated (+=) over overlapping windows.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, (kh, kw), (sh, sw), out_shape = validate_pool_args(x, size, stride)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    N, C, Ho, Wo = out_shape
    dx = np.zeros(x.shape, dtype=np.result_type(dy, x))
    for img in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    for m in range(kh):
                        for n in range(kw):
                            dx[img, c, i * sh + m, j * sw + n] += dy[img, c, i, j] / (kh * kw)
    return dx


def im2col_windows(xp, kh, kw, stride=1):
    """The windows of an (already padded) input, kernel offsets first: im2col before the reshape.

    Parameters
    ----------
    xp : array-like of shape (N, C, Hp, Wp)
        The padded input.
    kh, kw : int
        Kernel size.
    stride : int

    Returns
    -------
    ndarray of shape (N, C, kh, kw, Ho, Wo)
        cols[img, c, m, n, i, j] = xp[img, c, i·s + m, j·s + n], a new array;
        Ho = (Hp − kh) // s + 1, Wo likewise. Reshaped to (N, C·kh·kw, Ho·Wo) it is the
        column matrix of each image.

    Notes
    -----
    Built from ``numpy.lib.stride_tricks.sliding_window_view``, a view with two extra
    axes (no copy) from which every s-th window is taken. Derived in
    notebooks/07_fast_convolution.ipynb.
    """
    xp = np.asarray(xp, dtype=float)
    s = int(stride)
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::s, ::s]
    return np.ascontiguousarray(view.transpose(0, 1, 4, 5, 2, 3))
