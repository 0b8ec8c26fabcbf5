"""Tests of cnnlib.course.ch06_debugging_backprop: the lr_max checker, the step-size explorer
and the gradient-check figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlib as cl
from cnnlib import reference
from cnnlib.course import ch06_debugging_backprop as ch06


def _pooled_lr_max_by_loops(x, kernel_size, stride, padding):
    # the mean window of each image built by loops, then 2/λmax of its Gram matrix over N (the
    # checker builds the Hessian from backward passes instead)
    k, s, p = kernel_size, stride, padding
    N = x.shape[0]
    xp = cl.pad(x, p)
    Ho, Wo = cl.conv_output_size(x.shape[2], k, s, p), cl.conv_output_size(x.shape[3], k, s, p)
    rows = np.zeros((N, x.shape[1] * k * k + 1))
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                rows[n, :-1] += xp[n, :, i * s : i * s + k, j * s : j * s + k].ravel() / (Ho * Wo)
    rows[:, -1] = 1.0
    return 2 / np.linalg.eigvalsh(rows.T @ rows / N).max()


def test_check_pooled_lr_max_verdicts(capsys):
    assert ch06.check_pooled_lr_max(_pooled_lr_max_by_loops)
    assert "correct on all 3 cases" in capsys.readouterr().out
    assert not ch06.check_pooled_lr_max(lambda *a: None)
    assert "not implemented" in capsys.readouterr().out


def test_calling_the_library_backward_or_curvature_is_refused():
    def via_backward(x, kernel_size, stride, padding):
        cl.conv2d_backward(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)))
        return _pooled_lr_max_by_loops(x, kernel_size, stride, padding)

    for fn in (via_backward, ch06.pooled_lr_max_from_gradients):  # right, but through the library's backward
        verdict = ch06.check_pooled_lr_max(fn)
        assert verdict.passed_cases == verdict.total and verdict.broken_rules == ("library-backward",)
    # part A's rate from the library: refused, and wrong for this model as well
    verdict = ch06.check_pooled_lr_max(cl.curvature.largest_stable_lr)
    assert verdict.broken_rules == ("library-backward",) and verdict.bugs == ("pool-ignored",)


def test_each_wrong_pooled_lr_attempt_is_rejected_and_named_by_its_id():
    for attempt in ch06.POOLED_LR_ATTEMPTS:
        verdict = ch06.check_pooled_lr_max(attempt.answer)
        assert not verdict and verdict.bugs == tuple(b for b, _ in attempt.named()), (attempt.bug, verdict)


def test_part_a_rate_is_at_least_ho_wo_times_smaller_than_behind_the_pool():
    # the solution's insight (A^T A / N >= Ho·Wo Ā^T Ā / N), on the checker's kind of inputs
    rng = np.random.default_rng(7)
    for C, H, W, k, s, p in [(1, 6, 6, 3, 1, 0), (2, 7, 8, 3, 2, 1), (1, 5, 6, 2, 1, 1)]:
        x = 0.5 + rng.standard_normal((10, C, H, W))
        Ho, Wo = cl.conv_output_size(H, k, s, p), cl.conv_output_size(W, k, s, p)
        pooled = _pooled_lr_max_by_loops(x, k, s, p)
        assert ch06.attempt_pooled_lr_part_a(x, k, s, p) * Ho * Wo <= pooled


def _mystery_backward(dy, x, w, stride, padding):  # notebook 06's exercise 2, its three bugs
    s, p = stride, padding
    H, W = x.shape[2:]
    kh, kw = w.shape[2:]
    xp = cl.pad(x, p)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dw += np.einsum("nd,nchw->dchw", dy[:, :, i, j], xp[:, :, i * s : i * s + kh, j * s : j * s + kw])
            dxp[:, :, i : i + kh, j : j + kw] += np.einsum("nd,dchw->nchw", dy[:, :, i, j], w)
    return dxp[:, :, :H, :W], dw, dy.mean(axis=(0, 2, 3))


def test_conv_backward_checker_names_the_bug(capsys):
    def bias_averaged(dy, x, w, stride, padding):
        dx, dw, db = reference.conv2d_backward(dy, x, w, stride, padding)
        return dx, dw, db / dy.shape[0]

    assert ch06.check_conv_backward(reference.conv2d_backward)
    assert "PASSED" in capsys.readouterr().out
    assert ch06.check_conv_backward(bias_averaged).bugs == ("bias",)
    assert not ch06.check_conv_backward(lambda *a: None)
    assert "not implemented yet" in capsys.readouterr().out
    # the mystery function: each bug named once, the stride bug only where the stride is > 1
    report = ch06.check_conv_backward(_mystery_backward)
    assert report.bugs == ("stride", "crop", "bias")
    stride_lines = [line for line in report.diagnosis if line.startswith("stride")]
    assert len(stride_lines) == 1
    strided = {c.number for c in report.cases if max(c.spec.stride) > 1}
    named = {int(n) for n in stride_lines[0].rsplit("[cases", 1)[1].strip(" ]").split(",")}
    assert named and named <= strided


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
