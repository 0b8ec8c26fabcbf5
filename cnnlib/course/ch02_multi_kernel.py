"""Notebook 02, many kernels and channels: channel heatmaps, the δ-spike explorer, checkers.

Used by notebooks/02_multi_kernel.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import conv
from ..conv import conv2d_backward
from .draw import SIGNED_CMAP, fix_layout, side_colorbar, symmetric_limit
from .explore import explorer_figures
from .grading import check


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


def _multi_dw_expected(x, delta):
    (C, H, W), (D, Ho, Wo) = x.shape, delta.shape
    w = np.zeros((D, C, H - Ho + 1, W - Wo + 1))  # the values of w do not enter ∂E/∂w
    return conv.conv2d_backward(delta[None], x[None], w)[1]


def _multi_dx_expected(delta, w):
    (Ho, Wo), (C, kh, kw) = delta.shape[1:], w.shape[1:]
    x = np.zeros((1, C, Ho + kh - 1, Wo + kw - 1))  # the values of x do not enter ∂E/∂x
    return conv.conv2d_backward(delta[None], x, w)[0][0]


def check_multi_kernel_dw(fn, seed=0):
    """Exercise: fn(x, delta) -> ∂E/∂w of a layer with C channels and D kernels, one image.

    x (C, H, W), δ (D, Ho, Wo) -> ∂E/∂w (D, C, kh, kw) with kh = H − Ho + 1.
    Expected: ∂E/∂w[d, c] = x[c] ★ δ[d], one 2-D cross-correlation per (d, c) pair.
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    return check(fn, _multi_dw_expected, _multi_kernel_cases(seed, ("x", "delta")), "dE/dw")


def check_multi_kernel_dx(fn, seed=0):
    """Exercise: fn(delta, w) -> ∂E/∂x of a layer with C channels and D kernels, one image.

    δ (D, Ho, Wo), w (D, C, kh, kw) -> ∂E/∂x (C, H, W) with H = Ho + kh − 1.
    Expected: ∂E/∂x[c] = Σ_d pad(δ[d], k − 1) ★ rot180(w[d, c]).
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    return check(fn, _multi_dx_expected, _multi_kernel_cases(seed, ("delta", "w")), "dE/dx")
