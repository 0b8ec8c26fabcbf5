"""Tests of cnnlib.course.ch06_debugging_backprop: the lr_max checker, the step-size explorer
and the gradient-check figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlib as cl
from cnnlib import reference
from cnnlib.course import ch06_debugging_backprop as ch06


def test_check_lr_max_verdicts(capsys):
    # the design-matrix route of cnnlib.curvature; the checker builds the Hessian from gradients
    assert ch06.check_lr_max(cl.curvature.largest_stable_lr)
    assert "correct on all 3 cases" in capsys.readouterr().out
    assert not ch06.check_lr_max(lambda *a: None)
    assert "not implemented" in capsys.readouterr().out
    assert not ch06.check_lr_max(lambda x, k, s, p: 2 * cl.curvature.largest_stable_lr(x, k, s, p))
    assert "first wrong entry" in capsys.readouterr().out


def test_conv_backward_checker_names_the_bug(capsys):
    def bias_averaged(dy, x, w, stride, padding):
        dx, dw, db = reference.conv2d_backward(dy, x, w, stride, padding)
        return dx, dw, db / dy.shape[0]

    assert ch06.check_conv_backward(reference.conv2d_backward)
    assert "PASSED" in capsys.readouterr().out
    assert not ch06.check_conv_backward(bias_averaged)
    assert "bias" in capsys.readouterr().out
    assert not ch06.check_conv_backward(lambda *a: None)
    assert "not implemented yet" in capsys.readouterr().out


def test_step_size_explorer_updates_in_place():
    lam = np.array([3.0, 1.0, 50.0])
    c0 = np.array([0.5, -0.2, 0.01])
    fig, update = ch06.step_size_explorer(lam, c0, steps=100)
    ax0, ax1 = fig.axes
    lines = ax1.get_lines()
    assert update(ratio=0.9)["stopped_at"] is None
    assert all(p.get_height() < 1 for p in ax0.patches)
    stable = lines[0].get_ydata().copy()
    drawn = update(ratio=1.1)
    assert drawn["growth"] == pytest.approx(1.2) and drawn["lr"] == pytest.approx(1.1 * 2 / 50)
    heights = [p.get_height() for p in ax0.patches]
    assert heights[-1] == pytest.approx(1.2)  # the steepest (last after sorting) direction: |1 - 1.1·2|
    assert all(h < 1 for h in heights[:-1])
    assert fig.axes == [ax0, ax1] and ax1.get_lines() == lines  # same artists, no rebuild
    assert not np.allclose(stable, lines[0].get_ydata(), equal_nan=True)
    plt.close(fig)


def test_gradcheck_maps_panels_and_difference():
    rng = np.random.default_rng(0)
    a, n = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    fig = ch06.gradcheck_maps(a, n, "test", extra={"count": np.ones((3, 4))})
    images = [ax.images[0] for ax in fig.axes if ax.images and ax.get_title()]
    assert len(images) == 4
    np.testing.assert_allclose(images[2].get_array(), a - n)
    lim = max(np.abs(a).max(), np.abs(n).max())
    assert images[0].get_clim() == pytest.approx((-lim, lim)) == images[1].get_clim()
    lo, hi = images[2].get_clim()
    assert lo == -hi
    plt.close(fig)
    with pytest.raises(ValueError, match="one shape"):
        ch06.gradcheck_maps(a, n[:2], "bad")
