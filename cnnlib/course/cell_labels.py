"""Numbers printed in the cells of a heatmap: one format per array, a colour readable on each cell."""

from __future__ import annotations

import numpy as np


def is_integer_valued(a):
    """True if every finite entry of ``a`` is a whole number (counts, small hand examples)."""
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return a.size > 0 and bool(np.all(a == np.round(a)))


def text_colour(im, value):
    """ "w" or "k": the text colour readable on the cell colour ``im`` gives ``value``.

    White on dark cells, black on light ones, judged by the cell's luminance, so the rule
    holds for any colormap (the dark ends of RdBu_r, the dark low end of viridis).
    """
    r, g, b, _ = im.cmap(im.norm(value))
    return "w" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "k"


def cell_format(a, max_chars=None):
    """A format for the cell labels of ``a``: one number of decimals for every cell.

    Whole numbers print as integers ("{:.0f}"); otherwise two significant digits of the
    largest |value| ("{:.2f}" for values up to 1, "{:.1f}" up to 10, ...), never the
    exponent form ("2.6e+03") and never more than three decimals. ``max_chars``: drop
    decimals until the widest label fits in that many characters.
    """
    a = np.asarray(a, dtype=float)
    finite = a[np.isfinite(a)]
    if finite.size == 0 or is_integer_valued(finite):
        return "{:.0f}"
    big = float(np.max(np.abs(finite)))
    decimals = int(min(3, max(0, 1 - np.floor(np.log10(big)))))
    while max_chars is not None and decimals > 0:
        if max(len(cell_label(v, f"{{:.{decimals}f}}")) for v in finite.ravel()) <= max_chars:
            break
        decimals -= 1
    return f"{{:.{decimals}f}}"


def cell_label(v, fmt):
    """``fmt.format(v)``, with "0" for a value that rounds to zero ("-0.00" says nothing)."""
    text = fmt.format(v)
    try:
        return "0" if float(text) == 0 else text
    except ValueError:  # not a number format
        return text


def annotate_cells(ax, a, im, fmt=None, fontsize=9):
    """Print each value of ``a`` in its cell of ``im``, in a colour readable on that cell.

    ``fmt`` None chooses one format for the whole array (``cell_format``), with as many
    decimals as fit in a cell of the axes as it stands.
    """
    a = np.asarray(a, dtype=float)
    if fmt is None:
        fig, (rows, cols) = ax.figure, a.shape
        box_w, box_h = (
            ax.get_position().width * fig.get_figwidth(),
            ax.get_position().height * fig.get_figheight(),
        )
        cell_pt = 72 * min(box_w / cols, box_h / rows)  # square cells
        fmt = cell_format(a, max_chars=int(cell_pt / (0.7 * fontsize)))
    for (i, j), v in np.ndenumerate(a):
        if np.isfinite(v):
            ax.text(
                j,
                i,
                cell_label(v, fmt),
                ha="center",
                va="center",
                fontsize=fontsize,
                color=text_colour(im, v),
            )
