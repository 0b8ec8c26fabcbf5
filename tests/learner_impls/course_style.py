"""The course's own convention (NCHW, fn(dy, x, w, stride, padding)), as learners write it.

``conv_backward_loops(..., bug=...)`` is one loop implementation with a switch per
classic bug; the correct variants are written by other routes (einsum over windows,
the full correlation with the rotated kernel) so none of them shares code with cnnlib.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def zero_pad(x, ph, pw):
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# --- convolution forward ------------------------------------------------------------------------
def conv_forward_einsum(x, w, b, stride, padding):
    """Correct: windows by sliding_window_view, one einsum."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    win = sliding_window_view(zero_pad(x, ph, pw), w.shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    return np.einsum("nchwmk,dcmk->ndhw", win, w) + b[None, :, None, None]


def conv_forward_loops(x, w, b, stride, padding, bug=None):
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    xp = zero_pad(x, ph, pw)
    y = np.zeros((N, D, Ho, Wo))
    kern = w[:, :, ::-1, ::-1] if bug == "flip" else w  # "flip": a true convolution
    for n in range(N):
        for d in range(D):
            for i in range(Ho):
                for j in range(Wo):
                    r, c = (i, j) if bug == "stride" else (i * sh, j * sw)
                    y[n, d, i, j] = np.sum(xp[n, :, r : r + kh, c : c + kw] * kern[d])
                    if bug != "no_bias":
                        y[n, d, i, j] += b[d]
    return y


# --- convolution backward -----------------------------------------------------------------------
def conv_backward_loops(dy, x, w, stride, padding, bug=None):
    """Scatter loops; ``bug`` plants one classic mistake."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    if bug == "kernel_hw":
        kh, kw = w.shape[3], w.shape[2]
    _, _, Ho, Wo = dy.shape
    xp = zero_pad(x, ph, pw)
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(D)
    for n in range(N):
        for d in range(D):
            if bug == "flip":
                kern = w[d, :, ::-1, ::-1]
            elif bug == "flip_rows":
                kern = w[d, :, ::-1, :]
            elif bug == "channel":
                kern = w[:, d]
            else:
                kern = w[d]
            for i in range(Ho):
                for j in range(Wo):
                    r, c = (i, j) if bug == "stride" else (i * sh, j * sw)
                    g = dy[n, d, i, j]
                    if bug == "assign":
                        dxp[n, :, r : r + kh, c : c + kw] = kern * g
                    else:
                        dxp[n, :, r : r + kh, c : c + kw] += kern * g
                    if bug == "channel":
                        dw[:, d] += xp[n, :, r : r + kh, c : c + kw] * g
                    else:
                        dw[d] += xp[n, :, r : r + kh, c : c + kw] * g
                    db[d] += g
    if bug == "db_mean":
        db /= N
    if bug == "db_all_mean":
        db /= N * Ho * Wo
    if bug == "no_crop":
        return dxp, dw, db
    if bug == "crop_end":
        return dxp[:, :, :H, :W], dw, db
    if bug == "crop_neg":
        return dxp[:, :, ph:-ph, pw:-pw], dw, db
    return dxp[:, :, ph : ph + H, pw : pw + W], dw, db


def conv_backward_hw_swapped(dy, x, w, stride, padding):
    """Bug: loops over the output with its height and width counts swapped."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    D, C, kh, kw = w.shape
    N, _, Wo, Ho = dy.shape  # swapped
    xp = zero_pad(x, ph, pw)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(N):
        for d in range(D):
            for i in range(Ho):
                for j in range(Wo):
                    g = dy[n, d, i, j]
                    dxp[n, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += w[d] * g
                    dw[d] += xp[n, :, i * sh : i * sh + kh, j * sw : j * sw + kw] * g
    return dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]], dw, dy.sum(axis=(0, 2, 3))


def conv_backward_einsum(dy, x, w, stride, padding):
    """Correct: dw by einsum over windows, dx scattered one kernel offset (m, n) at a time."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    Ho, Wo = dy.shape[2:]
    xp = zero_pad(x, ph, pw)
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :Ho, :Wo]
    dw = np.einsum("nchwmk,ndhw->dcmk", win, dy)
    dxp = np.zeros_like(xp)
    contrib = np.einsum("ndhw,dcmk->ncmkhw", dy, w)
    for m in range(kh):
        for k in range(kw):
            dxp[:, :, m : m + (Ho - 1) * sh + 1 : sh, k : k + (Wo - 1) * sw + 1 : sw] += contrib[:, :, m, k]
    return dxp[:, :, ph : ph + H, pw : pw + W], dw, dy.sum(axis=(0, 2, 3))


def conv_backward_rot180(dy, x, w, stride, padding):
    """Correct: dx as the full correlation of dilate(δ, s) with rot180(w), then crop."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    Ho, Wo = dy.shape[2:]
    dil = np.zeros((N, D, (Ho - 1) * sh + 1, (Wo - 1) * sw + 1))
    dil[:, :, ::sh, ::sw] = dy
    full = np.pad(dil, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    win = sliding_window_view(full, (kh, kw), axis=(2, 3))
    dxp_covered = np.einsum("ndhwmk,dcmk->nchw", win, w[:, :, ::-1, ::-1])
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))  # rows no window reaches keep 0
    dxp[:, :, : dxp_covered.shape[2], : dxp_covered.shape[3]] = dxp_covered
    xp = zero_pad(x, ph, pw)
    dw = np.zeros_like(w)
    for m in range(kh):
        for k in range(kw):
            patch = xp[:, :, m : m + (Ho - 1) * sh + 1 : sh, k : k + (Wo - 1) * sw + 1 : sw]
            dw[:, :, m, k] = np.einsum("nchw,ndhw->dc", patch, dy)
    return dxp[:, :, ph : ph + H, pw : pw + W], dw, dy.sum(axis=(0, 2, 3))


def conv_backward_float32(dy, x, w, stride, padding):
    """Correct, in float32 throughout."""
    f = np.float32
    dx, dw, db = conv_backward_einsum(dy.astype(f), x.astype(f), w.astype(f), stride, padding)
    return dx.astype(f), dw.astype(f), db.astype(f)


Grads = namedtuple("Grads", "dx dw db")


def conv_backward_namedtuple(dy, x, w, stride, padding):
    """Correct, returning a namedtuple."""
    return Grads(*conv_backward_rot180(dy, x, w, stride, padding))


# --- pooling ------------------------------------------------------------------------------------
def maxpool_backward_loops(dy, x, size, stride, bug=None):
    """Max-pool backward; the correct version takes the *last* maximum (a valid tie routing)."""
    (kh, kw), (sh, sw) = pair(size), pair(stride)
    N, C, Ho, Wo = dy.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, q = (i, j) if bug == "stride" else (i * sh, j * sw)
                    win = x[n, c, r : r + kh, q : q + kw]
                    if bug == "ties":
                        mask = win == win.max()
                    else:
                        flat = win[::-1, ::-1].argmax()  # the last maximum in row-major order
                        mask = np.zeros(win.shape, dtype=bool)
                        mask[kh - 1 - flat // kw, kw - 1 - flat % kw] = True
                    if bug == "assign":
                        dx[n, c, r : r + kh, q : q + kw] = mask * dy[n, c, i, j]
                    else:
                        dx[n, c, r : r + kh, q : q + kw] += mask * dy[n, c, i, j]
    return dx


def avgpool_backward_vectorised(dy, x, size, stride, bug=None):
    """Average-pool backward one window offset at a time; ``bug`` "square" divides by kh*kh."""
    (kh, kw), (sh, sw) = pair(size), pair(stride)
    Ho, Wo = dy.shape[2:]
    share = dy / (kh * kh if bug == "square" else kh * kw)
    dx = np.zeros_like(x)
    for m in range(kh):
        for k in range(kw):
            dx[:, :, m : m + (Ho - 1) * sh + 1 : sh, k : k + (Wo - 1) * sw + 1 : sw] += share
    return dx


def conv_backward_db_per_sample(dy, x, w, stride, padding):
    """Bug: db summed over positions but not over the batch: shape (N, D)."""
    dx, dw, _ = conv_backward_einsum(dy, x, w, stride, padding)
    return dx, dw, dy.sum(axis=(2, 3))


def conv_backward_rot180_undilated(dy, x, w, stride, padding):
    """Bug: the full-correlation route without dilating δ by the stride."""
    ph, pw = pair(padding)  # the stride is (wrongly) never used
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    full = np.pad(dy, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    win = sliding_window_view(full, (kh, kw), axis=(2, 3))
    covered = np.einsum("ndhwmk,dcmk->nchw", win, w[:, :, ::-1, ::-1])
    dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    dxp[:, :, : covered.shape[2], : covered.shape[3]] = covered
    _, dw, db = conv_backward_einsum(dy, x, w, stride, padding)
    return dxp[:, :, ph : ph + H, pw : pw + W], dw, db


def conv_backward_noisy(dy, x, w, stride, padding):
    """A bug no model knows: dx off by a fixed pattern."""
    dx, dw, db = conv_backward_einsum(dy, x, w, stride, padding)
    return dx + 0.25 * np.cos(np.arange(dx.size)).reshape(dx.shape), dw, db
