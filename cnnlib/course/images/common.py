"""What every figure of images/ shares: the style, the running example, saving without metadata.

Importing this module selects matplotlib's Agg backend (figures are files here, not screens).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ...shapes import conv_output_size  # noqa: E402

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


def example():
    """x (5x5 small non-negative ints), w (3x3 ints in -1..1), δ (3x3 ints), shared by several figures."""
    rng = np.random.default_rng(2016)
    x = rng.integers(0, 4, size=(H_EX, H_EX)).astype(float)
    w = np.array([[1.0, 0.0, -1.0], [1.0, 1.0, 0.0], [0.0, -1.0, 1.0]])
    Ho = conv_output_size(H_EX, K_EX, S_EX, P_EX)
    delta = rng.integers(-2, 3, size=(Ho, Ho)).astype(float)
    delta[delta == 0] = 1.0  # every δ visible in the dilation picture
    return x, w, delta


def save(fig, path):
    """Write fig to path with no "Software" metadata (identical bytes on a rerun); close it."""
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def box(ax, row, col, h, w, color="tab:red", lw=2.5):
    """Outline cells row..row+h-1, col..col+w-1 of an image."""
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), w, h, fill=False, edgecolor=color, lw=lw))


def caption(fig, text, y=0.01):
    """The one-line caption under a figure: what to look at."""
    fig.text(0.5, y, text, ha="center", va="bottom", fontsize=9, color="0.25")
