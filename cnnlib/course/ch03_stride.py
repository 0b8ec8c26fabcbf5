"""Notebook 03, stride: the stride explorer and the dilate / strided-gradient / coverage checkers.

Used by notebooks/03_stride.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .. import conv, shapes
from ..conv import conv2d_backward, dilate
from ..shapes import (
    conv_output_size,
    coverage_map,
)
from .draw import SIGNED_CMAP, UNSIGNED_CMAP, fix_layout, heatmap, set_image, sliding_picture, symmetric_limit
from .explore import explorer_figures, output_size_or_reason
from .grading import WrongAttempt, check, check_refusing_calls, check_refusing_library_gradients, combinations


def stride_picture(H=8, k=3, s=2, out_index=(1, 2)):
    """The opening picture of notebook 03: one strided window, and how often each pixel is read.

    Left: the kernel-sliding picture (``draw.sliding_picture``) with the window of one
    output. Right: the coverage map, the number of windows that read each pixel
    (``cnnlib.shapes.coverage_map``), numbers in every cell, one colour scale from 0.

    Returns
    -------
    matplotlib.figure.Figure
        10 in wide (inside the notebook column).

    Notes
    -----
    Output (i, j) reads rows i·s .. i·s + k − 1; a pixel's coverage is the number of such
    windows containing it, 0 for the (H − k) mod s rows after the last window and, when
    s > k, for the s − k rows between windows. Derived in notebooks/03_stride.ipynb.
    """
    fig, (ax_win, ax_cov) = plt.subplots(1, 2, figsize=(10, 4.8))
    sliding_picture(H, H, k, stride=s, out_index=out_index, ax=ax_win)
    cov = coverage_map(H, H, k, s)
    heatmap(cov, "windows reading each pixel", ax_cov, signed=False, vmax=max(1, int(cov.max())),
            cbar_label="windows", fmt="{:g}", xlabel="input column", ylabel="input row")  # fmt: skip
    fig.suptitle(f"A {k}×{k} kernel with stride {s} on a {H}×{H} input")
    return fix_layout(fig)


def mark_nonzero(ax, a, tol=1e-12):
    """Dot every cell of ``a`` that is not zero, so that small non-zero values do not pass for white.

    On a diverging scale set by max |a|, an entry 100 times smaller than the largest is
    drawn almost white; a dot says it is not zero. Returns the number of dotted cells.
    """
    rows, cols = np.nonzero(np.abs(np.asarray(a)) > tol)
    ax.plot(cols, rows, "o", ms=3, mfc="k", mec="w", mew=0.5, ls="none")
    return len(rows)


def stride_explorer(seed=0):
    """The stride explorer of notebook 03: three panels redrawn in place for any (H, k, s, p).

    Panels: (a) the coverage map of the padded input (how many outputs read each
    pixel; 0 = never read) with the window (receptive field) of the chosen output
    y[row, col] in red and the real input inside the dashed square; (b) dilate(δ, s)
    with the chosen output's entry outlined; (c) ∂E/∂x for that δ and a fixed random
    kernel. δ and w are drawn from ``seed`` (the same numbers for the same
    settings), so the picture is deterministic.

    Parameters
    ----------
    seed : int

    Returns
    -------
    fig : matplotlib Figure
        Square H×W inputs, k×k kernels.
    update : callable(input_size, kernel_size, stride, padding, row=0, col=0)
        Redraws every panel with ``set_data``, ``set_clim`` and ``set_bounds``; the
        output index is clamped to the output. Returns a dict of what it drew: the
        settings, "row" and "col" as clamped, "Ho" (output size), "r" ((H + 2p − k) mod s)
        and "zero_rows" (rows of ∂E/∂x that no window reaches); "Ho" is 0 and "reason"
        says why when the kernel does not fit.

    Notes
    -----
    ∂E/∂x is the full cross-correlation of dilate(δ, s) with rot180(w), padded with
    r zero rows and columns and cropped by p. Text is what a redraw mostly costs, so
    the panels carry few tick labels. Derived in notebooks/03_stride.ipynb.
    """

    # 10.8 in: inside the notebook column (1,100 px), so the text is not scaled down
    fig, (ax_cov, ax_dil, ax_dx) = plt.subplots(1, 3, figsize=(10.8, 3.9))
    blank = np.full((1, 1), np.nan)
    im_cov = ax_cov.imshow(blank, cmap=UNSIGNED_CMAP, vmin=0, vmax=1)
    cb_cov = fig.colorbar(im_cov, ax=ax_cov, fraction=0.046, pad=0.04, label="outputs reading the pixel")
    window = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="tab:red", lw=3)
    inside = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="w", lw=1.5, ls="--")
    ax_cov.add_patch(window)
    ax_cov.add_patch(inside)
    im_dil = ax_dil.imshow(blank, cmap=SIGNED_CMAP, vmin=-1, vmax=1)
    cb_dil = fig.colorbar(im_dil, ax=ax_dil, fraction=0.046, pad=0.04, label="δ")
    entry = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="tab:red", lw=2.5)
    ax_dil.add_patch(entry)
    im_dx = ax_dx.imshow(blank, cmap=SIGNED_CMAP, vmin=-1, vmax=1)
    cb_dx = fig.colorbar(im_dx, ax=ax_dx, fraction=0.046, pad=0.04, label="∂E/∂x")
    for cb in (cb_cov, cb_dil, cb_dx):
        cb.locator = MaxNLocator(nbins=4, integer=cb is cb_cov)
    labels = [
        (ax_cov, "column of the padded input", "row of the padded input"),
        (ax_dil, "column of dilate(δ)", "row of dilate(δ)"),
        (ax_dx, "input column v", "input row u"),
    ]
    for ax, xl, yl in labels:
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    suptitle = fig.suptitle("")

    def update(input_size, kernel_size, stride, padding, row=0, col=0):
        H, k, s, p = int(input_size), int(kernel_size), int(stride), int(padding)
        drawn = {"input_size": H, "kernel_size": k, "stride": s, "padding": p}
        Hp = H + 2 * p
        Ho, reason = output_size_or_reason(H, k, s, p)
        if not Ho:
            for im, ax in ((im_cov, ax_cov), (im_dil, ax_dil), (im_dx, ax_dx)):
                set_image(im, blank)
                ax.set_title("")
            for patch in (window, inside, entry):
                patch.set_visible(False)
            suptitle.set_text(f"H={H}, k={k}, p={p}: {reason}")
            return {
                **drawn,
                "row": None,
                "col": None,
                "Ho": 0,
                "r": None,
                "zero_rows": None,
                "reason": reason,
            }
        r = (Hp - k) % s
        i, j = min(int(row), Ho - 1), min(int(col), Ho - 1)

        cov = coverage_map(H, H, k, s, p, padded=True)
        inner = cov[p : p + H, p : p + H]
        set_image(im_cov, cov.astype(float))
        im_cov.set_clim(0, max(1, int(cov.max())))
        window.set_bounds(j * s - 0.5, i * s - 0.5, k, k)
        inside.set_bounds(p - 0.5, p - 0.5, H, H)
        window.set_visible(True)
        inside.set_visible(p > 0)
        span = f"{int(inner.min())}..{int(inner.max())}"
        ax_cov.set_title(f"(a) coverage {span};\nred: window of y[{i}, {j}]", fontsize=10)

        rng = np.random.default_rng(seed)
        delta = rng.standard_normal((Ho, Ho))
        w = np.random.default_rng(seed + k).standard_normal((k, k))
        dil = dilate(delta, s)
        set_image(im_dil, dil)
        lim = symmetric_limit(dil)
        im_dil.set_clim(-lim, lim)
        entry.set_bounds(j * s - 0.5, i * s - 0.5, 1, 1)
        entry.set_visible(True)
        ax_dil.set_title(f"(b) dilate(δ, {s}):\n{Ho}×{Ho} → {dil.shape[0]}×{dil.shape[1]}", fontsize=10)

        dx = conv2d_backward(delta[None, None], np.zeros((1, 1, H, H)), w[None, None], s, p)[0][0, 0]
        set_image(im_dx, dx)
        lim = symmetric_limit(dx)
        im_dx.set_clim(-lim, lim)
        zero_rows = int(np.sum(inner.sum(axis=1) == 0))  # rows no window reads
        ax_dx.set_title(f"(c) ∂E/∂x {H}×{H}:\n{zero_rows} zero rows and columns", fontsize=10)
        uneven = "" if k % s == 0 else f", k mod s = {k % s}: uneven"
        head = f"H={H}, k={k}, s={s}, p={p}: output {Ho}×{Ho}"
        suptitle.set_text(f"{head}, r = (H + 2p − k) mod s = {r}{uneven}")
        return {**drawn, "row": i, "col": j, "Ho": Ho, "r": r, "zero_rows": zero_rows}

    update(8, 3, 2, 1, 1, 2)  # lay the figure out around real pictures and titles, not 1×1 placeholders
    fix_layout(fig, rect=(0, 0, 1, 0.95))
    return fig, update


# every figure of notebook 03, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "stride picture": lambda: stride_picture(8, k=3, s=2, out_index=(1, 2)),
    **explorer_figures(
        "stride explorer",
        lambda: stride_explorer(seed=0),
        dict(input_size=8, kernel_size=3, stride=2, padding=1, row=1, col=2),
        input_size=(3, 12),
        kernel_size=(1, 5),
        stride=(1, 4),
        padding=(0, 3),
        row=(0, 11),
        col=(0, 11),
    ),
}


def _strided_cases(seed):
    """2-D (x, w, δ, s, p) with k < s, k = s, k > s, r > p, 0 < r <= p, r = 0, and one stride-1 layer.

    Every kernel is at most as tall and wide as δ, so a slice of δ's size fits in the padded
    input wherever a wrong attempt starts it.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for H, W, kh, kw, s, p in [
        (5, 5, 2, 2, 2, 0),  # k = s, one unused row and column (r = 1 > p)
        (7, 6, 3, 2, 2, 0),  # k = 3 not a multiple of s = 2: overlapping windows; r = 0
        (7, 8, 2, 1, 3, 0),  # s > k: rows between windows; r = 2 and 1
        (6, 7, 2, 3, 2, 1),  # padding, r = 0
        (7, 5, 3, 1, 3, 2),  # r = 2 <= p = 2: the unused rows are all padding
        (5, 6, 3, 2, 1, 1),  # stride 1
    ]:
        Ho, Wo = conv_output_size(H, kh, s, p), conv_output_size(W, kw, s, p)
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((kh, kw))
        delta = rng.standard_normal((Ho, Wo))
        cases.append({"x": x, "w": w, "delta": delta, "s": s, "p": p})
    return cases


def _strided_dx_expected(delta, w, H, W, s, p):
    x = np.zeros((1, 1, H, W))
    return conv.conv2d_backward(delta[None, None], x, w[None, None], s, p)[0][0, 0]


def _planted_strided_dx(
    delta,
    w,
    H,
    W,
    s,
    p,
    short=False,
    short_to_end=False,
    kernel_stride=False,
    no_stride=False,
    scaled_taps=False,
    flip=False,
    overwrite=False,
    crop_minus_p=False,
):
    """The exercise's loop over kernel entries, strided and padded, with each wrong step on or off.

    Entry (m, n) adds w[m, n]·δ onto rows m, m + s, ..., m + (Ho − 1)s (and the columns alike)
    of ∂E/∂x_p. short: ∂E/∂x_p only as large as the windows reach, (Ho − 1)s + k, then
    cropped [p : p + H] (short_to_end: [p : rows − p]); kernel_stride: the slice starts at m·s
    and steps by 1; no_stride: starts at m and steps by 1; scaled_taps: starts at m·s and steps
    by s; flip: rot180(w); overwrite: ``=``;
    crop_minus_p: [p:-p].
    """
    (Ho, Wo), (kh, kw) = delta.shape, w.shape
    reach = (Ho - 1) * s + kh, (Wo - 1) * s + kw
    rows, cols = reach if short or short_to_end else (H + 2 * p, W + 2 * p)
    dxp = np.zeros((rows, cols))
    k = w[::-1, ::-1] if flip else w
    for m in range(kh):
        for n in range(kw):
            if kernel_stride:
                where = np.s_[m * s : m * s + Ho, n * s : n * s + Wo]
            elif no_stride:
                where = np.s_[m : m + Ho, n : n + Wo]
            elif scaled_taps:
                where = np.s_[m * s : (m + Ho) * s : s, n * s : (n + Wo) * s : s]
            else:
                where = np.s_[m : m + s * Ho : s, n : n + s * Wo : s]
            if overwrite:
                dxp[where] = k[m, n] * delta
            else:
                dxp[where] += k[m, n] * delta
    if crop_minus_p:
        return dxp[p:-p, p:-p]
    if short_to_end:
        return dxp[p : rows - p, p : cols - p]
    return dxp[p : p + H, p : p + W]


_WINDOWS_REACH = (
    "leftover-rows: (Ho - 1)·s + kh is how far the windows reach, not the height of x_p: that is H + 2p, "
    "r = (H + 2p - kh) mod s rows more (section 5), rows no window reads. "
)
_DX_BUGS = {
    "short_to_end": ("leftover-rows", _WINDOWS_REACH + "Your answer is r rows and columns short wherever "
                     "r > 0: make ∂E/∂x_p the padded input's shape, its last r rows and columns 0, and crop "
                     "p from each side."),
    "short": ("leftover-rows", _WINDOWS_REACH + "Make ∂E/∂x_p the padded input's shape; its last r rows "
              "and columns stay 0. Where r <= p the missing rows are all padding, cropped anyway: there this "
              "bug does not show."),
    "kernel_stride": ("stride", "stride: output (i, j) reads x_p[i·s + m, j·s + n] (section 1), so kernel "
                      "entry (m, n) meets rows m, m + s, ..., m + (Ho - 1)·s: its slice starts at m and "
                      "steps by s. Yours starts at m·s and steps by 1: kernel entries s apart and windows 1 "
                      "apart, the other way round (the same only at stride 1)."),
    "no_stride": ("stride", "stride: your slices step by 1, as at stride 1; output i reads rows i·s + m, so "
                  "the slice of kernel entry (m, n) steps by s: rows m, m + s, ..., m + (Ho - 1)·s."),
    "scaled_taps": ("stride", "stride: your slice of kernel entry (m, n) starts at row m·s: the stride moves "
                    "the window, not the entry inside it. Output i reads rows i·s + m (section 1), so the "
                    "slice starts at m and steps by s: rows m, m + s, ..., m + (Ho - 1)·s."),
    "flip": ("flip", "flip: in this scatter form w[m, n] itself lands on x_p[i·s + m, j·s + n]; rot180(w) "
             "belongs to the gather form, the full correlation of section 2.2."),
    "overwrite": ("accumulate", "accumulate: = keeps only the last kernel entry's share of a pixel; where "
                  "windows overlap (k > s) a pixel sums one product per window that read it: +=."),
    "crop_minus_p": ("crop", "crop: [p:-p] keeps nothing when p = 0 (-0 is 0); crop with "
                     "[p:p + H, p:p + W]."),
}  # fmt: skip

# any mix of the wrong steps, but one way of getting each thing wrong at a time (one id once); the
# combinations try later keys first, so "short" (the planted size) is named before "short_to_end"
_DX_ATTEMPTS = [a for a in combinations(_DX_BUGS, _planted_strided_dx) if len(set(a.bug)) == len(a.bug)]


def check_strided_dx(fn, seed=0, diagnose=True):
    """Exercise (find the bugs): fn(delta, w, H, W, s, p) -> ∂E/∂x (H, W), strided and padded.

    δ (Ho, Wo), w (kh, kw). Expected: cnnlib's conv2d_backward. The planted code adds
    w[m, n]·δ onto a slice of ∂E/∂x_p per kernel entry, with ∂E/∂x_p only as large as the
    windows reach and the slice started at m·s with step 1. Names "leftover-rows", "stride"
    (its two bugs), "flip", "accumulate", "crop". A function that calls cnnlib's correlation or
    a backward pass breaks the rule "library-gradient". Derived in notebooks/03_stride.ipynb.
    """
    cases = [(c["delta"], c["w"], *c["x"].shape, c["s"], c["p"]) for c in _strided_cases(seed)]

    def run(f):
        return check(f, _strided_dx_expected, cases, "strided dE/dx", _DX_ATTEMPTS, diagnose=diagnose)

    return check_refusing_library_gradients(run, fn, "the chain of section 2.2")


def _coverage_counted(n, k, s, p, padded=False, clip=True):
    """Windows over each position, counted window by window (clip=False: windows past the end too)."""
    count = np.zeros(n + 2 * p + (k + s) * (not clip), dtype=int)
    last = conv_output_size(n, k, s, p) if clip else len(range(0, n + 2 * p, s))
    for i in range(last):
        count[i * s : i * s + k] += 1
    return count[: n + 2 * p] if padded else count[p : p + n]


_COVERAGE_ATTEMPTS = [
    WrongAttempt(
        "padding",
        "padding: input position u is row u + p of the padded axis; your counts are those of padded rows "
        "0 .. n - 1.",
        lambda n, k, s, p: _coverage_counted(n, k, s, p, padded=True)[:n],
    ),
    WrongAttempt(
        "crop",
        "crop: your array covers the padded axis (n + 2p entries); drop the p padding rows on each side.",
        lambda n, k, s, p: _coverage_counted(n, k, s, p, padded=True),
    ),
    WrongAttempt(
        "leftover-rows",
        "leftover-rows: you count windows that run past the end of the padded axis; only windows "
        "i = 0 .. Ho - 1 exist, so the last r rows are read by fewer windows (or none).",
        lambda n, k, s, p: _coverage_counted(n, k, s, p, clip=False),
    ),
    WrongAttempt(
        "border",
        "border: ceil(k / s) is the count away from the borders; near the ends fewer windows reach a row.",
        lambda n, k, s, p: np.full(n, -(-k // s)),
    ),
]


def check_coverage(fn):
    """Exercise: fn(n, k, s, p) -> int array (n,): how many windows read each input position.

    One axis of ``cnnlib.shapes.coverage_map`` (the 2-D map is the outer product of
    the row and the column counts). Derived in notebooks/03_stride.ipynb,
    "6 · The coverage map: how many outputs read each pixel". Names "padding", "crop",
    "leftover-rows", "border".
    """

    cases = [(7, 3, 2, 0), (8, 4, 2, 1), (7, 2, 3, 0), (9, 3, 3, 1), (6, 5, 2, 2), (5, 1, 1, 0)]

    def expected(n, k, s, p):  # ∂E/∂x with δ = 1 and w = 1 counts the windows over each position
        Ho = conv_output_size(n, k, s, p)
        dx = conv.conv2d_backward(
            np.ones((1, 1, Ho, 1)), np.zeros((1, 1, n, 1)), np.ones((1, 1, k, 1)), s, (p, 0)
        )[0]
        return np.rint(dx[0, 0, :, 0]).astype(int)

    # the exercise is the closed form: the library's map would answer it for the learner
    return check_refusing_calls(
        lambda f: check(f, expected, cases, "coverage", _COVERAGE_ATTEMPTS),
        fn,
        [(shapes, "coverage_map")],
        "library-coverage",
        "your function calls cl.shapes.coverage_map, which counts the windows for you; the exercise asks "
        "for the closed form in n, k, s and p.",
    )
