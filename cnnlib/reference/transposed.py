"""Loops of the transposed convolution: the scatter definition, forward and backward.

Every product of the forward is one input pixel times one kernel weight, added onto
one output pixel; the backward follows each such product back (chain rule), line by
line. Derived in notebooks/08_convolution_family.ipynb.
"""

from __future__ import annotations

import numpy as np

from ..shapes import as_float_array, validate_bias, validate_conv_transpose_args, validate_dy


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution as nested loops: each input pixel scatters a weighted kernel.

    Parameters
    ----------
    x : ndarray of shape (N, C_in, H, W)
    w : ndarray of shape (C_in, C_out, kh, kw)
    b : ndarray of shape (C_out,) or None
    stride, padding, output_padding : int or (int, int)

    Returns
    -------
    y : ndarray of shape (N, C_out, Ho, Wo)
        Ho = (H − 1)·sh − 2·ph + kh + oph.

    Notes
    -----
    With yp the output before cropping p from each side:

        yp[d, i·s + m, j·s + n] += x[c, i, j] · w[c, d, m, n]
        y[d, u, v] = b[d] + yp[d, u + p, v + p]

    the adjoint of ``conv2d_forward`` with the same stride and padding.
    Derived in notebooks/08_convolution_family.ipynb.
    """
    x, w, (sh, sw), (ph, pw), _, (N, D, Ho, Wo) = validate_conv_transpose_args(
        x, w, stride, padding, output_padding
    )
    C, H, W = x.shape[1:]
    kh, kw = w.shape[2:]
    b = validate_bias(b, D)
    yp = np.zeros((N, D, Ho + 2 * ph, Wo + 2 * pw), dtype=np.result_type(x, w))
    for img in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    for d in range(D):
                        for m in range(kh):
                            for n in range(kw):
                                yp[img, d, i * sh + m, j * sw + n] += x[img, c, i, j] * w[c, d, m, n]
    y = yp[:, :, ph : ph + Ho, pw : pw + Wo].copy()
    if b is not None:
        y = y + b.reshape(1, D, 1, 1)
    return y


def conv_transpose2d_backward(dy, x, w, stride=1, padding=0, output_padding=0):
    """Gradients of the transposed convolution as nested loops, one line per forward product.

    Parameters
    ----------
    dy : ndarray of shape (N, C_out, Ho, Wo)
    x : ndarray of shape (N, C_in, H, W)
    w : ndarray of shape (C_in, C_out, kh, kw)
    stride, padding, output_padding : int or (int, int)

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_in, C_out, kh, kw)
    db : ndarray of shape (C_out,)

    Notes
    -----
    The product x[c, i, j] · w[c, d, m, n] went to yp[d, i·s + m, j·s + n], whose
    gradient is δp[d, i·s + m, j·s + n] (δ zero-padded by p: the cropped entries
    reach no output). The chain rule gives

        ∂E/∂x[c, i, j]    += δp[d, i·s + m, j·s + n] · w[c, d, m, n]
        ∂E/∂w[c, d, m, n] += δp[d, i·s + m, j·s + n] · x[c, i, j]
        ∂E/∂b[d] = Σ_u Σ_v δ[d, u, v]

    Derived in notebooks/08_convolution_family.ipynb (section 8.1), whose exercise 3
    writes each sum as a convolution call.
    """
    x, w, (sh, sw), (ph, pw), _, out_shape = validate_conv_transpose_args(
        x, w, stride, padding, output_padding
    )
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    N, D, Ho, Wo = out_shape
    C, H, W = x.shape[1:]
    kh, kw = w.shape[2:]
    dtype = np.result_type(dy, x, w)
    dyp = np.zeros((N, D, Ho + 2 * ph, Wo + 2 * pw), dtype=dtype)
    dyp[:, :, ph : ph + Ho, pw : pw + Wo] = dy
    dx = np.zeros(x.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    db = dy.sum(axis=(0, 2, 3), dtype=dtype)
    for img in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    for d in range(D):
                        for m in range(kh):
                            for n in range(kw):
                                dx[img, c, i, j] += dyp[img, d, i * sh + m, j * sw + n] * w[c, d, m, n]
                                dw[c, d, m, n] += dyp[img, d, i * sh + m, j * sw + n] * x[img, c, i, j]
    return dx, dw, db
