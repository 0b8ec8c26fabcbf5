"""The images/ generator: every README figure, computed by cnnlib, byte-for-byte reproducible.

Run ``python -m cnnlib.course.images images/`` (or ``make images``) to regenerate them all.
Each figure is computed with the library (``cl.pad``, ``cl.dilate``, ``cl.rot180``,
``cl.conv2d_forward``, ``cl.conv2d_backward``, the pooling functions, ``cl.fit``) and
drawn with ``cnnlib.course.draw``, so a picture can never disagree with the code: where a
figure shows a hand-style computation, it is checked against the library before saving.

Reproducibility: fixed seeds, the Agg backend, a fixed dpi and no metadata (no
"Software" PNG chunk), so rerunning on the same package versions gives identical bytes.
Importing this module selects the Agg backend, so ``import cnnlib`` does not import it
(notebooks keep their inline backend).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import PillowWriter  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from .. import reference  # noqa: E402
from ..conv import conv2d_backward, conv2d_forward, dilate, pad, rot180  # noqa: E402
from ..layers import Conv2D  # noqa: E402
from ..losses import mse_loss  # noqa: E402
from ..model import SGD, Sequential, fit  # noqa: E402
from ..pool import avgpool2d_backward, maxpool2d_backward, maxpool2d_forward  # noqa: E402
from ..shapes import conv_output_size  # noqa: E402
from . import draw  # noqa: E402

DPI = 100
GIF_MS_PER_FRAME = 900
RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 10,
    "axes.titlesize": 10,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}

# The running example of the animation and of the ∂E/∂x figures: the same geometry
# as the convolution-arithmetic animation "padding 1, stride 2" (5x5 input, 3x3 kernel).
H_EX, K_EX, S_EX, P_EX = 5, 3, 2, 1


def _example():
    """x (5x5 small non-negative ints), w (3x3 ints in -1..1), δ (3x3 ints), shared by several figures."""
    rng = np.random.default_rng(2016)
    x = rng.integers(0, 4, size=(H_EX, H_EX)).astype(float)
    w = np.array([[1.0, 0.0, -1.0], [1.0, 1.0, 0.0], [0.0, -1.0, 1.0]])
    Ho = conv_output_size(H_EX, K_EX, S_EX, P_EX)
    delta = rng.integers(-2, 3, size=(Ho, Ho)).astype(float)
    delta[delta == 0] = 1.0  # every δ visible in the dilation picture
    return x, w, delta


def _save(fig, path):
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def _box(ax, row, col, h, w, color="tab:red", lw=2.5):
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), w, h, fill=False, edgecolor=color, lw=lw))


def _caption(fig, text, y=0.01):
    fig.text(0.5, y, text, ha="center", va="bottom", fontsize=9, color="0.25")


# --------------------------------------------------------------------------------------------
def conv_sliding_gif(path):
    """Animated GIF: the 3x3 kernel slides over the zero-padded 5x5 input with stride 2.

    One frame per output position (Ho·Wo frames); each frame shows the window on the padded
    input (``draw.sliding_picture``), the kernel, and the output filled in so far, with the
    value of the new entry computed by ``cl.conv2d_forward``.
    """
    x, w, _ = _example()
    y = conv2d_forward(x[None, None], w[None, None], stride=S_EX, padding=P_EX)[0, 0]
    xp = pad(x, P_EX)
    Ho, Wo = y.shape
    fig = plt.figure(figsize=(11.5, 4.9))
    gs = fig.add_gridspec(1, 3, width_ratios=[1.25, 0.75, 1.0], wspace=0.55)
    fig.subplots_adjust(left=0.06, right=0.94, top=0.82, bottom=0.2)
    ax_in, ax_w, ax_out = (fig.add_subplot(gs[0, i]) for i in range(3))
    draw.heatmap(w, "kernel w", ax_w, xlabel="kernel column n", ylabel="kernel row m", cbar_label="weight")
    lim = draw.symmetric_limit(y)
    im = draw.heatmap(
        np.full_like(y, np.nan),
        "output y = pad(x, p) ★ w",
        ax_out,
        vmax=lim,
        annotate=False,
        xlabel="output column j",
        ylabel="output row i",
        cbar_label="value of y[i, j]",
    )
    texts = {}
    caption = None
    writer = PillowWriter(fps=1000 / GIF_MS_PER_FRAME)
    with writer.saving(fig, str(path), dpi=DPI):
        for i in range(Ho):
            for j in range(Wo):
                ax_in.clear()
                draw.sliding_picture(H_EX, H_EX, K_EX, S_EX, P_EX, (i, j), ax=ax_in, values=x)
                window = xp[i * S_EX : i * S_EX + K_EX, j * S_EX : j * S_EX + K_EX]
                assert np.isclose((window * w).sum(), y[i, j])
                shown = np.full_like(y, np.nan)
                shown.flat[: i * Wo + j + 1] = y.flat[: i * Wo + j + 1]
                im.set_data(np.ma.masked_invalid(shown))
                colour = draw.text_colour(im, y[i, j])
                texts[i, j] = ax_out.text(
                    j, i, f"{y[i, j]:g}", ha="center", va="center", fontsize=11, color=colour
                )
                for p in [p for p in ax_out.patches if p.get_gid() == "current"]:
                    p.remove()
                box = Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="tab:red", lw=2.5)
                box.set_gid("current")
                ax_out.add_patch(box)
                fig.suptitle(
                    f"Sliding the kernel: frame {i * Wo + j + 1} of {Ho * Wo}    "
                    f"y[{i}, {j}] = Σ (red window ⊙ w) = {y[i, j]:g}",
                    fontsize=12,
                )
                terms = " + ".join(
                    f"{a:g}·{b:g}" if b >= 0 else f"{a:g}·({b:g})"
                    for a, b in zip(window.ravel(), w.ravel(), strict=True)
                )
                if caption is not None:
                    caption.remove()
                caption = fig.text(0.5, 0.03, f"{terms} = {y[i, j]:g}", ha="center", fontsize=11)
                writer.grab_frame()
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------
def delta_dilation(path):
    """δ of the stride-2 example, dilated (s − 1 zeros between entries), then padded k − 1 ("full")."""
    _, w, delta = _example()
    dil = dilate(delta, S_EX)
    full = pad(dil, K_EX - 1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), gridspec_kw={"width_ratios": [3, 5, 9]})
    lim = draw.symmetric_limit(delta)
    draw.heatmap(delta, "δ = ∂E/∂y", axes[0], vmax=lim, xlabel="output column j", ylabel="output row i")
    draw.heatmap(
        dil,
        f"dilate(δ, s={S_EX})",
        axes[1],
        vmax=lim,
        xlabel="column where the window starts",
        ylabel="row where the window starts",
    )
    draw.heatmap(
        full,
        f"pad(dilate(δ), k−1={K_EX - 1})",
        axes[2],
        vmax=lim,
        annotate=True,
        xlabel="column",
        ylabel="row",
        cbar_label="δ",
    )
    for a in range(delta.shape[0]):
        for b in range(delta.shape[1]):
            _box(axes[1], a * S_EX, b * S_EX, 1, 1, color="0.2", lw=1.2)
    _box(axes[2], K_EX - 1, K_EX - 1, dil.shape[0], dil.shape[1], color="0.2", lw=1.5)
    fig.suptitle(
        f"Stride s={S_EX}: δ[i, j] goes back to row i·s, column j·s, where its window started; "
        f"then k−1={K_EX - 1} zeros each side for the full correlation",
        fontsize=11,
    )
    _caption(fig, "computed with cl.dilate and cl.pad; boxes: the entries of δ and the dilated block")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
def input_gradient_rot180(path):
    """∂E/∂x = crop_p( pad(dilate(δ), k−1) ★ rot180(w) ), checked against cl.conv2d_backward."""
    x, w, delta = _example()
    full = pad(dilate(delta, S_EX), K_EX - 1)
    dxp = reference.correlate2d(full, rot180(w))  # (H + 2p) x (W + 2p)
    dx = pad(dxp, -P_EX)  # negative padding crops
    dx_lib, _, _ = conv2d_backward(delta[None, None], x[None, None], w[None, None], S_EX, P_EX)
    err = float(np.max(np.abs(dx - dx_lib[0, 0])))
    assert err < 1e-12, err
    u, v = 2, 2  # one entry of ∂E/∂x_p to explain
    fig = plt.figure(figsize=(15, 4.8))
    gs = fig.add_gridspec(1, 5, width_ratios=[9, 3, 3, 7, 5])
    axes = [fig.add_subplot(gs[0, i]) for i in range(5)]
    lim = draw.symmetric_limit(delta)
    draw.heatmap(full, "pad(dilate(δ), k−1)", axes[0], vmax=lim, annotate=True, xlabel="column", ylabel="row")
    _box(axes[0], u, v, K_EX, K_EX)
    draw.heatmap(w, "w", axes[1], xlabel="n", ylabel="m")
    draw.heatmap(rot180(w), "rot180(w)", axes[2], xlabel="n", ylabel="m")
    _box(axes[2], 0, 0, K_EX, K_EX)
    glim = draw.symmetric_limit(dxp)
    draw.heatmap(dxp, "∂E/∂x_p  (padded input)", axes[3], vmax=glim, xlabel="column", ylabel="row")
    _box(axes[3], u, v, 1, 1)
    _box(axes[3], P_EX, P_EX, H_EX, H_EX, color="0.2", lw=1.5)
    draw.heatmap(dx, f"∂E/∂x = crop p={P_EX}", axes[4], vmax=glim, xlabel="column j", ylabel="row i")
    fig.suptitle(
        f"∂E/∂x as a full cross-correlation: the red window ★ rot180(w) gives ∂E/∂x_p[{u}, {v}] "
        f"= {dxp[u, v]:g}; cropping the padding gives ∂E/∂x",
        fontsize=11,
    )
    _caption(
        fig,
        f"computed with cl.dilate, cl.pad, cl.rot180 and cl.reference.correlate2d; equals "
        f"cl.conv2d_backward's dx (max |difference| {err:.0f})",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
def weight_gradient(path):
    """∂E/∂w = x ★ δ (stride 1, no padding): δ slides over x like a kernel."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, size=(5, 5)).astype(float)
    delta = rng.integers(-2, 3, size=(3, 3)).astype(float)
    w = np.zeros((3, 3))
    dw = reference.correlate2d(x, delta)
    _, dw_lib, _ = conv2d_backward(delta[None, None], x[None, None], w[None, None])
    assert np.allclose(dw, dw_lib[0, 0], rtol=0, atol=1e-12)
    m, n = 1, 2
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 4.4), gridspec_kw={"width_ratios": [5, 3, 3]})
    draw.heatmap(x, "input x", axes[0], signed=False, cbar_label="x")
    _box(axes[0], m, n, 3, 3)
    draw.heatmap(delta, "δ = ∂E/∂y", axes[1], xlabel="output column j", ylabel="output row i")
    draw.heatmap(dw, "∂E/∂w = x ★ δ", axes[2], xlabel="kernel column n", ylabel="kernel row m")
    _box(axes[2], m, n, 1, 1)
    fig.suptitle(
        f"Weight gradient: ∂E/∂w[m, n] = Σ_ij δ[i, j] · x[i + m, j + n]; red: (m, n) = ({m}, {n}) "
        f"gives {dw[m, n]:g}",
        fontsize=11,
    )
    _caption(
        fig,
        "each weight touched every output, so its gradient sums over all of δ; "
        "equals cl.conv2d_backward's dw",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
def multichannel_weight_gradient(path):
    """C=3 input channels, D=2 kernels: ∂E/∂w[d, c] = x[c] ★ δ[d], one panel per (d, c)."""
    rng = np.random.default_rng(3)
    C, D, H, k = 3, 2, 6, 3
    x = rng.standard_normal((1, C, H, H))
    w = rng.standard_normal((D, C, k, k))
    delta = rng.standard_normal((1, D, H - k + 1, H - k + 1))
    _, dw, _ = conv2d_backward(delta, x, w)
    for d in range(D):
        for c in range(C):
            assert np.allclose(dw[d, c], reference.correlate2d(x[0, c], delta[0, d]), rtol=0, atol=1e-12)
    fig, axes = plt.subplots(D + 1, C + 1, figsize=(11, 7.6), layout="constrained")
    axes[0, 0].axis("off")
    axes[0, 0].text(
        0.5,
        0.5,
        f"x: C×H×W = {C}×{H}×{H}\nw: D×C×k×k = {D}×{C}×{k}×{k}\nδ: D×Ho×Wo = {D}×{H - k + 1}×{H - k + 1}"
        "\n\n∂E/∂w[d, c] = x[c] ★ δ[d]",
        ha="center",
        va="center",
        fontsize=11,
        transform=axes[0, 0].transAxes,
    )
    xl, dl, wl = draw.symmetric_limit(x), draw.symmetric_limit(delta), draw.symmetric_limit(dw)

    def show(ax, a, lim, title, xlabel, ylabel):
        im = ax.imshow(a, cmap=draw.SIGNED_CMAP, vmin=-lim, vmax=lim)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(0, a.shape[1], 2 if a.shape[1] > 4 else 1))
        ax.set_yticks(range(0, a.shape[0], 2 if a.shape[0] > 4 else 1))
        return im

    for c in range(C):
        im_x = show(axes[0, c + 1], x[0, c], xl, f"input channel x[c={c}]", "column", "row")
    for d in range(D):
        im_d = show(axes[d + 1, 0], delta[0, d], dl, f"δ[d={d}]", "output column j", "output row i")
        for c in range(C):
            im_w = show(
                axes[d + 1, c + 1], dw[d, c], wl, f"∂E/∂w[d={d}, c={c}]", "kernel col n", "kernel row m"
            )
    fig.colorbar(im_x, ax=axes[0, 1:].tolist(), shrink=0.9, label="x")
    fig.colorbar(im_d, ax=axes[1:, 0].tolist(), shrink=0.6, label="δ", location="left")
    fig.colorbar(im_w, ax=axes[1:, 1:].ravel().tolist(), shrink=0.9, label="∂E/∂w")
    fig.suptitle(
        "Many channels, many kernels: ∂E/∂w[d, c] pairs input channel c with the δ of output channel d\n"
        "(every panel computed by cl.conv2d_backward)",
        fontsize=11,
    )
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
def stride_coverage(path):
    """How many windows cover each input pixel: ∂E/∂x for δ = 1 and w = 1 (cl.conv2d_backward)."""
    H = 8
    cases = [(3, 1), (3, 2), (2, 3)]
    maps = {}
    for k, s in cases:
        Ho = conv_output_size(H, k, s)
        dx, _, _ = conv2d_backward(np.ones((1, 1, Ho, Ho)), np.zeros((1, 1, H, H)), np.ones((1, 1, k, k)), s)
        unused = (H - k) % s
        if s > k:
            note = f"{s - k} row{'s' if s - k > 1 else ''} and column skipped between windows"
        elif unused:
            note = "last row and column unused" if unused == 1 else f"last {unused} rows and columns unused"
        else:
            note = "every row used"
        maps[f"k={k}, s={s}: {note}"] = dx[0, 0]
    fig, axes = plt.subplots(1, len(maps), figsize=(13.5, 4.8))
    for ax, (title, m) in zip(axes, maps.items(), strict=True):
        im = draw.heatmap(
            m, title, ax, signed=False, vmax=m.max(), fmt="{:.0f}", cbar_label="windows covering"
        )
        im.colorbar.set_ticks(range(int(m.max()) + 1))
    fig.suptitle(
        f"Stride coverage on an {H}×{H} input: s < k overlaps unevenly (a checkerboard), "
        "(H − k) mod s ≠ 0 leaves rows no window reaches, s > k skips rows",
        fontsize=11,
    )
    _caption(
        fig,
        "each count is ∂E/∂x for δ = 1 and w = 1, computed with cl.conv2d_backward; 0 means ∂E/∂x = 0 there",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
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
            _box(axes[0], a, b, 2, 2, color="0.1", lw=1.5)
            win = x[a : a + 2, b : b + 2]
            r, c = np.unravel_index(np.argmax(win), win.shape)
            winners.append((a + r, b + c))
            _box(axes[0], a + r, b + c, 1, 1)
    lim = draw.symmetric_limit(delta, dx_max)
    draw.heatmap(
        delta, "δ at the pool output", axes[1], vmax=lim, xlabel="output column j", ylabel="output row i"
    )
    draw.heatmap(dx_max, "∂E/∂x, max pooling", axes[2], vmax=lim, cbar_label="∂E/∂x")
    for r, c in winners:
        _box(axes[2], r, c, 1, 1)
    draw.heatmap(dx_avg, "∂E/∂x, average pooling", axes[3], vmax=lim, cbar_label="∂E/∂x")
    for ax in axes[2:]:
        for a in (0, 2):
            for b in (0, 2):
                _box(ax, a, b, 2, 2, color="0.1", lw=1.5)
    fig.suptitle(
        "Pooling backward (size 2, stride 2): max sends each δ to its window's winner (red, "
        f"maxima {', '.join(f'{v:g}' for v in y.ravel())}); average gives every cell δ/4",
        fontsize=11,
    )
    _caption(fig, "computed with cl.maxpool2d_backward and cl.avgpool2d_backward")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
def _known_kernel_data(rng, n=64, H=8, noise=0.0):
    """Inputs X (n, 1, H, H), targets T = X ★ w_true + noise, and w_true (a Sobel filter / 4)."""
    w_true = np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]]) / 4
    X = rng.standard_normal((n, 1, H, H))
    T = conv2d_forward(X, w_true)
    return X, T + noise * rng.standard_normal(T.shape), w_true


def training_loss(path):
    """Learn a known 3x3 kernel (a Sobel filter) from input/target pairs with cl.fit; loss on a log scale."""
    rng = np.random.default_rng(0)
    noise = 0.1
    X, T, w_true = _known_kernel_data(rng, noise=noise)
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
    return _save(fig, path)


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
    # E is quadratic in (w, b): Hessian = (1/N) Σ patches patchesᵀ, with a 1 for the bias
    cols = sliding_window_view(X[:, 0], (3, 3), axis=(1, 2)).reshape(-1, 9)
    A = np.hstack([cols, np.ones((len(cols), 1))])
    lam = float(np.linalg.eigvalsh(A.T @ A / len(X)).max())
    bound = 2 / lam
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
        histories[f"lr = {f:g} × 2/λ_max"] = losses
    fig, ax = plt.subplots(figsize=(8.5, 5))
    draw.loss_curve(histories, f"Full-batch gradient descent; the bound 2/λ_max = {bound:.4f}", ax)
    rising = np.asarray(histories["lr = 1.02 × 2/λ_max"])
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
        "Why a loss first descends and then goes up: above 2/λ_max one direction grows every step",
        fontsize=11,
    )
    _caption(
        fig,
        "λ_max: largest eigenvalue of the loss's Hessian, computed exactly; trained with cl.Conv2D, "
        "cl.mse_loss, cl.SGD",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
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
    _box(axes[0], 1, 2, 2, 2)
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
    _box(axes[1], 5, 0, 1, 4)
    draw.heatmap(
        w.reshape(4, 1), "w as a column", axes[2], fmt="{:.0f}", xlabel="", ylabel="kernel offset (m, n)"
    )
    axes[2].set_xticks([])
    axes[2].set_yticks(range(4), [f"({m},{n})" for m in range(2) for n in range(2)])
    draw.heatmap(y, "y = windows @ w", axes[3], fmt="{:.0f}", xlabel="output column j", ylabel="output row i")
    _box(axes[3], 1, 2, 1, 1)
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
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
FIGURES = {
    "conv_sliding.gif": conv_sliding_gif,
    "weight_gradient.png": weight_gradient,
    "multichannel_weight_gradient.png": multichannel_weight_gradient,
    "delta_dilation.png": delta_dilation,
    "stride_coverage.png": stride_coverage,
    "input_gradient_rot180.png": input_gradient_rot180,
    "pooling_routing.png": pooling_routing,
    "training_loss.png": training_loss,
    "step_size_bound.png": step_size_bound,
    "im2col.png": im2col,
}


def gif_frame_count():
    """Frames in conv_sliding.gif: one per output position of the running example."""
    n = conv_output_size(H_EX, K_EX, S_EX, P_EX)
    return n * n


def generate(outdir, names=None):
    """Write the figures into ``outdir`` (created if missing) and return their paths.

    Parameters
    ----------
    outdir : str or Path
    names : iterable of str or None
        File names from ``FIGURES``; None writes all of them.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context(RC):
        for name in FIGURES if names is None else names:
            paths.append(FIGURES[name](outdir / name))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m cnnlib.course.images", description="Regenerate the course's figures."
    )
    parser.add_argument("outdir", nargs="?", default="images", help="output folder (default: images)")
    parser.add_argument("--only", nargs="*", choices=sorted(FIGURES), help="write only these files")
    args = parser.parse_args(argv)
    for p in generate(args.outdir, args.only):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
