"""Notebook 09, the modern block: how large a step gradient descent survives, with and without batch norm.

The step-size bracket (``stability_bracket``) of notebook 05's small network (``small_net``) and its
picture. Used by notebooks/09_the_modern_block.ipynb (as ``ch.<name>`` through
``cnnlib.course.ch09_the_modern_block``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FormatStrFormatter

from ..blocks import BatchNorm2D
from ..layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from ..losses import softmax_cross_entropy
from ..model import SGD, Sequential
from .draw import fix_layout

# the four kinds of stack of the notebook and their line styles (every ch09 figure)
KINDS = ("plain", "plain + BN", "residual", "residual + BN")
COLOURS = {
    "plain": "tab:red",
    "plain + BN": "tab:orange",
    "residual": "tab:blue",
    "residual + BN": "tab:green",
}
STYLES = {"plain": "-o", "plain + BN": "--s", "residual": "-^", "residual + BN": "--D"}


def stability_run(build, X, y, lr, steps=30, loss=softmax_cross_entropy):
    """Full-batch gradient descent from ``build()``: the loss before each step (NaN after an overflow).

    Parameters
    ----------
    build : callable() -> Sequential
        A fresh model (the same initial weights on every call).
    X, y : the batch (all of it at every step)
    lr : float
    steps : int
    loss : callable(prediction, y) -> (E, ∂E/∂prediction)

    Returns
    -------
    ndarray of shape (steps,)
    """
    model = build()
    opt = SGD(model, lr)
    losses = np.full(steps, np.nan)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(steps):
            E, d = loss(model.forward(X), y)
            losses[k] = E
            if not np.isfinite(E):
                break
            model.backward(d)
            opt.step()
    return losses


def stability_bracket(build, X, y, grid, steps=30, blowup=3.0, loss=softmax_cross_entropy):
    """The largest stable and the smallest diverging learning rate on a fixed grid.

    Parameters
    ----------
    build : callable() -> Sequential
    X, y : the batch of full-batch gradient descent
    grid : increasing sequence of float
    steps : int
    blowup : float
        A run diverges when its loss ever exceeds ``blowup`` times its starting loss
        (or overflows); otherwise it is stable.
    loss : as in ``stability_run``

    Returns
    -------
    dict
        "stable": the largest η of the grid below every diverging one (None if none),
        "diverges": the smallest diverging η (None if none), "peaks": the largest
        loss / starting loss of each run (inf after an overflow), "finals": the last loss /
        starting loss of each run, "losses": each run's losses.

    Notes
    -----
    A bracket, never digits: the true threshold lies between two grid points, and a run
    far from both is stable or diverges on any machine.
    """
    peaks, losses = {}, {}
    for lr in grid:
        run = stability_run(build, X, y, lr, steps, loss)
        losses[lr] = run
        finite = run[np.isfinite(run)]
        peaks[lr] = float(np.max(finite) / run[0]) if np.all(np.isfinite(run)) else float("inf")
    finals = {
        lr: float(run[-1] / run[0]) if np.all(np.isfinite(run)) else float("inf")
        for lr, run in losses.items()
    }
    diverging = [lr for lr in grid if peaks[lr] > blowup]
    first_bad = diverging[0] if diverging else None
    stable = [lr for lr in grid if peaks[lr] <= blowup and (first_bad is None or lr < first_bad)]
    return {
        "stable": stable[-1] if stable else None,
        "diverges": first_bad,
        "peaks": peaks,
        "finals": finals,
        "losses": losses,
    }


def stability_picture(brackets, blowup=3.0, title="How far the loss rises: the largest stable step size"):
    """The peak loss (relative to the start) against the learning rate, one line per network.

    Parameters
    ----------
    brackets : dict of name -> result of ``stability_bracket``
    blowup : float
        The threshold drawn as a dashed line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(8, 3.8))
    top = 1.0
    for name, b in brackets.items():
        lrs = np.array(list(b["peaks"]))
        peaks = np.array(list(b["peaks"].values()))
        top = max(top, float(np.max(peaks[np.isfinite(peaks)], initial=1.0)))
        shown = np.where(np.isfinite(peaks), peaks, np.nan)
        ax.plot(lrs, shown, STYLES.get(name, "-o"), color=COLOURS.get(name), ms=5, label=name)
        over = lrs[~np.isfinite(peaks)]
        if over.size:
            ax.plot(over, np.full(over.size, top * 2), "x", color=COLOURS.get(name), ms=8)
    ax.axhline(blowup, color="k", ls=":", lw=1)
    label = f"diverges above: peak > {blowup:g} × starting loss"
    ax.text(0.01, blowup * 1.08, label, transform=ax.get_yaxis_transform(), fontsize=9)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("learning rate η (log scale)")
    ax.set_ylabel("largest loss / starting loss")
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    return fix_layout(fig)


def small_net(bn, channels=8, rng=0, dtype=np.float64):
    """Notebook 05's network at 8×8: conv3×3 (→ BatchNorm2D) → ReLU → max pool 2 → Dense(C·16, 10)."""
    rng = np.random.default_rng(rng)
    layers = [Conv2D(1, channels, 3, padding=1, rng=rng, dtype=dtype)]
    if bn:
        layers.append(BatchNorm2D(channels, dtype=dtype))
    layers += [ReLU(), MaxPool2D(2), Flatten(), Dense(channels * 16, 10, rng=rng, dtype=dtype)]
    return Sequential(layers)


def _fake_brackets():
    grid = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)
    peaks = {"plain": (1, 1, 1, 1.8, 1.7, 1, float("inf")), "plain + BN": (1, 1, 1.2, 2.1, 3.7, 29, 250)}
    return {name: {"peaks": dict(zip(grid, p, strict=True))} for name, p in peaks.items()}
