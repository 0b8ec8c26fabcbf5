"""deeplearning.ai "Convolution model, Step by Step" look-alikes: NHWC, hparameters, caches.

``copied_*`` reproduce the two slips of the widely shared solutions: the crop
``da_prev_pad[pad:-pad, pad:-pad, :]`` (empty when pad = 0) and the max-pool mask
``x == np.max(x)`` (every tied maximum gets the gradient).
"""

from __future__ import annotations

import numpy as np


def zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=0)


def conv_forward(A_prev, W, b, hparameters):
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, f, n_C_prev, n_C = W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    n_H = int((n_H_prev - f + 2 * pad) / stride) + 1
    n_W = int((n_W_prev - f + 2 * pad) / stride) + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    A_prev_pad = zero_pad(A_prev, pad)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    a_slice = A_prev_pad[i, vs : vs + f, hs : hs + f, :]
                    Z[i, h, w, c] = np.sum(a_slice * W[:, :, :, c]) + float(b[0, 0, 0, c])
    return Z, (A_prev, W, b, hparameters)


def make_conv_backward(bug=None):
    """conv_backward(dZ, cache); bug None (correct), "copied" ([pad:-pad]), "stride", "flip", "db_mean"."""

    def conv_backward(dZ, cache):
        (A_prev, W, b, hparameters) = cache
        m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
        f, f, n_C_prev, n_C = W.shape
        stride, pad = hparameters["stride"], hparameters["pad"]
        m, n_H, n_W, n_C = dZ.shape
        dA_prev = np.zeros(A_prev.shape)
        dW = np.zeros(W.shape)
        db = np.zeros((1, 1, 1, n_C))
        A_prev_pad = zero_pad(A_prev, pad)
        dA_prev_pad = zero_pad(dA_prev, pad)
        kern = W[::-1, ::-1] if bug == "flip" else W
        if bug == "channel":  # W[:, :, c, :] read as if it were W[:, :, :, c]
            kern = np.swapaxes(W, 2, 3)
        for i in range(m):
            a_prev_pad = A_prev_pad[i]
            da_prev_pad = dA_prev_pad[i]
            for h in range(n_H):
                for w in range(n_W):
                    for c in range(n_C):
                        s = 1 if bug == "stride" else stride
                        vs, hs = h * s, w * s
                        a_slice = a_prev_pad[vs : vs + f, hs : hs + f, :]
                        da_prev_pad[vs : vs + f, hs : hs + f, :] += kern[:, :, :, c] * dZ[i, h, w, c]
                        dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                        db[:, :, :, c] += dZ[i, h, w, c]
            if bug == "copied":
                dA_prev[i, :, :, :] = da_prev_pad[pad:-pad, pad:-pad, :]
            else:
                dA_prev[i, :, :, :] = da_prev_pad[pad : pad + n_H_prev, pad : pad + n_W_prev, :]
        if bug == "db_mean":
            db /= m
        return dA_prev, dW, db

    return conv_backward


def pool_forward(A_prev, hparameters, mode="max"):
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f, stride = hparameters["f"], hparameters["stride"]
    n_H, n_W = int(1 + (n_H_prev - f) / stride), int(1 + (n_W_prev - f) / stride)
    A = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            sl = A_prev[:, h * stride : h * stride + f, w * stride : w * stride + f, :]
            A[:, h, w, :] = sl.max(axis=(1, 2)) if mode == "max" else sl.mean(axis=(1, 2))
    return A, (A_prev, hparameters)


def create_mask_from_window(x):
    mask = np.zeros(x.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(x), x.shape)] = True
    return mask


def copied_create_mask_from_window(x):
    return x == np.max(x)


def distribute_value(dz, shape):
    (n_H, n_W) = shape
    return np.ones(shape) * dz / (n_H * n_W)


def make_pool_backward(bug=None):
    """pool_backward(dA, cache, mode); bug None, "copied" (tie mask), "no_divide", "assign"."""

    def pool_backward(dA, cache, mode="max"):
        (A_prev, hparameters) = cache
        stride, f = hparameters["stride"], hparameters["f"]
        m, n_H, n_W, n_C = dA.shape
        dA_prev = np.zeros(A_prev.shape)
        for i in range(m):
            a_prev = A_prev[i]
            for h in range(n_H):
                for w in range(n_W):
                    for c in range(n_C):
                        vs, hs = h * stride, w * stride
                        if mode == "max":
                            sl = a_prev[vs : vs + f, hs : hs + f, c]
                            mask = (
                                copied_create_mask_from_window if bug == "copied" else create_mask_from_window
                            )(sl)
                            val = mask * dA[i, h, w, c]
                        else:
                            val = distribute_value(dA[i, h, w, c], (f, f))
                            if bug == "no_divide":
                                val = val * f * f
                        if bug == "assign":
                            dA_prev[i, vs : vs + f, hs : hs + f, c] = val
                        else:
                            dA_prev[i, vs : vs + f, hs : hs + f, c] += val
        return dA_prev

    return pool_backward
