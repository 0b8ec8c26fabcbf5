"""Notebook 09, the modern block: the four kinds of stack, batch norm's δ picture, gradient norms over
depth (plain vs residual, with and without batch norm) and their explorer, training curves.

The step-size bracket lives in ch09_stability, the exercises and their checkers in ch09_exercises; this
module re-exports them, so the notebook reaches everything as ``ch.<name>``.
Used by notebooks/09_the_modern_block.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from ..blocks import BatchNorm2D, GlobalAvgPool2D, Residual
from ..layers import Conv2D, Dense, ReLU
from ..losses import softmax_cross_entropy
from ..model import Sequential
from ..norm import batchnorm2d_backward, batchnorm2d_forward
from .ch05_pooling_and_a_full_cnn import channel_grid

# the exercises live in ch09_exercises, the step-size bracket in ch09_stability; the notebook
# reaches them as ch.<name>
from .ch09_exercises import (  # noqa: F401
    check_bn_backward,
    check_example_norm_backward,
    example_norm_cases,
    example_norm_forward,
    mystery_bn_backward,
    numerical_dx,
)
from .ch09_stability import (  # noqa: F401
    COLOURS,
    KINDS,
    STYLES,
    _fake_brackets,
    small_net,
    stability_bracket,
    stability_picture,
    stability_run,
)
from .draw import fix_layout


def build_stack(kind, depth, channels=8, rng=None, dtype=np.float32):
    """A stem, ``depth`` blocks and a classifier; returns (model, taps).

    Parameters
    ----------
    kind : one of KINDS
        "plain": each block is conv3×3 → ReLU; "+ BN" puts a BatchNorm2D between the
        conv and the ReLU; "residual" wraps each block in ``Residual`` (y = block(x) + x).
    depth : int
        Number of blocks.
    channels : int
        Channels of every block (the stem maps 1 channel to this many).
    rng : numpy.random.Generator, int seed or None
    dtype : np.float32 or np.float64

    Returns
    -------
    model : Sequential
        Conv2D(1, C, 3, padding=1) → depth blocks → GlobalAvgPool2D → Dense(C, 10): any
        input size, 10 logits.
    taps : list of int
        Indices into ``model.layers`` of the layers whose outputs are the block outputs
        (the stem first): where ``delta_norms`` measures ‖δ‖.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(rng)
    layers, taps = [Conv2D(1, channels, 3, padding=1, rng=rng, dtype=dtype)], [0]
    for _ in range(depth):
        body = [Conv2D(channels, channels, 3, padding=1, rng=rng, dtype=dtype)]
        if kind.endswith("BN"):
            body.append(BatchNorm2D(channels, dtype=dtype))
        body.append(ReLU())
        if kind.startswith("residual"):
            layers.append(Residual(*body))
        else:
            layers.extend(body)
        taps.append(len(layers) - 1)
    layers += [GlobalAvgPool2D(), Dense(channels, 10, rng=rng, dtype=dtype)]
    return Sequential(layers), taps


def delta_norms(model, taps, X, y):
    """‖∂E/∂(output of each tapped layer)‖ for one batch, by one forward and one backward.

    Parameters
    ----------
    model : Sequential
    taps : list of int
        Layer indices (from ``build_stack``).
    X : ndarray of shape (N, 1, H, W)
    y : ndarray of int of shape (N,)

    Returns
    -------
    ndarray of shape (len(taps),)
        The Frobenius norm of δ at each tap, over the whole batch (E is the batch mean of
        softmax cross-entropy), from the input side (the stem) to the output side.

    Notes
    -----
    δ of layer l's output is what layer l + 1's backward received: the backward is run
    layer by layer and δ recorded on the way down. Batch norm uses the batch statistics
    (training mode), the gradient a training step uses.
    Derived in notebooks/09_the_modern_block.ipynb.
    """
    out = X
    for layer in model.layers:
        out = layer.forward(out)
    _, d = softmax_cross_entropy(out, y)
    norms = {}
    for i in range(len(model.layers) - 1, -1, -1):
        norms[i] = float(np.linalg.norm(d))  # δ of layer i's output
        d = model.layers[i].backward(d)
    return np.array([norms[t] for t in taps])


def measure_depths(
    depths, X, y, *, X_probe, y_probe, val=None, epochs=2, lr=0.1, batch_size=32, seed=0, kinds=KINDS
):
    """Gradient norms over depth, at initialisation and after training, for every kind and depth.

    Parameters
    ----------
    depths : sequence of int
    X, y : training images (N, 1, H, W) and labels
    X_probe, y_probe : the fixed batch on which ‖δ‖ is measured
    val : (X_val, y_val) or None, handed to ``fit`` (test loss and accuracy per epoch)
    epochs, lr, batch_size, seed : the training run (``cnnlib.fit``, plain SGD); one seed
        for every kind, so the kinds start from comparable weights.
    kinds : sequence of KINDS

    Returns
    -------
    dict
        (kind, depth) -> {"init": norms, "trained": norms, "history": fit's history}.
    """
    from ..model import fit

    measured = {}
    for depth in depths:
        for kind in kinds:
            model, taps = build_stack(kind, depth, rng=seed)
            init = delta_norms(model, taps, X_probe, y_probe)
            with np.errstate(over="ignore", invalid="ignore"):
                history = fit(model, X, y, loss=softmax_cross_entropy, lr=lr, epochs=epochs,
                              batch_size=batch_size, rng=seed, val=val)  # fmt: skip
            model.train()
            trained = delta_norms(model, taps, X_probe, y_probe)
            measured[kind, depth] = {"init": init, "trained": trained, "history": history}
    return measured


def depth_explorer(measured, depth=None):
    """Figure + update(depth): ‖δ‖ at every block output, at initialisation and after training.

    Parameters
    ----------
    measured : dict from ``measure_depths``
    depth : int or None
        The depth drawn first (None: the largest measured).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two panels on one logarithmic y scale (compare them): left at initialisation,
        right after training; one line per kind, x = block (0 = the stem's output, the
        input side; the last block is next to the classifier).
    update : callable(depth)
        Redraws in place (line data, limits, title). Returns a dict: "depth" and, per
        kind, "ratio" = ‖δ‖ at the stem / ‖δ‖ at the last block, at initialisation.

    Notes
    -----
    A plain stack multiplies δ by every block's Jacobian on its way down, so its norm
    changes geometrically with depth; a residual block adds the identity to its Jacobian
    (δ goes unchanged along the shortcut), so δ reaches the first block whatever the depth.
    Derived in notebooks/09_the_modern_block.ipynb.
    """
    kinds = [k for k in KINDS if any(key[0] == k for key in measured)]
    depths = sorted({d for _, d in measured})
    all_norms = np.concatenate([np.ravel(v[w]) for v in measured.values() for w in ("init", "trained")])
    positive = all_norms[np.isfinite(all_norms) & (all_norms > 0)]
    lo, hi = float(positive.min()), float(positive.max())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    lines = {}
    for ax, when in zip(axes, ("init", "trained"), strict=True):
        for kind in kinds:
            (lines[kind, when],) = ax.plot([0], [1], STYLES[kind], color=COLOURS[kind], ms=4, label=kind)
        ax.set_yscale("log")
        ax.set_ylim(lo / 3, hi * 3)
        ax.set_xlabel("block l (0 = stem, input side)")
        ax.grid(True, which="major", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(8, integer=True))
        ax.set_title("at initialisation" if when == "init" else "after training", fontsize=10)
    axes[0].set_ylabel("‖∂E/∂(output of block l)‖ (log scale)")
    axes[0].legend(fontsize=9, loc="lower right")
    title = fig.suptitle("")
    fig.subplots_adjust(left=0.09, right=0.98, top=0.84, bottom=0.13, wspace=0.08)

    def update(depth=None):
        depth = depths[-1] if depth is None else int(depth)
        if depth not in depths:
            depth = min(depths, key=lambda d: abs(d - depth))
        ratios = {}
        for kind in kinds:
            for when in ("init", "trained"):
                norms = measured[kind, depth][when]
                lines[kind, when].set_data(np.arange(norms.size), norms)
            init = measured[kind, depth]["init"]
            ratios[kind] = float(init[0] / init[-1])
        for ax in axes:
            ax.set_xlim(-0.5, depth + 0.5)
        title.set_text(f"δ on its way down a stack of {depth} blocks: its norm at every block output")
        return {"depth": depth, "ratio": ratios}

    update(depth)
    return fig, update


def training_curves(histories, title="Training on the digits"):
    """Training loss per epoch and test accuracy per epoch for several networks.

    Parameters
    ----------
    histories : dict of name -> history of ``cl.fit(..., val=...)``
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, h in histories.items():
        epochs = np.arange(1, len(h["train_loss"]) + 1)
        style = dict(color=COLOURS.get(name), ms=4)
        ax_l.plot(epochs, h["train_loss"], STYLES.get(name, "-o"), label=name, **style)
        ax_a.plot(epochs, 100 * np.asarray(h["val_acc"]), STYLES.get(name, "-o"), label=name, **style)
    ax_l.set_yscale("log")
    ax_l.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_l.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax_l.set_ylabel("training loss E (log scale)")
    ax_l.set_title("mean training loss of each epoch", fontsize=10)
    ax_a.set_ylabel("test accuracy (%)")
    ax_a.set_ylim(0, 100)
    ax_a.set_title("test accuracy after each epoch", fontsize=10)
    for ax in (ax_l, ax_a):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.84, bottom=0.14, wspace=0.25)
    return fig


def bn_delta_picture(x, dy, gamma=1.0, eps=1e-5, title=None):
    """δ before and after batch normalisation: one channel of a small batch, one row per array.

    Parameters
    ----------
    x : ndarray of shape (N, H, W)
        One channel of a batch (the batch norm's input).
    dy : ndarray of shape (N, H, W)
        δ = ∂E/∂y of the batch norm's output.
    gamma, eps : the channel's scale and the ε of ``batchnorm2d_forward``.
    title : str or None

    Returns
    -------
    matplotlib.figure.Figure
        Rows: x, δ = ∂E/∂y, ∂E/∂x, and ∂E/∂x − (γ/σ)δ (what the paths through the batch
        mean and variance add, too small to see next to δ in row 3); one column per image n;
        signed rows on a symmetric diverging scale, one colour bar per row.

    Notes
    -----
    ∂E/∂x = (γ/σ)(δ − mean(δ) − x̂ mean(δ x̂)), means over the batch and the pixels:
    a δ confined to one pixel of one image reaches every pixel of every image.
    Derived in notebooks/09_the_modern_block.ipynb.
    """
    x, dy = np.asarray(x, dtype=float), np.asarray(dy, dtype=float)
    _, cache = batchnorm2d_forward(x[:, None], np.array([gamma]), np.zeros(1), eps)
    dx = batchnorm2d_backward(dy[:, None], cache)[0][:, 0]
    sigma = np.sqrt(x.var() + eps)
    rows = {
        "input x": x,
        "δ = ∂E/∂y": dy,
        "∂E/∂x": dx,
        "∂E/∂x − (γ/σ)δ:\nvia μ and σ": dx - gamma / sigma * dy,
    }
    title = title or "One channel of a batch: δ before and after the normalisation"
    fig = channel_grid(rows, title, index="n", size=2.2, signed=[False, True, True, True])
    # a row of whole numbers (a one-hot δ) gets whole-number ticks on its colour bar
    bars = [im.colorbar for ax in fig.axes for im in ax.images if im.colorbar is not None]
    for bar, a in zip(bars, rows.values(), strict=True):
        if np.array_equal(a, np.round(a)):
            bar.locator = MaxNLocator(integer=True)
            bar.update_ticks()
    return fig


def init_norms(depth, X, y, channels=8, seed=0, kinds=KINDS):
    """‖δ‖ at every block output of each kind of stack at initialisation: kind -> array (depth + 1,)."""
    norms = {}
    for kind in kinds:
        model, taps = build_stack(kind, depth, channels, rng=seed, dtype=np.float64)
        norms[kind] = delta_norms(model, taps, X, y)
    return norms


def norms_picture(norms, title="‖δ‖ on its way down: plain vs residual, with and without batch norm"):
    """One panel: ‖δ‖ at every block output (log scale), one line per kind (from ``init_norms``).

    Returns
    -------
    matplotlib.figure.Figure
        10 in wide: 1,000 px at 100 dpi.
    """
    fig, ax = plt.subplots(figsize=(10, 4))
    for kind, n in norms.items():
        ax.plot(np.arange(n.size), n, STYLES[kind], color=COLOURS[kind], ms=4, label=kind)
    ax.set_yscale("log")
    ax.set_xlabel("block l (0 = stem, input side; the classifier is after the last block)")
    ax.set_ylabel("‖∂E/∂(output of block l)‖")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    ax.set_title(title, fontsize=11)
    return fix_layout(fig)


def _fake_measured(depths=(2, 4, 8, 16)):
    """Measured-like norms for the registry: geometric in depth as the notebook measures them."""
    rates = {"plain": 0.3, "plain + BN": 1.3, "residual": 1.15, "residual + BN": 1.25}
    out = {}
    for kind, rate in rates.items():
        for d in depths:
            n = 0.01 * rate ** np.arange(d, -1, -1.0)
            out[kind, d] = {"init": n, "trained": n * 1.5}
    return out


def _fake_histories():
    epochs = np.arange(1, 3)
    return {
        kind: {"train_loss": list(2.3 - k * 0.2 * epochs), "val_acc": list(0.1 + k * 0.08 * epochs)}
        for k, kind in enumerate(KINDS)
    }


def _spike_batch():
    rng = np.random.default_rng(2)
    d = np.zeros((4, 5, 5))
    d[0, 2, 2] = 1.0
    return 1.0 + rng.standard_normal((4, 5, 5)), d


def _depth_figure(depth):
    def figure():
        fig, update = depth_explorer(_fake_measured())
        update(depth=depth)
        return fig

    return figure


# every figure of notebook 09, for the figure linter: name -> zero-argument callable -> Figure
# (the depth explorer at the notebook's setting and at both ends of its slider)
FIGURES = {
    "depth explorer": _depth_figure(8),
    "depth explorer, depth=2": _depth_figure(2),
    "depth explorer, depth=16": _depth_figure(16),
    "training curves": lambda: training_curves(_fake_histories(), "Four stacks"),
    "bn delta picture": lambda: bn_delta_picture(*_spike_batch()),
    "stability picture": lambda: stability_picture(_fake_brackets()),
    "norms picture": lambda: norms_picture(
        {kind: v["init"] for (kind, d), v in _fake_measured().items() if d == 16}
    ),
}
