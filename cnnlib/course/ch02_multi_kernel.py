"""Notebook 02, many kernels and channels: channel heatmaps, the δ-spike explorer, checkers.

Used by notebooks/02_multi_kernel.ipynb.
"""

from __future__ import annotations

import functools
import itertools
import sys

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import conv
from ..conv import conv2d_backward
from .draw import SIGNED_CMAP, fix_layout, side_colorbar, symmetric_limit
from .explore import explorer_figures
from .grading import WrongAttempt, call_once, check, check_naming, forbid_calls


def delta_spike_explorer(x, w):
    """Notebook 02's explorer: δ with a single 1 at (d, i, j), and the gradients it produces.

    Three panels: δ[d] with its one non-zero entry; ∂E/∂w[d, c] for every input
    channel c side by side (the window of x[c] that output (i, j) read); ∂E/∂x[c] for
    every c side by side (the slice w[d, c] stamped on that window). The gradient
    panels share one symmetric colour scale. Stride 1, no padding, one image.

    Parameters
    ----------
    x : ndarray of shape (C, H, W)
    w : ndarray of shape (D, C, kh, kw)

    Returns
    -------
    fig : matplotlib Figure
    update : callable(kernel, row, col)
        Moves the 1 to kernel d = kernel, output position (i, j) = (row, col) (clamped
        to the valid range) and redraws with ``set_data`` / ``set_clim``; returns the
        dict {"kernel": d, "row": i, "col": j} it drew.

    Notes
    -----
    ∂E/∂w[d', c] = x[c] ★ δ[d'] is the window x[c, i:i+kh, j:j+kw] for d' = d and zero
    for every other kernel; ∂E/∂x[c] = Σ_d' pad(δ[d']) ★ rot180(w[d', c]) is w[d, c]
    placed at rows i..i+kh−1, columns j..j+kw−1. The channels are tiled into one
    image per panel (NaN columns between them) because every extra Axes with its
    tick labels costs more redraw time than the pixels do.
    Derived in notebooks/02_multi_kernel.ipynb.
    """

    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    (C, H, W), (D, _, kh, kw) = x.shape, w.shape
    Ho, Wo = H - kh + 1, W - kw + 1

    def tile(maps):  # (C, h, w) -> (h, C·w + C − 1) with NaN columns between the channels
        h, wd = maps.shape[1:]
        out = np.full((h, C * (wd + 1) - 1), np.nan)
        for c in range(C):
            out[:, c * (wd + 1) : c * (wd + 1) + wd] = maps[c]
        return out

    cmap = plt.get_cmap(SIGNED_CMAP).with_extremes(bad="0.85")
    # 10.8 in: inside the notebook column (1,100 px), so the text is not scaled down
    # as tall as the panels need: their widths fix their heights (square cells)
    fig, axes = plt.subplots(1, 3, figsize=(10.8, 3.4), width_ratios=[Wo, C * (kw + 1), C * (W + 1)])
    im_delta = axes[0].imshow(np.zeros((Ho, Wo)), cmap=cmap, vmin=-1, vmax=1)
    side_colorbar(im_delta, axes[0], label="δ").set_ticks([-1, 0, 1])
    im_dw = axes[1].imshow(tile(np.zeros((C, kh, kw))), cmap=cmap)
    im_dx = axes[2].imshow(tile(np.zeros((C, H, W))), cmap=cmap)
    cb = side_colorbar(im_dx, axes[2], label="∂E/∂w, ∂E/∂x (shared)")
    cb.locator = MaxNLocator(nbins=4)
    axes[0].set_xlabel("output column j")
    axes[0].set_ylabel("output row i")
    axes[1].set_xlabel("kernel column n, per channel c")
    axes[1].set_ylabel("kernel row m")
    axes[2].set_xlabel("input column v, per channel c")
    axes[2].set_ylabel("input row u")
    for ax, wd in ((axes[1], kw), (axes[2], W)):
        ax.set_xticks([c * (wd + 1) + (wd - 1) / 2 for c in range(C)], [f"c = {c}" for c in range(C)])
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    axes[0].xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    suptitle = fig.suptitle("")
    fix_layout(fig)

    def update(kernel, row, col):
        d, i, j = (
            min(max(int(kernel), 0), D - 1),
            min(max(int(row), 0), Ho - 1),
            min(max(int(col), 0), Wo - 1),
        )
        delta = np.zeros((1, D, Ho, Wo))
        delta[0, d, i, j] = 1.0
        dx, dw, _ = conv2d_backward(delta, x[None], w)
        im_delta.set_data(delta[0, d])
        axes[0].set_title(f"δ[{d}]: 1 at ({i}, {j})", fontsize=10)
        lim = symmetric_limit(dw[d], dx[0])
        im_dw.set_data(tile(dw[d]))
        im_dw.set_clim(-lim, lim)
        axes[1].set_title(f"∂E/∂w[{d}, c] =\nx[c, {i}:{i + kh}, {j}:{j + kw}]", fontsize=10)
        im_dx.set_data(tile(dx[0]))
        im_dx.set_clim(-lim, lim)
        where = f"rows {i}..{i + kh - 1}, columns {j}..{j + kw - 1}"
        axes[2].set_title(f"∂E/∂x[c]: w[{d}, c] stamped at\n{where}", fontsize=10)
        suptitle.set_text(f"δ = 1 at kernel d = {d}, output ({i}, {j}); the other kernels' ∂E/∂w are 0")
        return {"kernel": d, "row": i, "col": j}

    return fig, update


def _spike_explorer():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 8, 8)).round(1) + 0.0, rng.standard_normal((3, 2, 3, 3)).round(1) + 0.0
    return delta_spike_explorer(x, w)


# every figure of notebook 02, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = explorer_figures(
    "delta spike explorer",
    _spike_explorer,
    dict(kernel=1, row=2, col=3),
    kernel=(0, 2),
    row=(0, 5),
    col=(0, 5),
)


def _multi_kernel_cases(seed, kinds):
    """One image's (x, w, δ) with C input channels and D kernels; C ≠ D in most cases."""
    rng = np.random.default_rng(seed)
    cases = []
    for C, D, H, W, kh, kw in [
        (1, 2, 3, 3, 2, 2),
        (3, 2, 5, 4, 3, 2),
        (2, 4, 4, 6, 1, 3),
        (3, 3, 4, 4, 2, 3),
    ]:
        x = rng.standard_normal((C, H, W))
        w = rng.standard_normal((D, C, kh, kw))
        delta = rng.standard_normal((D, H - kh + 1, W - kw + 1))
        cases.append({"x": x, "w": w, "delta": delta})
    return [tuple(c[k] for k in kinds) for c in cases]


def _multi_dx_expected(delta, w):
    (Ho, Wo), (C, kh, kw) = delta.shape[1:], w.shape[1:]
    x = np.zeros((1, C, Ho + kh - 1, Wo + kw - 1))  # the values of x do not enter ∂E/∂x
    return conv.conv2d_backward(delta[None], x, w)[0][0]


# Exercise 1's one forward call, ∂E/∂x = conv2d_forward(δ, bank, padding=k − 1), and the ways of
# getting its kernel bank (C, D, kh, kw), bank[c, d] = rot180(w[d, c]), or its padding wrong
_BANK_FLIPS = {  # how the slices are turned: (ids, w -> w turned)
    "rot180": ((), lambda w: w[:, :, ::-1, ::-1]),
    "none": (("flip",), lambda w: w),
    "channel-axes": (("flip",), lambda w: w[::-1, ::-1]),  # [::-1, ::-1] of a 2-D kernel, on the 4-D w
    "rows": (("flip",), lambda w: w[:, :, ::-1]),
}
_BANK_ORDERS = {  # how (D, C) becomes (C, D)
    "transpose": ((), lambda w: w.transpose(1, 0, 2, 3)),
    "none": (("channel",), lambda w: w),
    "reshape": (("channel",), lambda w: w.reshape(w.shape[1], w.shape[0], *w.shape[2:])),
}
_DELTA_PADDINGS = {  # zeros around δ: (ids, (kh, kw) -> padding)
    "k-1": ((), lambda kh, kw: (kh - 1, kw - 1)),
    "kh-1": (("height-width",), lambda kh, kw: kh - 1),
    "kw-1": (("height-width",), lambda kh, kw: kw - 1),
    "none": (("padding",), lambda kh, kw: 0),
}
_ONE_CALL_WORDS = {
    "channel": "channel: the forward's bank is (kernels, input channels, kh, kw); here the kernels make "
    "the C maps of ∂E/∂x and the input channels are the D maps of δ, so bank[c, d] comes from w[d, c]: "
    "the first two axes of w change places (reshape keeps the memory order and pairs the wrong slices).",
    "flip": "flip: every 2-D slice w[d, c] is turned by 180° in its own axes m and n (section 2's "
    "rot180); on the 4-D w, [::-1, ::-1] reverses the order of the kernels and channels instead.",
    "height-width": "height-width: δ needs k_h − 1 zero rows and k_w − 1 zero columns on each side "
    "(section 2's pad); one amount was used for both.",
    "padding": "padding: δ must be padded by k − 1 on every side, as in section 2's full correlation; "
    "without it the result is smaller than x.",
}


def _one_call_dx(delta, w, flip="rot180", order="transpose", padding="k-1"):
    """Exercise 1's single forward call, its kernel bank built and δ padded as the options say."""
    bank = _BANK_ORDERS[order][1](_BANK_FLIPS[flip][1](w))
    amount = _DELTA_PADDINGS[padding][1](*w.shape[2:])
    return conv.conv2d_forward(delta[None], bank, padding=amount)[0]


def _one_call_attempts():
    """Every mix of a wrong flip, bank order and padding, the fewest bugs first (check_naming's order)."""
    attempts = []
    for flip, order, padding in itertools.product(_BANK_FLIPS, _BANK_ORDERS, _DELTA_PADDINGS):
        ids = _BANK_FLIPS[flip][0] + _BANK_ORDERS[order][0] + _DELTA_PADDINGS[padding][0]
        if ids:
            answer = functools.partial(_one_call_dx, flip=flip, order=order, padding=padding)
            attempts.append(WrongAttempt(ids, tuple(_ONE_CALL_WORDS[i] for i in ids), answer))
    return sorted(attempts, key=lambda a: len(a.bug))


def _one_call_rules():
    """The exercise's point: ONE call of conv2d_forward, no library backward."""
    names = ("cnnlib", "cnnlib.conv", "cnnlib.conv_transpose", "cnnlib.reference", "cnnlib.reference.conv")
    modules = [sys.modules[m] for m in names]
    forward = ("conv2d_forward", "conv2d_forward_with_cache")
    answers = ("conv2d_backward", "conv2d_backward_input")
    answers += ("conv_transpose2d_forward", "conv_transpose2d_backward")
    forwards = [(m, f) for m in modules for f in forward if hasattr(m, f)]
    backwards = [(m, f) for m in modules for f in answers if hasattr(m, f)]
    return [
        (
            "one-call",
            "one-call: the exercise computes ∂E/∂x with exactly ONE call of cl.conv2d_forward, on all D "
            "maps of δ at once; a loop of calls (or none) is section 3's route, not this one.",
            call_once(forwards),
        ),
        (
            "library-backward",
            "library-backward: you called a backward (or transposed) convolution of the library, which is "
            "the answer itself: build ∂E/∂x from the one forward call.",
            forbid_calls(backwards),
        ),
    ]


def check_multi_kernel_dx(fn, seed=0, diagnose=True):
    """Exercise (find the bugs): fn(delta, w) -> ∂E/∂x of a layer, with ONE call of conv2d_forward.

    δ (D, Ho, Wo), w (D, C, kh, kw) -> ∂E/∂x (C, H, W) with H = Ho + kh − 1, one image.
    Expected: ∂E/∂x[c] = Σ_d pad(δ[d], k − 1) ★ rot180(w[d, c]), which is the forward pass
    of a layer with input pad(δ) (D channels) and the bank (C, D, kh, kw), bank[c, d] =
    rot180(w[d, c]). The rules (enforced): exactly one call of conv2d_forward per case, no
    backward or transposed convolution of the library. Names "channel" (bank not
    transposed, or reshaped), "flip" (no flip, or [::-1, ::-1] on the 4-D w), "height-width"
    and "padding" (δ padded wrongly); ``diagnose=False`` names none.
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    cases = _multi_kernel_cases(seed, ("delta", "w"))
    attempts, rules = _one_call_attempts(), _one_call_rules()
    return check_naming(fn, _multi_dx_expected, cases, "dE/dx", attempts, rules=rules, diagnose=diagnose)


def _pointwise_cases(seed):
    """One image's (x, δ) for a 1×1 convolution: C input channels, D kernels, H×W positions."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((C, H, W)), rng.standard_normal((D, H, W)))
        for C, D, H, W in [(3, 2, 4, 4), (2, 5, 3, 6), (4, 4, 2, 3), (1, 3, 5, 2)]
    ]


def _pointwise_dw_expected(x, delta):
    w = np.zeros((delta.shape[0], x.shape[0], 1, 1))  # the values of w do not enter ∂E/∂w
    return conv2d_backward(delta[None], x[None], w)[1]


_POINTWISE_ATTEMPTS = [
    WrongAttempt(
        "product-of-sums",
        "product-of-sums: (Σ δ[d]) · (Σ x[c]) multiplies two sums; the chain rule sums one product per "
        "path from w[d, c] to E (notebook 01, section 3).",
        lambda x, d: np.einsum("d,c->dc", d.sum(axis=(1, 2)), x.sum(axis=(1, 2)))[:, :, None, None],
    ),
    WrongAttempt(
        "channel",
        "channel: your answer is indexed [c, d]; w of a layer is (D, C, 1, 1), the filter index d first.",
        lambda x, d: np.einsum("chw,dhw->cd", x, d)[:, :, None, None],
    ),
    WrongAttempt(
        "shape",
        "shape: the right numbers as a (D, C) matrix; the layer's w, and so ∂E/∂w, has shape (D, C, 1, 1).",
        lambda x, d: np.einsum("chw,dhw->dc", x, d),
    ),
    WrongAttempt(
        "divisor",
        "divisor: you averaged over the H·W positions; every position used the same w[d, c], so their "
        "contributions add up (a sum, not a mean).",
        lambda x, d: np.einsum("chw,dhw->dc", x, d)[:, :, None, None] / (x.shape[1] * x.shape[2]),
    ),
    WrongAttempt(
        "channel-sum",
        "channel: entry [d, c] must pair δ[d] with channel c alone; yours sums x over every channel.",
        lambda x, d: np.repeat(np.einsum("hw,dhw->d", x.sum(0), d)[:, None], x.shape[0], 1)[:, :, None, None],
    ),
]


def check_pointwise_dw(fn, seed=0):
    """Exercise (derive): fn(x, delta) -> ∂E/∂w (D, C, 1, 1) of a 1×1 convolution, one image.

    x (C, H, W), δ (D, H, W). Expected: ∂E/∂w[d, c, 0, 0] = Σ_ij δ[d, i, j]·x[c, i, j], the
    matrix product of δ as (D, H·W) with x as (C, H·W) transposed. Names "product-of-sums", "channel",
    "shape", "divisor", "channel-sum". Derived in notebooks/02_multi_kernel.ipynb.
    """
    return check(fn, _pointwise_dw_expected, _pointwise_cases(seed), "1×1 dE/dw", _POINTWISE_ATTEMPTS)
