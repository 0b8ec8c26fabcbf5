"""Notebook 05, pooling and a full CNN: channel and digit grids, confusion matrix, training curves,
the pool-routing figure and the pooling / kernel-and-bias checkers.

Used by notebooks/05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..pool import avgpool2d_backward, maxpool2d_backward
from ..shapes import conv_output_size

# the exercises of section 11 live in ch05_exercises; the notebook reaches them as ch.<name>
from .ch05_exercises import (  # noqa: F401
    attempt_avgpool_ones,
    attempt_section_8,
    check_avgpool_backward,
    check_kernel_and_bias_grads,
    check_maxpool_backward,
    mystery_maxpool_backward,
)
from .ch05_training_figures import confusion_matrix, digit_grid, training_curves
from .draw import (
    SIGNED_CMAP,
    UNSIGNED_CMAP,
    fix_layout,
    heatmap,
    is_integer_valued,
    pixel_ticks,
    side_colorbar,
    symmetric_limit,
    text_colour,
)
from .explore import changes_only, explorer_figures


def channel_grid(
    rows,
    suptitle=None,
    *,
    signed=True,
    index="d",
    size=2.6,
    xlabel="column j",
    ylabel="row i",
    shared_scale=False,
):
    """A grid of heatmaps: one row per named (C, H, W) array, one column per channel.

    Parameters
    ----------
    rows : dict of str -> ndarray of shape (C, H, W)
        E.g. {"δ after the pool": (3, 12, 12), "δ routed back": (3, 24, 24)}; every
        array has the same C, the sizes may differ from row to row. The name labels
        the row (left of its first panel); keep it short (about 25 characters).
    suptitle : str or None
    signed : bool or list of bool
        Per row: diverging colormap with symmetric limits (δ, gradients) or viridis.
    index : str
        Name of the channel index in the panel titles.
    size : float
        Inches per panel.
    xlabel, ylabel : str
        Axis labels (e.g. "kernel column n" for kernels).
    shared_scale : bool
        One colour scale for every row (rows that hold the same quantity at successive
        steps: an entry keeps its colour from row to row) instead of one per row.

    Returns
    -------
    matplotlib.figure.Figure
        One colour bar per row; the channels of a row always share its scale.

    Notes
    -----
    Used to follow δ backwards through a network, one layer per row.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    items = [(name, np.asarray(a, dtype=float)) for name, a in rows.items()]
    for name, a in items:
        if a.ndim != 3:
            raise ValueError(f"channel_grid needs (C, H, W) arrays, got {name!r} with shape {a.shape}")
    C = items[0][1].shape[0]
    if any(a.shape[0] != C for _, a in items):
        raise ValueError(f"every row needs the same number of channels, got {[a.shape for _, a in items]}")
    signs = list(signed) if isinstance(signed, (list, tuple)) else [signed] * len(items)
    R = len(items)
    height = size * R + 1.0
    fig, axes = plt.subplots(R, C, figsize=(size * C + 2.2, height), squeeze=False)
    width = size * C + 2.2
    # margins in inches: row names left, each row's colour bar and its tick labels right
    fig.subplots_adjust(
        left=1.3 / width, right=1 - 0.9 / width, top=1 - 0.6 / height, bottom=0.45 / height, hspace=0.35
    )
    shared = symmetric_limit(*(a for _, a in items))
    for r, ((name, a), sg) in enumerate(zip(items, signs, strict=True)):
        lim = shared if shared_scale else symmetric_limit(a)
        for c in range(C):
            ax = axes[r, c]
            if sg:
                im = ax.imshow(a[c], cmap=SIGNED_CMAP, vmin=-lim, vmax=lim)
            else:
                im = ax.imshow(a[c], cmap=UNSIGNED_CMAP, vmin=min(0.0, float(a.min())), vmax=float(a.max()))
            ax.set_title(f"{index} = {c}  ({a.shape[1]}×{a.shape[2]})", fontsize=9)
            pixel_ticks(ax, *a.shape[1:], nbins=4)
            # tick labels on the outer panels only (those with an axis label): fewer texts, a faster figure
            bottom = r == R - 1 or a.shape[1:] != items[r + 1][1].shape[1:]
            ax.tick_params(labelsize=9, labelleft=c == 0, labelbottom=bottom)
            if c == 0:
                ax.set_ylabel(f"{name}\n{ylabel}", fontsize=9)
            if bottom:
                ax.set_xlabel(xlabel, fontsize=9)
        side_colorbar(im, axes[r, -1]).ax.tick_params(labelsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def routing_picture(x, delta, size=2, title="δ back through a pool: max pooling routes, average spreads"):
    """One map's δ sent back through max and average pooling (stride = size), side by side.

    Parameters
    ----------
    x : ndarray of shape (H, W)
        The pool's input; its values are printed in the cells.
    delta : ndarray of shape (Ho, Wo)
        δ = ∂E/∂z of the pool's output.
    size : int
        Square window, stride = size.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Four panels: x, δ, ∂E/∂x of max pooling and of average pooling; δ and the two
        gradients share one colour scale, so that routed and spread values compare.

    Notes
    -----
    Max: each window's δ to its first maximum; average: δ/size² to every pixel of the
    window. Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    x, delta = np.asarray(x, dtype=float), np.asarray(delta, dtype=float)
    dx_max = maxpool2d_backward(delta[None, None], x[None, None], size)[0, 0]
    dx_avg = avgpool2d_backward(delta[None, None], x[None, None], size)[0, 0]
    lim = symmetric_limit(delta, dx_max, dx_avg)
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.3))
    heatmap(x, "input x", axes[0], signed=False, fmt="{:g}")
    names = ("δ of the pool", "max: ∂E/∂x", "average: ∂E/∂x")
    for ax, a, name in zip(axes[1:], (delta, dx_max, dx_avg), names, strict=True):
        heatmap(a, name, ax, vmax=lim, fmt="{:g}")
    fig.suptitle(title)
    return fix_layout(fig)


def pool_routing_explorer(x, size=2, stride=None):
    """Where max and average pooling send δ back, for any window size and stride.

    Every window gets δ = 1, so ∂E/∂x counts what each input pixel receives: for max
    pooling the number of windows it wins, for average pooling Σ 1/(kh·kw) over the
    windows that contain it. Overlapping windows (stride < size) make both add up.

    Parameters
    ----------
    x : ndarray of shape (H, W)
        The input (distinct values, so that every window has one winner).
    size, stride : int
        Initial square window and stride (None: stride = size).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two panels. Left: ∂E/∂x of max pooling as colour, with the input values x printed
        in the cells and the windows of outputs (0, 0) and (0, 1) outlined. Right: ∂E/∂x
        of average pooling, its values printed.
    update : callable(size=None, stride=None)
        Redraws in place (set_data, set_clim, set_text); None keeps the previous value.
        Returns a dict of what it drew: "size", "stride", "dx_max" and "dx_avg".

    Notes
    -----
    ∂E/∂x[u, v] = Σ_{windows (i, j) that (u, v) wins} δ[i, j] (max) and
    Σ_{windows containing (u, v)} δ[i, j]/(kh·kw) (average). Rows and columns no window
    reaches (when (H − k) mod s ≠ 0) get 0. Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """

    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (H, W), got shape {x.shape}")
    H, W = x.shape
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.4))
    zeros = np.zeros_like(x)
    im_max = heatmap(zeros, "max pool: ∂E/∂x (colour), x (numbers)", axes[0], signed=False, annotate=True,
                     vmax=1, fmt="{:g}", cbar_label="windows won")  # fmt: skip
    im_avg = heatmap(zeros, "average pool: ∂E/∂x", axes[1], signed=False, annotate=True, vmax=1,
                     fmt="{:.2f}", cbar_label="Σ 1/(k·k) over its windows")  # fmt: skip
    # few colour-bar ticks: every tick label is text to draw on each redraw
    im_max.colorbar.locator = MaxNLocator(nbins=4, integer=True)
    im_avg.colorbar.locator = MaxNLocator(nbins=3)
    texts_max, texts_avg = list(axes[0].texts), list(axes[1].texts)
    for txt, v in zip(texts_max, x.ravel(), strict=True):
        txt.set_text(f"{v:g}")
    win0 = axes[0].add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="tab:red", lw=3))
    win1 = axes[0].add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="tab:orange", lw=2.5, ls="--"))
    title = fig.suptitle("")
    state = {"size": int(size), "stride": int(size if stride is None else stride)}

    def _recolour(im, texts, a):
        hi = max(float(a.max()), 1e-12)
        im.set_data(a)
        im.set_clim(0, hi)
        for txt, v in zip(texts, a.ravel(), strict=True):
            txt.set_color(text_colour(im, v))

    def update(size=None, stride=None):
        if size is not None:
            state["size"] = int(size)
        if stride is not None:
            state["stride"] = int(stride)
        k, s = min(state["size"], H, W), state["stride"]
        Ho, Wo = conv_output_size(H, k, s), conv_output_size(W, k, s)
        ones = np.ones((1, 1, Ho, Wo))
        dx_max = maxpool2d_backward(ones, x[None, None], k, s)[0, 0]
        dx_avg = avgpool2d_backward(ones, x[None, None], k, s)[0, 0]
        _recolour(im_max, texts_max, dx_max)
        _recolour(im_avg, texts_avg, dx_avg)
        # whole-number ticks when every pixel is in exactly whole windows' worth (k = 1)
        im_avg.colorbar.locator = MaxNLocator(nbins=3, integer=is_integer_valued(dx_avg))
        for txt, v in zip(texts_avg, dx_avg.ravel(), strict=True):
            txt.set_text("" if v == 0 else f"{v:.2f}")
        for patch in (win0, win1):
            patch.set_width(k)
            patch.set_height(k)
        win1.set_xy((s - 0.5, -0.5))
        win1.set_visible(Wo > 1)
        overlap = (
            "overlapping windows: contributions add up"
            if s < k
            else ("windows tile the input" if s == k else "stride > size: some pixels are in no window")
        )
        unused = (H - k) % s
        tail = f"; last {unused} row/column in no window" if unused and s <= k else ""
        title.set_text(
            f"window {k}×{k}, stride {s} → output {Ho}×{Wo}, δ = 1 for every window\n{overlap}{tail}\n"
            "red: window of z[0, 0], orange: window of z[0, 1]"
        )
        return {"size": k, "stride": s, "dx_max": dx_max, "dx_avg": dx_avg}

    update()
    fig.subplots_adjust(left=0.06, right=0.92, top=0.76, bottom=0.11, wspace=0.42)
    # a slider move redraws the maps, their numbers and colour bars, the windows and the title;
    # the axes (ticks, labels, titles) are drawn once
    spines = [spine for ax in axes for spine in ax.spines.values()]
    bars = [im_max.colorbar.ax, im_avg.colorbar.ax]
    changing = [im_max, im_avg, win0, win1, *spines, *texts_max, *texts_avg, *bars, title]  # back to front
    return fig, changes_only(update, changing)


def _fake_history(seed, epochs=3):
    rng = np.random.default_rng(seed)
    loss = np.exp(-np.linspace(0, 2, epochs)) + 0.05 * rng.random(epochs)
    return {"train_loss": loss, "train_acc": 1 - loss / 2, "val_loss": loss * 1.1, "val_acc": 1 - loss / 1.8}


def _digits():
    rng = np.random.default_rng(0)
    return rng.random((10, 1, 28, 28)), np.arange(10)


# every figure of notebook 05, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "routing picture": lambda: routing_picture(
        np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 3], [2, 6, 3, 1]]),
        np.array([[4.0, 8.0], [-4.0, 12.0]]),
    ),
    "channel grid": lambda: channel_grid(
        {name: np.random.default_rng(i).standard_normal((3, 12, 12)) for i, name in enumerate("abc")},
        "three rows",
    ),
    "digit grid": lambda: digit_grid(
        _digits()[0], _digits()[1], 10, title="The first ten training digits (28×28)"
    ),
    "confusion matrix": lambda: confusion_matrix(np.diag(np.full(10, 35)) + 1, "Confusion matrix").figure,
    "training curves": lambda: training_curves([_fake_history(0), _fake_history(1)], "Two phases"),
    **explorer_figures(
        "pool routing explorer",
        lambda: pool_routing_explorer(np.random.default_rng(0).permutation(36).reshape(6, 6) + 0.0, 3, 2),
        dict(size=3, stride=2),
        size=(1, 4),
        stride=(1, 4),
    ),
}
