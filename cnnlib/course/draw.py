"""Drawing shared by the chapters: labelled heatmaps, kernel grids, loss curves.

The cell labels are in ``cell_labels``, the kernel-sliding picture in ``sliding`` (both
reachable from here too, as ``draw.annotate_cells`` and ``draw.sliding_picture``).

Conventions (every notebook): signed maps (δ, gradients) use a diverging colormap with
symmetric limits (vmin = −vmax) so that white means zero; every axis is labelled, every
image has a colour bar, and titles carry the array's shape.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .cell_labels import annotate_cells, is_integer_valued, text_colour  # noqa: F401  (chapters use draw.text_colour)
from .sliding import cell_axes, sliding_picture  # noqa: F401  (notebook 00 calls draw.sliding_picture)

SIGNED_CMAP = "RdBu_r"


UNSIGNED_CMAP = "viridis"


def symmetric_limit(*arrays):
    """max |a| over all arrays (1.0 if they are all zero), for vmin = −vmax colour scales."""
    m = max((float(np.max(np.abs(a))) for a in arrays if np.size(a)), default=0.0)
    return m if m > 0 else 1.0


def heatmap(
    a,
    title,
    ax=None,
    *,
    signed=True,
    annotate=None,
    vmax=None,
    xlabel="column j",
    ylabel="row i",
    cbar_label=None,
    fmt=None,
):
    """Draw a 2-D array as a labelled heatmap with a colour bar.

    Parameters
    ----------
    a : ndarray of shape (H, W)
    title : str
        The array's shape is appended, e.g. "δ  (4×4)".
    ax : matplotlib Axes or None
        None draws into a new 4x4-inch figure.
    signed : bool
        True: diverging colormap, symmetric limits (δ, gradients). False: viridis.
    annotate : bool or None
        Print each value in its cell; None means "if the array has at most 64 cells".
    vmax : float or None
        Shared colour limit (to compare panels); default max |a|.
    xlabel, ylabel, cbar_label : str
    fmt : str or None
        Format of the cell labels; None chooses one for the array (``cell_format``).

    Returns
    -------
    matplotlib.image.AxesImage
        The image, so that widgets can update it with ``set_data``.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, got shape {a.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    if signed:
        lim = symmetric_limit(a) if vmax is None else vmax
        im = ax.imshow(a, cmap=SIGNED_CMAP, vmin=-lim, vmax=lim)
    else:
        im = ax.imshow(a, cmap=UNSIGNED_CMAP, vmin=None if vmax is None else 0, vmax=vmax)
    ax.set_title(f"{title}  ({a.shape[0]}×{a.shape[1]})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    pixel_ticks(ax, *a.shape)
    if not xlabel:  # an axis without a name shows no numbers (e.g. the one row of a bias gradient)
        ax.set_xticks([])
    if not ylabel:
        ax.set_yticks([])
    cbar = side_colorbar(im, ax)
    integer_ticks(cbar, a)
    if cbar_label:
        cbar.set_label(cbar_label)
    if annotate is None:
        annotate = a.size <= 64
    if annotate:
        annotate_cells(ax, a, im, fmt)
    return im


def side_colorbar(im, ax, label=None, width_in=0.15, pad_in=0.1):
    """A colour bar right beside the image of ``ax``, exactly as tall as the image.

    It is an inset of ``ax`` (so it follows the image however the axes shrink to keep
    square cells, and ``fig.axes`` lists the panels only), ``width_in`` inches wide and
    ``pad_in`` inches right of the image.
    """
    fig = ax.figure
    rows, cols = im.get_array().shape[:2]
    box_w, box_h = (
        ax.get_position().width * fig.get_figwidth(),
        ax.get_position().height * fig.get_figheight(),
    )
    image_w = min(box_w, box_h * cols / rows)  # the image's width once the axes keep square cells
    cax = ax.inset_axes([1 + pad_in / image_w, 0, width_in / image_w, 1])
    cbar = fig.colorbar(im, cax=cax)
    if label:
        cbar.set_label(label)
    return cbar


def integer_ticks(cbar, *arrays):
    """Whole-number ticks on colour bar ``cbar`` when every array it shows is integer-valued.

    Counts and small hand examples: a tick at 2.5 names a value no cell can have.
    """
    if all(is_integer_valued(a) for a in arrays):
        cbar.locator = MaxNLocator(integer=True)
        cbar.update_ticks()
    return cbar


def pixel_ticks(ax, rows, cols, nbins=6):
    """Ticks on whole pixels only: one per row and column up to 10, else at most ``nbins`` integers."""
    for axis, n in ((ax.xaxis, cols), (ax.yaxis, rows)):
        if n <= 10:
            axis.set_ticks(range(n))
        else:
            axis.set_major_locator(MaxNLocator(nbins=nbins, integer=True))


def set_image(im, a, *, fit_axes=True):
    """Show array ``a`` in an existing image, one cell per entry centred on integer coordinates.

    What an explorer's redraw does instead of drawing a new image: ``set_data``, the extent
    that puts entry (i, j) at (j, i), and (with ``fit_axes``) axis limits that follow the
    array's size. Arrays of (h, w) or RGB (h, w, 3).
    """
    h, w = a.shape[:2]
    im.set_data(a)
    im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
    if fit_axes:
        im.axes.set_xlim(-0.5, w - 0.5)
        im.axes.set_ylim(h - 0.5, -0.5)


def fix_layout(fig, **kw):
    """Lay the figure out once (``tight_layout``) and then freeze that layout.

    ``tight_layout`` leaves a placeholder layout engine behind, which makes every later
    render (each slider move, each PNG) draw the figure twice; removing it halves redraws.
    """
    fig.tight_layout(**kw)
    fig.set_layout_engine(None)
    return fig


def heatmaps(arrays, suptitle=None, *, signed=True, shared_scale=False, annotate=None, size=3.6, **kw):
    """A row of labelled heatmaps, one per (title, 2-D array) item of ``arrays``.

    Parameters
    ----------
    arrays : dict of str -> ndarray of shape (H, W)
    suptitle : str or None
    signed : bool or list of bool (one per panel)
    shared_scale : bool
        One colour limit for all panels (compare magnitudes) instead of one each.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : list of matplotlib Axes
        The panels, in the order of ``arrays`` (their colour bars are insets of them).
    """
    items = list(arrays.items())
    fig, axes = plt.subplots(1, len(items), figsize=(size * len(items), size), squeeze=False)
    signs = signed if isinstance(signed, (list, tuple)) else [signed] * len(items)
    vmax = symmetric_limit(*(a for _, a in items)) if shared_scale else None
    for ax, (title, a), sg in zip(axes[0], items, signs, strict=True):
        heatmap(a, title, ax, signed=sg, annotate=annotate, vmax=vmax, **kw)
    if suptitle:
        fig.suptitle(suptitle)
    return fix_layout(fig), list(axes[0])


def gradient_heatmaps(delta, dw, dx, suptitle="Backward pass", annotate=None):
    """The three maps of every backward pass side by side: δ = ∂E/∂y, ∂E/∂w and ∂E/∂x.

    Each argument is a 2-D array (pick one example and channel first, e.g. dy[0, 0]).
    Axes are named by the indices the notebooks use: δ[i, j], ∂E/∂w[m, n], ∂E/∂x[u, v].

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = heatmaps({"δ = ∂E/∂y": delta, "∂E/∂w": dw, "∂E/∂x": dx}, suptitle, annotate=annotate)
    for ax, (x_label, y_label), cbar_label in zip(
        axes,
        (
            ("output column j", "output row i"),
            ("kernel column n", "kernel row m"),
            ("input column v", "input row u"),
        ),
        ("δ", "∂E/∂w", "∂E/∂x"),
        strict=True,
    ):
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.images[0].colorbar.set_label(cbar_label)
    return fix_layout(fig)


def kernel_grid(w, title="Kernels w[d, c]", *, signed=True, annotate=None, cbar_label="weight"):
    """All kernels of a (D, C, kh, kw) array: row d, column c, one shared colour scale.

    ``cbar_label`` names what the colours are: "weight" for kernels, "∂E/∂w" for a
    weight gradient.

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = np.asarray(w, dtype=float)
    if w.ndim != 4:
        raise ValueError(f"kernel_grid needs w of shape (D, C, kh, kw), got shape {w.shape}")
    D, C, kh, kw = w.shape
    fig, axes = plt.subplots(D, C, figsize=(1.9 * C + 1.2, 1.9 * D + 0.6), squeeze=False)
    lim = symmetric_limit(w)
    cmap, vmin = (SIGNED_CMAP, -lim) if signed else (UNSIGNED_CMAP, float(w.min()))
    for d in range(D):
        for c in range(C):
            ax = axes[d, c]
            im = ax.imshow(w[d, c], cmap=cmap, vmin=vmin, vmax=lim)
            if annotate or (annotate is None and kh * kw <= 9 and D * C <= 12):
                annotate_cells(ax, w[d, c], im, "{:.2f}")
            ax.set_xticks([])
            ax.set_yticks([])
            if d == D - 1:
                ax.set_xlabel(f"c = {c}")
            if c == 0:
                ax.set_ylabel(f"d = {d}")
    fig.suptitle(f"{title}  (D={D}, C={C}, {kh}×{kw})", wrap=True)
    fig.colorbar(im, ax=axes, fraction=0.046, pad=0.04, label=cbar_label)
    return fig


def loss_curve(histories, title="Training loss", ax=None, *, log=True, xlabel="step", ylabel="loss E"):
    """Plot one or several loss histories.

    Parameters
    ----------
    histories : sequence of float, dict from ``fit`` (uses "loss"), or dict label -> either
    title : str
    log : bool
        Logarithmic loss axis: a loss that falls by 10x looks like a constant drop.

    Returns
    -------
    matplotlib Axes
    """
    own_figure = ax is None
    if own_figure:
        _, ax = plt.subplots(figsize=(6, 3.5))
    if isinstance(histories, dict) and "loss" in histories:
        histories = {"train": histories["loss"]}
    if not isinstance(histories, dict):
        histories = {None: histories}
    for label, h in histories.items():
        h = h["loss"] if isinstance(h, dict) else h
        ax.plot(np.arange(len(h)), h, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, wrap=True)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    ax.grid(True, which="both", alpha=0.3)
    if sum(k is not None for k in histories) > 1:  # one curve needs no legend: the title names it
        ax.legend()
    if own_figure:  # keep the labels inside the figure however it is rendered
        fix_layout(ax.figure)
    return ax
