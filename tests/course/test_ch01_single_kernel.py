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


def _full_correlation_dx(delta, w):
    # the gather form of section 2(d): right, but the exercise's rule refuses reference.correlate2d
    return reference.correlate2d(cl.pad(delta, (w.shape[0] - 1, w.shape[1] - 1)), cl.rot180(w))


def _scatter_dx(delta, w, flip=False, overwrite=False, extra=(0, 0)):
    # the exercise's loop over kernel entries, written out pixel by pixel, with its bugs on or off
    (Ho, Wo), (kh, kw) = delta.shape, w.shape
    dx = np.zeros((Ho + kh - 1 + extra[0], Wo + kw - 1 + extra[1]))
    for m in range(kh):
        for n in range(kw):
            weight = w[kh - 1 - m, kw - 1 - n] if flip else w[m, n]
            for i in range(Ho):
                for j in range(Wo):
                    share = weight * delta[i, j]
                    dx[i + m, j + n] = share if overwrite else dx[i + m, j + n] + share
    return dx


def test_input_gradient_checker_accepts_the_loop_refuses_the_library_and_names_each_bug(capsys):
    assert ch01.check_single_kernel_dx(_scatter_dx)
    assert "correct on all 5 cases" in capsys.readouterr().out

    # the gather one-liner and cnnlib's backward are right too, but skip the exercise: the rule refuses them
    def library_backward(delta, w):
        x = np.zeros((delta.shape[0] + w.shape[0] - 1, delta.shape[1] + w.shape[1] - 1))
        return cl.conv2d_backward(delta[None, None], x[None, None], w[None, None])[0][0, 0]

    for library_route in (_full_correlation_dx, library_backward):
        verdict = ch01.check_single_kernel_dx(library_route)
        out = capsys.readouterr().out
        assert not verdict and verdict.passed_cases == verdict.total and verdict.bugs == ()
        assert verdict.broken_rules == ("library-gradient",) and "rule broken (library-gradient)" in out

    def no_flip_gather(delta, w):
        return reference.correlate2d(cl.pad(delta, (w.shape[0] - 1, w.shape[1] - 1)), w)

    def pads_kh_columns(delta, w):
        kh = w.shape[0]
        return reference.correlate2d(np.pad(delta, kh - 1), cl.rot180(w))

    for wrong, bugs in [
        (lambda d, w: _scatter_dx(d, w, flip=True, overwrite=True), ("flip", "accumulate")),  # planted
        (lambda d, w: _scatter_dx(d, w, flip=True), ("flip",)),
        (lambda d, w: _scatter_dx(d, w, overwrite=True), ("accumulate",)),
        (no_flip_gather, ("flip",)),  # the same mistake in the gather form
        (lambda d, w: _scatter_dx(d, w, extra=(1, 1)), ("off-by-one",)),
        (pads_kh_columns, ("height-width",)),
    ]:
        verdict = ch01.check_single_kernel_dx(wrong)
        assert not verdict and verdict.bugs == bugs, (bugs, verdict.bugs)
    # the planted code passes only the 1×1 kernel, where neither bug can show
    verdict = ch01.check_single_kernel_dx(
        lambda d, w: _scatter_dx(d, w, flip=True, overwrite=True), diagnose=False
    )
    assert verdict.passed_cases == 1 and verdict.bugs == ()
    assert "case 5 (delta 3×5, w 1×1): pass" in capsys.readouterr().out
    assert not ch01.check_single_kernel_dx(lambda d, w: None)
    assert "not implemented" in capsys.readouterr().out


def _two_layer_dw_by_entries(x, w, v, t):
    # every path w[m, n] -> o[i, j] -> z[a, b] -> E, summed: the chain rule spelled out, no correlation
    o = reference.correlate2d(x, w)
    z = reference.correlate2d(o, v)
    dw = np.zeros_like(w)
    for (m, n), _ in np.ndenumerate(w):
        for (a, b), dz in np.ndenumerate(z - t):
            for (p, q), vpq in np.ndenumerate(v):
                dw[m, n] += dz * vpq * x[a + p + m, b + q + n]
    return dw


def test_two_layer_checker_accepts_the_paths_and_names_each_wrong_attempt(capsys):
    assert ch01.check_two_layer_dw(_two_layer_dw_by_entries)
    assert "correct on all 4 cases" in capsys.readouterr().out

    def product_of_sums(x, w, v, t):
        o = reference.correlate2d(x, w)
        z = reference.correlate2d(o, v)
        return reference.correlate2d(x, np.ones_like(o)) * (z - t).sum() * v.sum()

    def no_flip(x, w, v, t):
        o = reference.correlate2d(x, w)
        dz = reference.correlate2d(o, v) - t
        delta_o = reference.correlate2d(cl.pad(dz, (v.shape[0] - 1, v.shape[1] - 1)), v)
        return reference.correlate2d(x, delta_o)

    for wrong, bug in [
        (product_of_sums, "product-of-sums"),
        (no_flip, "flip"),
        (lambda x, w, v, t: -_two_layer_dw_by_entries(x, w, v, t), "sign"),
        (lambda x, w, v, t: 2 * _two_layer_dw_by_entries(x, w, v, t), "constant-factor"),
    ]:
        verdict = ch01.check_two_layer_dw(wrong)
        assert not verdict and verdict.bugs == (bug,)
    assert not ch01.check_two_layer_dw(lambda *a: None)
