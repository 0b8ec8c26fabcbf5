"""Notebook 08's receptive fields: the three stacks, the closed form, the measured map, the explorer.

The notebook reaches them through ``ch08_convolution_family`` as ``ch.<name>``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..conv import conv2d_backward
from ..shapes import conv_output_size
from .draw import UNSIGNED_CMAP, fix_layout

# the three stacks of section 10, each layer (kernel k, stride s, dilation d); a stack with more
# layers continues the pattern (3×3 s1 ...; s2 then s1 ...; dilations 1, 2, 4, 8)
STACKS = {
    "3×3 s1 ×3": lambda L: [(3, 1, 1)] * L,
    "3×3 s2, then 3×3 s1": lambda L: [(3, 2, 1)] + [(3, 1, 1)] * (L - 1),
    "3×3 dilated 1, 2, 4": lambda L: [(3, 1, 2**i) for i in range(L)],
}


def receptive_field(layers):
    """The closed form r_L = r_{L−1} + (k_L − 1)·d_L·Π_{l<L} s_l, r_0 = 1, for layers of (k, s, d)."""
    r, jump = 1, 1
    for k, s, d in layers:
        r += (k - 1) * d * jump
        jump *= s
    return r


def receptive_field_map(layers, H=33):
    """Backprop a δ spike at the centre output of a stack (w = 1) to an H×H input.

    Returns
    -------
    dx : ndarray of shape (H, H)
        ∂E/∂x for δ = 1 at the centre of the last output and 0 elsewhere, all kernels 1:
        the number of paths from each input pixel to that output (0 outside its field).
    r : int
        The measured receptive field: rows of dx that are not zero.

    Notes
    -----
    Unpadded layers; the shapes are found by a forward pass of zeros. With w = 1 every
    path adds a positive 1, so no contribution can cancel another.
    Derived in notebooks/08_convolution_family.ipynb.
    """
    shapes = [(1, 1, H, H)]
    for k, s, d in layers:
        n = conv_output_size(shapes[-1][2], k, s, 0, d)
        shapes.append((1, 1, n, n))
    delta = np.zeros(shapes[-1])
    delta[0, 0, shapes[-1][2] // 2, shapes[-1][3] // 2] = 1.0
    for (k, s, d), shape in zip(reversed(layers), reversed(shapes[:-1]), strict=True):
        delta = conv2d_backward(delta, np.zeros(shape), np.ones((1, 1, k, k)), s, 0, d)[0]
    dx = delta[0, 0]
    return dx, int(np.count_nonzero(dx.any(axis=1)))


def receptive_field_explorer(H=33, max_layers=4):
    """The receptive-field explorer: which stack, how many layers.

    Left: ∂E/∂x of a δ spike at the centre output (kernels of ones: paths per pixel) on an
    H×H input, the closed-form field outlined. Right: r_l after each layer, measured
    (dots) and by the closed form (line).

    Returns
    -------
    fig : matplotlib Figure
    update : callable(stack, layers)
        stack: a key of ``STACKS``. Returns the settings, "measured" and "formula" (the
        field of the last layer).

    Notes
    -----
    Derived in notebooks/08_convolution_family.ipynb.
    """
    fig, (ax_map, ax_r) = plt.subplots(1, 2, figsize=(10.4, 4.4), gridspec_kw={"width_ratios": [1.2, 1]})
    im = ax_map.imshow(np.zeros((H, H)), cmap=UNSIGNED_CMAP, vmin=0, vmax=1)
    cb = fig.colorbar(im, ax=ax_map, fraction=0.046, pad=0.04, label="paths to the output")
    cb.locator = MaxNLocator(nbins=4, integer=True)
    box = Rectangle((0, 0), 1, 1, fill=False, ec="tab:red", ls="--", lw=2)
    ax_map.add_patch(box)
    ax_map.set_xlabel("input column")
    ax_map.set_ylabel("input row")
    ls = np.arange(max_layers + 1)
    (line,) = ax_r.plot(ls, ls, "-", color="tab:blue", label="closed form")
    (dots,) = ax_r.plot(ls, ls, "o", color="tab:red", ms=8, mfc="none", mew=2, label="measured by backprop")
    ax_r.set_xlim(-0.3, max_layers + 0.3)
    ax_r.set_ylim(0, receptive_field(STACKS["3×3 dilated 1, 2, 4"](max_layers)) + 2)
    ax_r.set_xticks(ls)
    ax_r.set_xlabel("layers l")
    ax_r.set_ylabel("receptive field $r_l$ (pixels)")
    ax_r.grid(alpha=0.3)
    ax_r.legend(loc="upper left", fontsize=9)
    ax_r.set_title(r"$r_l = r_{l-1} + (k_l - 1)\,d_l\,s_1 \cdots s_{l-1}$", fontsize=10)
    suptitle = fig.suptitle("")
    fix_layout(fig, rect=(0, 0, 1, 0.93))

    def update(stack, layers):
        L = int(layers)
        spec = STACKS[stack](L)
        dx, measured = receptive_field_map(spec, H)
        im.set_data(dx)
        im.set_clim(0, max(1.0, float(dx.max())))
        rows, cols = np.nonzero(dx)
        box.set_bounds(cols.min() - 0.5, rows.min() - 0.5, np.ptp(cols) + 1, np.ptp(rows) + 1)
        ax_map.set_title(f"(a) ∂E/∂x of one output: {measured}×{measured}", fontsize=10)
        fields = [receptive_field(spec[:n]) for n in range(L + 1)]
        line.set_data(range(L + 1), fields)
        dots.set_data(range(L + 1), [receptive_field_map(spec[:n], H)[1] for n in range(L + 1)])
        suptitle.set_text(f"{stack}, {L} layer{'s' if L > 1 else ''} (k, s, d) = {spec}")
        return {"stack": stack, "layers": L, "measured": measured, "formula": fields[-1]}

    return fig, update
