"""Slider explorers built on ipywidgets.

Pattern (fast redraws): build the figure ONCE, keep its artists, and on every slider
move only update them (``AxesImage.set_data``, ``set_clim``, ``set_text``, ...) before
the inline backend renders the same figure again. Rebuilding a figure with colour bars
costs several times more than updating it.

    fig, update = my_figure()          # builds artists, returns an update(**params) function
    update(stride=2, padding=1)        # a plain call: the figure nbval stores and checks
    explore(fig, update, stride=(1, 3), padding=(0, 3))   # the sliders (output not compared)

``redraw_ms`` measures what one slider move costs in the kernel: update + PNG render.
"""

from __future__ import annotations

import io
import time

import matplotlib.pyplot as plt
import numpy as np

from .curvature import gd_direction_losses  # noqa: F401
from .plots import fix_layout


def render_png(fig) -> bytes:
    """Render ``fig`` to PNG bytes the way the inline backend does (what a redraw costs)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def redraw_ms(fig, update, settings, repeats=3):
    """Median time in milliseconds of update(**s) + PNG render over the given settings.

    Parameters
    ----------
    fig : matplotlib Figure
    update : callable(**params)
    settings : list of dict
        Slider positions to cycle through (each is timed ``repeats`` times).
    """
    times = []
    for _ in range(repeats):
        for s in settings:
            t0 = time.perf_counter()
            update(**s)
            render_png(fig)
            times.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(times))


def explore(fig, update, **sliders):
    """Show ``fig`` with sliders; moving one calls update(**values) and shows the figure again.

    Parameters
    ----------
    fig : matplotlib Figure
        Built once; it is closed for pyplot so the inline backend does not show it twice.
    update : callable(**params)
        Changes the figure's artists in place.
    **sliders
        ipywidgets widgets or interact abbreviations: (min, max), (min, max, step), list.

    Returns
    -------
    ipywidgets.interactive
        Displayed by the notebook (assign it, or let it be the cell's last value).
    """
    import ipywidgets as widgets
    from IPython.display import display

    plt.close(fig)

    def show(**params):
        update(**params)
        display(fig)

    ui = widgets.interactive(show, **sliders)
    ui.layout = widgets.Layout(width="100%")
    return ui


# --- notebooks 00-01 (add below; keep each notebook pair in its own section) ---


_INPUT_RGB = (1.0, 1.0, 1.0)
_PAD_RGB = (0.82, 0.82, 0.82)
_UNUSED_RGB = (1.0, 0.85, 0.55)
_WINDOW_RGB = (0.98, 0.62, 0.6)


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


def backward_accumulation_figure(x, w, delta):
    """∂E/∂w and ∂E/∂x of one single-kernel layer, built up one output at a time.

    Output (i, j) used the window x[i:i+kh, j:j+kw] and every weight once, so its
    δ[i, j] adds δ[i, j]·window to ∂E/∂w and δ[i, j]·w to the window's place in ∂E/∂x.
    ``update(t)`` shows the sums after the first t outputs (row-major) with output
    t − 1's window outlined; t = Ho·Wo gives the full gradients.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    w : ndarray of shape (kh, kw)
    delta : ndarray of shape (H − kh + 1, W − kw + 1)
        δ = ∂E/∂y.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Four panels: x, δ (numbers in every cell), ∂E/∂w so far, ∂E/∂x so far (colour
        bars fixed to the final gradients, so partial sums are comparable).
    update : callable(t)
        t in 0 .. Ho·Wo. Returns (dw, dx), the partial sums.

    Notes
    -----
    At t = Ho·Wo: ∂E/∂w = x ★ δ and ∂E/∂x = pad(δ, k − 1) ★ rot180(w) (full
    cross-correlation). Derived in notebooks/01_single_kernel.ipynb.
    """
    from matplotlib.patches import Rectangle

    from .plots import SIGNED_CMAP, UNSIGNED_CMAP, _annotate, heatmap, symmetric_limit

    x, w, delta = (np.asarray(v, dtype=float) for v in (x, w, delta))
    (H, W), (kh, kw) = x.shape, w.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    if delta.shape != (Ho, Wo):
        raise ValueError(f"delta must have the output's shape ({Ho}, {Wo}), got {delta.shape}")
    # every partial sum, precomputed: a redraw is then set_data + set_text only
    dws, dxs = [np.zeros_like(w)], [np.zeros_like(x)]
    for i in range(Ho):
        for j in range(Wo):
            dws.append(dws[-1] + delta[i, j] * x[i : i + kh, j : j + kw])
            dx = dxs[-1].copy()
            dx[i : i + kh, j : j + kw] += delta[i, j] * w
            dxs.append(dx)
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1, 1, 1.2, 1.2]})
    # x and δ carry their numbers in every cell, so they get no colour bar: fewer texts per redraw
    lim_d = symmetric_limit(delta)
    panels = [
        (axes[0], x, "input x", UNSIGNED_CMAP, None, None),
        (axes[1], delta, "δ = ∂E/∂y", SIGNED_CMAP, -lim_d, lim_d),
    ]
    for ax, a, name, cmap, lo, hi in panels:
        im = ax.imshow(a, cmap=cmap, vmin=lo, vmax=hi)
        _annotate(ax, a, im, "{:g}")
        ax.set_title(f"{name}  ({a.shape[0]}×{a.shape[1]})")
        ax.set_xticks(range(a.shape[1]))
        ax.set_yticks(range(a.shape[0]))
        ax.set_xlabel("column j")
        ax.set_ylabel("row i")
    lim_w, lim_x = symmetric_limit(dws[-1]), symmetric_limit(dxs[-1])
    im_w = heatmap(dws[-1], "∂E/∂w", axes[2], vmax=lim_w, fmt="{:g}",
                   xlabel="kernel column n", ylabel="kernel row m")  # fmt: skip
    im_x = heatmap(dxs[-1], "∂E/∂x", axes[3], vmax=lim_x, fmt="{:g}")
    for cax, lim in ((fig.axes[-2], lim_w), (fig.axes[-1], lim_x)):
        cax.set_yticks([-lim, 0, lim])
    texts_w, texts_x = list(axes[2].texts), list(axes[3].texts)
    win = axes[0].add_patch(Rectangle((-0.5, -0.5), kw, kh, fill=False, ec="tab:red", lw=2.5))
    cell = axes[1].add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="tab:red", lw=2.5))
    place = axes[3].add_patch(Rectangle((-0.5, -0.5), kw, kh, fill=False, ec="tab:red", lw=2.5))
    titles = (axes[2].title, axes[3].title)
    title = fig.suptitle("")

    def update(t=Ho * Wo):
        t = min(max(int(t), 0), Ho * Wo)
        dw, dx = dws[t], dxs[t]
        im_w.set_data(dw)
        im_x.set_data(dx)
        for texts, arr, lim in ((texts_w, dw, lim_w), (texts_x, dx, lim_x)):
            for txt, v in zip(texts, arr.ravel(), strict=True):
                txt.set_text(f"{v:g}")
                # the heatmap's rule: light text on the dark ends of the diverging map
                txt.set_color("w" if abs(v) > 0.6 * lim else "k")
        shown = t > 0
        for patch in (win, cell, place):
            patch.set_visible(shown)
        if shown:
            i, j = divmod(t - 1, Wo)
            win.set_xy((j - 0.5, i - 0.5))
            cell.set_xy((j - 0.5, i - 0.5))
            place.set_xy((j - 0.5, i - 0.5))
            title.set_text(
                f"after {t} of {Ho * Wo} outputs: output ({i}, {j}) adds δ[{i},{j}]·window to ∂E/∂w "
                f"and δ[{i},{j}]·w to the window's place in ∂E/∂x"
            )
        else:
            title.set_text(f"after 0 of {Ho * Wo} outputs: both gradients start at zero")
        titles[0].set_text(f"∂E/∂w so far  ({kh}×{kw})")
        titles[1].set_text(f"∂E/∂x so far  ({H}×{W})")
        return dw, dx

    update()
    # fixed margins, no layout engine: a layout engine would make every savefig draw the figure twice
    fig.subplots_adjust(left=0.04, right=0.96, top=0.8, bottom=0.14, wspace=0.35)
    return fig, update


# --- notebooks 02-03 ---


def stride_explorer(seed=0, figsize=(13, 4.2)):
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
    figsize : (float, float)

    Returns
    -------
    fig : matplotlib Figure
        Square H×W inputs, k×k kernels.
    update : callable(size, kernel, stride, padding, row=0, col=0)
        Redraws every panel with ``set_data``, ``set_clim`` and ``set_bounds``; the
        output index is clamped to the output. Returns the settings it drew, a dict
        with "Ho" (output size), "r" ((H + 2p − k) mod s) and "zero_rows" (rows of
        ∂E/∂x that no window reaches); "Ho" is None when the kernel does not fit.

    Notes
    -----
    ∂E/∂x is the full cross-correlation of dilate(δ, s) with rot180(w), padded with
    r zero rows and columns and cropped by p. Text is what a redraw mostly costs, so
    the panels carry few tick labels. Derived in notebooks/03_stride.ipynb.
    """
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    from .conv import conv2d_backward, dilate
    from .plots import SIGNED_CMAP, UNSIGNED_CMAP, symmetric_limit
    from .shapes import coverage_map

    fig, (ax_cov, ax_dil, ax_dx) = plt.subplots(1, 3, figsize=figsize)
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
    fix_layout(fig, rect=(0, 0, 1, 0.95))

    def show(im, a, ax):
        h, w = a.shape
        im.set_data(a)
        im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)

    def update(size, kernel, stride, padding, row=0, col=0):
        H, k, s, p = int(size), int(kernel), int(stride), int(padding)
        Hp = H + 2 * p
        if k > Hp:
            for im, ax in ((im_cov, ax_cov), (im_dil, ax_dil), (im_dx, ax_dx)):
                show(im, blank, ax)
                ax.set_title("")
            for patch in (window, inside, entry):
                patch.set_visible(False)
            suptitle.set_text(f"H={H}, k={k}, p={p}: the kernel does not fit ({H} + 2·{p} < {k})")
            return {"Ho": None, "r": None, "zero_rows": None}
        Ho = (Hp - k) // s + 1
        r = (Hp - k) % s
        i, j = min(int(row), Ho - 1), min(int(col), Ho - 1)

        cov = coverage_map(H, H, k, s, p, padded=True)
        inner = cov[p : p + H, p : p + H]
        show(im_cov, cov.astype(float), ax_cov)
        im_cov.set_clim(0, max(1, int(cov.max())))
        window.set_bounds(j * s - 0.5, i * s - 0.5, k, k)
        inside.set_bounds(p - 0.5, p - 0.5, H, H)
        window.set_visible(True)
        inside.set_visible(p > 0)
        ax_cov.set_title(f"(a) coverage {int(inner.min())}..{int(inner.max())}; red: window of y[{i}, {j}]")

        rng = np.random.default_rng(seed)
        delta = rng.standard_normal((Ho, Ho))
        w = np.random.default_rng(seed + k).standard_normal((k, k))
        dil = dilate(delta, s)
        show(im_dil, dil, ax_dil)
        lim = symmetric_limit(dil)
        im_dil.set_clim(-lim, lim)
        entry.set_bounds(j * s - 0.5, i * s - 0.5, 1, 1)
        entry.set_visible(True)
        ax_dil.set_title(f"(b) dilate(δ, {s}): {Ho}×{Ho} → {dil.shape[0]}×{dil.shape[1]}")

        dx = conv2d_backward(delta[None, None], np.zeros((1, 1, H, H)), w[None, None], s, p)[0][0, 0]
        show(im_dx, dx, ax_dx)
        lim = symmetric_limit(dx)
        im_dx.set_clim(-lim, lim)
        zero_rows = int(np.sum(inner.sum(axis=1) == 0))  # rows no window reads
        ax_dx.set_title(f"(c) ∂E/∂x {H}×{H}: {zero_rows} zero rows and columns")
        uneven = "" if k % s == 0 else f", k mod s = {k % s}: uneven"
        head = f"H={H}, k={k}, s={s}, p={p}: output {Ho}×{Ho}"
        suptitle.set_text(f"{head}, r = (H + 2p − k) mod s = {r}{uneven}")
        return {"Ho": Ho, "r": r, "zero_rows": zero_rows}

    return fig, update


def delta_spike_explorer(x, w, figsize=(13, 3.9)):
    """Notebook 02's explorer: δ with a single 1 at (d, i, j), and the gradients it produces.

    Three panels: δ[d] with its one non-zero entry; ∂E/∂w[d, c] for every input
    channel c side by side (the window of x[c] that output (i, j) read); ∂E/∂x[c] for
    every c side by side (the slice w[d, c] stamped on that window). The gradient
    panels share one symmetric colour scale. Stride 1, no padding, one image.

    Parameters
    ----------
    x : ndarray of shape (C, H, W)
    w : ndarray of shape (D, C, kh, kw)
    figsize : (float, float)

    Returns
    -------
    fig : matplotlib Figure
    update : callable(d, i, j)
        Moves the 1 to kernel d, output position (i, j) (clamped to the valid range)
        and redraws with ``set_data`` / ``set_clim``; returns the (d, i, j) it drew.

    Notes
    -----
    ∂E/∂w[d', c] = x[c] ★ δ[d'] is the window x[c, i:i+kh, j:j+kw] for d' = d and zero
    for every other kernel; ∂E/∂x[c] = Σ_d' pad(δ[d']) ★ rot180(w[d', c]) is w[d, c]
    placed at rows i..i+kh−1, columns j..j+kw−1. The channels are tiled into one
    image per panel (NaN columns between them) because every extra Axes with its
    tick labels costs more redraw time than the pixels do.
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    from matplotlib.ticker import MaxNLocator

    from .conv import conv2d_backward
    from .plots import SIGNED_CMAP, symmetric_limit

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
    fig, axes = plt.subplots(1, 3, figsize=figsize, width_ratios=[Wo, C * (kw + 1), C * (W + 1)])
    im_delta = axes[0].imshow(np.zeros((Ho, Wo)), cmap=cmap, vmin=-1, vmax=1)
    fig.colorbar(im_delta, ax=axes[0], fraction=0.046, pad=0.04, ticks=[-1, 0, 1], label="δ")
    im_dw = axes[1].imshow(tile(np.zeros((C, kh, kw))), cmap=cmap)
    im_dx = axes[2].imshow(tile(np.zeros((C, H, W))), cmap=cmap)
    cb = fig.colorbar(im_dx, ax=axes[2], fraction=0.046, pad=0.04, label="∂E/∂w, ∂E/∂x (shared)")
    cb.locator = MaxNLocator(nbins=4)
    axes[0].set_xlabel("column j")
    axes[0].set_ylabel("row i")
    axes[1].set_xlabel("kernel column n, per channel c")
    axes[1].set_ylabel("kernel row m")
    axes[2].set_xlabel("column, per channel c")
    axes[2].set_ylabel("row")
    for ax, wd in ((axes[1], kw), (axes[2], W)):
        ax.set_xticks([c * (wd + 1) + (wd - 1) / 2 for c in range(C)], [f"c = {c}" for c in range(C)])
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    axes[0].xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    suptitle = fig.suptitle("")
    fix_layout(fig)

    def update(d, i, j):
        d, i, j = min(max(int(d), 0), D - 1), min(max(int(i), 0), Ho - 1), min(max(int(j), 0), Wo - 1)
        delta = np.zeros((1, D, Ho, Wo))
        delta[0, d, i, j] = 1.0
        dx, dw, _ = conv2d_backward(delta, x[None], w)
        im_delta.set_data(delta[0, d])
        axes[0].set_title(f"δ[{d}]: 1 at ({i}, {j})")
        lim = symmetric_limit(dw[d], dx[0])
        im_dw.set_data(tile(dw[d]))
        im_dw.set_clim(-lim, lim)
        axes[1].set_title(f"∂E/∂w[{d}, c] = x[c, {i}:{i + kh}, {j}:{j + kw}]")
        im_dx.set_data(tile(dx[0]))
        im_dx.set_clim(-lim, lim)
        axes[2].set_title(f"∂E/∂x[c]: w[{d}, c] stamped at rows {i}..{i + kh - 1}, columns {j}..{j + kw - 1}")
        suptitle.set_text(f"δ = 1 at kernel d = {d}, output ({i}, {j}); the other kernels' ∂E/∂w are 0")
        return d, i, j

    return fig, update


# --- notebook 04 ---


def padding_explorer(H=7, seed=0, figsize=(14.5, 5.2)):
    """The padding explorer of notebook 04: ∂E/∂x through the padded input and as a transposed convolution.

    Three panels, redrawn in place for any stride s, padding p and kernel size k
    (square H×H input, k×k kernel): (a) ∂E/∂xp on the padded grid, with the windows
    of y[0, 0] and y[0, 1] (their distance is the stride) and the input's place, the
    part the crop keeps, dashed; (b) dilate(δ, s) (green) padded by k − p − 1 before
    and k − p − 1 + r after (negative amounts crop), the resulting array outlined in
    black; (c) ∂E/∂x = (b) ★ rot180(w), which the title compares with
    ``conv2d_backward``. w and δ are fixed random numbers drawn from ``seed`` (δ as if
    from any loss), so the picture is deterministic.

    Parameters
    ----------
    H : int
        Input size (H×H).
    seed : int
    figsize : (float, float)

    Returns
    -------
    fig : matplotlib Figure
    update : callable(stride, padding, kernel)
        Redraws every panel with ``set_data``, ``set_extent``, ``set_clim`` and
        ``set_bounds``. Returns a dict with "Ho", "r", "before", "after" and
        "max_abs_diff" (transposed convolution vs ``conv2d_backward``); "Ho" is None
        when the kernel does not fit the padded input.

    Notes
    -----
    r = (H + 2p − k) mod s. Padded δ has (Ho − 1)·s + 1 + (k − p − 1) + (k − p − 1 + r)
    = H + k − 1 rows, so its valid cross-correlation with rot180(w) is H×H, and it equals
    the centre of ∂E/∂xp. Derived in notebooks/04_padding.ipynb.
    """
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    from .conv import conv2d_backward, conv2d_forward, dilate, pad, rot180
    from .plots import SIGNED_CMAP, symmetric_limit
    from .shapes import transposed_conv_padding

    fig, (ax_dxp, ax_hat, ax_dx) = plt.subplots(1, 3, figsize=figsize)
    blank = np.full((1, 1), np.nan)
    ims = {}
    specs = [
        ("dxp", ax_dxp, "∂E/∂xp", "column of the padded input", "row of the padded input"),
        ("hat", ax_hat, "δ", "column (dilated, padded δ)", "row (dilated, padded δ)"),
        ("dx", ax_dx, "∂E/∂x", "input column v", "input row u"),
    ]
    for key, ax, cb_label, xl, yl in specs:
        ims[key] = ax.imshow(blank, cmap=SIGNED_CMAP, vmin=-1, vmax=1, interpolation="nearest")
        cb = fig.colorbar(ims[key], ax=ax, fraction=0.046, pad=0.04, label=cb_label)
        # few tick labels: text layout is most of what a redraw costs
        cb.locator = MaxNLocator(nbins=4, symmetric=True)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))

    def box(ax, color, ls="-", lw=2.5):
        return ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=color, lw=lw, ls=ls))

    inside = box(ax_dxp, "k", "--", 2)
    win0, win1 = box(ax_dxp, "tab:red"), box(ax_dxp, "tab:orange", ":")
    dil_box, used_box = box(ax_hat, "tab:green", "--", 2), box(ax_hat, "k", "-", 2)
    patches = (inside, win0, win1, dil_box, used_box)
    suptitle = fig.suptitle("")
    for _, ax, *_ in specs:  # two-line titles, so that the layout leaves room for them
        ax.set_title("(a)\n(b)", fontsize=10)
    fix_layout(fig, rect=(0, 0, 1, 0.95))

    def show(key, ax, a):
        h, w_ = a.shape
        im = ims[key]
        im.set_data(a)
        im.set_extent((-0.5, w_ - 0.5, h - 0.5, -0.5))
        ax.set_xlim(-0.5, w_ - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        lim = symmetric_limit(a)
        im.set_clim(-lim, lim)

    def update(stride, padding, kernel):
        s, p, k = int(stride), int(padding), int(kernel)
        Hp = H + 2 * p
        if k > Hp:
            for key, ax, *_ in specs:
                show(key, ax, blank)
                ax.set_title("")
            for patch in patches:
                patch.set_visible(False)
            suptitle.set_text(f"H={H}, k={k}, s={s}, p={p}: the kernel does not fit the padded input")
            return {"Ho": None, "r": None, "before": None, "after": None, "max_abs_diff": None}
        Ho = (Hp - k) // s + 1
        r = (Hp - k) % s
        w = np.random.default_rng(seed + 100 + k).standard_normal((k, k))
        delta = np.random.default_rng(seed + 1).standard_normal((Ho, Ho))

        # padding as its own layer: the unpadded strided layer's input gradient is ∂E/∂xp
        dxp = conv2d_backward(delta[None, None], np.zeros((1, 1, Hp, Hp)), w[None, None], s, 0)[0][0, 0]
        show("dxp", ax_dxp, dxp)
        inside.set_bounds(p - 0.5, p - 0.5, H, H)
        win0.set_bounds(-0.5, -0.5, k, k)
        win1.set_bounds(s - 0.5, -0.5, k, k)
        win1.set_visible(Ho > 1)
        ax_dxp.set_title(f"(a) ∂E/∂xp on the padded grid, {Hp}×{Hp}: windows of y[0, 0] (red),\n"
                         f"y[0, 1] (orange); the crop keeps the input's {H}×{H} (dashed)",
                         fontsize=10)  # fmt: skip

        before, after = transposed_conv_padding(H, k, s, p)
        dil = dilate(delta, s)
        hat = pad(dil, ((before, after), (before, after)))
        # canvas: the union of dilate(δ) and the padded array, so that cropped entries stay visible
        L = dil.shape[0]
        lo, hi = min(0, -before), max(L, L + after)
        canvas = np.zeros((hi - lo, hi - lo))
        canvas[-lo : -lo + L, -lo : -lo + L] = dil
        show("hat", ax_hat, canvas)
        dil_box.set_bounds(-lo - 0.5, -lo - 0.5, L, L)
        used_box.set_bounds(-before - lo - 0.5, -before - lo - 0.5, hat.shape[0], hat.shape[0])
        crop = " (negative: crop)" if min(before, after) < 0 else ""
        ax_hat.set_title(f"(b) dilate(δ, {s}) (green, {L}×{L}) padded by k−p−1 = {before}\n"
                         f"before, k−p−1+r = {after} after{crop} → black, {hat.shape[0]}×{hat.shape[0]}",
                         fontsize=10)  # fmt: skip

        dx = conv2d_forward(hat[None, None], rot180(w)[None, None])[0, 0]
        diff = float(np.max(np.abs(dx - dxp[p : p + H, p : p + H])))
        show("dx", ax_dx, dx)
        ax_dx.set_title(f"(c) ∂E/∂x = (b) ★ rot180(w), {H}×{H};\nequals the crop of (a): {diff < 1e-10}",
                        fontsize=10)  # fmt: skip
        for patch in (inside, win0, dil_box, used_box):
            patch.set_visible(True)
        suptitle.set_text(f"H={H}, k={k}, s={s}, p={p}:  Ho = floor(({H} + 2·{p} − {k})/{s}) + 1 = {Ho},  "
                          f"r = ({H} + 2·{p} − {k}) mod {s} = {r}")  # fmt: skip
        return {"Ho": Ho, "r": r, "before": before, "after": after, "max_abs_diff": diff}

    return fig, update


# --- notebook 05 ---


def pool_routing_figure(x, size=2, stride=None):
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
        Returns (dx_max, dx_avg).

    Notes
    -----
    ∂E/∂x[u, v] = Σ_{windows (i, j) that (u, v) wins} δ[i, j] (max) and
    Σ_{windows containing (u, v)} δ[i, j]/(kh·kw) (average). Rows and columns no window
    reaches (when (H − k) mod s ≠ 0) get 0. Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    from .plots import heatmap
    from .pool import avgpool2d_backward, maxpool2d_backward

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
            txt.set_color("w" if v < 0.5 * hi else "k")  # viridis: dark at the low end

    def update(size=None, stride=None):
        if size is not None:
            state["size"] = int(size)
        if stride is not None:
            state["stride"] = int(stride)
        k, s = min(state["size"], H, W), state["stride"]
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        ones = np.ones((1, 1, Ho, Wo))
        dx_max = maxpool2d_backward(ones, x[None, None], k, s)[0, 0]
        dx_avg = avgpool2d_backward(ones, x[None, None], k, s)[0, 0]
        _recolour(im_max, texts_max, dx_max)
        _recolour(im_avg, texts_avg, dx_avg)
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
        return dx_max, dx_avg

    update()
    fig.subplots_adjust(left=0.06, right=0.92, top=0.76, bottom=0.11, wspace=0.42)
    return fig, update


# --- notebook 06 ---


def step_size_explorer(lam, c0, steps=200, stop_factor=1e6, max_ratio=1.5):
    """Figure + update(ratio) for the learning-rate slider: η = ratio · 2/λmax.

    Parameters
    ----------
    lam : array-like of shape (P,)
        Hessian eigenvalues (any order).
    c0 : array-like of shape (P,)
        Starting error along the matching eigenvectors.
    steps, stop_factor : as in ``gd_direction_losses``.
    max_ratio : float
        Largest ratio the slider offers (fixes the y range of the left panel).

    Returns
    -------
    fig : matplotlib Figure
        Left: the growth factor |1 − η λᵢ| of every eigen-direction (red above 1:
        that direction diverges). Right: E − E* per step (log scale), split into the
        steepest direction and all the others.
    update : callable(ratio)
        Redraws by changing bar heights and line data only.

    Notes
    -----
    Derived in notebooks/06_debugging_backprop.ipynb.
    """
    lam, c0 = np.asarray(lam, dtype=float), np.asarray(c0, dtype=float)
    order = np.argsort(lam)
    lam, c0 = lam[order], c0[order]
    lr_max = 2.0 / lam[-1]
    E0 = float(np.sum(0.5 * lam * c0**2))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.6]})
    idx = np.arange(lam.size)
    bars = ax0.bar(idx, np.ones(lam.size), color="tab:blue")
    ax0.axhline(1.0, color="k", ls="--", lw=1)
    ax0.text(0, 1.03, "stability limit |1 − ηλ| = 1", fontsize=8, va="bottom")
    top = max(2.0, 2 * max_ratio - 1)
    ax0.set_ylim(0, top + 0.1)
    ax0.set_yticks(np.arange(0, top + 0.01, 0.5))  # few ticks: every tick label costs draw time
    ax0.set_xticks([0, lam.size - 1])
    ax0.set_xlabel("eigen-direction i (sorted by λᵢ, flattest to steepest)")
    ax0.set_ylabel("growth factor |1 − η λᵢ| per step")
    ax0.set_title("which directions shrink (blue) or grow (red)", fontsize=10)
    ks = np.arange(steps + 1)
    ones = np.ones(ks.size)  # placeholder data (positive, for the log scale) until update()
    (l_all,) = ax1.plot(ks, ones, color="k", lw=2, label="E − E* (all directions)")
    (l_top,) = ax1.plot(ks, ones, color="tab:red", ls="--", label="steepest direction only")
    (l_rest,) = ax1.plot(ks, ones, color="tab:blue", ls=":", label="all other directions")
    ax1.set_yscale("log")
    ax1.yaxis.set_major_locator(plt.LogLocator(numticks=6))
    ax1.yaxis.set_minor_locator(plt.NullLocator())  # ~100 minor ticks over 15 decades: slow, no help
    ax1.xaxis.set_major_locator(plt.MaxNLocator(5, integer=True))
    ax1.set_ylim(1e-8 * E0, 10 * stop_factor * E0)
    ax1.set_xlim(0, steps)
    ax1.set_xlabel("gradient-descent step k")
    ax1.set_ylabel("E − E*  (log scale)")
    ax1.grid(True, which="major", alpha=0.3)
    ax1.legend(loc="lower left", fontsize=8)
    note = ax1.text(0.98, 0.97, "", transform=ax1.transAxes, ha="right", va="top", fontsize=9)
    title = fig.suptitle("")
    fix_layout(fig)

    def update(ratio=1.0):
        lr = ratio * lr_max
        factors = np.abs(1.0 - lr * lam)
        for bar, f in zip(bars, factors, strict=True):
            bar.set_height(f)
            bar.set_color("tab:red" if f > 1 else "tab:blue")
        parts = gd_direction_losses(lam, c0, lr, steps, stop_factor)
        l_all.set_ydata(parts.sum(axis=1))
        l_top.set_ydata(parts[:, -1])
        l_rest.set_ydata(parts[:, :-1].sum(axis=1))
        stopped = np.flatnonzero(np.isnan(parts[:, 0]))
        note.set_text(
            f"stopped at step {stopped[0] - 1}: loss > {stop_factor:.0e} × initial" if stopped.size else ""
        )
        title.set_text(
            f"η = {ratio:.2f} × 2/λmax: steepest direction × {factors[-1]:.2f} per step, "
            f"flattest × {factors[0]:.3f}"
        )

    return fig, update


# --- notebook 07 ---


def dilated_delta_explorer(Ho=4, max_stride=4, max_kernel=5, seed=0, figsize=(12.0, 3.9)):
    """What the "dilate, pad, correlate with rot180(w)" route to ∂E/∂x multiplies, for any (s, k).

    Panels, redrawn in place: (a) pad(dilate(δ, s), k − 1), the array the route
    correlates with rot180(w), its zeros in grey; (b) for every pixel of
    ∂E/∂xp that windows reach, how many of its k² products meet a δ entry (the
    rest multiply a zero); (c) the share of all multiply-adds that are by zero, for
    s = 1 … max_stride at the chosen k, against its large-image limit (s² − 1)/s².
    Panels (a) and (b) keep the axes of the largest setting, so their growth with s
    shows.

    Parameters
    ----------
    Ho : int
        δ is Ho×Ho (random non-zero integers drawn from ``seed``).
    max_stride, max_kernel : int
        Slider ranges the axes are sized for.
    seed : int
    figsize : (float, float)

    Returns
    -------
    fig : matplotlib Figure
    update : callable(stride, kernel)
        Returns ``dilated_route_counts(Ho, Ho, k, k, s)``: (total, zero).

    Notes
    -----
    Every δ entry meets every kernel weight exactly once (Ho²·k² useful products,
    the accumulation route's count); the route computes ((Ho − 1)s + k)² pixels of
    k² products each. Derived in notebooks/07_fast_convolution.ipynb.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    from .conv import dilate, pad
    from .plots import SIGNED_CMAP, UNSIGNED_CMAP
    from .shapes import coverage_map, dilated_route_counts

    rng = np.random.default_rng(seed)
    delta = rng.integers(1, 4, size=(Ho, Ho)) * rng.choice([-1, 1], size=(Ho, Ho))
    big_full = (Ho - 1) * max_stride + 1 + 2 * (max_kernel - 1)
    big_out = (Ho - 1) * max_stride + max_kernel
    fig, (ax_full, ax_use, ax_frac) = plt.subplots(
        1, 3, figsize=figsize, gridspec_kw={"width_ratios": [1, 1, 1.15]}
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
    for ax, size, what in ((ax_full, big_full, "pad(dilate(δ))"), (ax_use, big_out, "∂E/∂xp")):
        ax.set_xlim(-0.5, size - 0.5)
        ax.set_ylim(size - 0.5, -0.5)
        ax.set_xlabel(f"column of {what}")
        ax.set_ylabel(f"row of {what}")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    strides = np.arange(1, max_stride + 1)
    ax_frac.plot(strides, (strides**2 - 1) / strides**2, "k--", lw=1, label="(s² − 1)/s²: large δ")
    (curve,) = ax_frac.plot(strides, np.zeros(len(strides)), "o-", color="tab:blue", label="exact")
    (now,) = ax_frac.plot([1], [0], "o", ms=12, mfc="none", mec="tab:red", mew=2, label="current s")
    legend = ax_frac.legend(loc="lower right", fontsize=8)
    ax_frac.set_xticks(strides)
    ax_frac.set_ylim(-0.02, 1.0)
    ax_frac.set_yticks([0, 0.5, 1])
    ax_frac.set_xlabel("stride s")
    ax_frac.set_ylabel("share of multiply-adds by zero")
    ax_frac.grid(alpha=0.3)
    titles = [ax.set_title("", fontsize=10) for ax in (ax_full, ax_use, ax_frac)]
    # fixed margins, no layout engine: it would make every savefig lay the figure out again
    fig.subplots_adjust(left=0.05, right=0.98, top=0.86, bottom=0.14, wspace=0.45)

    def update(stride, kernel):
        s, k = int(stride), int(kernel)
        full = pad(dilate(delta, s), k - 1)
        use = coverage_map((Ho - 1) * s + k, (Ho - 1) * s + k, k, s)
        rgb = signed.to_rgba(full)[..., :3]
        rgb[full == 0] = 0.86
        for im, a in ((im_full, rgb), (im_use, use)):
            im.set_data(a)
            im.set_extent((-0.5, a.shape[1] - 0.5, a.shape[0] - 0.5, -0.5))
        im_use.set_clim(0, k * k)
        total, zero = dilated_route_counts(Ho, Ho, k, k, s)
        shares = [dilated_route_counts(Ho, Ho, k, k, t)[1] / dilated_route_counts(Ho, Ho, k, k, t)[0]
                  for t in strides]  # fmt: skip
        curve.set_ydata(shares)
        legend.get_texts()[1].set_text(f"exact, δ {Ho}×{Ho}, k = {k}")
        now.set_data([s], [zero / total])
        zeros = int(np.count_nonzero(full == 0))
        titles[0].set_text(f"(a) pad(dilate(δ, {s}), {k - 1}): {zeros} of {full.size} entries are 0")
        titles[1].set_text(f"(b) {use.mean():.1f} of each pixel's k² = {k * k} products meet δ")
        titles[2].set_text(f"(c) by zero: {zero} of {total} multiply-adds ({100 * zero / total:.0f}%)")
        return total, zero

    return fig, update
