"""CS231n-style layers (NCHW, conv_param / pool_param dicts, (out, cache)), as learners write them."""

from __future__ import annotations

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_forward_naive_extra_cache(x, w, b, conv_param):
    """A forward whose cache also holds the padded input (its backward needs it)."""
    out, (x, w, b, conv_param) = conv_forward_naive(x, w, b, conv_param)
    pad = conv_param["pad"]
    return out, (x, w, b, conv_param, np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))))


def make_conv_backward_naive(bug=None):
    """conv_backward_naive(dout, cache) with one planted bug (None: correct)."""

    def conv_backward_naive(dout, cache):
        x, w, b, conv_param = cache[:4]
        stride, pad = conv_param["stride"], conv_param["pad"]
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        _, _, H_out, W_out = dout.shape
        x_pad = cache[4] if len(cache) > 4 else np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dx_pad = np.zeros_like(x_pad)
        dw = np.zeros_like(w)
        db = np.zeros_like(b)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        hs, ws = i * stride, j * stride
                        if bug == "assign":
                            dx_pad[n, :, hs : hs + HH, ws : ws + WW] = w[f] * dout[n, f, i, j]
                        else:
                            dx_pad[n, :, hs : hs + HH, ws : ws + WW] += w[f] * dout[n, f, i, j]
                        dw[f] += x_pad[n, :, hs : hs + HH, ws : ws + WW] * dout[n, f, i, j]
                        db[f] += dout[n, f, i, j]
        if bug == "db_mean":
            db = db / N
        if bug == "dw_flip":
            dw = dw[:, :, ::-1, ::-1]
        if bug == "crop_neg":  # the [pad:-pad] crop: empty at pad = 0
            return dx_pad[:, :, pad:-pad, pad:-pad], dw, db
        return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, db

    return conv_backward_naive


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def make_max_pool_backward_naive(bug=None):
    def max_pool_backward_naive(dout, cache):
        x, pool_param = cache
        ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        N, C, H_out, W_out = dout.shape
        dx = np.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x[n, c, i * s : i * s + ph, j * s : j * s + pw]
                        if bug == "ties":
                            mask = window == np.max(window)
                        else:
                            mask = np.zeros_like(window)
                            mask[np.unravel_index(np.argmax(window), window.shape)] = 1
                        if bug == "hw":  # pool_height used for both axes
                            window = x[n, c, i * s : i * s + ph, j * s : j * s + ph]
                            mask = np.zeros_like(window)
                            mask[np.unravel_index(np.argmax(window), window.shape)] = 1
                            dx[n, c, i * s : i * s + ph, j * s : j * s + ph] += mask * dout[n, c, i, j]
                            continue
                        dx[n, c, i * s : i * s + ph, j * s : j * s + pw] += mask * dout[n, c, i, j]
        return dx

    return max_pool_backward_naive
