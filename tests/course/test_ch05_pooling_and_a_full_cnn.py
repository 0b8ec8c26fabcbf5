"""Tests of cnnlib.course.ch05_pooling_and_a_full_cnn: channel and digit grids, confusion matrix,
training curves, the pool-routing figure and the pooling / shared-bias checkers."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib as cl
from cnnlib.course import ch05_pooling_and_a_full_cnn as ch05
from cnnlib.course import draw, explore


def _norm(size, stride):
    kh, kw = (size, size) if np.isscalar(size) else size
    if stride is None:
        return (kh, kw), (kh, kw)
    return (kh, kw), ((stride, stride) if np.isscalar(stride) else stride)


def _maxpool_last_max(dy, x, size, stride):
    """A plausible bug: ties go to the LAST maximum."""
    (kh, kw), (sh, sw) = _norm(size, stride)
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dy.shape
    for a in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[a, c, i * sh : i * sh + kh, j * sw : j * sw + kw][::-1, ::-1]
                    m, n = np.unravel_index(np.argmax(win), win.shape)
                    dx[a, c, i * sh + kh - 1 - m, j * sw + kw - 1 - n] += dy[a, c, i, j]
    return dx


def _avgpool_assign(dy, x, size, stride):
    """A plausible bug: '=' instead of '+=' (overlapping windows overwrite each other)."""
    (kh, kw), (sh, sw) = _norm(size, stride)
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dx[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] = dy[:, :, i, j, None, None] / (kh * kw)
    return dx


def test_channel_grid_layout_and_symmetric_limits():
    rng = np.random.default_rng(0)
    rows = {"small": rng.standard_normal((3, 4, 4)), "big": rng.random((3, 8, 8))}
    fig = ch05.channel_grid(rows, "title", signed=[True, False])
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 6  # 2 rows x 3 channels
    lo, hi = images[0].get_clim()
    assert lo == -hi and hi == pytest.approx(np.abs(rows["small"]).max())  # one scale per row
    assert images[0].get_clim() == images[2].get_clim()
    assert images[3].get_cmap().name == draw.UNSIGNED_CMAP
    assert len(fig.axes) == 6 + 2  # one colour bar per row
    assert "small" in fig.axes[0].get_ylabel() and "big" in fig.axes[3].get_ylabel()


def test_channel_grid_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        ch05.channel_grid({"a": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="same number of channels"):
        ch05.channel_grid({"a": np.zeros((2, 4, 4)), "b": np.zeros((3, 4, 4))})


def test_digit_grid_shows_n_images_with_labels():
    X = np.random.default_rng(1).random((12, 1, 6, 6))
    y = np.arange(12) % 10
    fig = ch05.digit_grid(X, y, n=12)
    shown = [ax for ax in fig.axes if ax.images and ax.get_visible()]
    assert len(shown) == 12
    assert shown[3].get_title() == "label 3"
    fig = ch05.digit_grid(X, y, n=3, pred=y[::-1])
    assert [ax.get_title() for ax in fig.axes if ax.images and ax.get_visible()][0] == "0 → 1"
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        ch05.digit_grid(X[:, 0], y)


def test_confusion_counts_and_plot():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 2, 0])
    counts = cl.model.confusion_counts(y_true, y_pred, n_classes=3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert counts.sum() == len(y_true) and np.trace(counts) == 4
    ax = ch05.confusion_matrix(counts, "CM")
    assert "66.7%" in ax.get_title()
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "1", "1", "2"]  # non-zero cells only
    assert len(ax.figure.axes) == 2  # the matrix and its colour bar
    with pytest.raises(ValueError, match="1-D of one shape"):
        cl.model.confusion_counts([0, 1], [0])


def test_training_curves():
    history = {"train_loss": [2.3, 0.5, 0.2], "test_loss": [2.3, 0.6, 0.3],
               "train_acc": [0.1, 0.9, 0.95], "test_acc": [0.1, 0.85, 0.9]}  # fmt: skip
    fig = ch05.training_curves(history, "t")
    ax_loss, ax_acc = fig.axes
    assert ax_loss.get_yscale() == "log"
    assert len(ax_loss.lines) == 2 and len(ax_acc.lines) == 2
    assert np.allclose(ax_acc.lines[1].get_ydata(), [10, 85, 90])
    assert "90.0%" in ax_acc.get_title()


def test_pool_routing_explorer_matches_the_library_and_redraws_in_place():
    x = np.random.default_rng(0).permutation(36).reshape(6, 6).astype(float)
    fig, update = ch05.pool_routing_explorer(x, size=3, stride=2)
    n_artists = [len(ax.get_children()) for ax in fig.axes]
    for k, s in [(2, 2), (3, 1), (3, 3), (1, 1), (4, 3)]:
        drawn = update(size=k, stride=s)
        assert (drawn["size"], drawn["stride"]) == (k, s)
        dx_max, dx_avg = drawn["dx_max"], drawn["dx_avg"]
        n_windows = (((6 - k) // s) + 1) ** 2
        ones = np.ones((1, 1, (6 - k) // s + 1, (6 - k) // s + 1))
        assert np.array_equal(dx_max, cl.maxpool2d_backward(ones, x[None, None], k, s)[0, 0])
        assert np.allclose(dx_avg, cl.avgpool2d_backward(ones, x[None, None], k, s)[0, 0])
        assert dx_max.sum() == n_windows and dx_avg.sum() == pytest.approx(n_windows)
        assert np.array_equal(fig.axes[0].images[0].get_array(), dx_max)  # set_data, not a new image
        assert [len(ax.get_children()) for ax in fig.axes] == n_artists  # nothing added
    # overlapping windows: one pixel can win more than one window
    dx_max = update(size=3, stride=1)["dx_max"]
    assert dx_max.max() > 1
    # the numbers in the max panel stay the input values
    assert [t.get_text() for t in fig.axes[0].texts][:3] == [f"{v:g}" for v in x.ravel()[:3]]
    # None keeps the previous setting
    assert np.array_equal(update()["dx_max"], dx_max)
    explore.render_png(fig)


def test_pool_routing_explorer_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        ch05.pool_routing_explorer(np.zeros((1, 4, 4)))


def test_pool_cases_include_ties_and_overlap():
    cases = ch05.random_pool_cases()
    assert any(len(np.unique(x)) < x.size for _, x, _, _ in cases)  # repeated values: ties
    assert any(s is not None and np.all(np.asarray(s) < np.asarray(k)) for _, _, k, s in cases)


def test_checkers_accept_the_library_and_reject_stubs(capsys):
    assert ch05.check_maxpool_backward(cl.maxpool2d_backward)
    assert ch05.check_avgpool_backward(cl.avgpool2d_backward)
    assert not ch05.check_maxpool_backward(lambda *a: None)
    assert "not implemented yet" in capsys.readouterr().out


def test_checkers_catch_tie_and_overlap_bugs(capsys):
    assert not ch05.check_maxpool_backward(_maxpool_last_max)
    assert "first at index" in capsys.readouterr().out
    assert not ch05.check_avgpool_backward(_avgpool_assign)
    assert "first at index" in capsys.readouterr().out


def test_kernel_and_bias_checker():
    def right(x, delta):
        kh, kw = x.shape[2] - delta.shape[2] + 1, x.shape[3] - delta.shape[3] + 1
        _, dw, db = cl.conv2d_backward(delta, x, np.zeros((delta.shape[1], x.shape[1], kh, kw)))
        return dw, db

    def bias_per_image(x, delta):  # forgets to sum the bias gradient over the batch
        dw, _ = right(x, delta)
        return dw, delta[0].sum(axis=(1, 2))

    assert ch05.check_kernel_and_bias_grads(right)
    assert not ch05.check_kernel_and_bias_grads(bias_per_image)
    assert not ch05.check_kernel_and_bias_grads(lambda x, d: None)
