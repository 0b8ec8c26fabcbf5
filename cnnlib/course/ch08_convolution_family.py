"""Notebook 08, the convolution family: dilation, groups, 1x1, transposed convolution, receptive fields.

Used by notebooks/08_convolution_family.ipynb: the opening picture, the dilation and
receptive-field explorers, the groups connection matrix, and the exercise checkers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..conv import conv2d_backward, conv2d_forward, dilate
from ..shapes import conv_output_size

# the exercises of section 12 live in ch08_exercises; the notebook reaches them as ch.<name>
from .ch08_exercises import (  # noqa: F401
    attempt_dilated_kernel,
    attempt_field_padding_ignored,
    check_conv_transpose_backward,
    check_dilated_backward,
    check_field_span,
    measured_field_span,
    mystery_conv_transpose_backward,
)
from .ch08_receptive_field import (  # noqa: F401
    STACKS,
    receptive_field,
    receptive_field_explorer,
    receptive_field_map,
)
from .draw import SIGNED_CMAP, UNSIGNED_CMAP, fix_layout, heatmap, pixel_ticks, set_image, symmetric_limit
from .explore import explorer_figures


def window_taps(k, s, d, i, j):
    """(rows, cols) of the k·k input pixels output (i, j) reads: i·s + m·d, j·s + n·d."""
    m = np.arange(k)
    rows, cols = np.meshgrid(i * s + m * d, j * s + m * d, indexing="ij")
    return rows.ravel(), cols.ravel()


def dilated_coverage(H, k, s, d):
    """How many windows of a k×k kernel (stride s, dilation d) read each pixel of an H×H input.

    ∂E/∂x for δ = 1 and w = 1 (``conv2d_backward``): the coverage map of notebook 03, dilated.
    """
    Ho = conv_output_size(H, k, s, 0, d)
    ones = np.ones((1, 1, Ho, Ho))
    return conv2d_backward(ones, np.zeros((1, 1, H, H)), np.ones((1, 1, k, k)), s, 0, d)[0][0, 0]


def connection_matrix(C, D, groups):
    """M[d, c]: the group of the kernels connecting input channel c to output channel d; NaN where none.

    Kernel d reads channels c0 .. c0 + C/g − 1 with c0 = ⌊d / (D/g)⌋ · C/g (``reference.conv2d_forward``).
    """
    M = np.full((D, C), np.nan)
    for d in range(D):
        g = d // (D // groups)
        M[d, g * (C // groups) : (g + 1) * (C // groups)] = g
    return M


def group_cmap(groups):
    """One tab10 colour per group (a categorical scale: its colour bar has one tick per group)."""
    return ListedColormap(plt.cm.tab10.colors[:groups])


def connection_picture(C=6, D=6, groups=(1, 2, 3, 6)):
    """The block-diagonal connection matrices of a C → D convolution for several group counts.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per group count, 10.8 in wide; colour = group of the weight, white = no weight.
    """
    fig, axes = plt.subplots(1, len(groups), figsize=(10.8, 3.4))
    G = max(groups)
    for ax, g in zip(axes, groups, strict=True):
        im = ax.imshow(connection_matrix(C, D, g), cmap=group_cmap(G), vmin=-0.5, vmax=G - 0.5)
        ax.set_title(f"groups = {g}: {D * C // g} of {D * C}\nchannel pairs have a kernel", fontsize=10)
        ax.set_xlabel("input channel c")
        ax.set_ylabel("output channel d")
        ax.set_xticks(range(C))
        ax.set_yticks(range(D))
    fig.subplots_adjust(left=0.05, right=0.9, top=0.74, bottom=0.16, wspace=0.45)
    cb = fig.colorbar(im, cax=fig.add_axes((0.92, 0.16, 0.015, 0.58)), label="group of w[d, ·]")
    cb.set_ticks(range(G))
    fig.suptitle(f"Which w[d, c] exists: a {C} → {D} convolution split into groups (white: no weight)")
    return fig


def costs(C, D, k, Ho, Wo, groups=1):
    """(parameters, multiply-adds) of a k×k convolution C → D with groups, on an Ho×Wo output (no bias)."""
    params = D * (C // groups) * k * k
    return params, params * Ho * Wo


def family_picture():
    """The opening picture of notebook 08 (and the README's): three members of the family.

    (a) a 3×3 kernel with dilation 2 on a 9×9 input: the coverage (windows reading each
    pixel) and the 9 pixels output y[1, 1] reads; (b) the connection matrix of a 6 → 6
    convolution in 3 groups; (c) the receptive field of one output of the dilated stack
    (d = 1, 2, 4), measured by backpropagating a δ spike, with the 7×7 field of three
    undilated 3×3 layers outlined.

    Returns
    -------
    matplotlib.figure.Figure
        10.8 in wide.
    """
    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(10.8, 4.0))
    H, k, d = 9, 3, 2
    heatmap(
        dilated_coverage(H, k, 1, d),
        "(a) dilation 2: windows per pixel",
        ax_a,
        signed=False,
        annotate=False,
        cbar_label="windows",
        xlabel="input column",
        ylabel="input row",
    )
    rows, cols = window_taps(k, 1, d, 1, 1)
    ax_a.plot(cols, rows, "s", ms=11, mfc="none", mec="tab:red", mew=2)
    ax_a.add_patch(Rectangle((0.5, 0.5), 5, 5, fill=False, ec="w", ls="--", lw=1.5))
    im = ax_b.imshow(connection_matrix(6, 6, 3), cmap=group_cmap(3), vmin=-0.5, vmax=2.5)
    ax_b.set_title("(b) groups = 3: which w[d, c] exist", fontsize=10)
    ax_b.set_xlabel("input channel c")
    ax_b.set_ylabel("output channel d")
    cb = fig.colorbar(im, ax=ax_b, fraction=0.046, pad=0.04, label="group (white: none)")
    cb.set_ticks(range(3))
    dx, r = receptive_field_map(STACKS["3×3 dilated 1, 2, 4"](3), H=17)
    heatmap(
        dx,
        f"(c) field of one output: {r}×{r}",
        ax_c,
        signed=False,
        annotate=False,
        cbar_label="paths",
        xlabel="input column",
        ylabel="input row",
    )
    ax_c.add_patch(Rectangle((4.5, 4.5), 7, 7, fill=False, ec="w", ls="--", lw=1.5))
    fig.suptitle("Dilation spreads a kernel, groups cut the channel sum, stacks widen the field")
    fig.text(
        0.5,
        0.01,
        "red: the 9 pixels y[1, 1] reads; dashed: the 5×5 extent in (a) and the 7×7 field "
        "of three 3×3 layers without dilation in (c)",
        ha="center",
        fontsize=9,
        color="0.25",
    )
    return fix_layout(fig, rect=(0, 0.04, 1, 1))


def dilation_explorer(seed=0):
    """The dilation explorer: coverage, the dilated kernel and ∂E/∂x for any (H, k, s, d).

    Panels: (a) the coverage map (windows reading each input pixel) with the k·k pixels
    output y[row, col] reads marked in red; (b) dilate(w, d), the kernel with its holes
    (the plain kernel a dilated convolution equals); (c) ∂E/∂x for a random δ and w.

    Returns
    -------
    fig : matplotlib Figure
        10.8 in wide.
    update : callable(input_size, kernel_size, stride, dilation, row=0, col=0)
        Redraws in place; returns the settings, "row"/"col" as clamped, "Ho", "k_eff"
        (d(k − 1) + 1) and "unread" (pixels no window reads); "Ho" is 0 with a "reason"
        when the dilated kernel does not fit.

    Notes
    -----
    Derived in notebooks/08_convolution_family.ipynb.
    """
    fig, (ax_cov, ax_w, ax_dx) = plt.subplots(1, 3, figsize=(10.8, 3.7))
    blank = np.full((1, 1), np.nan)
    im_cov = ax_cov.imshow(blank, cmap=UNSIGNED_CMAP, vmin=0, vmax=1)
    im_w = ax_w.imshow(blank, cmap=SIGNED_CMAP, vmin=-1, vmax=1)
    im_dx = ax_dx.imshow(blank, cmap=SIGNED_CMAP, vmin=-1, vmax=1)
    bars = [
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=lab)
        for im, ax, lab in ((im_cov, ax_cov, "windows"), (im_w, ax_w, "weight"), (im_dx, ax_dx, "∂E/∂x"))
    ]
    for cb in bars:
        cb.locator = MaxNLocator(nbins=4)
    bars[0].locator = MaxNLocator(nbins=4, integer=True)  # counts of windows
    (taps,) = ax_cov.plot([], [], "s", ms=7, mfc="none", mec="tab:red", mew=2)
    for ax, xl, yl in (
        (ax_cov, "input column", "input row"),
        (ax_w, "column of dilate(w)", "row of dilate(w)"),
        (ax_dx, "input column", "input row"),
    ):
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
    suptitle = fig.suptitle("H")

    def show(im, a):  # the array, and ticks on whole pixels only (a 1×1 kernel too)
        set_image(im, a)
        pixel_ticks(im.axes, *a.shape, nbins=4)

    def update(input_size, kernel_size, stride, dilation, row=0, col=0):
        H, k, s, d = int(input_size), int(kernel_size), int(stride), int(dilation)
        drawn = {"input_size": H, "kernel_size": k, "stride": s, "dilation": d}
        k_eff = d * (k - 1) + 1
        if k_eff > H:
            for im, ax in ((im_cov, ax_cov), (im_w, ax_w), (im_dx, ax_dx)):
                show(im, blank)
                ax.set_title("")
            taps.set_data([], [])
            reason = f"the dilated kernel ({k_eff}×{k_eff}) is larger than the {H}×{H} input"
            suptitle.set_text(f"H={H}, k={k}, s={s}, d={d}: {reason}")
            return {
                **drawn,
                "row": None,
                "col": None,
                "Ho": 0,
                "k_eff": k_eff,
                "unread": None,
                "reason": reason,
            }
        Ho = conv_output_size(H, k, s, 0, d)
        i, j = min(int(row), Ho - 1), min(int(col), Ho - 1)
        cov = dilated_coverage(H, k, s, d)
        show(im_cov, cov)
        im_cov.set_clim(0, max(1.0, float(cov.max())))
        rows, cols = window_taps(k, s, d, i, j)
        taps.set_data(cols, rows)
        unread = int(np.sum(cov == 0))
        ax_cov.set_title(
            f"(a) windows per pixel, {unread} unread;\nred: the pixels y[{i}, {j}] reads", fontsize=10
        )
        rng = np.random.default_rng(seed)
        w = rng.standard_normal((k, k))
        wd = dilate(w, d)
        show(im_w, wd)
        lim = symmetric_limit(wd)
        im_w.set_clim(-lim, lim)
        ax_w.set_title(f"(b) dilate(w, {d}): {k}×{k} → {k_eff}×{k_eff}", fontsize=10)
        delta = rng.standard_normal((1, 1, Ho, Ho))
        dx = conv2d_backward(delta, np.zeros((1, 1, H, H)), w[None, None], s, 0, d)[0][0, 0]
        show(im_dx, dx)
        lim = symmetric_limit(dx)
        im_dx.set_clim(-lim, lim)
        ax_dx.set_title(f"(c) ∂E/∂x for a random δ ({Ho}×{Ho})", fontsize=10)
        suptitle.set_text(
            f"H={H}, k={k}, s={s}, d={d}: effective kernel d(k − 1) + 1 = {k_eff}, output {Ho}×{Ho}"
        )
        return {**drawn, "row": i, "col": j, "Ho": Ho, "k_eff": k_eff, "unread": unread}

    update(9, 3, 1, 2, 1, 1)  # lay the figure out around real pictures and titles, not placeholders
    fix_layout(fig, rect=(0, 0, 0.98, 1), w_pad=3)  # room for longer colour-bar ticks at other settings
    return fig, update


# every figure of notebook 08, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "family picture": family_picture,
    "connection picture": lambda: connection_picture(C=6, D=6, groups=(1, 2, 3, 6)),
    **explorer_figures(
        "dilation explorer",
        lambda: dilation_explorer(seed=0),
        dict(input_size=9, kernel_size=3, stride=1, dilation=2, row=1, col=1),
        input_size=(5, 12),
        kernel_size=(1, 5),
        stride=(1, 4),
        dilation=(1, 4),
        row=(0, 11),
        col=(0, 11),
    ),
    **explorer_figures(
        "receptive field explorer",
        lambda: receptive_field_explorer(H=33, max_layers=4),
        dict(stack="3×3 dilated 1, 2, 4", layers=3),
        stack=list(STACKS),
        layers=(1, 4),
    ),
}


def weight_gradient_by_duality(dy, x, k, stride, padding, dilation):
    """∂E/∂w of a convolution as a forward convolution of x with δ: stride and dilation swapped.

    The batch takes the place of the channels that are summed over: x (N, C, H, W) is
    read as C images of N channels, (C, N, H, W), and δ (N, D, Ho, Wo) as D kernels over
    N channels, (D, N, Ho, Wo). The result (C, D, ·, ·) is transposed and cut to the
    k×k kernel (the leftover rows of notebook 03).

    Notes
    -----
    ∂E/∂w[d, c, m, n] = Σ_img Σ_i Σ_j δ[img, d, i, j] · xp[img, c, m·dil + i·s, n·dil + j·s]:
    a cross-correlation with stride dil and dilation s. Derived in
    notebooks/08_convolution_family.ipynb.
    """
    g = conv2d_forward(
        np.swapaxes(x, 0, 1), np.swapaxes(dy, 0, 1), None, stride=dilation, padding=padding, dilation=stride
    )
    return np.swapaxes(g, 0, 1)[:, :, :k, :k]
