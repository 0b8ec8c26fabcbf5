"""Tests of cnnlib.course.ch02_multi_kernel: channel heatmaps and the δ-spike explorer."""

from __future__ import annotations

import numpy as np

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
