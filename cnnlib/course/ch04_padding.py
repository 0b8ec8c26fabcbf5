"""Notebook 04, padding: the padded-gradient figure and explorer, the source question's formula, checkers.

Used by notebooks/04_padding.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..conv import conv2d_backward, conv2d_forward, dilate, pad, rot180
from ..shapes import (
    padding_sides,
    transposed_conv_padding,
)

# the exercises live in ch04_exercises; the notebook reaches them as ch.<name>
from .ch04_exercises import (  # noqa: F401
    check_circular_input_gradient,
    check_question_input_gradient,
    check_transposed_padding,
    question_input_gradient,
)
from .draw import SIGNED_CMAP, fix_layout, heatmap, set_image, symmetric_limit
from .explore import explorer_figures, output_size_or_reason

# the question's equation (2) is shared with notebooks 03 and 06: it lives in sources.py
from .sources import question_filter_gradient as question_filter_gradient


def padded_gradient_heatmap(dxp, padding, ax=None, *, title="∂E/∂$x_p$, gradient of the padded input", **kw):
    """Heatmap of ∂E/∂xp with the region that survives the crop outlined.

    Parameters
    ----------
    dxp : ndarray of shape (H + top + bottom, W + left + right)
        Gradient with respect to the zero-padded input.
    padding : int, (ph, pw) or ((top, bottom), (left, right))
        The forward padding; the outlined region is what ∂E/∂x keeps.
    ax : matplotlib Axes or None
    title : str
    **kw
        Passed to ``heatmap`` (annotate, vmax, fmt, ...).

    Returns
    -------
    matplotlib.image.AxesImage

    Notes
    -----
    ∂E/∂x[u, v] = ∂E/∂xp[u + top, v + left]: the border entries (generally non-zero)
    are the gradient of constants and are dropped. Derived in notebooks/04_padding.ipynb.
    """
    dxp = np.asarray(dxp, dtype=float)
    (top, bottom), (left, right) = padding_sides(padding)
    H, W = dxp.shape[0] - top - bottom, dxp.shape[1] - left - right
    if H < 1 or W < 1:
        raise ValueError(f"padding {padding!r} leaves nothing of the {dxp.shape} array")
    kw.setdefault("xlabel", "column of the padded input")
    kw.setdefault("ylabel", "row of the padded input")
    im = heatmap(dxp, title, ax, **kw)
    ax = im.axes
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), W, H, fill=False, edgecolor="k", lw=2.2, ls="--",
                           label=f"kept: ∂E/∂x ({H}×{W})"))  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=9, frameon=False)
    return im


def padding_explorer(input_size=7, seed=0):
    """The padding explorer of notebook 04: ∂E/∂x through the padded input and as a transposed convolution.

    Three panels, redrawn in place for any stride s, padding p and kernel size k
    (square H×H input, k×k kernel): (a) ∂E/∂xp on the padded grid, with the windows
    of y[0, 0] and y[0, 1] (their distance is the stride) and the input's place, the
    part the crop keeps, dashed; (b) dilate(δ, s) (green) padded by k − p − 1 before
    and k − p − 1 + r after (negative amounts crop), the resulting array outlined in
    black; (c) ∂E/∂x = (b) ★ rot180(w), which the title compares with
    ``conv2d_backward``. w and δ are fixed random numbers drawn from ``seed`` (δ as if
    from any loss), so the picture is deterministic.

    Parameters
    ----------
    input_size : int
        H, the input is H×H.
    seed : int

    Returns
    -------
    fig : matplotlib Figure
    update : callable(stride, padding, kernel_size)
        Redraws every panel with ``set_data``, ``set_extent``, ``set_clim`` and
        ``set_bounds``. Returns a dict of what it drew: the settings, "Ho", "r",
        "before", "after" and "max_abs_diff" (transposed convolution vs
        ``conv2d_backward``); "Ho" is 0 and "reason" says why when the kernel does not
        fit the padded input.

    Notes
    -----
    r = (H + 2p − k) mod s. Padded δ has (Ho − 1)·s + 1 + (k − p − 1) + (k − p − 1 + r)
    = H + k − 1 rows, so its valid cross-correlation with rot180(w) is H×H, and it equals
    the centre of ∂E/∂xp. Derived in notebooks/04_padding.ipynb.
    """

    H = int(input_size)
    fig, (ax_dxp, ax_hat, ax_dx) = plt.subplots(1, 3, figsize=(11, 4.2))
    blank = np.full((1, 1), np.nan)
    ims = {}
    specs = [
        ("dxp", ax_dxp, "∂E/∂$x_p$", "column of the padded input", "row of the padded input"),
        ("hat", ax_hat, "δ", "column (dilated, padded δ)", "row (dilated, padded δ)"),
        ("dx", ax_dx, "∂E/∂x", "input column v", "input row u"),
    ]
    for key, ax, cb_label, xl, yl in specs:
        ims[key] = ax.imshow(blank, cmap=SIGNED_CMAP, vmin=-1, vmax=1, interpolation="nearest")
        cb = fig.colorbar(ims[key], ax=ax, fraction=0.046, pad=0.04, label=cb_label)
        # few tick labels: text layout is most of what a redraw costs
        cb.locator = MaxNLocator(nbins=4, symmetric=True)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))

    def box(ax, color, ls="-", lw=2.5):
        return ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=color, lw=lw, ls=ls))

    inside = box(ax_dxp, "k", "--", 2)
    win0, win1 = box(ax_dxp, "tab:red"), box(ax_dxp, "tab:orange", ":")
    dil_box, used_box = box(ax_hat, "tab:green", "--", 2), box(ax_hat, "k", "-", 2.5)
    patches = (inside, win0, win1, dil_box, used_box)
    suptitle = fig.suptitle("")

    def show(key, ax, a):
        set_image(ims[key], a)
        lim = symmetric_limit(a)
        ims[key].set_clim(-lim, lim)

    def update(stride, padding, kernel_size):
        s, p, k = int(stride), int(padding), int(kernel_size)
        drawn = {"stride": s, "padding": p, "kernel_size": k}
        Hp = H + 2 * p
        Ho, reason = output_size_or_reason(H, k, s, p)
        if not Ho:
            for key, ax, *_ in specs:
                show(key, ax, blank)
                ax.set_title("")
            for patch in patches:
                patch.set_visible(False)
            suptitle.set_text(f"H={H}, k={k}, s={s}, p={p}: {reason}")
            none = dict.fromkeys(("r", "before", "after", "max_abs_diff"))
            return {**drawn, "Ho": 0, **none, "reason": reason}
        r = (Hp - k) % s
        w = np.random.default_rng(seed + 100 + k).standard_normal((k, k))
        delta = np.random.default_rng(seed + 1).standard_normal((Ho, Ho))

        # padding as its own layer: the unpadded strided layer's input gradient is ∂E/∂xp
        dxp = conv2d_backward(delta[None, None], np.zeros((1, 1, Hp, Hp)), w[None, None], s, 0)[0][0, 0]
        show("dxp", ax_dxp, dxp)
        inside.set_bounds(p - 0.5, p - 0.5, H, H)
        win0.set_bounds(-0.5, -0.5, k, k)
        win1.set_bounds(s - 0.5, -0.5, k, k)
        win1.set_visible(Ho > 1)
        ax_dxp.set_title(f"(a) ∂E/∂$x_p$, {Hp}×{Hp}: windows of y[0, 0] (red),\n"
                         f"y[0, 1] (orange); the crop keeps {H}×{H} (dashed)", fontsize=9.5)  # fmt: skip

        before, after = transposed_conv_padding(H, k, s, p)
        dil = dilate(delta, s)
        hat = pad(dil, ((before, after), (before, after)))
        # canvas: the union of dilate(δ) and the padded array, so that cropped entries stay visible
        L = dil.shape[0]
        lo, hi = min(0, -before), max(L, L + after)
        canvas = np.zeros((hi - lo, hi - lo))
        canvas[-lo : -lo + L, -lo : -lo + L] = dil
        show("hat", ax_hat, canvas)
        # one blank cell around the canvas: a black square as large as the canvas stays off the frame
        n_canvas = hi - lo
        ax_hat.set_xlim(-1.5, n_canvas + 0.5)
        ax_hat.set_ylim(n_canvas + 0.5, -1.5)
        dil_box.set_bounds(-lo - 0.5, -lo - 0.5, L, L)
        used_box.set_bounds(-before - lo - 0.5, -before - lo - 0.5, hat.shape[0], hat.shape[0])
        crop = " (negative: crop)" if min(before, after) < 0 else ""
        n_hat = hat.shape[0]
        ax_hat.set_title(f"(b) dilate(δ, {s}) (green, {L}×{L}), padded by {before} before,\n"
                         f"{after} after{crop} → black, {n_hat}×{n_hat}", fontsize=9.5)  # fmt: skip

        dx = conv2d_forward(hat[None, None], rot180(w)[None, None])[0, 0]
        diff = float(np.max(np.abs(dx - dxp[p : p + H, p : p + H])))
        show("dx", ax_dx, dx)
        ax_dx.set_title(f"(c) ∂E/∂x = (b) ★ rot180(w), {H}×{H};\nequals the crop of (a): {diff < 1e-10}",
                        fontsize=9.5)  # fmt: skip
        for patch in (inside, win0, dil_box, used_box):
            patch.set_visible(True)
        suptitle.set_text(f"H={H}, k={k}, s={s}, p={p}:  Ho = floor(({H} + 2·{p} − {k})/{s}) + 1 = {Ho},  "
                          f"r = ({H} + 2·{p} − {k}) mod {s} = {r}")  # fmt: skip
        return {**drawn, "Ho": Ho, "r": r, "before": before, "after": after, "max_abs_diff": diff}

    update(2, 1, 3)  # lay the figure out around real pictures and titles, not 1×1 placeholders
    fix_layout(fig, rect=(0, 0, 1, 0.96))
    return fig, update


def _padded_gradient_figure():
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    w, delta = np.array([[1.0, -1.0], [2.0, 0.0]]), np.array([[1.0, 2.0], [-1.0, 1.0]])
    # the unpadded layer's input gradient on the 5x5 padded input (what x_p holds does not matter)
    dxp = conv2d_backward(delta[None, None], np.zeros((1, 1, 5, 5)), w[None, None], stride=2)[0][0, 0]
    padded_gradient_heatmap(dxp, 1, ax, title="∂E/∂$x_p$, k = 2, s = 2, p = 1", fmt="{:g}")
    fig.tight_layout()
    return fig


# every figure of notebook 04, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "padded gradient heatmap": _padded_gradient_figure,
    **explorer_figures(
        "padding explorer",
        lambda: padding_explorer(input_size=7, seed=0),
        dict(stride=2, padding=1, kernel_size=3),
        stride=(1, 3),
        padding=(0, 3),
        kernel_size=(1, 5),
    ),
}
