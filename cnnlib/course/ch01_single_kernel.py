"""Notebook 01, one kernel: the backward-accumulation picture and the dw/dx exercise checkers.

Used by notebooks/01_single_kernel.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .. import conv
from .draw import SIGNED_CMAP, UNSIGNED_CMAP, annotate_cells, heatmap, symmetric_limit, text_colour
from .grading import check


def backward_accumulation_explorer(x, w, delta):
    """∂E/∂w and ∂E/∂x of one single-kernel layer, built up one output at a time.

    Output (i, j) used the window x[i:i+kh, j:j+kw] and every weight once, so its
    δ[i, j] adds δ[i, j]·window to ∂E/∂w and δ[i, j]·w to the window's place in ∂E/∂x.
    ``update(step=t)`` shows the sums after the first t outputs (row-major) with output
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
    update : callable(step)
        step in 0 .. Ho·Wo (clamped). Returns a dict: "step" drawn, "dw" and "dx", the partial sums.

    Notes
    -----
    At t = Ho·Wo: ∂E/∂w = x ★ δ and ∂E/∂x = pad(δ, k − 1) ★ rot180(w) (full
    cross-correlation). Derived in notebooks/01_single_kernel.ipynb.
    """

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
        annotate_cells(ax, a, im, "{:g}")
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

    def update(step=Ho * Wo):
        t = min(max(int(step), 0), Ho * Wo)
        dw, dx = dws[t], dxs[t]
        im_w.set_data(dw)
        im_x.set_data(dx)
        for texts, arr, im in ((texts_w, dw, im_w), (texts_x, dx, im_x)):
            for txt, v in zip(texts, arr.ravel(), strict=True):
                txt.set_text(f"{v:g}")
                txt.set_color(text_colour(im, v))
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
        return {"step": t, "dw": dw, "dx": dx}

    update()
    # fixed margins, no layout engine: a layout engine would make every savefig draw the figure twice
    fig.subplots_adjust(left=0.04, right=0.96, top=0.8, bottom=0.14, wspace=0.35)
    return fig, update


def _single_kernel_cases(seed, kinds):
    """(x, w, δ) triples of single 2-D arrays, square and not, kernel up to the input's size."""
    rng = np.random.default_rng(seed)
    cases = []
    for H, W, kh, kw in [(3, 3, 2, 2), (5, 4, 3, 2), (4, 6, 1, 3), (4, 4, 4, 4)]:
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((kh, kw))
        delta = rng.standard_normal((H - kh + 1, W - kw + 1))
        cases.append({"x": x, "w": w, "delta": delta})
    return [tuple(c[k] for k in kinds) for c in cases]


def _dw_expected(x, delta):
    kh, kw = x.shape[0] - delta.shape[0] + 1, x.shape[1] - delta.shape[1] + 1
    w = np.zeros((1, 1, kh, kw))  # the values of w do not enter ∂E/∂w
    return conv.conv2d_backward(delta[None, None], x[None, None], w)[1][0, 0]


def _dx_expected(delta, w):
    H, W = delta.shape[0] + w.shape[0] - 1, delta.shape[1] + w.shape[1] - 1
    x = np.zeros((1, 1, H, W))  # the values of x do not enter ∂E/∂x
    return conv.conv2d_backward(delta[None, None], x, w[None, None])[0][0, 0]


def check_single_kernel_dw(fn, seed=0):
    """Exercise: fn(x, delta) -> ∂E/∂w of one kernel: x (H, W), δ (Ho, Wo) -> (kh, kw).

    Expected: ∂E/∂w[m, n] = Σ_i Σ_j δ[i, j] · x[i + m, j + n] = (x ★ δ)[m, n].
    Derived in notebooks/01_single_kernel.ipynb.
    """
    return check(fn, _dw_expected, _single_kernel_cases(seed, ("x", "delta")), "dE/dw")


def check_single_kernel_dx(fn, seed=0):
    """Exercise: fn(delta, w) -> ∂E/∂x of one kernel: δ (Ho, Wo), w (kh, kw) -> (H, W).

    Expected: the full cross-correlation pad(δ, k − 1) ★ rot180(w), H = Ho + kh − 1.
    Derived in notebooks/01_single_kernel.ipynb.
    """
    return check(fn, _dx_expected, _single_kernel_cases(seed, ("delta", "w")), "dE/dx")
