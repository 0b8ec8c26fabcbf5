"""The README figures of pooling, training, the step-size bound and im2col."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...conv import conv2d_forward
from ...curvature import largest_stable_lr
from ...layers import Conv2D
from ...losses import mse_loss
from ...model import SGD, Sequential, fit
from ...pool import avgpool2d_backward, maxpool2d_backward, maxpool2d_forward
from .. import draw
from .common import box, caption, save

LAMBDA_MAX = r"$\lambda_{\max}$"  # mathtext: a subscript, not "λ_max"


def pooling_routing(path):
    """Max pooling sends δ to each window's winner; average pooling spreads δ/(k·k) over the window."""
    rng = np.random.default_rng(5)
    x = rng.permutation(16).reshape(4, 4).astype(float) + 1  # distinct: no ties
    delta = np.array([[1.0, -2.0], [3.0, -1.0]])
    dx_max = maxpool2d_backward(delta[None, None], x[None, None], 2)[0, 0]
    dx_avg = avgpool2d_backward(delta[None, None], x[None, None], 2)[0, 0]
    y = maxpool2d_forward(x[None, None], 2)[0, 0]
    fig, axes = plt.subplots(1, 4, figsize=(15, 4.3), gridspec_kw={"width_ratios": [4, 2.4, 4, 4]})
    winners = []
    draw.heatmap(x, "input x (2×2 windows)", axes[0], signed=False, fmt="{:.0f}", cbar_label="x")
    for a in (0, 2):
        for b in (0, 2):
            box(axes[0], a, b, 2, 2, color="0.1", lw=1.5)
            win = x[a : a + 2, b : b + 2]
            r, c = np.unravel_index(np.argmax(win), win.shape)
            winners.append((a + r, b + c))
            box(axes[0], a + r, b + c, 1, 1)
    lim = draw.symmetric_limit(delta, dx_max)
    draw.heatmap(
        delta, "δ at the pool output", axes[1], vmax=lim, xlabel="output column j", ylabel="output row i"
    )
    draw.heatmap(dx_max, "∂E/∂x, max pooling", axes[2], vmax=lim, cbar_label="∂E/∂x")
    for r, c in winners:
        box(axes[2], r, c, 1, 1)
    draw.heatmap(dx_avg, "∂E/∂x, average pooling", axes[3], vmax=lim, cbar_label="∂E/∂x")
    for ax in axes[2:]:
        for a in (0, 2):
            for b in (0, 2):
                box(ax, a, b, 2, 2, color="0.1", lw=1.5)
    fig.suptitle(
        "Pooling backward (size 2, stride 2): max sends each δ to its window's winner (red, "
        f"maxima {', '.join(f'{v:g}' for v in y.ravel())}); average gives every cell δ/4",
        fontsize=11,
    )
    caption(fig, "computed with cl.maxpool2d_backward and cl.avgpool2d_backward")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return save(fig, path)


def known_kernel_data(rng, n=64, H=8, noise=0.0):
    """Inputs X (n, 1, H, H), targets T = X ★ w_true + noise, and w_true (a Sobel filter / 4)."""
    w_true = np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]]) / 4
    X = rng.standard_normal((n, 1, H, H))
    T = conv2d_forward(X, w_true)
    return X, T + noise * rng.standard_normal(T.shape), w_true


def training_loss(path):
    """Learn a known 3x3 kernel (a Sobel filter) from input/target pairs with cl.fit; loss on a log scale."""
    rng = np.random.default_rng(0)
    noise = 0.1
    X, T, w_true = known_kernel_data(rng, noise=noise)
    model = Sequential([Conv2D(1, 1, 3, rng=np.random.default_rng(1))])
    w0 = model.layers[0].params["w"].copy()
    lr, batch = 0.004, 8  # well below 2/λ_max of every minibatch's Hessian (about 0.034 here)
    hist = fit(model, X, T, loss=mse_loss, lr=lr, epochs=10, batch_size=batch, rng=np.random.default_rng(2))
    w_fit = model.layers[0].params["w"]
    floor = mse_loss(conv2d_forward(X, w_true), T)[0]
    fig = plt.figure(figsize=(14, 4.2), layout="constrained")
    gs = fig.add_gridspec(1, 4, width_ratios=[2.0, 1, 1, 1])
    ax = fig.add_subplot(gs[0, 0])
    draw.loss_curve(hist, f"Training loss (mse, SGD, lr {lr:g}, batch {batch})", ax)
    ax.axhline(floor, color="0.3", ls="--", lw=1, label=f"E of the true kernel (noise σ={noise:g})")
    ax.legend()
    lim = draw.symmetric_limit(w_true)
    kw = {"vmax": lim, "xlabel": "kernel column n", "ylabel": "kernel row m", "fmt": "{:.2f}"}
    draw.heatmap(w0[0, 0], "initial w", fig.add_subplot(gs[0, 1]), **kw)
    # rounded for display only (no "-0.00")
    draw.heatmap(np.round(w_fit[0, 0], 2) + 0.0, "learned w", fig.add_subplot(gs[0, 2]), **kw)
    draw.heatmap(w_true[0, 0], "true w (Sobel / 4)", fig.add_subplot(gs[0, 3]), **kw)
    err = float(np.max(np.abs(w_fit - w_true)))
    fig.suptitle(
        f"Learning a known kernel from {len(X)} noisy input/target pairs made with it: "
        f"backprop + SGD recover it (max |learned − true| = {err:.3f})",
        fontsize=11,
    )
    return save(fig, path)


def step_size_bound(path):
    """Full-batch gradient descent at lr below and above 2/λ_max of the loss's Hessian.

    The inputs are smoothed noise (neighbouring pixels correlated, as in real images), which
    makes one direction of w much steeper than the others; w and b start at zero.
    """
    rng = np.random.default_rng(0)
    X = conv2d_forward(rng.standard_normal((32, 1, 10, 10)), np.ones((1, 1, 3, 3)) / 3)
    w_true = np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]]) / 4
    T = conv2d_forward(X, w_true)
    T = T + 0.1 * rng.standard_normal(T.shape)
    bound = largest_stable_lr(X, 3)  # E is quadratic in (w, b): 2/λ_max of its Hessian, exactly
    histories = {}
    for f in [0.5, 0.95, 1.02, 1.05]:
        layer = Conv2D(1, 1, 3, rng=np.random.default_rng(1))
        layer.params["w"][:] = 0
        layer.params["b"][:] = 0
        model = Sequential([layer])
        opt = SGD(model, f * bound)
        losses = []
        for _ in range(80):
            E, dy = mse_loss(model.forward(X), T)
            losses.append(E)
            model.backward(dy)
            opt.step()
        histories[f"lr = {f:g} × 2/{LAMBDA_MAX}"] = losses
    fig, ax = plt.subplots(figsize=(8.5, 5))
    draw.loss_curve(histories, f"Full-batch gradient descent; the bound 2/{LAMBDA_MAX} = {bound:.4f}", ax)
    rising = np.asarray(histories[f"lr = 1.02 × 2/{LAMBDA_MAX}"])
    t = int(np.argmin(rising))
    ax.annotate(
        f"lr = 1.02 × bound: descends for {t} steps,\nthen the steepest direction takes over",
        xy=(t, rising[t]),
        xytext=(0.3, 0.45),
        textcoords="axes fraction",
        arrowprops={"arrowstyle": "->", "color": "0.3"},
        fontsize=9,
    )
    fig.suptitle(
        f"Why a loss first descends and then goes up: above 2/{LAMBDA_MAX} one direction grows every step",
        fontsize=11,
    )
    caption(
        fig,
        f"{LAMBDA_MAX}: largest eigenvalue of the loss's Hessian, computed exactly; trained with cl.Conv2D, "
        "cl.mse_loss, cl.SGD",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return save(fig, path)


def im2col(path):
    """From loops to one matrix product: the windows of x as rows (sliding_window_view), times w."""
    x = np.arange(16, dtype=float).reshape(4, 4)
    w = np.array([[1.0, -1.0], [2.0, 0.0]])
    cols = sliding_window_view(x, (2, 2)).reshape(-1, 4)  # (Ho·Wo, kh·kw)
    y = (cols @ w.ravel()).reshape(3, 3)
    assert np.allclose(y, conv2d_forward(x[None, None], w[None, None])[0, 0])
    fig, axes = plt.subplots(
        1, 4, figsize=(14, 5), layout="constrained", gridspec_kw={"width_ratios": [4, 3, 1.6, 3]}
    )
    draw.heatmap(x, "input x", axes[0], signed=False, fmt="{:.0f}", cbar_label="x")
    box(axes[0], 1, 2, 2, 2)
    draw.heatmap(
        cols,
        "windows (im2col)",
        axes[1],
        signed=False,
        fmt="{:.0f}",
        xlabel="kernel offset (m, n)",
        ylabel="window (i, j)",
        cbar_label="x",
    )
    axes[1].set_xticks(range(4), [f"({m},{n})" for m in range(2) for n in range(2)])
    axes[1].set_yticks(range(9), [f"({i},{j})" for i in range(3) for j in range(3)])
    box(axes[1], 5, 0, 1, 4)
    draw.heatmap(
        w.reshape(4, 1), "w as a column", axes[2], fmt="{:.0f}", xlabel="", ylabel="kernel offset (m, n)"
    )
    axes[2].set_xticks([])
    axes[2].set_yticks(range(4), [f"({m},{n})" for m in range(2) for n in range(2)])
    draw.heatmap(y, "y = windows @ w", axes[3], fmt="{:.0f}", xlabel="output column j", ylabel="output row i")
    box(axes[3], 1, 2, 1, 1)
    fig.suptitle(
        "Fast convolution: every window becomes a row, and one matrix product replaces the loops "
        f"(red: window (1, 2) gives y[1, 2] = {y[1, 2]:g})",
        fontsize=11,
    )
    fig.supxlabel(
        "numpy's sliding_window_view makes the rows without copying; the result equals cl.conv2d_forward",
        fontsize=9,
        color="0.25",
    )
    return save(fig, path)
