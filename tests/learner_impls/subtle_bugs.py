"""Look-alikes of the bugs the checker once left unnamed or misnamed (issue 23).

- ``rot180_channel_axes``: the full-correlation backward with rot180 taken over the
  channel axes of an NCHW kernel (``np.rot90(w, 2, axes=(0, 1))``).
- ``forward_wo_from_h``: a forward computing the output width from the height.
- ``make_pool_backward_width_bound``: a deeplearning.ai max-pool backward that stops a row
  when the window's column end passes the *height*.
- ``make_pool_backward_corner``: a pool backward that reads dA at the input window's corner
  (h·s, w·s) instead of at (h, w).
- ``zeros_backward``: an unfinished function returning zeros of the right shapes.
- ``transposed_dx_backward``: dx returned with its height and width swapped (a wrong shape).
- ``empty_backward``: dx started from an uninitialised array and filled with = where windows
  reach; the rest keeps what np.empty held (NaN here, so that the test is deterministic).
- ``make_buffer_backward``: returns views of one module-level buffer reused by every call.
"""

from __future__ import annotations

import numpy as np


def _dilate(dy, s):
    N, D, Ho, Wo = dy.shape
    out = np.zeros((N, D, (Ho - 1) * s + 1, (Wo - 1) * s + 1))
    out[:, :, ::s, ::s] = dy
    return out


def _correlate(a, k):
    """Valid cross-correlation of a (N, D, H, W) with k (D, C, kh, kw) summed over D -> (N, C, .., ..)."""
    kh, kw = k.shape[2:]
    Ho, Wo = a.shape[2] - kh + 1, a.shape[3] - kw + 1
    out = np.zeros((a.shape[0], k.shape[1], Ho, Wo))
    for m in range(kh):
        for n in range(kw):
            out += np.einsum("ndhw,dc->nchw", a[:, :, m : m + Ho, n : n + Wo], k[:, :, m, n])
    return out


def rot180_channel_axes(dy, x, w, stride, padding):
    """dx = full correlation of the dilated δ with "rot180(w)", rotated over the wrong axes."""
    s, p = stride, padding
    N, C, H, W = x.shape
    kh, kw = w.shape[2:]
    d = _dilate(dy, s)
    d = np.pad(d, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    w_rot = np.rot90(w, 2, axes=(0, 1))  # BUG: axes (0, 1) are D and C in NCHW; the spatial ones are (2, 3)
    dxp = _correlate(d, w_rot)
    Hp, Wp = H + 2 * p, W + 2 * p
    full = np.zeros((N, C, Hp, Wp))
    full[:, :, : dxp.shape[2], : dxp.shape[3]] = dxp[:, :, :Hp, :Wp]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dw = np.zeros_like(w)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dw += np.einsum("nd,nchw->dchw", dy[:, :, i, j], xp[:, :, i * s : i * s + kh, j * s : j * s + kw])
    return full[:, :, p : p + H, p : p + W], dw, dy.sum(axis=(0, 2, 3))


def forward_wo_from_h(x, w, b, stride, padding):
    s, p = stride, padding
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    Ho = (H + 2 * p - kh) // s + 1
    Wo = (H + 2 * p - kw) // s + 1  # BUG: W
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p + 8, p + 8)))  # room for the too-wide output
    y = np.zeros((N, D, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = xp[:, :, i * s : i * s + kh, 8 + j * s : 8 + j * s + kw]
            y[:, :, i, j] = np.einsum("nchw,dchw->nd", win, w) + b
    return y


def make_pool_backward_width_bound(bug="width"):
    """pool_backward(dA, cache, mode) (NHWC); bug "width": the column end is compared with n_H."""

    def pool_backward(dA, cache, mode="max"):
        A_prev, hparameters = cache
        f, stride = hparameters["f"], hparameters["stride"]
        m, n_H_prev, n_W_prev, n_C = A_prev.shape
        dA_prev = np.zeros(A_prev.shape)
        for i in range(m):
            for h in range(dA.shape[1]):
                for w in range(dA.shape[2]):
                    hs = w * stride
                    he = hs + f
                    if bug == "width" and he > n_H_prev:  # BUG: n_W_prev
                        break
                    vs = h * stride
                    for c in range(n_C):
                        win = A_prev[i, vs : vs + f, hs:he, c]
                        mask = np.zeros_like(win)
                        mask[np.unravel_index(np.argmax(win), win.shape)] = 1
                        dA_prev[i, vs : vs + f, hs:he, c] += mask * dA[i, h, w, c]
        return dA_prev

    return pool_backward


def make_pool_backward_corner():
    """pool_backward that reads dA at the window's input corner (vert_start, horiz_start)."""

    def pool_backward(dA, cache, mode="max"):
        A_prev, hparameters = cache
        f, stride = hparameters["f"], hparameters["stride"]
        dA_prev = np.zeros(A_prev.shape)
        for h in range(dA.shape[1]):
            for w in range(dA.shape[2]):
                vs, hs = h * stride, w * stride
                win = A_prev[:, vs : vs + f, hs : hs + f, :]
                if mode == "max":
                    share = (win == win.max(axis=(1, 2), keepdims=True)).astype(float)
                else:
                    share = np.full(win.shape, 1.0 / (f * f))
                dA_prev[:, vs : vs + f, hs : hs + f, :] += share * dA[:, vs : vs + 1, hs : hs + 1, :]  # BUG
        return dA_prev

    return pool_backward


def zeros_backward(dy, x, w, stride, padding):
    """Not written yet: zeros of the right shapes."""
    return np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[0])


def transposed_dx_backward(dy, x, w, stride, padding):
    """Right values, but dx built as (N, C, W, H)."""
    from .refusing import _windows_backward

    dx, dw, db = _windows_backward(dy, x, w, stride, padding)
    return dx.transpose(0, 1, 3, 2).copy(), dw, db


def _uninitialised(shape):
    """What np.empty may hold: here NaN everywhere, so that the test does not depend on memory."""
    return np.full(shape, np.nan)


def empty_backward(dy, x, w, stride, padding):
    """dx from np.empty, filled with = window by window (stride = kernel cases are then right)."""
    s, p = stride, padding
    N, C, H, W = x.shape
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp = _uninitialised(xp.shape)
    dxp[:, :, : (dy.shape[2] - 1) * s + kh, : (dy.shape[3] - 1) * s + kw] = 0.0
    dw = np.zeros_like(w)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dw += np.einsum("nd,nchw->dchw", dy[:, :, i, j], xp[:, :, i * s : i * s + kh, j * s : j * s + kw])
            dxp[:, :, i * s : i * s + kh, j * s : j * s + kw] += np.einsum("nd,dchw->nchw", dy[:, :, i, j], w)
    return dxp[:, :, p : p + H, p : p + W], dw, dy.sum(axis=(0, 2, 3))


_BUFFER = np.zeros(4096)


def buffer_backward(dy, x, w, stride, padding):
    """Right values, returned as views of one module-level buffer that every call overwrites."""
    from .refusing import _windows_backward

    dx, dw, db = _windows_backward(dy, x, w, stride, padding)
    out = []
    start = 0
    for a in (dx, dw, db):
        view = _BUFFER[start : start + a.size].reshape(a.shape)
        view[...] = a
        out.append(view)
        start += a.size
    return tuple(out)
