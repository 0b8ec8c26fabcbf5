"""Notebook 00, correlation and notation: ★ vs ∗, the sliding-window explorer, its checkers.

Used by notebooks/00_correlation_and_notation.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .. import reference
from ..shapes import (
    conv_output_size,
)
from .draw import SIGNED_CMAP, UNSIGNED_CMAP, annotate_cells, symmetric_limit
from .grading import check

_INPUT_RGB = (1.0, 1.0, 1.0)
_PAD_RGB = (0.82, 0.82, 0.82)
_UNUSED_RGB = (1.0, 0.85, 0.55)
_WINDOW_RGB = (0.98, 0.62, 0.6)


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
    from ..conv import rot180
    from ..reference import convolve2d, correlate2d

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
        annotate_cells(ax1, laid[op], im_k, "{:g}")
        ax1.set_title(titles[op][0])
        im_o = ax2.imshow(outs[op], cmap=SIGNED_CMAP, vmin=-lim_o, vmax=lim_o)
        annotate_cells(ax2, outs[op], im_o, "{:g}")
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


def sliding_window_figure(n=5, k=3, stride=1, padding=0, max_n=None):
    """A fast-redrawing kernel-sliding picture along both axes of a square input.

    Left: the zero-padded input (n + 2p)², padding grey, the window of the chosen output
    red, rows and columns that no window reaches orange. Right: the output grid with
    the chosen output red. The figure is built once; ``update`` only replaces two RGB
    images (the cell borders are drawn into them), the axis limits, ticks and titles.

    Parameters
    ----------
    n, k, stride, padding : int
        Initial input size, kernel size, stride s and padding p (both axes alike).
    max_n : int or None
        Largest padded size the sliders will reach (fixes nothing; only the first view).

    Returns
    -------
    fig : matplotlib.figure.Figure
    update : callable(n=None, k=None, stride=None, padding=None, i=0, j=0)
        Redraws for those settings (None keeps the previous value). An output index
        outside the Ho × Wo output is clipped to the last output (the title says so);
        a kernel larger than the padded input shows the error instead of a window.
        Returns the dict of the current settings with Ho and the clipped (i, j).

    Notes
    -----
    Ho = floor((n + 2p − k)/s) + 1 and output (i, j) reads rows i·s .. i·s + k − 1 and
    columns j·s .. j·s + k − 1 of the padded input; the last (n + 2p − k) mod s rows
    are never read. Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    from matplotlib.patches import Patch

    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(9.5, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    blank = np.ones((1, 1, 3))
    im_in = ax_in.imshow(blank, interpolation="nearest")
    im_out = ax_out.imshow(blank, interpolation="nearest")
    for ax in (ax_in, ax_out):
        ax.set_aspect("equal")
        ax.tick_params(labelsize=8)
    ax_in.set_xlabel("column of the padded input")
    ax_in.set_ylabel("row of the padded input")
    ax_out.set_xlabel("output column j")
    ax_out.set_ylabel("output row i")
    ax_in.legend(
        handles=[Patch(fc=c, ec="0.45", label=lab) for c, lab in (
            (_INPUT_RGB, "input"), (_PAD_RGB, "zero padding"), (_WINDOW_RGB, "window of y[i, j]"),
            (_UNUSED_RGB, "never read"))],
        loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False,
    )  # fmt: skip
    suptitle = fig.suptitle("")
    state = {"n": n, "k": k, "stride": stride, "padding": padding}

    def _show(im, ax, cells):
        # the cell grid is drawn into the image (a grey border per cell): one artist, no grid lines
        rows, cols = cells.shape[:2]
        px = max(4, 400 // max(rows, cols))  # about one image pixel per screen pixel: even lines
        big = np.repeat(np.repeat(cells, px, axis=0), px, axis=1)
        big[::px, :] = 0.45
        big[:, ::px] = 0.45
        big = np.pad(big, ((0, 1), (0, 1), (0, 0)), constant_values=0.45)
        im.set_data(big)
        im.set_extent((-0.5, cols - 0.5 + 1 / px, rows - 0.5 + 1 / px, -0.5))
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        step = 1 if max(rows, cols) <= 10 else 2
        ax.set_xticks(np.arange(0, cols, step))
        ax.set_yticks(np.arange(0, rows, step))

    def update(n=None, k=None, stride=None, padding=None, i=0, j=0):
        for key, v in (("n", n), ("k", k), ("stride", stride), ("padding", padding)):
            if v is not None:
                state[key] = int(v)
        n_, k_, s, p = state["n"], state["k"], state["stride"], state["padding"]
        npad = n_ + 2 * p
        img = np.empty((npad, npad, 3))
        img[...] = _PAD_RGB
        img[p : p + n_, p : p + n_] = _INPUT_RGB
        if k_ > npad:
            _show(im_in, ax_in, img)
            _show(im_out, ax_out, np.full((1, 1, 3), 0.9))
            ax_in.set_title(f"padded input {npad}×{npad}", fontsize=10)
            ax_out.set_title("no output", fontsize=10)
            suptitle.set_text(f"n={n_}, k={k_}, s={s}, p={p}: the kernel is larger than the padded "
                              f"input ({k_} > {n_} + 2·{p}), no window fits")  # fmt: skip
            return {**state, "Ho": 0, "i": None, "j": None}
        Ho = (npad - k_) // s + 1
        reach = (Ho - 1) * s + k_  # rows 0 .. reach-1 are read by some window
        img[reach:, :] = _UNUSED_RGB
        img[:, reach:] = _UNUSED_RGB
        ci, cj = min(max(int(i), 0), Ho - 1), min(max(int(j), 0), Ho - 1)
        img[ci * s : ci * s + k_, cj * s : cj * s + k_] = _WINDOW_RGB
        out = np.ones((Ho, Ho, 3))
        out[ci, cj] = _WINDOW_RGB
        _show(im_in, ax_in, img)
        _show(im_out, ax_out, out)
        clipped = " (clipped to the last output)" if (ci, cj) != (int(i), int(j)) else ""
        ax_in.set_title(f"padded input {npad}×{npad}: window of y[{ci}, {cj}]{clipped}", fontsize=10)
        ax_out.set_title(f"output {Ho}×{Ho}", fontsize=10)
        unused = npad - reach
        suptitle.set_text(
            f"n={n_}, k={k_}, s={s}, p={p}:  Ho = floor(({n_} + 2·{p} − {k_})/{s}) + 1 = {Ho};  "
            f"{unused} row{'s' if unused != 1 else ''}/column{'s' if unused != 1 else ''} never read"
        )
        return {**state, "Ho": Ho, "i": ci, "j": cj}

    update(n, k, stride, padding)
    fig.subplots_adjust(left=0.07, right=0.97, top=0.86, bottom=0.1, wspace=0.45)
    return fig, update


def check_correlate2d(fn, seed=0):
    """Exercise: valid cross-correlation fn(a, k) of 2-D arrays (a ★ k, no flip)."""
    rng = np.random.default_rng(seed)
    cases = [
        (rng.standard_normal((h, w)), rng.standard_normal((m, n)))
        for h, w, m, n in [(3, 3, 2, 2), (5, 4, 3, 2), (4, 6, 1, 3)]
    ]
    return check(fn, reference.correlate2d, cases, "correlate2d")


def check_output_size(fn):
    """Exercise: fn(n, k, stride, padding) -> the number of window positions along one axis.

    The cases include strides that do not divide n + 2p − k (floor, not round) and a
    kernel exactly as large as the padded input (one position). Derived in
    notebooks/00_correlation_and_notation.ipynb.
    """
    cases = [(5, 3, 1, 0), (5, 3, 2, 1), (6, 3, 2, 0), (7, 2, 3, 0), (28, 5, 1, 0), (4, 6, 1, 1)]
    cases.append((10, 3, 4, 2))  # (10 + 4 − 3) = 11 is not divisible by 4
    return check(fn, conv_output_size, cases, "output size")
