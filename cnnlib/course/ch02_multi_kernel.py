"""Notebook 02, many kernels and channels: channel heatmaps, the δ-spike explorer, checkers.

Used by notebooks/02_multi_kernel.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import conv
from ..conv import conv2d_backward, pad, rot180
from ..reference import correlate2d
from .draw import SIGNED_CMAP, fix_layout, side_colorbar, symmetric_limit
from .explore import explorer_figures
from .grading import WrongAttempt, check, combinations


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


def _planted_layer_dx(delta, w, accumulate_bug=False, flip_bug=False, channel_bug=False):
    """The exercise's buggy sum over kernels, with any of its bugs switched on."""
    D, C, kh, kw = w.shape
    dx = np.zeros((C, delta.shape[1] + kh - 1, delta.shape[2] + kw - 1))
    for c in range(C):
        for d in range(D):
            k = w[c, d] if channel_bug else w[d, c]
            term = correlate2d(pad(delta[d], (kh - 1, kw - 1)), k if flip_bug else rot180(k))
            if accumulate_bug:
                dx[c] = term
            else:
                dx[c] += term
    return dx


_LAYER_DX_BUGS = {
    "accumulate_bug": ("accumulate", "accumulate: dx[c] keeps only the last kernel's term (= instead of +=); "
                       "every kernel d that read channel c adds its full correlation: "
                       "∂E/∂x[c] = Σ_d pad(δ[d], k - 1) ★ rot180(w[d, c])."),
    "flip_bug": ("flip", "flip: each term needs the kernel slice turned by 180°, rot180(w[d, c]), as in "
                 "notebook 01."),
    "channel_bug": ("channel", "channel: w[c, d] is used for w[d, c]; the filter index d comes first in w "
                    "(D, C, kh, kw)."),
}  # fmt: skip


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


def check_multi_kernel_dx(fn, seed=0, diagnose=True):
    """Exercise: fn(delta, w) -> ∂E/∂x of a layer with C channels and D kernels, one image.

    δ (D, Ho, Wo), w (D, C, kh, kw) -> ∂E/∂x (C, H, W) with H = Ho + kh − 1.
    Expected: ∂E/∂x[c] = Σ_d pad(δ[d], k − 1) ★ rot180(w[d, c]). Names "accumulate",
    "flip" and "channel".
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    cases = _multi_kernel_cases(seed, ("delta", "w"))
    attempts = combinations(_LAYER_DX_BUGS, _planted_layer_dx)
    return check(fn, _multi_dx_expected, cases, "dE/dx", attempts, diagnose=diagnose)
