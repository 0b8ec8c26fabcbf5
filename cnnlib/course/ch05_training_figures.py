"""Notebook 05's pictures of the trained network: digit grid, confusion matrix, training curves.

The notebook reaches them through ``ch05_pooling_and_a_full_cnn`` as ``ch.<name>``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FormatStrFormatter, LogLocator

from .draw import (
    integer_ticks,
    side_colorbar,
    text_colour,
)


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
    fig, axes = plt.subplots(nrows, cols, figsize=(0.95 * cols + 1.4, 1.3 * nrows + 0.9), squeeze=False)
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
    first.tick_params(labelsize=9)
    first.set_xlabel("column j", fontsize=9)
    first.set_ylabel("row i", fontsize=9)
    fig.subplots_adjust(left=0.06, right=0.9, top=0.72, bottom=0.2, wspace=0.12, hspace=0.4)
    side_colorbar(im, axes[0, cols - 1], label="intensity")  # beside the last digit, as tall as it
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
            dark = text_colour(im, v) == "w"
            color = "w" if dark else ("tab:red" if t != p else "k")
            ax.text(p, t, str(v), ha="center", va="center", fontsize=9, color=color)
    acc = np.trace(counts) / max(1, counts.sum())
    ax.set_title(f"{title}: accuracy {100 * acc:.1f}%")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(range(K))
    ax.set_yticks(range(K))
    integer_ticks(side_colorbar(im, ax, label="number of test images"), counts)
    return ax


def training_curves(history, title="Training"):
    """Loss (log scale) and accuracy per epoch, training and test side by side, from ``cl.fit``.

    Parameters
    ----------
    history : dict, or list of dicts (one per learning-rate phase, drawn one after the other)
        What ``cl.fit(..., val=(X_test, y_test))`` returns: "train_loss" and "train_acc"
        (measured during each epoch) and "val_loss" and "val_acc" (on the test set after it).
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Used in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    phases = [history] if isinstance(history, dict) else list(history)
    keys = ("train_loss", "train_acc", "val_loss", "val_acc")
    h = {k: [v for phase in phases for v in phase[k]] for k in keys}
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 3.8))
    epochs = np.arange(1, len(h["train_loss"]) + 1)
    for key, style, label in (
        ("train", "-o", "training (during the epoch)"),
        ("val", "-s", "test (after it)"),
    ):
        ax_l.plot(epochs, h[f"{key}_loss"], style, ms=3, label=label)
        ax_a.plot(epochs, 100 * np.asarray(h[f"{key}_acc"]), style, ms=3, label=label)
    boundary = len(phases[0]["train_loss"]) + 0.5
    for ax in (ax_l, ax_a):
        if len(phases) > 1:
            ax.axvline(boundary, color="0.5", ls=":", lw=1)
        ax.set_xlabel("epoch")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9)
    ax_l.set_yscale("log")
    # plain numbers on the log axis (0.2, not 2×10⁻¹): short tick labels leave room for the axis label
    ax_l.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_l.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    ax_l.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax_l.set_ylabel("cross-entropy loss E (log scale)")
    ax_l.set_title("loss")
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_title(f"accuracy (final test: {100 * h['val_acc'][-1]:.1f}%)")
    fig.suptitle(title)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.83, bottom=0.14, wspace=0.25)
    return fig
