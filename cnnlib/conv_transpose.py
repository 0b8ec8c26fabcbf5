"""Transposed convolution ("deconvolution", fractionally strided convolution), forward and backward.

A transposed convolution with stride s and padding p maps x (N, C_in, H, W) to the
y (N, C_out, Ho, Wo) that the input gradient of a convolution with the same stride
and padding would have: each input pixel x[c, i, j] adds x[c, i, j]·w[c, d] onto
the k x k patch of y starting at (i·s − p, j·s − p). It upsamples by s. Its
backward needs no new machinery: ∂E/∂x is a convolution forward of δ with w, ∂E/∂w
the weight gradient of that convolution with the roles of x and δ swapped. The
semantics are PyTorch's ``conv_transpose2d`` (weights (C_in, C_out, kh, kw), output
size (H − 1)·s − 2p + k + output_padding).

Edge rules as in ``cnnlib.conv``: NaN and inf where ``cnnlib.reference``'s loops put
them, float32 stays float32, empty N, C_in or C_out give arrays of the right shapes,
inputs are never modified.

Derived in notebooks/04_padding.ipynb (∂E/∂x as a transposed convolution); taught as a
layer in notebooks/08_convolution_family.ipynb.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _conv
from .shapes import IntOrPair, as_float_array, validate_bias, validate_conv_transpose_args, validate_dy


def _conv_sizes(x_shape, w_shape, out_shape):
    """The convolution whose input gradient this transposed convolution is: (its x shape, its y shape)."""
    (N, C_in, H, W), (N, C_out, Ho, Wo) = x_shape, out_shape
    return (N, C_out, Ho, Wo), (N, C_in, H, W)


def conv_transpose2d_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
) -> np.ndarray:
    """Transposed convolution of a batch with C_out kernels per input channel, plus a bias per output channel.

    Parameters
    ----------
    x : array-like of shape (N, C_in, H, W)
    w : array-like of shape (C_in, C_out, kh, kw)
        PyTorch's layout for a transposed convolution: w[c, d] is what input channel c
        adds to output channel d.
    b : array-like of shape (C_out,) or None
    stride : int or (sh, sw)
        The upsampling factor: neighbouring input pixels land s apart in y.
    padding : int or (ph, pw)
        Rows and columns cropped from each side of the full result (the padding of the
        convolution it transposes).
    output_padding : int or (oph, opw)
        Extra rows (columns) at the bottom (right), each smaller than the stride: picks
        which of the s input sizes that a stride-s convolution maps to H this one returns.

    Returns
    -------
    y : ndarray of shape (N, C_out, Ho, Wo)
        Ho = (H − 1)·sh − 2·ph + kh + oph, Wo likewise.

    Notes
    -----
    With yp the uncropped output (Ho + 2p rows):

        yp[d, i·s + m, j·s + n] += x[c, i, j] · w[c, d, m, n]   for every c, i, j, m, n
        y[d, u, v] = b[d] + yp[d, u + p, v + p]

    i.e. y = ∂E/∂x of ``conv2d_forward(·, w, stride, padding)`` for δ = x: the adjoint
    of that convolution, ⟨conv(z), x⟩ = ⟨z, conv_transpose(x)⟩ for every z.
    Derived in notebooks/04_padding.ipynb; taught in notebooks/08_convolution_family.ipynb.
    """
    x, w, stride, padding, _, out_shape = validate_conv_transpose_args(x, w, stride, padding, output_padding)
    b = validate_bias(b, out_shape[1])
    conv_x_shape, conv_y_shape = _conv_sizes(x.shape, w.shape, out_shape)
    y = _conv.input_grad(x, w, conv_x_shape, stride, padding, conv_y_shape)
    if b is not None:
        y = y.astype(np.result_type(y, b), copy=False)
        y += b.reshape(1, -1, 1, 1)
    return y


def conv_transpose2d_backward(
    dy: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``conv_transpose2d_forward`` with respect to its input, kernels and bias.

    Parameters
    ----------
    dy : array-like of shape (N, C_out, Ho, Wo)
        δ = ∂E/∂y.
    x : array-like of shape (N, C_in, H, W)
    w : array-like of shape (C_in, C_out, kh, kw)
    stride, padding, output_padding : int or pair, as in the forward.

    Returns
    -------
    dx : ndarray of shape (N, C_in, H, W)
    dw : ndarray of shape (C_in, C_out, kh, kw)
    db : ndarray of shape (C_out,)
        Always returned; all three have the dtype ``np.result_type(dy, x, w)``.

    Notes
    -----
    The forward's product x[c, i, j] · w[c, d, m, n] lands on yp[d, i·s + m, j·s + n], the
    uncropped output; y is yp with p rows and columns cut from each side, then output_padding
    rows and columns kept at the end (at p ≥ 1 they hold the kernels' overhang; at p = 0 only
    the bias). So with δp = ∂E/∂yp, which is δ where yp survives into y and 0 where it is cut:

        ∂E/∂x[c, i, j]    = Σ_d Σ_m Σ_n δp[d, i·s + m, j·s + n] · w[c, d, m, n]
                          = conv2d_forward(δ, w, stride, padding)          (a cross-correlation)
        ∂E/∂w[c, d, m, n] = Σ_N Σ_i Σ_j x[c, i, j] · δp[d, i·s + m, j·s + n]
                          = the dw of conv2d_backward(x, δ, w, ...): input δ, upstream gradient x
        ∂E/∂b[d]          = Σ_N Σ_u Σ_v δ[d, u, v]

    Derived in notebooks/04_padding.ipynb; taught in notebooks/08_convolution_family.ipynb.
    """
    x, w, stride, padding, _, out_shape = validate_conv_transpose_args(x, w, stride, padding, output_padding)
    dy = as_float_array(dy, "dy")
    validate_dy(dy, out_shape)
    _, conv_y_shape = _conv_sizes(x.shape, w.shape, out_shape)
    dtype = np.result_type(dy, x, w)
    # ∂E/∂x: the convolution of δ; its cache is δ laid out once, read again for ∂E/∂w
    dx, cache = _conv.forward(dy.astype(dtype, copy=False), w, None, stride, padding, conv_y_shape)
    _, dw, db = _conv.backward(x, None, w, stride, padding, conv_y_shape, cache, need_dx=False)
    return dx, dw, dy.sum(axis=(0, 2, 3), dtype=dtype)
