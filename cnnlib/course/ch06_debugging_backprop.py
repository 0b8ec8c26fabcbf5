"""Notebook 06, debugging backprop: gradient-check maps, the step-size explorer, checkers.

Used by notebooks/06_debugging_backprop.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..curvature import gd_direction_losses

# the exercises live in ch06_exercises; the notebook reaches them as ch.<name>
from .ch06_exercises import (  # noqa: F401
    MYSTERY_ATTEMPTS,
    POOLED_LR_ATTEMPTS,
    attempt_pooled_lr_part_a,
    check_conv_backward,
    check_pooled_lr_max,
    mystery_conv_backward,
    pooled_lr_max_from_gradients,
)
from .draw import fix_layout, heatmap, symmetric_limit
from .explore import explorer_figures


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
        Inches per panel, at most: the figure stays within the notebook column (11 in).

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
    size = min(size, 11.0 / n)
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
        Redraws by changing bar heights and line data only. Returns a dict of what it
        drew: "ratio", "lr" (η), "growth" (|1 − η λmax|, the steepest direction's factor
        per step) and "stopped_at" (the step a diverging run was cut at, or None).

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
    ax0.text(0, 1.03, "stability limit |1 − ηλ| = 1", fontsize=9, va="bottom")
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
    ax1.legend(loc="lower left", fontsize=9)
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
        stopped_at = int(stopped[0] - 1) if stopped.size else None
        note.set_text(
            f"stopped at step {stopped_at}: loss > {stop_factor:.0e} × initial" if stopped.size else ""
        )
        title.set_text(
            f"η = {ratio:.2f} × 2/λmax: steepest direction × {factors[-1]:.2f} per step, "
            f"flattest × {factors[0]:.3f}"
        )
        return {
            "ratio": float(ratio),
            "lr": float(lr),
            "growth": float(factors[-1]),
            "stopped_at": stopped_at,
        }

    return fig, update


def _step_size_explorer():
    lam = np.array([1.0, 3.0, 50.0])
    return step_size_explorer(lam, np.array([0.5, -0.2, 0.1]), steps=200, stop_factor=1e6, max_ratio=1.5)


# every figure of notebook 06, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "gradcheck maps": lambda: gradcheck_maps(
        np.arange(9.0).reshape(3, 3),
        np.arange(9.0).reshape(3, 3).T,
        "A transposed kernel gradient (dE/dw)",
        xlabel="kernel column n",
        ylabel="kernel row m",
    ),
    **explorer_figures("step size explorer", _step_size_explorer, dict(ratio=1.05), ratio=(0.5, 1.5)),
}
