"""Notebook 06, debugging backprop: gradient-check maps, the step-size explorer, checkers.

Used by notebooks/06_debugging_backprop.ipynb.
"""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import numpy as np

from .. import check as learner_check
from .. import conv
from ..curvature import conv_regression_design, gd_direction_losses
from ..losses import mse_loss
from .draw import fix_layout, heatmap, symmetric_limit
from .explore import explorer_figures
from .grading import WrongAttempt, check_naming, forbid_calls, library_check


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


def check_conv_backward(fn, seed=0, diagnose=True):
    """Exercise: fn(dy, x, w, stride, padding) -> (dx, dw, db); ``diagnose=False`` names no bug."""
    # the exercise's functions take one int stride and padding (as mystery_backward does): the
    # cases of cnnlib.check with the same stride and padding along both axes
    cases = [c for c in learner_check.CONV_CASES if len(set(c.stride)) == 1 and len(set(c.padding)) == 1]
    report = learner_check.conv_backward(fn, convention="cnnlib", cases=cases)
    if not diagnose:  # the verdicts only: the bugs' names would give the find-the-bug exercise away
        report.diagnosis = []
    return library_check(fn, report)


def _lr_max(x, kernel_size, stride, padding, *, divisor="N", bias=True, channels="all", factor=2.0, which=-1):
    """2/λmax from AᵀA/N, or one of its wrong variants (for the wrong attempts)."""
    x = np.asarray(x, dtype=np.float64)
    A = conv_regression_design(x if channels == "all" else x[:, :1], kernel_size, stride, padding)
    A = A if bias else A[:, :-1]
    n = {"N": x.shape[0], "rows": A.shape[0], "none": 1}[divisor]
    return factor / float(np.linalg.eigvalsh(A.T @ A / n)[which])


def _attempt(**bug):
    return lambda x, kernel_size, stride, padding: _lr_max(x, kernel_size, stride, padding, **bug)


attempt_lr_max_rows = _attempt(divisor="rows")

LR_MAX_ATTEMPTS = (
    WrongAttempt(
        "divisor",
        "you divide AᵀA by its number of rows, N·Ho·Wo: look again at what the loss "
        "E = (1/2N) Σ (y − t)² (mse_loss) averages over.",
        attempt_lr_max_rows,
    ),
    WrongAttempt(
        "constant-factor",
        "your rate is N times too small: the Hessian of (1/2N)‖Aθ − t‖² is AᵀA/N, not AᵀA.",
        _attempt(divisor="none"),
    ),
    WrongAttempt(
        "one-over-lambda",
        "your rate is half the bound: gradient descent along v_max multiplies the error by "
        "1 − ηλmax, which stays above −1 up to η = 2/λmax, not 1/λmax.",
        _attempt(factor=1.0),
    ),
    WrongAttempt(
        "bias",
        "the bias is missing from θ: it is a parameter too, so A has a column of ones and the "
        "Hessian one more row and column; with positive pixels that direction is the steepest.",
        _attempt(bias=False),
    ),
    WrongAttempt(
        "channel",
        "only channel 0 is in A: the kernel reads all C channels, so each row of A holds the C·k·k "
        "window values (then the 1).",
        _attempt(channels="first"),
    ),
    WrongAttempt(
        "lambda-min",
        "you used the smallest eigenvalue: the steepest direction, λmax, sets the bound; λmin "
        "sets the speed.",
        _attempt(which=0),
    ),
)


def check_lr_max(fn, seed=0):
    """Exercise: fn(x, kernel_size, stride, padding) -> 2/λmax of the conv regression's Hessian.

    Cases mix single- and multi-channel inputs, strides 1-2, padding 0-1, and inputs
    with a positive mean (like raw pixel intensities) as well as centred ones. The
    right answer builds the Hessian from gradients (``lr_max_from_gradients``); the
    library's Hessian and rate functions are off limits.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for C, H, W, k, s, p, mean in [(1, 5, 5, 3, 1, 0, 0.0), (1, 6, 7, 3, 2, 1, 0.5), (2, 5, 4, 2, 1, 1, 1.0)]:
        cases.append((mean + rng.standard_normal((3, C, H, W)), k, s, p))
    curvature = sys.modules["cnnlib.curvature"]
    no_library = (
        "library-curvature",
        "you called cl.curvature's Hessian or rate: derive the Hessian and build it yourself "
        "(conv_regression_design, the matrix A, is allowed).",
        forbid_calls([(curvature, "conv_regression_hessian"), (curvature, "largest_stable_lr")]),
    )
    return check_naming(
        fn, lr_max_from_gradients, cases, "lr_max", LR_MAX_ATTEMPTS, ("lr_max",), [no_library]
    )


def lr_max_from_gradients(x, kernel_size, stride, padding):
    """2/λmax with the Hessian built from gradients alone: the checker's independent right answer.

    The loss of a linear convolution under ``mse_loss`` is exactly quadratic in θ = (w, b),
    so its gradient is affine, g(θ) = Hθ + g(0), and column i of the Hessian is
    g(eᵢ) − g(0): two backward passes of ``conv2d_backward`` per parameter, no design
    matrix (``cnnlib.curvature`` builds AᵀA/N instead).
    """
    x = np.asarray(x, dtype=np.float64)
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    C = x.shape[1]
    P = C * kh * kw + 1
    t = np.zeros_like(conv.conv2d_forward(x, np.zeros((1, C, kh, kw)), None, stride, padding))

    def gradient(theta):
        w, b = theta[:-1].reshape(1, C, kh, kw), theta[-1:]
        _, dy = mse_loss(conv.conv2d_forward(x, w, b, stride, padding), t)
        _, dw, db = conv.conv2d_backward(dy, x, w, stride, padding)
        return np.append(dw.ravel(), db)

    g0 = gradient(np.zeros(P))
    H = np.stack([gradient(e) - g0 for e in np.eye(P)], axis=1)
    return 2.0 / float(np.linalg.eigvalsh((H + H.T) / 2).max())
