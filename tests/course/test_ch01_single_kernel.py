"""Tests of cnnlib.course.ch01_single_kernel: the backward-accumulation explorer and the
single-kernel exercise checkers."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib as cl
from cnnlib import reference
from cnnlib.course import ch01_single_kernel as ch01


def _images(ax):
    return [np.asarray(im.get_array()) for im in ax.get_images()]


def test_backward_accumulation_ends_in_the_gradients_and_adds_one_output_per_step():
    rng = np.random.default_rng(3)
    x, w = rng.integers(-3, 4, (4, 5)).astype(float), rng.integers(-2, 3, (2, 3)).astype(float)
    delta = rng.integers(-2, 3, (3, 3)).astype(float)
    fig, update = ch01.backward_accumulation_explorer(x, w, delta)
    dx_ref, dw_ref, _ = cl.conv2d_backward(delta[None, None], x[None, None], w[None, None])
    drawn = update(step=9)
    assert drawn["step"] == 9
    dw, dx = drawn["dw"], drawn["dx"]
    np.testing.assert_allclose(dw, dw_ref[0, 0])
    np.testing.assert_allclose(dx, dx_ref[0, 0])
    dw0, dx0 = update(step=0)["dw"], update(step=0)["dx"]
    assert not dw0.any() and not dx0.any()
    drawn = update(step=4)  # outputs (0, 0), (0, 1), (0, 2), (1, 0)
    dw4, dx4 = drawn["dw"], drawn["dx"]
    keep = np.zeros_like(delta)
    keep.flat[:4] = delta.flat[:4]
    dx_part, dw_part, _ = cl.conv2d_backward(keep[None, None], x[None, None], w[None, None])
    np.testing.assert_allclose(dw4, dw_part[0, 0])
    np.testing.assert_allclose(dx4, dx_part[0, 0])
    # the panels show the partial sums: update() changed their images in place
    np.testing.assert_allclose(_images(fig.axes[2])[0], dw4)
    np.testing.assert_allclose(_images(fig.axes[3])[0], dx4)
    with pytest.raises(ValueError, match="output's shape"):
        ch01.backward_accumulation_explorer(x, w, np.ones((2, 2)))


def test_single_kernel_checkers_accept_the_formulas_and_reject_the_flipped_ones(capsys):
    def dw(x, delta):
        return reference.correlate2d(x, delta)

    def dx(delta, w):
        return reference.correlate2d(cl.pad(delta, (w.shape[0] - 1, w.shape[1] - 1)), cl.rot180(w))

    assert ch01.check_single_kernel_dw(dw)
    assert ch01.check_single_kernel_dx(dx)
    assert capsys.readouterr().out.count("correct on all 4 cases") == 2
    assert not ch01.check_single_kernel_dw(lambda x, d: reference.convolve2d(x, d))
    # forgetting rot180 is the classic bug: the full correlation with w itself
    assert not ch01.check_single_kernel_dx(
        lambda d, w: reference.correlate2d(cl.pad(d, (w.shape[0] - 1, w.shape[1] - 1)), w)
    )
    assert not ch01.check_single_kernel_dw(lambda x, d: None)
