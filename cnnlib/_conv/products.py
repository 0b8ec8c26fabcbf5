"""The matrix products both routes share: one per group of channels."""

from __future__ import annotations

import numpy as np


def group_matmul(a, b, out=None):
    """Stacked products a (G, r, k) @ b (G, k, c) -> (G, r, c), one per group of channels.

    G = 1 runs the 2-D product a[0] @ b[0], the one the ungrouped convolution has always run.
    """
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0], out=None if out is None else out[0])[None]
    return np.matmul(a, b, out=out)
