"""The README figures of the gradients: the sliding kernel, δ dilated, ∂E/∂x by rot180, ∂E/∂w, coverage."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import PillowWriter
from matplotlib.patches import Rectangle

from ... import reference
from ...conv import conv2d_backward, conv2d_forward, dilate, pad, rot180
from ...shapes import conv_output_size
from .. import draw
from .common import DPI, GIF_MS_PER_FRAME, H_EX, K_EX, P_EX, S_EX, box, caption, example, save


def conv_sliding_gif(path):
    """Animated GIF: the 3x3 kernel slides over the zero-padded 5x5 input with stride 2.

    One frame per output position (Ho·Wo frames); each frame shows the window on the padded
    input (``draw.sliding_picture``), the kernel, and the output filled in so far, with the
    value of the new entry computed by ``cl.conv2d_forward``.
    """
    x, w, _ = example()
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


def delta_dilation(path):
    """δ of the stride-2 example, dilated (s − 1 zeros between entries), then padded k − 1 ("full")."""
    _, w, delta = example()
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
            box(axes[1], a * S_EX, b * S_EX, 1, 1, color="0.2", lw=1.2)
    box(axes[2], K_EX - 1, K_EX - 1, dil.shape[0], dil.shape[1], color="0.2", lw=1.5)
    fig.suptitle(
        f"Stride s={S_EX}: δ[i, j] goes back to row i·s, column j·s, where its window started; "
        f"then k−1={K_EX - 1} zeros each side for the full correlation",
        fontsize=11,
    )
    caption(fig, "computed with cl.dilate and cl.pad; boxes: the entries of δ and the dilated block")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return save(fig, path)


def input_gradient_rot180(path):
    """∂E/∂x = crop_p( pad(dilate(δ), k−1) ★ rot180(w) ), checked against cl.conv2d_backward."""
    x, w, delta = example()
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
    box(axes[0], u, v, K_EX, K_EX)
    draw.heatmap(w, "w", axes[1], xlabel="n", ylabel="m")
    draw.heatmap(rot180(w), "rot180(w)", axes[2], xlabel="n", ylabel="m")
    box(axes[2], 0, 0, K_EX, K_EX)
    glim = draw.symmetric_limit(dxp)
    draw.heatmap(dxp, "∂E/∂$x_p$  (padded input)", axes[3], vmax=glim, xlabel="column", ylabel="row")
    box(axes[3], u, v, 1, 1)
    box(axes[3], P_EX, P_EX, H_EX, H_EX, color="0.2", lw=1.5)
    draw.heatmap(dx, f"∂E/∂x = crop p={P_EX}", axes[4], vmax=glim, xlabel="column j", ylabel="row i")
    fig.suptitle(
        f"∂E/∂x as a full cross-correlation: the red window ★ rot180(w) gives ∂E/∂$x_p$[{u}, {v}] "
        f"= {dxp[u, v]:g}; cropping the padding gives ∂E/∂x",
        fontsize=11,
    )
    caption(
        fig,
        f"computed with cl.dilate, cl.pad, cl.rot180 and cl.reference.correlate2d; equals "
        f"cl.conv2d_backward's dx (max |difference| {err:.0f})",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return save(fig, path)


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
    box(axes[0], m, n, 3, 3)
    draw.heatmap(delta, "δ = ∂E/∂y", axes[1], xlabel="output column j", ylabel="output row i")
    draw.heatmap(dw, "∂E/∂w = x ★ δ", axes[2], xlabel="kernel column n", ylabel="kernel row m")
    box(axes[2], m, n, 1, 1)
    fig.suptitle(
        f"Weight gradient: ∂E/∂w[m, n] = $\\Sigma_{{ij}}$ δ[i, j] · x[i + m, j + n]; "
        f"red: (m, n) = ({m}, {n}) gives {dw[m, n]:g}",
        fontsize=11,
    )
    caption(
        fig,
        "each weight touched every output, so its gradient sums over all of δ; "
        "equals cl.conv2d_backward's dw",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return save(fig, path)


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
    # aspect 12: bars thick enough to read; δ's bar left of its column, beside the panels it scales
    fig.colorbar(im_x, ax=axes[0, 1:].tolist(), shrink=0.9, aspect=12, label="x")
    fig.colorbar(im_d, ax=axes[1:, 0].tolist(), shrink=0.9, aspect=24, label="δ", location="left")
    fig.colorbar(im_w, ax=axes[1:, 1:].ravel().tolist(), shrink=0.9, aspect=24, label="∂E/∂w")
    fig.suptitle(
        "Many channels, many kernels: ∂E/∂w[d, c] pairs input channel c with the δ of output channel d\n"
        "(every panel computed by cl.conv2d_backward)",
        fontsize=11,
    )
    return save(fig, path)


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
    top = max(int(m.max()) for m in maps.values())  # one colour scale, as in notebook 03: counts compare
    for ax, (title, m) in zip(axes, maps.items(), strict=True):
        im = draw.heatmap(m, title, ax, signed=False, vmax=top, fmt="{:.0f}", cbar_label="windows covering")
        im.colorbar.set_ticks(range(top + 1))
    fig.suptitle(
        f"Stride coverage on an {H}×{H} input: s < k overlaps unevenly (a checkerboard), "
        "(H − k) mod s ≠ 0 leaves rows no window reaches, s > k skips rows",
        fontsize=11,
    )
    caption(
        fig,
        "each count is ∂E/∂x for δ = 1 and w = 1, computed with cl.conv2d_backward; 0 means ∂E/∂x = 0 there",
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return save(fig, path)
