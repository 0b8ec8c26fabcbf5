"""Loops of the convolution: forward, backward (scatter form) and ∂E/∂x in the gather form.

Every line is a line of a derivation in the notebooks (see ``cnnlib.reference``).
"""

from __future__ import annotations

import numpy as np

from ..shapes import (
    as_float_array,
    output_shape,
    validate_bias,
    validate_conv_args,
    validate_dilation,
    validate_dy,
    validate_ndim,
    validate_padding,
    validate_stride,
)


def _zero_pad(x, ph, pw):
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    xp[:, :, ph : ph + H, pw : pw + W] = x
    return xp


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of x with D kernels, plus bias, as nested loops.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (D, C, kh, kw), or (D, C/groups, kh, kw)
    b : ndarray of shape (D,) or None
    stride : int or (int, int)
    padding : int or (int, int)
    dilation : int or (int, int)
        1 for the plain convolution (notebooks 01 to 07).
    groups : int
        1 for the plain convolution.

    Returns
    -------
    y : ndarray of shape (N, D, Ho, Wo)

    Notes
    -----
    With xp the zero-padded input (xp[c, i + p, j + p] = x[c, i, j]):

        y[d, i, j] = b[d] + Σ_c Σ_m Σ_n w[d, c, m, n] · xp[c, i·s + m, j·s + n]

    a cross-correlation (the kernel is not flipped). Dilated by (dil_h, dil_w), offset
    (m, n) reads row i·s + m·dil_h, column j·s + n·dil_w; with groups, kernel d reads
    only the C = C_x/groups channels c0 .. c0 + C − 1 of its group. Derived in
    notebooks/01_single_kernel.ipynb, 02_multi_kernel.ipynb, 03_stride.ipynb, 04_padding.ipynb;
    dilation and groups taught in notebooks/08_convolution_family.ipynb.
    """
    x, w, (sh, sw), (ph, pw), (N, D, Ho, Wo) = validate_conv_args(x, w, stride, padding, dilation, groups)
    C, kh, kw = w.shape[1:]  # C: the channels each kernel reads
    b, (dil_h, dil_w) = validate_bias(b, D), validate_dilation(dilation)
    xp = _zero_pad(x, ph, pw)
    y = np.zeros((N, D, Ho, Wo), dtype=np.result_type(x, w))
    for img in range(N):
        for d in range(D):
            c0 = d // (D // groups) * C  # the first input channel of kernel d's group
            for i in range(Ho):
                for j in range(Wo):
                    total = 0.0 if b is None else b[d]
                    for c in range(C):
                        for m in range(kh):
                            for n in range(kw):
                                u, v = i * sh + m * dil_h, j * sw + n * dil_w  # the pixel w[d, c, m, n] meets
                                total += w[d, c, m, n] * xp[img, c0 + c, u, v]
                    y[img, d, i, j] = total
    return y


def conv2d_backward(dy, x, w, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of a strided, padded cross-correlation, as nested loops.

    Parameters
    ----------
    dy : ndarray of shape (N, D, Ho, Wo)
        δ = ∂E/∂y, the upstream gradient.
    x : ndarray of shape (N, C, H, W)
    w : ndarray of shape (D, C, kh, kw), or (D, C/groups, kh, kw)
    stride, padding, dilation : int or (int, int)
    groups : int
        dilation = groups = 1 for the plain convolution (notebooks 01 to 07).

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dw : ndarray of the shape of w
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
    share: one input pixel feeds many outputs. Dilated and grouped, the pixel is
    xp[c0 + c, i·s + m·dil_h, j·s + n·dil_w] as in ``conv2d_forward``. Derived in
    notebooks/01_single_kernel.ipynb to 04_padding.ipynb; dilation and groups taught in
    notebooks/08_convolution_family.ipynb.
    """
    x, w, (sh, sw), (ph, pw), out_shape = validate_conv_args(x, w, stride, padding, dilation, groups)
    dil_h, dil_w = validate_dilation(dilation)
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
            c0 = d // (D // groups) * C  # the first input channel of kernel d's group
            for i in range(Ho):
                for j in range(Wo):
                    db[d] += dy[img, d, i, j]
                    for c in range(C):
                        for m in range(kh):
                            for n in range(kw):
                                u, v = i * sh + m * dil_h, j * sw + n * dil_w  # the pixel w[d, c, m, n] meets
                                dw[d, c, m, n] += dy[img, d, i, j] * xp[img, c0 + c, u, v]
                                dxp[img, c0 + c, u, v] += dy[img, d, i, j] * w[d, c, m, n]
    H, W = x.shape[2:]
    dx = dxp[:, :, ph : ph + H, pw : pw + W].copy()
    return dx, dw, db


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
