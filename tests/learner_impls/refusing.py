"""Look-alikes of correct code that refuses part of the case set on purpose, and of refusals
that hide a real bug.

- ``cs231n_divisible_*``: a CS231n layer that asserts (H + 2*pad - HH) % stride == 0, as the
  assignment lets students assume; ``cs231n_rounding_backward`` relies on it with round().
- ``SquareConv``: a layer class whose constructor-free backward takes square kernels only.
- ``int_only_backward``: a "cnnlib"-convention backward written for an int stride and padding.
- ``refusing_padding_0``: refuses padding 0 (the [p:-p] crop guarded by a raise): a real bug.
- ``divisible_but_flipped``: asserts divisibility and flips the kernel: a real bug.
"""

from __future__ import annotations

import numpy as np


def _windows_backward(dout, x, w, s, p):
    """dx, dw, db of a cross-correlation by the scatter loop (int stride and padding)."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hs, ws = i * s, j * s
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], x_pad[:, :, hs : hs + HH, ws : ws + WW])
            dx_pad[:, :, hs : hs + HH, ws : ws + WW] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
    return dx_pad[:, :, p : p + H, p : p + W], dw, dout.sum(axis=(0, 2, 3))


def cs231n_divisible_forward(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    assert (H + 2 * pad - HH) % stride == 0, "width does not work"
    assert (W + 2 * pad - WW) % stride == 0, "height does not work"
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            win = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.tensordot(win, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def make_cs231n_divisible_backward(bug=None):
    """conv_backward_naive asserting divisibility; bug None or "flip" (dx with a rot180'd kernel)."""

    def conv_backward_naive(dout, cache):
        x, w, b, conv_param = cache
        stride, pad = conv_param["stride"], conv_param["pad"]
        H, W, HH, WW = x.shape[2], x.shape[3], w.shape[2], w.shape[3]
        assert (H + 2 * pad - HH) % stride == 0 and (W + 2 * pad - WW) % stride == 0
        dx, dw, db = _windows_backward(dout, x, w, stride, pad)
        if bug == "flip":
            dx = _windows_backward(dout, x, w[:, :, ::-1, ::-1], stride, pad)[0]
        return dx, dw, db

    return conv_backward_naive


def cs231n_rounding_backward(dout, cache):
    """Relies on divisibility without asserting it: round() where floor is meant."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = round((H + 2 * pad - HH) / stride) + 1
    W_out = round((W + 2 * pad - WW) / stride) + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(H_out):
        for j in range(W_out):
            hs, ws = i * stride, j * stride
            d = dout[:, :, i, j]
            dw += np.einsum("nf,nchw->fchw", d, x_pad[:, :, hs : hs + HH, ws : ws + WW])
            dx_pad[:, :, hs : hs + HH, ws : ws + WW] += np.einsum("nf,fchw->nchw", d, w)
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, dout.sum(axis=(0, 2, 3))


class SquareConv:
    """A layer class taking square kernels only (its im2col indexes one k)."""

    def __init__(self, stride=1, padding=0):
        self.stride, self.padding = stride, padding

    def backward(self, dy, x, w):
        k = w.shape[2]
        if w.shape[3] != k:
            raise ValueError(f"this layer takes square kernels, got {w.shape[2]}x{w.shape[3]}")
        return _windows_backward(dy, x, w, self.stride, self.padding)


def square_conv_backward(dy, x, w, stride, padding):
    """The "cnnlib" entry point a learner writes around their layer class."""
    return SquareConv(stride, padding).backward(dy, x, w)


def int_only_backward(dy, x, w, stride, padding):
    """Written for int stride and padding: a pair meets int arithmetic and raises TypeError."""
    N, C, H, W = x.shape
    Hp, Wp = H + 2 * padding, W + 2 * padding
    x_pad = np.zeros((N, C, Hp, Wp))
    x_pad[:, :, padding : padding + H, padding : padding + W] = x
    kh, kw = w.shape[2:]
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            r, c = i * stride, j * stride
            dw += np.einsum("nd,nchw->dchw", dy[:, :, i, j], x_pad[:, :, r : r + kh, c : c + kw])
            dx_pad[:, :, r : r + kh, c : c + kw] += np.einsum("nd,dchw->nchw", dy[:, :, i, j], w)
    return dx_pad[:, :, padding : padding + H, padding : padding + W], dw, dy.sum(axis=(0, 2, 3))


def refusing_padding_0(dy, x, w, stride, padding):
    """Its crop is dx_pad[p:-p], so it refuses p = 0 rather than fix the crop: a real bug."""
    if padding == 0:
        raise ValueError("padding must be positive")
    dx, dw, db = _windows_backward(dy, x, w, stride, padding)
    return dx, dw, db
