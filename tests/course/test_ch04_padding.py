"""Tests of cnnlib.course.ch04_padding: the circular-padding exercise, the source question's formula,
the checkers, the padded-gradient figure and the padding explorer."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import Rectangle

import cnnlib as cl
from cnnlib.course import ch04_exercises
from cnnlib.course import ch04_padding as ch04


def _dx_library(dy, w, hw, s, p):
    x = np.zeros((1, 1) + tuple(hw))
    return cl.conv2d_backward(dy[None, None], x, w[None, None], s, p)[0][0, 0]


def _circular_by_matrix(dy, w, hw, s, p):
    # the forward map of the circularly padded layer as a matrix A (a column per unit image); dE/dx = A^T δ
    H, W = hw
    A = np.stack(
        [
            cl.conv2d_forward(
                np.pad(e.reshape(H, W), p, mode="wrap")[None, None], w[None, None], None, s
            ).ravel()
            for e in np.eye(H * W)
        ],
        axis=1,
    )
    return (A.T @ dy.ravel()).reshape(H, W)


def _circular_strips(dy, w, hw, s, p, near=(True, True), corners=False, crop=False):
    # the notebook's planted fold: the inner part plus the four strips, each to the near or the far side
    (H, W), (kh, kw) = hw, w.shape
    dxp = np.zeros((H + 2 * p, W + 2 * p))
    for (i, j), v in np.ndenumerate(dy):
        dxp[i * s : i * s + kh, j * s : j * s + kw] += v * w
    dx = dxp[p : p + H, p : p + W].copy()
    if crop:
        return dx
    top, bottom = (slice(0, p), slice(H - p, H))[:: 1 if near[0] else -1]
    left, right = (slice(0, p), slice(W - p, W))[:: 1 if near[1] else -1]
    dx[top, :] += dxp[:p, p : p + W]
    dx[bottom, :] += dxp[p + H :, p : p + W]
    dx[:, left] += dxp[p : p + H, :p]
    dx[:, right] += dxp[p : p + H, p + W :]
    if corners:  # each corner block to the corner its strips point at
        for rows, r_to in ((slice(0, p), top), (slice(p + H, None), bottom)):
            for cols, c_to in ((slice(0, p), left), (slice(p + W, None), right)):
                dx[r_to, c_to] += dxp[rows, cols]
    return dx


def test_checkers_accept_right_answers_that_are_not_their_oracle(capsys):
    assert ch04.check_circular_input_gradient(_circular_by_matrix)
    assert ch04.check_circular_input_gradient(
        lambda *a: _circular_strips(*a, near=(False, False), corners=True)
    )
    assert ch04.check_transposed_padding(cl.shapes.transposed_conv_padding)
    assert ch04.check_question_input_gradient(ch04.question_input_gradient)
    out = capsys.readouterr().out
    assert out.count("correct on all") == 4
    assert "\n\n" not in "\n" + out  # no blank line above a tally with nothing wrong to list


def test_circular_input_gradient_checker_names_the_planted_bugs_and_each_half_fix(capsys):
    assert not ch04.check_circular_input_gradient(lambda *a: None)
    assert "not implemented yet" in capsys.readouterr().out
    for kwargs, bugs in [
        ({}, ("sides", "corners")),  # the planted code
        ({"near": (False, False)}, ("corners",)),  # the strips to the far side, the corners still lost
        ({"near": (False, True)}, ("sides", "corners")),  # only the rows moved to the far side
        ({"corners": True}, ("sides",)),  # the corners added, everything on the near side
        ({"near": (True, False), "corners": True}, ("sides",)),
        ({"crop": True}, ("crop",)),  # the zero-padding answer
    ]:
        verdict = ch04.check_circular_input_gradient(lambda *a, kw=kwargs: _circular_strips(*a, **kw))
        assert not verdict and verdict.bugs == bugs

    def plus_p(dy, w, hw, s, p):  # every copy, but at (a + p) mod H
        dx = np.zeros(hw)
        dxp = _circular_strips(dy, w, (hw[0] + 2 * p, hw[1] + 2 * p), s, 0, crop=True)
        for (a, b), v in np.ndenumerate(dxp):
            dx[(a + p) % hw[0], (b + p) % hw[1]] += v
        return dx

    verdict = ch04.check_circular_input_gradient(plus_p)
    assert not verdict and verdict.bugs == ("sign",)
    capsys.readouterr()
    # the notebook's visible cell: the planted code's verdicts, no bug named; only p = 0 passes
    planted = ch04.check_circular_input_gradient(_circular_strips, diagnose=False)
    out = capsys.readouterr().out
    assert planted.passed_cases == 1 and planted.bugs == () and "Likely bug" not in out
    assert "case 5 (dy 2×2, w 2×3, x_hw=(4, 6), s=2, p=0): pass" in out


def test_circular_cases_cover_the_frame_edge_cases():
    cases = ch04_exercises.circular_cases(0)
    assert all(p <= min(hw) for _, _, hw, _, p in cases)
    assert any(w.shape == (1, 1) and p > 0 for _, w, _, _, p in cases)
    assert any(p == 0 for *_, p in cases) and any(p == hw[0] for _, _, hw, _, p in cases)
    assert any((hw[0] + 2 * p - w.shape[0]) % s for _, w, hw, s, p in cases)


def test_transposed_padding_checker_names_each_wrong_attempt(capsys):
    def with_r(n, k, s, top, bottom):
        return (n + top + bottom - k) % s

    for wrong, bug in [
        (lambda n, k, s, pad: (k - 1 - pad[0], k - 1 - pad[1]), "leftover-rows"),
        (lambda n, k, s, pad: cl.shapes.transposed_conv_padding(n, k, s, pad[::-1]), "sides"),
        (lambda n, k, s, pad: cl.shapes.transposed_conv_padding(n, k, s, pad[0]), "padding"),
        (lambda n, k, s, pad: (k - pad[0], k - pad[1] + with_r(n, k, s, *pad)), "off-by-one"),
    ]:
        verdict = ch04.check_transposed_padding(wrong)
        assert not verdict and verdict.bugs == (bug,)
    out = capsys.readouterr().out
    assert "FAIL, expected (before, after)" in out and "cases correct" in out


def test_question_input_gradient_checker_names_each_planted_bug(capsys):
    def gather(dEdO, F, shape, s, p, sign=1, assign=False):
        dI = np.zeros(shape)
        for (u, v), _ in np.ndenumerate(dI):
            for (k, h), d in np.ndenumerate(dEdO):
                a, b = u - k * s + sign * p, v - h * s + sign * p
                if 0 <= a < F.shape[0] and 0 <= b < F.shape[1]:
                    dI[u, v] = d * F[a, b] + (0 if assign else dI[u, v])
        return dI

    assert ch04.check_question_input_gradient(gather)
    for kwargs, bugs in [
        ({"sign": -1, "assign": True}, ("sign", "accumulate")),
        ({"sign": -1}, ("sign",)),
        ({"assign": True}, ("accumulate",)),
    ]:
        verdict = ch04.check_question_input_gradient(lambda *a, kw=kwargs: gather(*a, **kw))
        assert not verdict and verdict.bugs == bugs
    assert not ch04.check_question_input_gradient(lambda *a: 1 / 0)
    assert "raised ZeroDivisionError" in capsys.readouterr().out


def test_checker_cases_include_windows_of_pure_padding():
    cases = ch04_exercises.random_2d_cases(0, 8)
    assert any(w.shape == (1, 1) and p > 0 for _, w, _, _, p in cases)
    assert any((hw[0] + 2 * p - w.shape[0]) % s for _, w, hw, s, p in cases)


def test_padded_gradient_heatmap_outlines_the_kept_region():
    fig, ax = plt.subplots()
    dxp = np.arange(30.0).reshape(5, 6) - 15
    im = ch04.padded_gradient_heatmap(dxp, ((1, 2), (2, 1)), ax)
    np.testing.assert_array_equal(im.get_array(), dxp)
    lo, hi = im.get_clim()
    assert lo == -hi == -15
    boxes = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_linestyle() == "--"]
    assert len(boxes) == 1
    (x0, y0), wdt, hgt = boxes[0].get_xy(), boxes[0].get_width(), boxes[0].get_height()
    assert (x0, y0, wdt, hgt) == (1.5, 0.5, 3, 2)  # columns 2..4, rows 1..2
    plt.close(fig)
    with pytest.raises(ValueError, match="leaves nothing"):
        ch04.padded_gradient_heatmap(np.zeros((2, 2)), 1)


def test_padding_explorer_matches_backward_everywhere_and_updates_in_place():
    fig, update = ch04.padding_explorer(input_size=6, seed=2)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3  # ∂E/∂xp, padded dilated δ, ∂E/∂x (the colour bars hold no images)
    n_artists = sum(len(ax.get_children()) for ax in fig.axes)
    for s, p, k in itertools.product(range(1, 4), range(4), range(1, 6)):
        info = update(stride=s, padding=p, kernel_size=k)
        assert (info["stride"], info["padding"], info["kernel_size"]) == (s, p, k)
        assert info["max_abs_diff"] < 1e-10
        assert (info["before"], info["after"]) == cl.shapes.transposed_conv_padding(6, k, s, p)
        assert images[0].get_array().shape == (6 + 2 * p,) * 2
        assert images[2].get_array().shape == (6, 6)
        # the transposed convolution's ∂E/∂x is the library's, for this δ and w
        delta = np.random.default_rng(3).standard_normal((info["Ho"],) * 2)
        w = np.random.default_rng(102 + k).standard_normal((k, k))
        np.testing.assert_allclose(images[2].get_array(), _dx_library(delta, w, (6, 6), s, p), atol=1e-12)
    # one step right on the stride or the padding slider from the notebook's start changes every
    # panel, and a stride step moves the second window by one column
    start = {"stride": 2, "padding": 1, "kernel_size": 3}
    update(**start)
    before = [im.get_array().copy() for im in images]
    second_window = [p for p in fig.axes[0].patches if p.get_linestyle() == ":"][0]
    x_before = second_window.get_x()
    for key in ("stride", "padding"):
        update(**{**start, key: start[key] + 1})
        for old, im in zip(before, images, strict=True):
            new = im.get_array()
            assert old.shape != new.shape or not np.array_equal(old, new)
        if key == "stride":
            assert second_window.get_x() == x_before + 1
    assert sum(len(ax.get_children()) for ax in fig.axes) == n_artists  # nothing added per redraw
    plt.close(fig)


def test_padding_explorer_reports_a_kernel_that_does_not_fit():
    fig, update = ch04.padding_explorer(input_size=2)
    info = update(stride=1, padding=0, kernel_size=3)
    assert info["Ho"] == 0 and "no window fits" in info["reason"]
    assert "larger than the padded input" in fig.texts[0].get_text()
    assert update(stride=1, padding=1, kernel_size=3)["Ho"] == 2
    plt.close(fig)
