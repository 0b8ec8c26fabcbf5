"""Notebook 00, correlation and notation: ★ vs ∗, the sliding-window explorer, its checkers.

Used by notebooks/00_correlation_and_notation.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Patch, Rectangle

from ..conv import conv2d_forward, rot180
from ..reference import convolve2d, correlate2d
from ..shapes import (
    coverage_map,
)
from .draw import SIGNED_CMAP, UNSIGNED_CMAP, annotate_cells, integer_ticks, set_image, symmetric_limit
from .explore import explorer_figures, output_size_or_reason
from .grading import WrongAttempt, check, combinations

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
    titles = {"★": ("★ lays k on it", "a ★ k (correlation)"),
              "∗": ("∗ lays rot180(k) on it", "a ∗ k (convolution)")}  # fmt: skip
    lim_k, lim_o = symmetric_limit(k), symmetric_limit(*outs.values())
    box = {"boxstyle": "round,pad=0.15", "fc": "w", "ec": "none", "alpha": 0.8}
    # one colour bar per column: both rows share each column's scale. Fixed margins and no
    # layout engine, so that showing the figure draws it once, not twice. 9.6 in at 100 dpi:
    # narrower than the notebook column, so the 10 pt labels are not scaled down.
    fig, axes = plt.subplots(2, 3, figsize=(9.6, 6.8))
    fig.subplots_adjust(left=0.07, right=0.96, top=0.9, bottom=0.08, wspace=0.5, hspace=0.45)
    for row, op in enumerate(("★", "∗")):
        ax0, ax1, ax2 = axes[row]
        im_a = ax0.imshow(a, cmap=UNSIGNED_CMAP)
        for m in range(kh):
            for n in range(kw):
                label = f"{a[i + m, j + n]:g}×{laid[op][m, n]:g}"
                ax0.text(j + n, i + m, label, ha="center", va="center", fontsize=10, color="k", bbox=box)
        ax0.add_patch(Rectangle((j - 0.5, i - 0.5), kw, kh, fill=False, edgecolor="tab:red", lw=2.5))
        ax0.set_title(f"input a, window ({i}, {j})", fontsize=11)
        im_k = ax1.imshow(laid[op], cmap=SIGNED_CMAP, vmin=-lim_k, vmax=lim_k)
        annotate_cells(ax1, laid[op], im_k, "{:g}")
        ax1.set_title(titles[op][0], fontsize=11)
        im_o = ax2.imshow(outs[op], cmap=SIGNED_CMAP, vmin=-lim_o, vmax=lim_o)
        annotate_cells(ax2, outs[op], im_o, "{:g}")
        ax2.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red", lw=2.5))
        ax2.set_title(titles[op][1], fontsize=11)
        panels = [(ax0, a, "column j", "row i"), (ax1, k, "kernel column n", "kernel row m"),
                  (ax2, outs[op], "column j", "row i")]  # fmt: skip
        for ax, arr, xl, yl in panels:
            ax.set_xticks(range(arr.shape[1]))
            ax.set_yticks(range(arr.shape[0]))
            ax.set_xlabel(xl)
            ax.set_ylabel(yl)
    bars = [(im_a, "input value", [a]), (im_k, "kernel entry", [k]), (im_o, "output value", outs.values())]
    for col, (im, label, shown) in enumerate(bars):
        integer_ticks(fig.colorbar(im, ax=list(axes[:, col]), shrink=0.6, pad=0.04, label=label), *shown)
    fig.suptitle("Same input, same kernel: ★ slides k as it is, ∗ slides it rotated by 180°", fontsize=12)
    return fig


def sliding_window_explorer(input_size=5, kernel_size=3, stride=1, padding=0):
    """A fast-redrawing kernel-sliding picture along both axes of a square input.

    Left: the zero-padded input (n + 2p)², padding grey, the window of the chosen output
    red, pixels that no window reads orange (the rows and columns past the last window,
    and the gaps between windows when s > k). Right: the output grid with the chosen
    output red. The figure is built once; ``update`` replaces two RGB images and the
    grid lines (drawn as lines, so every cell border shows at any size), the axis
    limits, ticks and titles.

    Parameters
    ----------
    input_size, kernel_size, stride, padding : int
        Initial n, k, s and p (both axes alike).

    Returns
    -------
    fig : matplotlib.figure.Figure
    update : callable(input_size=None, kernel_size=None, stride=None, padding=None, row=0, col=0)
        Redraws for those settings (None keeps the previous value). An output index
        outside the Ho × Wo output is clamped to the last output (the title says so);
        a kernel larger than the padded input shows the reason instead of a window.
        Returns a dict of what it drew: the settings, "Ho", the clamped "row" and "col"
        and "never_read", the number of padded rows no window reads.

    Notes
    -----
    Ho = floor((n + 2p − k)/s) + 1 and output (i, j) reads rows i·s .. i·s + k − 1 and
    columns j·s .. j·s + k − 1 of the padded input. The rows past (Ho − 1)·s + k − 1 are
    never read, and so are the s − k rows between two windows when s > k.
    Derived in notebooks/00_correlation_and_notation.ipynb.
    """

    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(9.5, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    blank = np.ones((1, 1, 3))
    im_in = ax_in.imshow(blank, interpolation="nearest")
    im_out = ax_out.imshow(blank, interpolation="nearest")
    grids = {}
    for ax in (ax_in, ax_out):
        ax.set_aspect("equal")
        ax.tick_params(labelsize=9)
        grids[ax] = ax.add_collection(LineCollection([], colors="0.45", linewidths=0.8))
    ax_in.set_xlabel("column of the padded input")
    ax_in.set_ylabel("row of the padded input")
    ax_out.set_xlabel("output column j")
    ax_out.set_ylabel("output row i")
    ax_in.legend(
        handles=[Patch(fc=c, ec="0.45", label=lab) for c, lab in (
            (_INPUT_RGB, "input"), (_PAD_RGB, "zero padding"), (_WINDOW_RGB, "window of y[i, j]"),
            (_UNUSED_RGB, "never read"))],
        loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False,
    )  # fmt: skip
    suptitle = fig.suptitle("")
    state = {"input_size": input_size, "kernel_size": kernel_size, "stride": stride, "padding": padding}

    def show(im, ax, cells):
        rows, cols = cells.shape[:2]
        set_image(im, cells)
        horizontal = [[(-0.5, r - 0.5), (cols - 0.5, r - 0.5)] for r in range(rows + 1)]
        vertical = [[(c - 0.5, -0.5), (c - 0.5, rows - 0.5)] for c in range(cols + 1)]
        grids[ax].set_segments(horizontal + vertical)
        step = 1 if max(rows, cols) <= 10 else 2
        ax.set_xticks(np.arange(0, cols, step))
        ax.set_yticks(np.arange(0, rows, step))

    def update(input_size=None, kernel_size=None, stride=None, padding=None, row=0, col=0):
        changes = {"input_size": input_size, "kernel_size": kernel_size, "stride": stride, "padding": padding}
        state.update({key: int(v) for key, v in changes.items() if v is not None})
        n, k, s, p = state["input_size"], state["kernel_size"], state["stride"], state["padding"]
        npad = n + 2 * p
        img = np.empty((npad, npad, 3))
        img[...] = _PAD_RGB
        img[p : p + n, p : p + n] = _INPUT_RGB
        Ho, reason = output_size_or_reason(n, k, s, p)
        if not Ho:
            show(im_in, ax_in, img)
            show(im_out, ax_out, np.full((1, 1, 3), 0.9))
            ax_in.set_title(f"padded input {npad}×{npad}", fontsize=10)
            ax_out.set_title("no output", fontsize=10)
            suptitle.set_text(f"n={n}, k={k}, s={s}, p={p}: {reason}")
            return {**state, "Ho": 0, "row": None, "col": None, "never_read": npad, "reason": reason}
        read = coverage_map(n, 1, (k, 1), (s, 1), (p, 0), padded=True)[:, 0] > 0  # per padded row
        img[~read, :] = _UNUSED_RGB
        img[:, ~read] = _UNUSED_RGB
        i, j = min(max(int(row), 0), Ho - 1), min(max(int(col), 0), Ho - 1)
        img[i * s : i * s + k, j * s : j * s + k] = _WINDOW_RGB
        out = np.ones((Ho, Ho, 3))
        out[i, j] = _WINDOW_RGB
        show(im_in, ax_in, img)
        show(im_out, ax_out, out)
        clamped = " (clamped to the output)" if (i, j) != (int(row), int(col)) else ""
        ax_in.set_title(f"padded input {npad}×{npad}: window of y[{i}, {j}]{clamped}", fontsize=10)
        ax_out.set_title(f"output {Ho}×{Ho}", fontsize=10)
        unread = int(np.count_nonzero(~read))
        suptitle.set_text(
            f"n={n}, k={k}, s={s}, p={p}:  Ho = floor(({n} + 2·{p} − {k})/{s}) + 1 = {Ho};  "
            f"{unread} row{'s' if unread != 1 else ''} (and as many columns) never read"
        )
        return {**state, "Ho": Ho, "row": i, "col": j, "never_read": unread}

    update()
    fig.subplots_adjust(left=0.07, right=0.97, top=0.86, bottom=0.1, wspace=0.45)
    return fig, update


# every figure of notebook 00, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "correlation vs convolution": lambda: correlation_vs_convolution(
        np.array([[1, 2, 0], [0, 1, 2], [2, 0, 1]]), np.array([[1, 0], [-1, 2]])
    ),
    **explorer_figures(
        "sliding window explorer",
        lambda: sliding_window_explorer(input_size=7, kernel_size=3, stride=2, padding=1),
        dict(row=2, col=1),
        input_size=(2, 12),
        kernel_size=(1, 6),
        stride=(1, 4),
        padding=(0, 3),
        row=(0, 7),
        col=(0, 7),
    ),
}


def _planted_correlate2d(a, k, s, p, flip=False, stride=False, width_from_height=False):
    """The exercise's strided, padded correlation with any of its three planted bugs switched on.

    The same loops as the notebook's buggy function, so a learner's code with some of the
    bugs left returns (or raises) exactly what this returns.
    """
    (H, W), (kh, kw) = a.shape, k.shape
    ap = np.pad(a, p)
    Ho = (H + 2 * p - kh) // s + 1
    Wo = (H + 2 * p - kh) // s + 1 if width_from_height else (W + 2 * p - kw) // s + 1
    step = 1 if stride else s
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            for m in range(kh):
                for n in range(kw):
                    kmn = k[kh - 1 - m, kw - 1 - n] if flip else k[m, n]
                    out[i, j] += ap[i * step + m, j * step + n] * kmn
    return out


_CORRELATE_BUGS = {
    "flip": ("flip", "flip: the kernel is read backwards, k[kh-1-m, kw-1-n]: that is the true convolution "
             "a ∗ k; cross-correlation multiplies window entry (m, n) by k[m, n]."),
    "stride": ("stride", "stride: the window of output (i, j) starts at padded row i, column j; with stride "
               "s it starts at row i·s, column j·s."),
    "width_from_height": ("height-width", "height-width: the output width is computed from the height "
                          "(H, kh); Wo = floor((W + 2p - kw) / s) + 1."),
}  # fmt: skip


def check_strided_correlate2d(fn, seed=0, diagnose=True):
    """Exercise (find the bugs): fn(a, k, s, p) -> the valid cross-correlation of pad(a, p) with k, stride s.

    a (H, W), k (kh, kw) -> (Ho, Wo) with Ho = floor((H + 2p - kh) / s) + 1. Names the
    planted bugs still left: "flip", "stride", "height-width". Derived in
    notebooks/00_correlation_and_notation.ipynb.
    """
    rng = np.random.default_rng(seed)
    cases = [
        (rng.standard_normal(a_shape), rng.standard_normal(k_shape), s, p)
        for a_shape, k_shape, s, p in [
            ((4, 4), (2, 2), 1, 0),  # square, stride 1: only the flip shows
            ((5, 5), (3, 3), 2, 1),  # stride and padding
            ((4, 7), (2, 3), 1, 0),  # wider than high
            ((5, 8), (3, 2), 2, 1),  # all of it
        ]
    ]

    def expected(a, k, s, p):  # the fast library, another route than the loops
        return conv2d_forward(a[None, None], k[None, None], stride=s, padding=p)[0, 0]

    attempts = combinations(_CORRELATE_BUGS, _planted_correlate2d)
    return check(fn, expected, cases, "strided correlate2d", attempts, diagnose=diagnose)


def _same_padding(n, k, s):
    """The least total padding P with floor((n + P - k) / s) + 1 = ceil(n / s), found by counting."""
    target = len(range(0, n, s))  # the window starts 0, s, 2s, ... below n: ceil(n / s)
    P = 0
    while n + P < k or len(range(0, n + P - k + 1, s)) != target:
        P += 1
    return P


_SAME_PADDING_ATTEMPTS = [
    WrongAttempt(
        "stride",
        "stride: k - 1 is the answer for stride 1; with stride s the windows start s rows apart and only "
        "ceil(n / s) of them are needed.",
        lambda n, k, s: k - 1,
    ),
    WrongAttempt(
        "divisible",
        "divisible: k - s holds only when s divides n; in general the number of windows is ceil(n / s), "
        "not n / s.",
        lambda n, k, s: max(k - s, 0),
    ),
    WrongAttempt(
        "floor",
        "floor: the target size is ceil(n / s) (rounded up), not floor(n / s).",
        lambda n, k, s: max((n // s - 1) * s + k - n, 0),
    ),
    WrongAttempt(
        "negative",
        "negative: when the windows already fit without padding the answer is 0, never a negative "
        "number (a padding cannot remove rows).",
        lambda n, k, s: (-(-n // s) - 1) * s + k - n,
    ),
]


def check_same_padding(fn):
    """Exercise (derive): fn(n, k, s) -> the least total padding P giving ceil(n / s) outputs.

    "SAME" padding as TensorFlow defines it: the P zero rows (split between top and bottom)
    make floor((n + P - k) / s) + 1 = ceil(n / s). Expected: counted, P = 0, 1, ... until
    the size is right. Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    cases = [(7, 3, 1), (8, 3, 2), (7, 3, 2), (10, 5, 3), (6, 1, 3), (5, 2, 4), (11, 4, 4), (224, 7, 2)]
    return check(fn, _same_padding, cases, "SAME padding", _SAME_PADDING_ATTEMPTS)
