"""The sources' formulas, written in their own symbols, for the notebooks that check them.

One module for what several chapters quote: ``question_filter_gradient`` is equation (2)
of the stride-and-padding question, checked in notebook 04 and used again in 03 (the
stride) and 06 (a bug it hides). A formula only one chapter uses stays in that chapter.
"""

from __future__ import annotations

import numpy as np


def question_filter_gradient(dEdO, I, FS, s, p, *, as_printed=False):
    """∂E/∂F of the stride-and-padding question, its equation (2), written in its own symbols.

    Parameters
    ----------
    dEdO : ndarray of shape (H1, W1)
        ∂E/∂O, the delta of the output (our δ).
    I : ndarray of shape (H, W)
        The input (our x), before padding; read as 0 outside (the zero padding).
    FS : int
        The filter size (square filters).
    s, p : int
    as_printed : bool
        False: the first sum runs over the output rows, k < H1 (right for every shape).
        True: the limits as the question prints them, k < W1 and h < H1. They agree
        when H1 = W1; for any other output they ask for entries of ∂E/∂O that do not
        exist (a row when W1 > H1, a column when W1 < H1): IndexError here. Code that
        skips positions outside the input before reading ∂E/∂O (a padding guard)
        skips those reads instead and returns a wrong gradient, silently.

    Returns
    -------
    ndarray of shape (FS, FS)

    Notes
    -----
    ∂E/∂F[i, j] = Σ_k Σ_h ∂E/∂O[k, h] · I[i + k·s − p, j + h·s − p], our
    ∂E/∂w = xp[:(Ho−1)s + k, :(Wo−1)s + k] ★ dilate(δ, s) (xp cut to the rows the windows read).
    Checked in notebooks/04_padding.ipynb, "4 · The equations of the stride-and-padding question, checked".
    """
    dEdO, I = np.asarray(dEdO, dtype=float), np.asarray(I, dtype=float)
    H1, W1 = dEdO.shape
    rows, cols = (W1, H1) if as_printed else (H1, W1)

    def I_at(r, c):  # outside the input: the zero padding
        return I[r, c] if 0 <= r < I.shape[0] and 0 <= c < I.shape[1] else 0.0

    dF = np.zeros((FS, FS))
    for i in range(FS):
        for j in range(FS):
            for k in range(rows):
                for h in range(cols):
                    dF[i, j] += dEdO[k, h] * I_at(i + k * s - p, j + h * s - p)
    return dF
