"""Tests of cnnlib.course.ch02_multi_kernel: channel heatmaps and the δ-spike explorer."""

from __future__ import annotations

import numpy as np

import cnnlib as cl
from cnnlib import reference
from cnnlib.course import ch02_multi_kernel as ch02
from cnnlib.course import explore


def test_delta_spike_explorer_shows_window_and_stamp():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 2))
    fig, update = ch02.delta_spike_explorer(x, w)
    ax_delta, ax_dw, ax_dx = [ax for ax in fig.axes if ax.images][:3]
    assert update(kernel=2, row=1, col=4) == {"kernel": 2, "row": 1, "col": 4}
    delta = np.asarray(ax_delta.images[0].get_array())
    assert delta.shape == (4, 6) and delta[1, 4] == 1 and delta.sum() == 1
    dw = np.ma.filled(ax_dw.images[0].get_array(), np.nan)  # (3, 2 + 1 + 2): channels tiled, NaN between
    dx = np.ma.filled(ax_dx.images[0].get_array(), np.nan)  # (6, 7 + 1 + 7)
    assert dw.shape == (3, 5) and dx.shape == (6, 15)
    assert np.isnan(dw[:, 2]).all() and np.isnan(dx[:, 7]).all()
    for c in range(2):
        np.testing.assert_allclose(dw[:, 3 * c : 3 * c + 2], x[c, 1:4, 4:6])
        dxc = dx[:, 8 * c : 8 * c + 7]
        np.testing.assert_allclose(dxc[1:4, 4:6], w[2, c])
        assert np.count_nonzero(dxc) == np.count_nonzero(w[2, c])
    # out-of-range positions are clamped, not raised
    assert update(kernel=7, row=-3, col=99) == {"kernel": 2, "row": 0, "col": 5}
    assert explore.render_png(fig)[:4] == b"\x89PNG"


def _layer_dx_loops(delta, w):
    # the scatter form: every δ[d, i, j] adds δ·w[d] to the window it came from (no correlation, no flip)
    D, C, kh, kw = w.shape
    dx = np.zeros((C, delta.shape[1] + kh - 1, delta.shape[2] + kw - 1))
    for (d, i, j), v in np.ndenumerate(delta):
        dx[:, i : i + kh, j : j + kw] += v * w[d]
    return dx


def _one_call(delta, bank, padding):
    return cl.conv2d_forward(delta[None], bank, padding=padding)[0]


def test_one_call_dx_checker_accepts_a_bank_built_slice_by_slice(capsys):
    def one_call_by_hand(delta, w):  # δ padded by np.pad, the bank filled slice by slice, the loop forward
        D, C, kh, kw = w.shape
        bank = np.empty((C, D, kh, kw))
        for d, c in np.ndindex(D, C):
            bank[c, d] = np.rot90(w[d, c], 2)
        padded = np.pad(delta, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
        return reference.conv2d_forward(padded[None], bank)[0]

    verdict = ch02.check_multi_kernel_dx(one_call_by_hand)
    assert verdict and verdict.bugs == () and verdict.broken_rules == ()
    assert "correct on all 4 cases" in capsys.readouterr().out
    assert not ch02.check_multi_kernel_dx(lambda d, w: None)
    assert "not implemented yet" in capsys.readouterr().out


def test_one_call_dx_checker_names_the_planted_bugs_and_each_half_fix(capsys):
    def pad(w):
        return (w.shape[2] - 1, w.shape[3] - 1)

    for wrong, bugs in [
        (lambda d, w: _one_call(d, w[::-1, ::-1], pad(w)), ("flip", "channel")),  # the planted code
        (lambda d, w: _one_call(d, w[:, :, ::-1, ::-1], pad(w)), ("channel",)),  # flip fixed, no transpose
        (lambda d, w: _one_call(d, np.swapaxes(w, 0, 1)[::-1, ::-1], pad(w)), ("flip",)),  # transposed only
        (lambda d, w: _one_call(d, np.swapaxes(w, 0, 1), pad(w)), ("flip",)),  # no flip at all
        (
            lambda d, w: _one_call(d, cl.rot180(w).reshape(w.shape[1], w.shape[0], *w.shape[2:]), pad(w)),
            ("channel",),
        ),
        (lambda d, w: _one_call(d, cl.rot180(w).transpose(1, 0, 2, 3), w.shape[2] - 1), ("height-width",)),
        (lambda d, w: _one_call(d, cl.rot180(w).transpose(1, 0, 2, 3), 0), ("padding",)),
    ]:
        verdict = ch02.check_multi_kernel_dx(wrong)
        assert not verdict and verdict.bugs == bugs and verdict.broken_rules == ()
    # the notebook's visible cell: the planted code's verdicts, no bug named
    capsys.readouterr()
    planted = ch02.check_multi_kernel_dx(lambda d, w: _one_call(d, w[::-1, ::-1], pad(w)), diagnose=False)
    out = capsys.readouterr().out
    assert not planted and planted.bugs == () and "likely bug" not in out
    assert "ERROR, raised ValueError: channel mismatch" in out  # C != D: the unswapped bank cannot run


def test_one_call_dx_checker_enforces_its_rules(capsys):
    def library_backward(delta, w):
        x = np.zeros((1, w.shape[1], delta.shape[1] + w.shape[2] - 1, delta.shape[2] + w.shape[3] - 1))
        return cl.conv2d_backward(delta[None], x, w)[0][0]

    def per_pair(delta, w):  # section 5's corr: one forward call per (c, d) pair
        D, C, kh, kw = w.shape
        return np.array(
            [
                sum(
                    _one_call(delta[d : d + 1], cl.rot180(w[d : d + 1, c : c + 1]), (kh - 1, kw - 1))[0]
                    for d in range(D)
                )
                for c in range(C)
            ]
        )

    for right_numbers, broken in [
        (_layer_dx_loops, ("one-call",)),
        (per_pair, ("one-call",)),
        (library_backward, ("one-call", "library-backward")),
        (lambda d, w: cl.conv_transpose2d_forward(d[None], w)[0], ("one-call", "library-backward")),
    ]:
        verdict = ch02.check_multi_kernel_dx(right_numbers)
        assert not verdict and verdict.passed_cases == 4 and verdict.broken_rules == broken
        assert "the exercise's rule above is broken" in capsys.readouterr().out
    assert cl.conv2d_forward is cl.conv.conv2d_forward  # the spies are gone after the check


def test_pointwise_checker_accepts_the_per_pair_correlation_and_names_each_wrong_attempt(capsys):
    def per_pair(x, delta):  # section 2's x[c] ★ δ[d], a single position
        return np.array([[reference.correlate2d(xc, dd) for xc in x] for dd in delta])

    assert ch02.check_pointwise_dw(per_pair)
    assert "correct on all 4 cases" in capsys.readouterr().out
    right = lambda x, d: per_pair(x, d)  # noqa: E731
    for wrong, bug in [
        (lambda x, d: np.outer(d.sum(axis=(1, 2)), x.sum(axis=(1, 2)))[:, :, None, None], "product-of-sums"),
        (lambda x, d: right(x, d).transpose(1, 0, 2, 3), "channel"),
        (lambda x, d: right(x, d)[:, :, 0, 0], "shape"),
        (lambda x, d: right(x, d) / (x.shape[1] * x.shape[2]), "divisor"),
        (lambda x, d: np.repeat(right(x.sum(0, keepdims=True), d), x.shape[0], axis=1), "channel-sum"),
    ]:
        verdict = ch02.check_pointwise_dw(wrong)
        assert not verdict and verdict.bugs == (bug,)
    assert not ch02.check_pointwise_dw(lambda x, d: None)
