"""One-line figures for the notebooks: labelled heatmaps, kernel grids, loss curves and
the kernel-sliding picture.

Conventions (every notebook): signed maps (δ, gradients) use a diverging colormap with
symmetric limits (vmin = −vmax) so that white means zero; every axis is labelled, every
image has a colour bar, and titles carry the array's shape.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .model import confusion_counts  # noqa: F401  (re-exported until the toolkit moves)
from .shapes import check_padding, check_size, check_stride, conv_output_size, coverage_map  # noqa: F401

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
    fmt="{:.2g}",
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
    ax.set_xticks(range(a.shape[1]) if a.shape[1] <= 12 else ax.get_xticks()[1:-1])
    ax.set_yticks(range(a.shape[0]) if a.shape[0] <= 12 else ax.get_yticks()[1:-1])
    cbar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if cbar_label:
        cbar.set_label(cbar_label)
    if annotate is None:
        annotate = a.size <= 64
    if annotate:
        _annotate(ax, a, im, fmt)
    return im


def _annotate(ax, a, im, fmt):
    lo, hi = im.get_clim()
    for (i, j), v in np.ndenumerate(a):
        # dark text on light cells, light text on dark cells
        t = 0.5 if hi == lo else (v - lo) / (hi - lo)
        light = (t < 0.2 or t > 0.8) if im.get_cmap().name == SIGNED_CMAP else t < 0.5
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8, color="w" if light else "k")


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
    matplotlib.figure.Figure
    """
    items = list(arrays.items())
    fig, axes = plt.subplots(1, len(items), figsize=(size * len(items), size), squeeze=False)
    signs = signed if isinstance(signed, (list, tuple)) else [signed] * len(items)
    vmax = symmetric_limit(*(a for _, a in items)) if shared_scale else None
    for ax, (title, a), sg in zip(axes[0], items, signs, strict=True):
        heatmap(a, title, ax, signed=sg, annotate=annotate, vmax=vmax, **kw)
    if suptitle:
        fig.suptitle(suptitle)
    return fix_layout(fig)


def gradient_heatmaps(delta, dw, dx, suptitle="Backward pass", annotate=None):
    """The three maps of every backward pass side by side: δ = ∂E/∂y, ∂E/∂w and ∂E/∂x.

    Each argument is a 2-D array (pick one example and channel first, e.g. dy[0, 0]).
    """
    fig = heatmaps({"δ = ∂E/∂y": delta, "∂E/∂w": dw, "∂E/∂x": dx}, suptitle, annotate=annotate)
    fig.axes[1].set_xlabel("kernel column n")
    fig.axes[1].set_ylabel("kernel row m")
    return fig


def kernel_grid(w, title="Kernels w[d, c]", *, signed=True, annotate=None):
    """All kernels of a (D, C, kh, kw) weight array: row d, column c, one shared colour scale.

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
                _annotate(ax, w[d, c], im, "{:.2f}")
            ax.set_xticks([])
            ax.set_yticks([])
            if d == D - 1:
                ax.set_xlabel(f"c = {c}")
            if c == 0:
                ax.set_ylabel(f"d = {d}")
    fig.suptitle(f"{title}  (D={D}, C={C}, {kh}×{kw})", wrap=True)
    fig.colorbar(im, ax=axes, fraction=0.046, pad=0.04, label="weight")
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
    if any(k is not None for k in histories):
        ax.legend()
    if own_figure:  # keep the labels inside the figure however it is rendered
        fix_layout(ax.figure)
    return ax


def sliding_picture(H, W, kernel_size, stride=1, padding=0, out_index=(0, 0), ax=None, *, values=None):
    """The kernel-sliding picture: the padded input grid and the window of one output.

    Parameters
    ----------
    H, W : int
        Input size (before padding).
    kernel_size, stride, padding : int or pair
    out_index : (i, j)
        The output whose window is drawn (rows i·s .. i·s + kh − 1 of the padded input).
    values : ndarray of shape (H, W) or None
        Numbers to print in the input cells (e.g. a tiny worked example).

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Padding cells are hatched grey; cells no window ever reaches (when
    (H + 2p − k) mod s ≠ 0) are marked with a cross. Derived in
    notebooks/00_correlation_and_notation.ipynb.
    """
    (kh, kw), (sh, sw), (ph, pw) = (
        check_size(kernel_size, "kernel_size"),
        check_stride(stride),
        check_padding(padding),
    )
    Ho, Wo = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    i, j = out_index
    if not (0 <= i < Ho and 0 <= j < Wo):
        raise ValueError(f"out_index must lie in the {Ho}x{Wo} output, got {out_index!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    Hp, Wp = H + 2 * ph, W + 2 * pw
    used_r, used_c = (Ho - 1) * sh + kh, (Wo - 1) * sw + kw
    for r in range(Hp):
        for c in range(Wp):
            is_pad = not (ph <= r < ph + H and pw <= c < pw + W)
            ax.add_patch(
                Rectangle(
                    (c - 0.5, r - 0.5), 1, 1,
                    facecolor="0.85" if is_pad else "white", edgecolor="0.6",
                    hatch="//" if is_pad else None, lw=0.8,
                )
            )  # fmt: skip
            if r >= used_r or c >= used_c:
                ax.plot([c - 0.3, c + 0.3], [r - 0.3, r + 0.3], color="0.5", lw=0.8)
                ax.plot([c - 0.3, c + 0.3], [r + 0.3, r - 0.3], color="0.5", lw=0.8)
            elif values is not None and not is_pad:
                ax.text(c, r, f"{values[r - ph, c - pw]:g}", ha="center", va="center", fontsize=8)
    ax.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, fill=False, edgecolor="tab:red", lw=2.5))
    ax.set_xlim(-0.5, Wp - 0.5)
    ax.set_ylim(Hp - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(Wp))
    ax.set_yticks(range(Hp))
    ax.set_xlabel("column of the padded input")
    ax.set_ylabel("row of the padded input")
    ax.set_title(
        f"{H}×{W} input, k={kh}×{kw}, s={(sh, sw) if sh != sw else sh}, p={(ph, pw) if ph != pw else ph}"
        f"\noutput {Ho}×{Wo}; red: window of y[{i}, {j}]",
        fontsize=10,
    )
    return ax


# --- notebooks 00-01 helpers (add below; keep each notebook pair in its own section) ---


def correlation_vs_convolution(a, k, out_index=(0, 0)):
    """Cross-correlation a ★ k next to true convolution a ∗ k, one row each.

    Each row shows the input with the window of one output, the kernel as it lies on
    that window (k itself for ★, rot180(k) for ∗), and the valid output with that
    output outlined. Every input cell of the window is labelled "a×k" with the kernel
    entry it is multiplied by, so the flip is visible at a glance.

    Parameters
    ----------
    a : ndarray of shape (H, W)
    k : ndarray of shape (kh, kw)
    out_index : (i, j)
        The output whose window is drawn, inside the (H − kh + 1) × (W − kw + 1) output.

    Returns
    -------
    matplotlib.figure.Figure
        Six panels, row 0 for ★ and row 1 for ∗, and one colour bar per column.

    Notes
    -----
    (a ★ k)[i, j] = Σ_m Σ_n a[i + m, j + n] · k[m, n] and a ∗ k = a ★ rot180(k).
    Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    from .conv import rot180
    from .reference import convolve2d, correlate2d

    a, k = np.asarray(a, dtype=float), np.asarray(k, dtype=float)
    if a.ndim != 2 or k.ndim != 2:
        raise ValueError(f"a and k must be 2-D, got shapes {a.shape} and {k.shape}")
    outs = {"★": correlate2d(a, k), "∗": convolve2d(a, k)}
    i, j = out_index
    Ho, Wo = outs["★"].shape
    if not (0 <= i < Ho and 0 <= j < Wo):
        raise ValueError(f"out_index must lie in the {Ho}x{Wo} output, got {out_index!r}")
    kh, kw = k.shape
    laid = {"★": k, "∗": rot180(k)}
    titles = {"★": ("★ lays k on it", "a ★ k (cross-correlation)"),
              "∗": ("∗ lays rot180(k) on it", "a ∗ k (true convolution)")}  # fmt: skip
    lim_k, lim_o = symmetric_limit(k), symmetric_limit(*outs.values())
    box = {"boxstyle": "round,pad=0.15", "fc": "w", "ec": "none", "alpha": 0.8}
    # one colour bar per column: both rows share each column's scale. Fixed margins and no
    # layout engine, so that showing the figure draws it once, not twice.
    fig, axes = plt.subplots(2, 3, figsize=(11, 7))
    fig.subplots_adjust(left=0.06, right=0.97, top=0.9, bottom=0.07, wspace=0.35, hspace=0.35)
    for row, op in enumerate(("★", "∗")):
        ax0, ax1, ax2 = axes[row]
        im_a = ax0.imshow(a, cmap=UNSIGNED_CMAP)
        for m in range(kh):
            for n in range(kw):
                label = f"{a[i + m, j + n]:g}×{laid[op][m, n]:g}"
                ax0.text(j + n, i + m, label, ha="center", va="center", fontsize=8, color="k", bbox=box)
        ax0.add_patch(Rectangle((j - 0.5, i - 0.5), kw, kh, fill=False, edgecolor="tab:red", lw=2.5))
        ax0.set_title(f"input a, window of ({i}, {j})")
        im_k = ax1.imshow(laid[op], cmap=SIGNED_CMAP, vmin=-lim_k, vmax=lim_k)
        _annotate(ax1, laid[op], im_k, "{:g}")
        ax1.set_title(titles[op][0])
        im_o = ax2.imshow(outs[op], cmap=SIGNED_CMAP, vmin=-lim_o, vmax=lim_o)
        _annotate(ax2, outs[op], im_o, "{:g}")
        ax2.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red", lw=2.5))
        ax2.set_title(titles[op][1])
        panels = [(ax0, a, "column j", "row i"), (ax1, k, "kernel column n", "kernel row m"),
                  (ax2, outs[op], "column j", "row i")]  # fmt: skip
        for ax, arr, xl, yl in panels:
            ax.set_xticks(range(arr.shape[1]))
            ax.set_yticks(range(arr.shape[0]))
            ax.set_xlabel(xl)
            ax.set_ylabel(yl)
    bars = [(im_a, "input value"), (im_k, "kernel entry"), (im_o, "output value")]
    for col, (im, label) in enumerate(bars):
        fig.colorbar(im, ax=list(axes[:, col]), shrink=0.6, pad=0.03, label=label)
    fig.suptitle("Same input, same kernel: ★ slides k as it is, ∗ slides it rotated by 180°")
    return fig


# --- notebooks 02-03 helpers ---


def channel_heatmaps(a, name, index="d", suptitle=None, *, shared_scale=True, **kw):
    """One labelled heatmap per channel of a (K, H, W) array, in a row.

    Parameters
    ----------
    a : ndarray of shape (K, H, W)
        E.g. δ (D, Ho, Wo) or ∂E/∂x (C, H, W) of one example.
    name : str
        Panel titles read "{name}[{index} = k]".
    index : str
        Name of the channel index ("d" for kernels, "c" for input channels).
    shared_scale : bool
        One colour limit for all panels, so that magnitudes compare (default).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 3:
        raise ValueError(f"channel_heatmaps needs a (K, H, W) array, got shape {a.shape}")
    panels = {f"{name}[{index} = {k}]": a[k] for k in range(a.shape[0])}
    return heatmaps(panels, suptitle, shared_scale=shared_scale, **kw)


# --- notebook 04 helpers ---


def _padding_sides(padding):
    """((top, bottom), (left, right)) from an int, an (ph, pw) pair or the nested form."""
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and isinstance(padding[0], (tuple, list)):
        (top, bottom), (left, right) = padding
        return (int(top), int(bottom)), (int(left), int(right))
    ph, pw = check_padding(padding)
    return (ph, ph), (pw, pw)


def padded_gradient_heatmap(dxp, padding, ax=None, *, title="∂E/∂xp, gradient of the padded input", **kw):
    """Heatmap of ∂E/∂xp with the region that survives the crop outlined.

    Parameters
    ----------
    dxp : ndarray of shape (H + top + bottom, W + left + right)
        Gradient with respect to the zero-padded input.
    padding : int, (ph, pw) or ((top, bottom), (left, right))
        The forward padding; the outlined region is what ∂E/∂x keeps.
    ax : matplotlib Axes or None
    title : str
    **kw
        Passed to ``heatmap`` (annotate, vmax, fmt, ...).

    Returns
    -------
    matplotlib.image.AxesImage

    Notes
    -----
    ∂E/∂x[u, v] = ∂E/∂xp[u + top, v + left]: the border entries (generally non-zero)
    are the gradient of constants and are dropped. Derived in notebooks/04_padding.ipynb.
    """
    dxp = np.asarray(dxp, dtype=float)
    (top, bottom), (left, right) = _padding_sides(padding)
    H, W = dxp.shape[0] - top - bottom, dxp.shape[1] - left - right
    if H < 1 or W < 1:
        raise ValueError(f"padding {padding!r} leaves nothing of the {dxp.shape} array")
    kw.setdefault("xlabel", "column of the padded input")
    kw.setdefault("ylabel", "row of the padded input")
    im = heatmap(dxp, title, ax, **kw)
    ax = im.axes
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), W, H, fill=False, edgecolor="k", lw=2.2, ls="--",
                           label=f"kept: ∂E/∂x ({H}×{W})"))  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)
    return im


# --- notebook 05 helpers ---


def channel_grid(rows, suptitle=None, *, signed=True, index="d", size=2.6, xlabel="column j", ylabel="row i"):
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

    Returns
    -------
    matplotlib.figure.Figure
        One colour scale and one colour bar per row (so the channels of a row compare).

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
    # margins in inches (title on top, tick labels and x label below), whatever the number of rows
    fig.subplots_adjust(left=0.14, right=0.95, top=1 - 0.6 / height, bottom=0.45 / height, hspace=0.35)
    for r, ((name, a), sg) in enumerate(zip(items, signs, strict=True)):
        lim = symmetric_limit(a)
        for c in range(C):
            ax = axes[r, c]
            if sg:
                im = ax.imshow(a[c], cmap=SIGNED_CMAP, vmin=-lim, vmax=lim)
            else:
                im = ax.imshow(a[c], cmap=UNSIGNED_CMAP, vmin=min(0.0, float(a.min())), vmax=float(a.max()))
            ax.set_title(f"{index} = {c}  ({a.shape[1]}×{a.shape[2]})", fontsize=9)
            # tick labels on the outer panels only: fewer texts, a faster figure
            ax.tick_params(labelsize=7, labelleft=c == 0)
            if c == 0:
                ax.set_ylabel(f"{name}\n{ylabel}", fontsize=9)
            if r == R - 1 or a.shape[1:] != items[r + 1][1].shape[1:]:
                ax.set_xlabel(xlabel, fontsize=8)
        fig.colorbar(im, ax=list(axes[r]), fraction=0.03, pad=0.02)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def digit_grid(X, y, n=10, *, pred=None, title="Handwritten digits"):
    """The first ``n`` images of a (N, 1, H, W) batch with their labels.

    Parameters
    ----------
    X : ndarray of shape (N, 1, H, W)
        Intensities in [0, 1].
    y : ndarray of int of shape (N,)
    n : int
        How many images (one row of up to 10, then more rows).
    pred : ndarray of int of shape (N,) or None
        Predicted labels, shown next to the true ones.
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Used in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 4 or X.shape[1] != 1:
        raise ValueError(f"digit_grid needs X of shape (N, 1, H, W), got {X.shape}")
    n = min(n, len(X))
    cols = min(n, 10)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(1.05 * cols + 1.4, 1.3 * nrows + 0.9), squeeze=False)
    H, W = X.shape[2:]
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.set_visible(False)
            continue
        im = ax.imshow(X[k, 0], cmap="gray_r", vmin=0, vmax=1)
        label = f"label {y[k]}" if pred is None else f"{y[k]} → {pred[k]}"
        ax.set_title(label, fontsize=9)
    # only the first image carries axis labels and ticks (all share them)
    first = axes[0, 0]
    first.set_xticks([0, W - 1])
    first.set_yticks([0, H - 1])
    first.tick_params(labelsize=7)
    first.set_xlabel("column j", fontsize=8)
    first.set_ylabel("row i", fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.9, top=0.72, bottom=0.2, wspace=0.12, hspace=0.4)
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02, label="intensity")
    fig.suptitle(title)
    return fig


def confusion_matrix(counts, title="Confusion matrix (test set)", ax=None):
    """Draw a confusion matrix with its counts printed in the cells.

    Parameters
    ----------
    counts : ndarray of int of shape (K, K)
        From ``confusion_counts``: rows true class, columns predicted class.
    title : str
        The accuracy (trace / total) is appended.
    ax : matplotlib Axes or None

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Off-diagonal counts (the mistakes) are printed in red. Used in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    counts = np.asarray(counts)
    K = counts.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.8))
    im = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(1, int(counts.max())))
    for (t, p), v in np.ndenumerate(counts):
        if v:
            dark = v > 0.6 * counts.max()
            color = "w" if dark else ("tab:red" if t != p else "k")
            ax.text(p, t, str(v), ha="center", va="center", fontsize=8, color=color)
    acc = np.trace(counts) / max(1, counts.sum())
    ax.set_title(f"{title}: accuracy {100 * acc:.1f}%")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(range(K))
    ax.set_yticks(range(K))
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="number of test images")
    return ax


def training_curves(history, title="Training"):
    """Loss (log scale) and accuracy per epoch, train and test side by side.

    Parameters
    ----------
    history : dict of str -> list of float
        "train_loss", "test_loss", "train_acc", "test_acc", one value per epoch
        (measured on the whole set after the epoch; epoch 0 = before training).
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Used in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 3.8))
    epochs = np.arange(len(history["train_loss"]))
    for key, style in (("train", "-o"), ("test", "-s")):
        ax_l.plot(epochs, history[f"{key}_loss"], style, ms=3, label=key)
        ax_a.plot(epochs, 100 * np.asarray(history[f"{key}_acc"]), style, ms=3, label=key)
    ax_l.set_yscale("log")
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("cross-entropy loss E (log scale)")
    ax_l.set_title("loss")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_title(f"accuracy (final test: {100 * history['test_acc'][-1]:.1f}%)")
    for ax in (ax_l, ax_a):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.83, bottom=0.14, wspace=0.25)
    return fig


# --- notebook 06 helpers ---


def gradcheck_maps(analytic, numerical, title, *, extra=None, xlabel="column j", ylabel="row i", size=3.4):
    """A gradient check as a picture: analytic, numerical, and their difference.

    Parameters
    ----------
    analytic : ndarray of shape (H, W)
        The gradient a backward function returned.
    numerical : ndarray of shape (H, W)
        Central finite differences of the loss (``numerical_gradient``).
    title : str
        Figure title (e.g. the bug's name).
    extra : dict of str -> ndarray of shape (H, W), or None
        More panels drawn after the difference with the unsigned colormap (e.g. a count
        of how many windows used each pixel), to compare with the pattern of the error.
    xlabel, ylabel : str
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        Panels: analytic and numerical on one shared symmetric colour scale, then
        analytic − numerical on its own symmetric scale (white = agreement), then ``extra``.

    Notes
    -----
    The shape of the difference is the tell-tale of a bug: antisymmetric (a transposed
    or flipped kernel), shifted (padding cropped on the wrong side), confined to a corner
    (stride forgotten), isolated pixels (``=`` instead of ``+=``).
    Derived in notebooks/06_debugging_backprop.ipynb.
    """
    analytic, numerical = np.asarray(analytic, dtype=float), np.asarray(numerical, dtype=float)
    if analytic.shape != numerical.shape or analytic.ndim != 2:
        raise ValueError(
            "analytic and numerical must be 2-D arrays of one shape, "
            f"got {analytic.shape} and {numerical.shape}"
        )
    extra = dict(extra or {})
    n = 3 + len(extra)
    # flat arrays (e.g. a bias gradient of shape (1, D)) get a flatter figure, so colour bars fit
    height = size * min(1.0, max(0.5, analytic.shape[0] / analytic.shape[1] + 0.3))
    fig, axes = plt.subplots(1, n, figsize=(size * n, height))
    lim = symmetric_limit(analytic, numerical)
    # numbers in the cells only for small maps (kernels): text is what makes a figure slow to draw
    kw = {"xlabel": xlabel, "ylabel": ylabel, "annotate": analytic.size <= 16}
    heatmap(analytic, "analytic (backward)", axes[0], vmax=lim, **kw)
    heatmap(numerical, "numerical (finite diff.)", axes[1], vmax=lim, **kw)
    heatmap(analytic - numerical, "analytic − numerical", axes[2], **kw)
    for ax, (name, a) in zip(axes[3:], extra.items(), strict=True):
        heatmap(a, name, ax, signed=False, fmt="{:.0f}", **kw)
    fig.suptitle(title)
    return fix_layout(fig)


# --- notebook 07 helpers ---


_READ_RGB = (0.55, 0.75, 0.95)
_GARBAGE_RGB = (1.0, 0.8, 0.55)
_TAIL_RGB = (0.85, 0.85, 0.85)


def _cell(ax, r, c, face, text=None, *, hatch=None, edge="0.6", lw=0.8, fontsize=7):
    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor=edge, hatch=hatch, lw=lw))
    if text is not None:
        ax.text(c, r, text, ha="center", va="center", fontsize=fontsize)


def wide_row_picture(Hp, Wp, kernel_size, offset=(0, 0)):
    """How ``cnnlib.conv`` reads one kernel offset of every window as ONE contiguous slice.

    Parameters
    ----------
    Hp, Wp : int
        Size of the padded input (stride 1).
    kernel_size : int or (kh, kw)
    offset : (m, n)
        The kernel offset whose reads are drawn.

    Returns
    -------
    matplotlib.figure.Figure
        Top: the padded image, each cell labelled with its flat (row-major) index
        r·Wp + c; blue cells are read by offset (m, n) of a valid window, orange ones
        by the "wide-row" windows j ≥ Wo whose outputs are thrown away. Bottom: the
        same cells as they lie in memory: one contiguous run of Ho·Wp entries
        starting at m·Wp + n, followed by the kw − 1 zeros of the tail.

    Notes
    -----
    Window (i, j) at offset (m, n) reads xp[i + m, j + n], flat index
    (i·Wp + j) + (m·Wp + n). Letting j run over all Wp columns of a row (not only
    j < Wo) makes i·Wp + j run over 0 … Ho·Wp − 1 without gaps, so each offset is a
    shifted slice. Derived in notebooks/07_fast_convolution.ipynb.
    """
    kh, kw = check_size(kernel_size, "kernel_size")
    m, n = offset
    if not (0 <= m < kh and 0 <= n < kw):
        raise ValueError(f"offset must lie in the {kh}x{kw} kernel, got {offset!r}")
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"a {kh}x{kw} kernel does not fit a {Hp}x{Wp} input")
    start, length, size = m * Wp + n, Ho * Wp, Hp * Wp + kw - 1

    def face(q):
        if not start <= q < start + length:
            return (_TAIL_RGB if q >= Hp * Wp else "white"), None
        return (_READ_RGB, None) if (q - start) % Wp < Wo else (_GARBAGE_RGB, "//")

    strip_cols = min(size, 40)
    strip_rows = -(-size // strip_cols)
    fig = plt.figure(figsize=(max(7.5, 0.3 * strip_cols + 1.5), 0.5 * Hp + 0.35 * strip_rows + 2.6))
    grid = fig.add_gridspec(2, 1, height_ratios=[Hp + 0.6, strip_rows + 0.6], hspace=0.55)
    ax, ax_mem = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    for r in range(Hp):
        for c in range(Wp):
            f, h = face(r * Wp + c)
            _cell(ax, r, c, f, str(r * Wp + c), hatch=h)
    ax.add_patch(Rectangle((-0.5, -0.5), kw, kh, fill=False, edgecolor="tab:red", lw=2.2))
    ax.add_patch(Rectangle((n - 0.5, m - 0.5), 1, 1, fill=False, edgecolor="k", lw=2.2))
    ax.set_xlim(-0.5, Wp - 0.5)
    ax.set_ylim(Hp - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(Wp))
    ax.set_yticks(range(Hp))
    ax.set_xlabel("column c of the padded input")
    ax.set_ylabel("row r")
    ax.set_title(
        f"{Hp}×{Wp} padded input, {kh}×{kw} kernel: output {Ho}×{Wo}, computed {Ho}×{Wp} wide\n"
        f"cells read by kernel offset (m, n) = ({m}, {n}) of every window (red: window of y[0, 0])",
        fontsize=10,
    )
    for q in range(size):
        f, h = face(q)
        _cell(ax_mem, q // strip_cols, q % strip_cols, f, str(q) if q < Hp * Wp else "0", hatch=h)
    ax_mem.set_xlim(-0.5, strip_cols - 0.5)
    ax_mem.set_ylim(strip_rows - 0.5, -0.5)
    ax_mem.set_aspect("equal")
    ax_mem.set_xticks([])
    ax_mem.set_yticks([])
    ax_mem.set_xlabel(f"memory, in order (flat index; {strip_cols} per line)")
    ax_mem.set_ylabel("buffer")
    ax_mem.set_title(
        f"the same reads in memory: ONE slice [{start}, {start + length}) = [m·Wp + n, m·Wp + n + Ho·Wp)",
        fontsize=10,
    )
    handles = [
        Rectangle((0, 0), 1, 1, facecolor=_READ_RGB, edgecolor="0.6",
                  label="read by a valid window (j < Wo)"),
        Rectangle((0, 0), 1, 1, facecolor=_GARBAGE_RGB, edgecolor="0.6", hatch="//",
                  label="read by a wide-row window (j ≥ Wo): output thrown away"),
        Rectangle((0, 0), 1, 1, facecolor=_TAIL_RGB, edgecolor="0.6", label=f"zero tail ({kw - 1} entries)"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    return fig


_PHASE_RGB = [
    (0.62, 0.79, 0.88), (0.99, 0.75, 0.52), (0.7, 0.87, 0.54), (0.98, 0.6, 0.6), (0.79, 0.7, 0.84),
    (1.0, 0.93, 0.6), (0.9, 0.75, 0.65), (0.8, 0.8, 0.8), (0.6, 0.85, 0.8),
]  # fmt: skip


def phase_split_picture(Hp, Wp, stride, kernel_size=None, offset=None):
    """The phase split of ``cnnlib.conv``: a stride-s input as s·s stride-1 images.

    Parameters
    ----------
    Hp, Wp : int
        Size of the padded input.
    stride : int
        s (the same along both axes; s·s ≤ 9 phases get distinct colours).
    kernel_size : int or (kh, kw), optional
    offset : (m, n), optional
        With ``kernel_size``: outline the pixels that kernel offset (m, n) reads over
        all windows, in the input and in its phase.

    Returns
    -------
    matplotlib.figure.Figure
        Left: the input, each pixel "r,c" coloured by its phase (r mod s, c mod s).
        Right: the s·s phase images xp[a::s, b::s].

    Notes
    -----
    Window (i, j) at offset (m, n) reads xp[i·s + m, j·s + n] = phase (m mod s, n mod s)
    at (i + m // s, j + n // s): every offset reads a contiguous block of one phase,
    as in a stride-1 convolution, and no zeros are inserted anywhere.
    Derived in notebooks/07_fast_convolution.ipynb.
    """
    s = check_stride(stride)[0]
    if s * s > len(_PHASE_RGB):
        raise ValueError(f"at most {len(_PHASE_RGB)} phases can be coloured, stride {s} makes {s * s}")
    read = set()
    if offset is not None:
        kh, kw = check_size(kernel_size, "kernel_size")
        m, n = offset
        Ho, Wo = conv_output_size(Hp, kh, s, 0), conv_output_size(Wp, kw, s, 0)
        read = {(i * s + m, j * s + n) for i in range(Ho) for j in range(Wo)}
    fig = plt.figure(figsize=(3.0 + 1.0 * Wp, 0.5 * Hp + 2.2))
    outer = fig.add_gridspec(1, 2, width_ratios=[Wp, Wp + 0.8 * s], wspace=0.2)
    ax = fig.add_subplot(outer[0])
    inner = outer[1].subgridspec(s, s, hspace=0.5, wspace=0.35)

    def colour(r, c):
        return _PHASE_RGB[(r % s) * s + c % s]

    def draw(axis, rows, cols, title):
        for u, r in enumerate(rows):
            for v, c in enumerate(cols):
                edge, lw = ("k", 2.2) if (r, c) in read else ("0.6", 0.8)
                _cell(axis, u, v, colour(r, c), f"{r},{c}", edge=edge, lw=lw)
        axis.set_xlim(-0.5, len(cols) - 0.5)
        axis.set_ylim(len(rows) - 0.5, -0.5)
        axis.set_aspect("equal")
        axis.set_title(title, fontsize=9)

    draw(ax, range(Hp), range(Wp), f"{Hp}×{Wp} padded input, stride {s}\npixel 'r,c' coloured by its phase")
    ax.set_xticks(range(Wp))
    ax.set_yticks(range(Hp))
    ax.set_xlabel("column c")
    ax.set_ylabel("row r")
    for a in range(s):
        for b in range(s):
            sub = fig.add_subplot(inner[a, b])
            draw(sub, range(a, Hp, s), range(b, Wp, s), f"phase ({a}, {b}):\nxp[{a}::{s}, {b}::{s}]")
            # no tick labels: the cells carry their input coordinates, and text is what drawing costs
            sub.set_xticks([])
            sub.set_yticks([])
            sub.set_xlabel("phase column", fontsize=8, labelpad=2)
            sub.set_ylabel("phase row", fontsize=8, labelpad=2)
    if offset is not None:
        (m, n), phase, shift = offset, (offset[0] % s, offset[1] % s), (offset[0] // s, offset[1] // s)
        fig.suptitle(
            f"black outlines: what kernel offset (m, n) = ({m}, {n}) reads over all windows,\n"
            f"one block of phase {phase} shifted by {shift}",
            fontsize=10,
        )
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.1, top=0.8 if offset is not None else 0.9)
    return fig
