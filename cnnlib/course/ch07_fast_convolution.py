"""Notebook 07, fast convolution: the wide-row and phase-split pictures, the dilated-δ explorer,
the im2col / route-count / input-gradient checkers.

Used by notebooks/07_fast_convolution.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..conv import dilate, pad
from ..shapes import (
    conv_output_size,
    coverage_map,
    dilated_route_counts,
    validate_size,
    validate_stride,
)

# the exercises of section 12 live in ch07_exercises; the notebook reaches them as ch.<name>
from .ch07_exercises import (  # noqa: F401
    attempt_im2col_plain_windows,
    attempt_phases_dilated,
    check_im2col,
    check_input_gradient,
    check_products_meeting_delta,
    counted_products_meeting_delta,
    schmidt_phases,
)
from .draw import SIGNED_CMAP, UNSIGNED_CMAP, annotate_cells, cell_axes, set_image, symmetric_limit
from .explore import explorer_figures

READ_RGB = (0.55, 0.75, 0.95)
GARBAGE_RGB = (1.0, 0.8, 0.55)
_TAIL_RGB = (0.85, 0.85, 0.85)

_PHASE_RGB = [
    (0.62, 0.79, 0.88), (0.99, 0.75, 0.52), (0.7, 0.87, 0.54), (0.98, 0.6, 0.6), (0.79, 0.7, 0.84),
    (1.0, 0.93, 0.6), (0.9, 0.75, 0.65), (0.8, 0.8, 0.8), (0.6, 0.85, 0.8),
]  # fmt: skip


def _cell(ax, r, c, face, text=None, *, hatch=None, edge="0.6", lw=0.8, fontsize=9):
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
    kh, kw = validate_size(kernel_size, "kernel_size")
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
        return (READ_RGB, None) if (q - start) % Wp < Wo else (GARBAGE_RGB, "//")

    strip_cols = min(size, 40)
    strip_rows = -(-size // strip_cols)
    width = min(11.0, max(7.5, 0.3 * strip_cols + 1.5))  # at most 1,100 px at 100 dpi
    fig = plt.figure(figsize=(width, 0.5 * Hp + 0.35 * strip_rows + 2.6))
    grid = fig.add_gridspec(2, 1, height_ratios=[Hp + 0.6, strip_rows + 0.6], hspace=0.55)
    ax, ax_mem = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    for r in range(Hp):
        for c in range(Wp):
            f, h = face(r * Wp + c)
            _cell(ax, r, c, f, str(r * Wp + c), hatch=h)
    ax.add_patch(Rectangle((-0.5, -0.5), kw, kh, fill=False, edgecolor="tab:red", lw=2.2))
    ax.add_patch(Rectangle((n - 0.5, m - 0.5), 1, 1, fill=False, edgecolor="k", lw=2.2))
    cell_axes(ax, Hp, Wp, "column c of the padded input", "row r")
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
        Rectangle((0, 0), 1, 1, facecolor=READ_RGB, edgecolor="0.6",
                  label="read by a valid window (j < Wo)"),
        Rectangle((0, 0), 1, 1, facecolor=GARBAGE_RGB, edgecolor="0.6", hatch="//",
                  label="read by a wide-row window (j ≥ Wo): output thrown away"),
        Rectangle((0, 0), 1, 1, facecolor=_TAIL_RGB, edgecolor="0.6", label=f"zero tail ({kw - 1} entries)"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False)
    return fig


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
    s = validate_stride(stride)[0]
    if s * s > len(_PHASE_RGB):
        raise ValueError(f"at most {len(_PHASE_RGB)} phases can be coloured, stride {s} makes {s * s}")
    read = set()
    if offset is not None:
        kh, kw = validate_size(kernel_size, "kernel_size")
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
            sub.set_xlabel("phase column", fontsize=9, labelpad=2)
            sub.set_ylabel("phase row", fontsize=9, labelpad=2)
    if offset is not None:
        (m, n), phase, shift = offset, (offset[0] % s, offset[1] % s), (offset[0] // s, offset[1] // s)
        fig.suptitle(
            f"black outlines: what kernel offset (m, n) = ({m}, {n}) reads over all windows,\n"
            f"one block of phase {phase} shifted by {shift}",
            fontsize=10,
        )
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.1, top=0.8 if offset is not None else 0.9)
    return fig


def dilated_delta_explorer(Ho=4, max_stride=4, seed=0):
    """What the "dilate, pad, correlate with rot180(w)" route to ∂E/∂x multiplies, for any (s, k).

    Panels, redrawn in place: (a) pad(dilate(δ, s), k − 1), the array the route
    correlates with rot180(w), its zeros in grey; (b) for every pixel of
    ∂E/∂xp that windows reach, how many of its k² products meet a δ entry (the
    rest multiply a zero); (c) the share of all multiply-adds that are by zero, for
    s = 1 … max_stride at the chosen k, against its large-image limit (s² − 1)/s².
    Panels (a) and (b) fit their arrays: their axes show the growth with s.

    Parameters
    ----------
    Ho : int
        δ is Ho×Ho (random non-zero integers drawn from ``seed``).
    max_stride : int
        The largest stride in (c).
    seed : int

    Returns
    -------
    fig : matplotlib Figure
    update : callable(stride, kernel_size)
        Returns a dict of what it drew: "stride", "kernel_size", and "total" and "zero",
        the multiply-adds ``dilated_route_counts(Ho, Ho, k, k, s)`` counts.

    Notes
    -----
    Every δ entry meets every kernel weight exactly once (Ho²·k² useful products,
    the accumulation route's count); the route computes ((Ho − 1)s + k)² pixels of
    k² products each. Derived in notebooks/07_fast_convolution.ipynb.
    """

    rng = np.random.default_rng(seed)
    delta = rng.integers(1, 4, size=(Ho, Ho)) * rng.choice([-1, 1], size=(Ho, Ho))
    fig, (ax_full, ax_use, ax_frac) = plt.subplots(
        1, 3, figsize=(11.0, 4.0), gridspec_kw={"width_ratios": [1, 1, 1.15]}
    )
    blank = np.zeros((1, 1))
    # zeros painted grey in an RGB image: cheaper to draw than a marker on each of hundreds of cells
    signed = ScalarMappable(Normalize(-3, 3), plt.get_cmap(SIGNED_CMAP))
    im_full = ax_full.imshow(np.zeros((1, 1, 3)), interpolation="nearest")
    # few tick labels everywhere: text is most of what a redraw costs
    fig.colorbar(signed, ax=ax_full, fraction=0.046, pad=0.04, label="δ entry (grey: 0)", ticks=[-3, 0, 3])
    im_use = ax_use.imshow(blank, cmap=UNSIGNED_CMAP, vmin=0, vmax=1, interpolation="nearest")
    cb_use = fig.colorbar(im_use, ax=ax_use, fraction=0.046, pad=0.04, label="products with a δ entry")
    cb_use.locator = MaxNLocator(nbins=3, integer=True)
    for ax, what in ((ax_full, "pad(dilate(δ))"), (ax_use, "∂E/∂$x_p$")):
        ax.set_xlabel(f"column of {what}")
        ax.set_ylabel(f"row of {what}")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    strides = np.arange(1, max_stride + 1)
    ax_frac.plot(strides, (strides**2 - 1) / strides**2, "k--", lw=1, label="(s² − 1)/s²: large δ")
    (curve,) = ax_frac.plot(strides, np.zeros(len(strides)), "o-", color="tab:blue", label="exact")
    (now,) = ax_frac.plot([1], [0], "o", ms=12, mfc="none", mec="tab:red", mew=2, label="current s")
    legend = ax_frac.legend(loc="lower right", fontsize=9)
    ax_frac.set_xticks(strides)
    ax_frac.set_ylim(-0.02, 1.0)
    ax_frac.set_yticks([0, 0.5, 1])
    ax_frac.set_xlabel("stride s")
    ax_frac.set_ylabel("share of multiply-adds by zero")
    ax_frac.grid(alpha=0.3)
    titles = [ax.set_title("", fontsize=10) for ax in (ax_full, ax_use, ax_frac)]
    # fixed margins, no layout engine: it would make every savefig lay the figure out again
    fig.subplots_adjust(left=0.06, right=0.98, top=0.84, bottom=0.13, wspace=0.45)

    def update(stride, kernel_size):
        s, k = int(stride), int(kernel_size)
        full = pad(dilate(delta, s), k - 1)
        use = coverage_map((Ho - 1) * s + k, (Ho - 1) * s + k, k, s)
        rgb = signed.to_rgba(full)[..., :3]
        rgb[full == 0] = 0.86
        for im, a in ((im_full, rgb), (im_use, use)):
            set_image(im, a)  # the axes fit the array (a fixed largest size left it in one corner)
        im_use.set_clim(0, max(1, int(use.max())))  # the counts that occur (1, 2, 4 at s = 2), not 0..k²
        total, zero = dilated_route_counts(Ho, Ho, k, k, s)
        shares = [dilated_route_counts(Ho, Ho, k, k, t)[1] / dilated_route_counts(Ho, Ho, k, k, t)[0]
                  for t in strides]  # fmt: skip
        curve.set_ydata(shares)
        legend.get_texts()[1].set_text(f"exact, δ {Ho}×{Ho}, k = {k}")
        now.set_data([s], [zero / total])
        zeros = int(np.count_nonzero(full == 0))
        n_all = full.size
        titles[0].set_text(f"(a) pad(dilate(δ, {s}), {k - 1}):\n{zeros} of {n_all} entries are 0")
        titles[1].set_text(f"(b) of each pixel's k² = {k * k} products,\n{use.mean():.1f} meet a δ (mean)")
        titles[2].set_text(f"(c) by zero: {zero} of {total}\nmultiply-adds ({100 * zero / total:.0f}%)")
        return {"stride": s, "kernel_size": k, "total": total, "zero": zero}

    return fig, update


def true_and_learned_kernels(w_true, w_learned, title="True and learned kernels"):
    """Two (D, C, kh, kw) weight arrays side by side: true kernels left, learned right, one colour scale.

    Row d, column c of each block is the kernel w[d, c], its entries printed in the cells.
    Used in notebooks/07_fast_convolution.ipynb.
    """
    w_true, w_learned = np.asarray(w_true, dtype=float), np.asarray(w_learned, dtype=float)
    D, C = w_true.shape[:2]
    lim = symmetric_limit(w_true, w_learned)
    fig, axes = plt.subplots(D, 2 * C, figsize=(2.0 * C * 2 + 1.6, 2.0 * D + 1.0), squeeze=False)
    for col, (name, w) in enumerate((("true", w_true), ("learned", w_learned))):
        for d in range(D):
            for c in range(C):
                ax = axes[d, col * C + c]
                im = ax.imshow(w[d, c], cmap=SIGNED_CMAP, vmin=-lim, vmax=lim)
                annotate_cells(ax, w[d, c], im, "{:.2f}")
                ax.set_xticks([])
                ax.set_yticks([])
                if d == 0:
                    ax.set_title(f"{name} w[d, {c}]", fontsize=10)
                if col * C + c == 0:
                    ax.set_ylabel(f"kernel d = {d}")
    fig.suptitle(title)
    fig.subplots_adjust(left=0.06, right=0.86, top=0.84, bottom=0.04, wspace=0.15, hspace=0.15)
    fig.colorbar(im, ax=list(axes.ravel()), fraction=0.03, pad=0.03, label="weight")
    return fig


# every figure of notebook 07, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "wide row picture": lambda: wide_row_picture(5, 6, kernel_size=3, offset=(1, 2)),
    "phase split picture": lambda: phase_split_picture(6, 6, stride=2, kernel_size=3, offset=(1, 2)),
    "true and learned kernels": lambda: true_and_learned_kernels(
        np.arange(18.0).reshape(2, 1, 3, 3) - 9, np.arange(18.0).reshape(2, 1, 3, 3) - 8.5
    ),
    **explorer_figures(
        "dilated delta explorer",
        lambda: dilated_delta_explorer(Ho=4, max_stride=4, seed=0),
        dict(stride=2, kernel_size=3),
        stride=(1, 4),
        kernel_size=(1, 5),
    ),
}
