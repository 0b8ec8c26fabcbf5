"""The kernel-sliding picture: the (padded) input grid, the window of one output and the cells it covers."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from ..shapes import (
    conv_output_size,
    coverage_map,
    validate_padding,
    validate_size,
    validate_stride,
)


def cell_axes(ax, rows, cols, xlabel, ylabel):
    """Axes for a picture of grid cells: one unit square per cell, row 0 on top, a tick per cell."""
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def sliding_picture(H, W, kernel_size, stride=1, padding=0, out_index=(0, 0), ax=None, *, values=None):
    """The kernel-sliding picture: the padded input grid and the window of one output.

    Parameters
    ----------
    H, W : int
        Input size (before padding).
    kernel_size, stride, padding : int or pair
    out_index : (i, j)
        The output whose window is drawn (rows i·s .. i·s + kh − 1 of the padded input).
    values : ndarray of shape (H, W) or None
        Numbers to print in the input cells (e.g. a tiny worked example).

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Padding cells are hatched grey; cells no window ever reads are marked with a cross:
    the last (H + 2p − k) mod s rows and columns, and the s − k between two windows when
    s > k. Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    (kh, kw), (sh, sw), (ph, pw) = (
        validate_size(kernel_size, "kernel_size"),
        validate_stride(stride),
        validate_padding(padding),
    )
    Ho, Wo = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    i, j = out_index
    if not (0 <= i < Ho and 0 <= j < Wo):
        raise ValueError(f"out_index must lie in the {Ho}x{Wo} output, got {out_index!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    Hp, Wp = H + 2 * ph, W + 2 * pw
    read = coverage_map(H, W, (kh, kw), (sh, sw), (ph, pw), padded=True) > 0  # (Hp, Wp)
    for r in range(Hp):
        for c in range(Wp):
            is_pad = not (ph <= r < ph + H and pw <= c < pw + W)
            ax.add_patch(
                Rectangle(
                    (c - 0.5, r - 0.5), 1, 1,
                    facecolor="0.85" if is_pad else "white", edgecolor="0.6",
                    hatch="//" if is_pad else None, lw=0.8,
                )
            )  # fmt: skip
            if not read[r, c]:
                ax.plot([c - 0.3, c + 0.3], [r - 0.3, r + 0.3], color="0.5", lw=0.8)
                ax.plot([c - 0.3, c + 0.3], [r + 0.3, r - 0.3], color="0.5", lw=0.8)
            elif values is not None and not is_pad:
                ax.text(c, r, f"{values[r - ph, c - pw]:g}", ha="center", va="center", fontsize=8)
    ax.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), kw, kh, fill=False, edgecolor="tab:red", lw=2.5))
    cell_axes(ax, Hp, Wp, "column of the padded input", "row of the padded input")
    ax.set_title(
        f"{H}×{W} input, k={kh}×{kw}, s={(sh, sw) if sh != sw else sh}, p={(ph, pw) if ph != pw else ph}"
        f"\noutput {Ho}×{Wo}; red: window of y[{i}, {j}]",
        fontsize=10,
    )
    return ax
