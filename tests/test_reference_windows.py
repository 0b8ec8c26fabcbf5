"""Tests of cnnlib.reference.im2col_windows: the windows of a padded input, kernel offsets first."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib as cl


@pytest.mark.parametrize(
    "shape,kh,kw,s", [((2, 3, 6, 5), 3, 2, 1), ((1, 2, 7, 8), 3, 3, 2), ((2, 1, 8, 7), 2, 1, 3)]
)
def test_im2col_windows_matches_its_definition(shape, kh, kw, s):
    xp = np.random.default_rng(0).standard_normal(shape)
    cols = cl.reference.im2col_windows(xp, kh, kw, s)
    N, C, Hp, Wp = shape
    Ho, Wo = (Hp - kh) // s + 1, (Wp - kw) // s + 1
    assert cols.shape == (N, C, kh, kw, Ho, Wo)
    for img, c, m, n, i, j in np.ndindex(cols.shape):
        assert cols[img, c, m, n, i, j] == xp[img, c, i * s + m, j * s + n]
    assert not np.shares_memory(cols, xp)


def test_im2col_windows_times_kernels_is_the_forward():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    cols = cl.reference.im2col_windows(cl.pad(x, 1), 3, 2, 2)
    y = np.einsum("acmnij,dcmn->adij", cols, w)
    assert cl.rel_error(y, cl.reference.conv2d_forward(x, w, None, 2, 1)) < 1e-12
