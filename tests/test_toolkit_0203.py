"""Tests of the notebooks-02-03 toolkit additions: plots.coverage_map, plots.channel_heatmaps,
widgets.stride_explorer and the exercise checkers of notebooks 02 and 03."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import cnnlib as cl
from cnnlib import exercises

# --- coverage_map -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "H, W, k, s, p",
    [(7, 8, 3, 2, 1), (9, 9, 2, 3, 0), (6, 5, (3, 2), (2, 3), (1, 2)), (5, 5, 5, 1, 0), (4, 4, 1, 1, 2)],
)
def test_coverage_map_is_the_input_gradient_of_ones(H, W, k, s, p):
    """With δ = 1 and w = 1, ∂E/∂x[u, v] counts the outputs whose window holds (u, v)."""
    (kh, kw), (sh, sw), (ph, pw) = (
        cl.shapes.check_size(k),
        cl.shapes.check_stride(s),
        cl.shapes.check_padding(p),
    )
    Ho, Wo = cl.conv_output_size(H, kh, sh, ph), cl.conv_output_size(W, kw, sw, pw)
    dx = cl.conv2d_backward(np.ones((1, 1, Ho, Wo)), np.zeros((1, 1, H, W)), np.ones((1, 1, kh, kw)), s, p)[0]
    cov = cl.plots.coverage_map(H, W, k, s, p)
    assert cov.shape == (H, W)
    assert np.issubdtype(cov.dtype, np.integer)
    np.testing.assert_array_equal(cov, dx[0, 0])


def test_coverage_map_by_hand_and_padded():
    # 1-D: n = 7, k = 3, s = 2, p = 0: windows at rows 0-2, 2-4, 4-6 -> counts 1 1 2 1 2 1 1
    rows = cl.plots.coverage_map(7, 1, (3, 1), (2, 1))[:, 0]
    np.testing.assert_array_equal(rows, [1, 1, 2, 1, 2, 1, 1])
    # s > k leaves rows between windows uncovered; r = (7 - 2) mod 3 = 2 rows at the end too
    rows = cl.plots.coverage_map(7, 1, (2, 1), (3, 1))[:, 0]
    np.testing.assert_array_equal(rows, [1, 1, 0, 1, 1, 0, 0])
    # padded=True includes the frame; the inner part is the unpadded map
    full = cl.plots.coverage_map(6, 6, 3, 2, 1, padded=True)
    assert full.shape == (8, 8)
    np.testing.assert_array_equal(full[1:7, 1:7], cl.plots.coverage_map(6, 6, 3, 2, 1))
    # k a multiple of s: uniform k/s away from the borders
    inner = cl.plots.coverage_map(12, 12, 4, 2)[3:-3, 3:-3]
    assert np.all(inner == 4)


def test_channel_heatmaps_panels_and_errors():
    a = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4) - 10
    fig = cl.plots.channel_heatmaps(a, "δ", "d", "suptitle")
    images = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in images[:2]] == ["δ[d = 0]  (3×4)", "δ[d = 1]  (3×4)"]
    # shared symmetric scale across panels
    lims = {im.get_clim() for ax in images[:2] for im in ax.images}
    assert lims == {(-13.0, 13.0)}
    with pytest.raises(ValueError, match=r"\(K, H, W\)"):
        cl.plots.channel_heatmaps(a[0], "δ")


# --- stride_explorer ----------------------------------------------------------------------


def test_stride_explorer_updates_in_place():
    fig, update = cl.widgets.stride_explorer(seed=0)
    n_axes, n_images = len(fig.axes), sum(len(ax.images) for ax in fig.axes)
    ax_cov, ax_dil, ax_dx = fig.axes[:3]
    info = update(size=8, kernel=3, stride=2, padding=1, row=1, col=2)
    assert info == {"Ho": 4, "r": 1, "zero_rows": 0}
    cov = cl.plots.coverage_map(8, 8, 3, 2, 1, padded=True)
    np.testing.assert_array_equal(ax_cov.images[0].get_array(), cov)
    # the red window of y[1, 2] starts at padded row 1·2, column 2·2 and is k×k
    window = [p for p in ax_cov.patches if p.get_edgecolor()[:3] == matplotlib.colors.to_rgb("tab:red")][0]
    assert (window.get_x(), window.get_y(), window.get_width(), window.get_height()) == (3.5, 1.5, 3, 3)
    assert ax_dil.images[0].get_array().shape == (7, 7)  # dilate(δ (4x4), 2)
    assert ax_dx.images[0].get_array().shape == (8, 8)
    # s > k: rows between windows and r leftover rows get no gradient
    info = update(size=7, kernel=2, stride=3, padding=0)
    assert info == {"Ho": 2, "r": 2, "zero_rows": 3}
    dx = np.asarray(ax_dx.images[0].get_array())
    np.testing.assert_array_equal(np.flatnonzero(~dx.any(axis=1)), [2, 5, 6])
    # a kernel larger than the padded input is reported, not raised
    assert update(size=4, kernel=5, stride=1, padding=0)["Ho"] is None
    assert "does not fit" in fig._suptitle.get_text()
    # the output index is clamped; no artists are added by updates
    assert update(size=6, kernel=2, stride=2, padding=0, row=9, col=9)["Ho"] == 3
    assert "y[2, 2]" in ax_cov.get_title()
    assert len(fig.axes) == n_axes and sum(len(ax.images) for ax in fig.axes) == n_images
    assert cl.widgets.render_png(fig)[:4] == b"\x89PNG"


def test_stride_explorer_is_deterministic():
    fig1, up1 = cl.widgets.stride_explorer(seed=3)
    fig2, up2 = cl.widgets.stride_explorer(seed=3)
    up1(size=9, kernel=3, stride=2, padding=1)
    up2(size=9, kernel=3, stride=2, padding=1)
    for a1, a2 in zip(fig1.axes[:3], fig2.axes[:3], strict=True):
        np.testing.assert_array_equal(a1.images[0].get_array(), a2.images[0].get_array())


def test_delta_spike_explorer_shows_window_and_stamp():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 2))
    fig, update = cl.widgets.delta_spike_explorer(x, w)
    ax_delta, ax_dw, ax_dx = [ax for ax in fig.axes if ax.images][:3]
    assert update(d=2, i=1, j=4) == (2, 1, 4)
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
    assert update(d=7, i=-3, j=99) == (2, 0, 5)
    assert cl.widgets.render_png(fig)[:4] == b"\x89PNG"


# --- exercise checkers ----------------------------------------------------------------------


def _dilate_loops(a, s):
    out = np.zeros(((a.shape[0] - 1) * s + 1, (a.shape[1] - 1) * s + 1))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i * s, j * s] = a[i, j]
    return out


def _strided_dw(x, delta, k, s):
    kh, kw = k
    Ho, Wo = delta.shape
    cut = x[: (Ho - 1) * s + kh, : (Wo - 1) * s + kw]
    return cl.reference.correlate2d(cut, _dilate_loops(delta, s))


def _strided_dx(delta, w, H, W, s, p):
    kh, kw = w.shape
    full = cl.pad(_dilate_loops(delta, s), (kh - 1, kw - 1))
    core = cl.reference.correlate2d(full, cl.rot180(w))
    dxp = np.zeros((H + 2 * p, W + 2 * p))
    dxp[: core.shape[0], : core.shape[1]] = core
    return dxp[p : p + H, p : p + W]


def _coverage(n, k, s, p):
    c = np.zeros(n + 2 * p, dtype=int)
    for i in range(cl.conv_output_size(n, k, s, p)):
        c[i * s : i * s + k] += 1
    return c[p : p + n]


def _layer_dw(x, delta):
    D, C = delta.shape[0], x.shape[0]
    return np.array([[cl.reference.correlate2d(x[c], delta[d]) for c in range(C)] for d in range(D)])


def _layer_dx(delta, w):
    D, C, kh, kw = w.shape
    return np.array(
        [
            sum(
                cl.reference.correlate2d(cl.pad(delta[d], (kh - 1, kw - 1)), cl.rot180(w[d, c]))
                for d in range(D)
            )
            for c in range(C)
        ]
    )


def _swapped_dx(delta, w):
    # the notes' section-2 index order: w[c, d] instead of w[d, c]
    D, C, kh, kw = w.shape
    return np.array(
        [
            sum(
                cl.reference.correlate2d(cl.pad(delta[d], (kh - 1, kw - 1)), cl.rot180(w[c, d]))
                for d in range(D)
            )
            for c in range(C)
        ]
    )


@pytest.mark.parametrize(
    "checker, right, wrong",
    [
        (exercises.check_multi_kernel_dw, _layer_dw, lambda x, d: _layer_dw(x, d)[:, ::-1]),
        (exercises.check_multi_kernel_dx, _layer_dx, _swapped_dx),
        (exercises.check_dilate, _dilate_loops, lambda a, s: _dilate_loops(a, s + 1)),
        (
            exercises.check_strided_dw,
            _strided_dw,
            lambda x, d, k, s: _strided_dw(x, d, k, 1) if s > 1 else None,
        ),
        (exercises.check_strided_dx, _strided_dx, lambda d, w, H, W, s, p: _strided_dx(d, w, H, W, s, 0)),
        (exercises.check_coverage, _coverage, lambda n, k, s, p: np.ones(n, dtype=int)),
    ],
)
def test_checkers_accept_right_and_reject_wrong(checker, right, wrong, capsys):
    assert checker(right) is True
    assert "correct on all" in capsys.readouterr().out
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "correct on all" not in out
    assert checker(lambda *args: None) is False
    assert "not implemented yet" in capsys.readouterr().out
