"""What a learner's function would return under each classic bug, computed with cnnlib.

Each ``*_candidates`` function yields ``(tags, prediction)`` pairs for one case: the
tags name the buggy rules applied (an empty tuple is the right rule), the prediction
is the NCHW array a function with exactly those bugs returns. Rules combine (a
flipped kernel *and* an ignored stride), so a learner with two bugs is recognised
too. The diagnosis compares the learner's wrong answers with these predictions.

Most predictions are cnnlib's own functions called with altered arguments (a
rot180'd kernel, stride 1, a differently cropped gradient); the "= instead of +="
rules and pool routings need the window loop spelled out, which is done here,
vectorised over the batch and channels.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..conv import conv2d_backward, conv2d_forward, pad, rot180
from ..pool import avgpool2d_backward

__all__ = [
    "kernel_variants",
    "dx_candidates",
    "dw_candidates",
    "db_candidates",
    "y_candidates",
    "maxpool_candidates",
    "avgpool_candidates",
    "CANDIDATES",
    "NEUTRAL",
]

# tags that are not bugs (another valid tie-break): never named, never chosen alone
NEUTRAL = {"last max"}


def kernel_variants(w, C, D):
    """The kernel as the classic indexing bugs read it: (tag, w') pairs, the right one first."""
    kh, kw = w.shape[-2:]
    out = [
        ((), w),
        (("flip",), rot180(w)),
        (("flip rows",), w[..., ::-1, :]),
        (("flip cols",), w[..., :, ::-1]),
    ]
    if kh == kw:
        out.append((("kernel transposed",), np.swapaxes(w, -1, -2)))
    if C == D:
        out.append((("channel",), np.swapaxes(w, 0, 1)))
    if C > 1 or D > 1:  # rot180 taken over the (D, C) axes: filters and channels reversed, no spatial flip
        out.append((("flip channel axes",), rot180(w[::-1, ::-1])))
    return out


def _windows(Ho, Wo, stride):
    sh, sw = stride
    return [(i, j, i * sh, j * sw) for i in range(Ho) for j in range(Wo)]


def _dxp_scatter(dy, w, padded_hw, stride, assign):
    """∂E/∂xp by the scatter loop with ``=`` instead of ``+=`` (the last write wins).

    assign "=": dxp[window] = Σ_d δ[d]·w[d] (vectorised over d, windows overwrite);
    "= per d": dxp[window] = δ[d]·w[d] inside a loop over d (only the last d survives).
    """
    N, D, Ho, Wo = dy.shape
    _, C, kh, kw = w.shape
    dxp = np.zeros((N, C, *padded_hw))
    for i, j, r, c in _windows(Ho, Wo, stride):
        if assign == "=":
            val = np.einsum("nd,dcmk->ncmk", dy[:, :, i, j], w)
        else:
            val = dy[:, -1, i, j, None, None, None] * w[-1]
        dxp[:, :, r : r + kh, c : c + kw] = val
    return dxp


def dx_candidates(a, case):
    """Predictions of ∂E/∂x (N, C, H, W) under kernel, stride, crop and accumulation bugs."""
    x, w, dy = a["x"], a["w"], a["dy"]
    (N, C, H, W), D = x.shape, w.shape[0]
    (ph, pw), (Ho, Wo), (kh, kw) = case.padding, case.out_hw, w.shape[-2:]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    crops = [((), (ph, pw))]
    if ph or pw:  # the wrong-side crops coincide with the right one at p = 0
        crops += [(("crop end",), (0, 0)), (("crop start",), (2 * ph, 2 * pw))]
    for (ktag, wk), stag in itertools.product(kernel_variants(w, C, D), [(), ("stride",)]):
        for atag in [(), ("=",), ("= per d",)]:
            if atag and ktag:  # one loop bug at a time keeps the search small
                continue
            stride = case.stride if not stag else (1, 1)
            if atag:
                dxp = _dxp_scatter(dy, wk, (Hp, Wp), stride, atag[0])
            elif not stag:
                dxp = conv2d_backward(dy, np.zeros((N, C, Hp, Wp)), wk, stride, 0)[0]
            else:  # windows at i + m: the δ-placement of stride 1, in the top-left corner
                part = conv2d_backward(dy, np.zeros((N, C, Ho + kh - 1, Wo + kw - 1)), wk, 1, 0)[0]
                dxp = np.zeros((N, C, Hp, Wp))
                dxp[:, :, : part.shape[2], : part.shape[3]] = part
            for ctag, (r, c) in crops:
                dx = dxp[:, :, r : r + H, c : c + W]
                yield ktag + stag + atag + ctag, dx
                if H == W and not (ktag or stag or atag or ctag):  # right values, rows and columns swapped
                    yield ("dx transposed",), np.swapaxes(dx, -1, -2)


def dw_candidates(a, case):
    """Predictions of ∂E/∂w (D, C, kh, kw) under flip, stride, channel, batch and ``=`` bugs."""
    x, w, dy = a["x"], a["w"], a["dy"]
    (N, C, _, _), (D, _, kh, kw), (Ho, Wo) = x.shape, w.shape, case.out_hw
    xp = pad(x, case.padding)
    for stag in [(), ("stride",)]:
        if stag:
            per_n = np.stack(
                [conv2d_backward(dy[n : n + 1], xp[n : n + 1, :, : Ho + kh - 1, : Wo + kw - 1], w, 1, 0)[1]
                 for n in range(N)]
            )  # fmt: skip
        else:
            per_n = np.stack(
                [conv2d_backward(dy[n : n + 1], xp[n : n + 1], w, case.stride, 0)[1] for n in range(N)]
            )
        batches = [((), per_n.sum(0)), (("dw / N",), per_n.mean(0))]
        if N > 1:
            batches += [(("dw first sample",), per_n[0]), (("dw last sample",), per_n[-1])]
        for btag, dw in batches:
            for ttag, out in kernel_variants(dw, C, D):
                yield stag + btag + ttag, out
    # "=" in the window loop: only the last window (of the last sample) survives
    sh, sw = case.stride
    r, c = (Ho - 1) * sh, (Wo - 1) * sw
    last = xp[:, :, r : r + kh, c : c + kw]
    yield ("=",), np.einsum("nd,ncmk->dcmk", dy[:, :, -1, -1], last)
    yield ("= per sample",), np.einsum("d,cmk->dcmk", dy[-1, :, -1, -1], last[-1])


def db_candidates(a, case):
    """Predictions of ∂E/∂b (D,): the sum over n, i, j, and the ways it goes wrong."""
    dy = a["dy"]
    N, _, Ho, Wo = dy.shape
    db = dy.sum(axis=(0, 2, 3))
    yield (), db
    yield ("db / N",), db / N
    yield ("db mean",), db / (N * Ho * Wo)
    yield ("db / (Ho·Wo)",), db / (Ho * Wo)
    yield ("db first sample",), dy[0].sum(axis=(1, 2))
    yield ("db last sample",), dy[-1].sum(axis=(1, 2))
    yield ("db =",), dy[-1, :, -1, -1]


def y_candidates(a, case):
    """Predictions of the forward y (N, D, Ho, Wo) under flip, stride, channel and bias bugs."""
    x, w, b = a["x"], a["w"], a["b"]
    C, D, (Ho, Wo) = x.shape[1], w.shape[0], case.out_hw
    for (ktag, wk), stag in itertools.product(kernel_variants(w, C, D), [(), ("stride",)]):
        if stag:
            y = conv2d_forward(x, wk, None, 1, case.padding)[:, :, :Ho, :Wo]
        else:
            y = conv2d_forward(x, wk, None, case.stride, case.padding)
        for btag, bias in [((), b), (("no bias",), 0 * b), (("bias per channel",), C * b)]:
            yield ktag + stag + btag, y + bias[:, None, None]


def _pool_loop(x, dy, size, stride, route, assign, bound=None):
    """Pool backward spelled out window by window, with a routing rule and = or +=.

    bound "height": windows whose column end passes the input's height are skipped (a loop
    that compares the column offset with H); "width": the row end compared with W.
    """
    (kh, kw) = size
    N, C, Ho, Wo = dy.shape
    H, W = x.shape[2:]
    dx = np.zeros_like(x)
    for i, j, r, c in _windows(Ho, Wo, stride):
        if (bound == "height" and c + kw > H) or (bound == "width" and r + kh > W):
            continue
        win = x[:, :, r : r + kh, c : c + kw]
        if route in ("first", "last"):
            flat = win.reshape(N, C, -1)
            pick = flat.argmax(-1) if route == "first" else kh * kw - 1 - flat[..., ::-1].argmax(-1)
            mask = (np.arange(kh * kw) == pick[..., None]).reshape(win.shape).astype(float)
        elif route == "all ties":
            mask = (win == win.max(axis=(2, 3), keepdims=True)).astype(float)
        else:  # an average-pool share with this divisor
            mask = np.full(win.shape, 1.0 / route)
        val = mask * dy[:, :, i, j, None, None]
        target = dx[:, :, r : r + kh, c : c + kw]
        if assign == "+=":
            target += val
        elif assign == "=":
            target[...] = val
        else:  # "= winner": only the routed entries are written, overwriting earlier windows
            target[...] = np.where(mask != 0, val, target)
    return dx


def maxpool_candidates(a, case):
    """Predictions of the max-pool ∂E/∂x: tie routing, average routing, stride, ``=``."""
    x, dy = a["x"], a["dy"]
    kh, kw = case.size
    # the last maximum is a valid routing too: NEUTRAL, it only helps recognise other bugs
    routes = [((), "first"), (("last max",), "last"), (("all ties",), "all ties"), (("average",), kh * kw)]
    for (rtag, route), stag, (atag, assign) in itertools.product(
        routes, [(), ("stride",)], [((), "+="), (("=",), "="), (("= winner",), "= winner")]
    ):
        stride = (1, 1) if stag else case.stride
        yield rtag + stag + atag, _pool_loop(x, dy, case.size, stride, route, assign)
    yield from _bounds(x, dy, case, "first")


def avgpool_candidates(a, case):
    """Predictions of the average-pool ∂E/∂x: wrong divisor, stride, ``=``."""
    x, dy = a["x"], a["dy"]
    kh, kw = case.size
    divisors = [((), kh * kw)]
    for tag, div in [(("divide kh*kh",), kh * kh), (("divide kw*kw",), kw * kw), (("no divide",), 1)]:
        if div not in [d for _, d in divisors]:
            divisors.append((tag, div))
    for (dtag, div), stag in itertools.product(divisors, [(), ("stride",)]):
        stride = (1, 1) if stag else case.stride
        if not stag:
            yield dtag, avgpool2d_backward(dy, x, case.size, stride) * (kh * kw / div)
        else:
            yield dtag + stag, _pool_loop(x, dy, case.size, stride, div, "+=")
        yield dtag + stag + ("=",), _pool_loop(x, dy, case.size, stride, div, "=")
    yield from _bounds(x, dy, case, kh * kw)
    if x.shape[1] > 1:  # a convolution whose kernels read every channel: dx[c] sums every channel's share
        mixed = avgpool2d_backward(dy, x, case.size, case.stride).sum(axis=1, keepdims=True)
        yield ("channel mix",), np.broadcast_to(mixed, x.shape)


def _bounds(x, dy, case, route):
    """The loops bounded by the other axis's size (only where the input is not square)."""
    H, W = x.shape[2:]
    if W > H:
        yield ("bound by height",), _pool_loop(x, dy, case.size, case.stride, route, "+=", "height")
    if H > W:
        yield ("bound by width",), _pool_loop(x, dy, case.size, case.stride, route, "+=", "width")


# which generator predicts which output of which operation
CANDIDATES = {
    ("conv_backward", "dx"): dx_candidates,
    ("conv_backward", "dw"): dw_candidates,
    ("conv_backward", "db"): db_candidates,
    ("conv_forward", "y"): y_candidates,
    ("maxpool_backward", "dx"): maxpool_candidates,
    ("avgpool_backward", "dx"): avgpool_candidates,
}
