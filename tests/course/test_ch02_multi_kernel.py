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


def test_layer_dx_checker_accepts_the_scatter_form_and_names_each_planted_bug(capsys):
    assert ch02.check_multi_kernel_dx(_layer_dx_loops)
    assert "correct on all 4 cases" in capsys.readouterr().out

    def planted(delta, w, assign=False, flip=True, swap=False):
        D, C, kh, kw = w.shape
        dx = np.zeros((C, delta.shape[1] + kh - 1, delta.shape[2] + kw - 1))
        for c in range(C):
            for d in range(D):
                k = w[c, d] if swap else w[d, c]
                term = reference.correlate2d(cl.pad(delta[d], (kh - 1, kw - 1)), cl.rot180(k) if flip else k)
                dx[c] = term if assign else dx[c] + term
        return dx

    for kwargs, bugs in [
        ({"assign": True}, ("accumulate",)),
        ({"flip": False}, ("flip",)),
        ({"assign": True, "flip": False}, ("accumulate", "flip")),
        ({"swap": True}, ("channel",)),
    ]:
        verdict = ch02.check_multi_kernel_dx(lambda d, w, kw=kwargs: planted(d, w, **kw))
        assert not verdict and verdict.bugs == bugs
    assert not ch02.check_multi_kernel_dx(lambda d, w: None)


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
