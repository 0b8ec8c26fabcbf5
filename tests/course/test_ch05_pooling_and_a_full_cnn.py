"""Tests of cnnlib.course.ch05_pooling_and_a_full_cnn: channel and digit grids, confusion matrix,
training curves, the pool-routing figure and the pooling / shared-bias checkers."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import cnnlib as cl
from cnnlib import check
from cnnlib.course import ch05_exercises, draw, explore, grading
from cnnlib.course import ch05_pooling_and_a_full_cnn as ch05


def _norm(size, stride):
    kh, kw = (size, size) if np.isscalar(size) else size
    if stride is None:
        return (kh, kw), (kh, kw)
    return (kh, kw), ((stride, stride) if np.isscalar(stride) else stride)


def _maxpool_last_max(dy, x, size, stride):
    """Ties go to the LAST maximum: another valid (sub)gradient, which the checker accepts."""
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


def _maxpool_every_max(dy, x, size, stride):
    """The widely copied bug: a window's δ goes to EVERY tied maximum (mask = window == max)."""
    (kh, kw), (sh, sw) = _norm(size, stride)
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            win = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += mask * dy[:, :, i, j, None, None]
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
    assert len(fig.axes) == 6 and sum(len(ax.child_axes) for ax in fig.axes) == 2  # a colour bar per row
    assert "small" in fig.axes[0].get_ylabel() and "big" in fig.axes[3].get_ylabel()
    fig = ch05.channel_grid(rows, "title", shared_scale=True)  # one scale: an entry keeps its colour
    lim = max(np.abs(a).max() for a in rows.values())
    assert {ax.images[0].get_clim() for ax in fig.axes} == {(-lim, lim)}


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
    assert len(ax.figure.axes) == 1 and len(ax.child_axes) == 1  # the matrix, its colour bar beside it
    with pytest.raises(ValueError, match="1-D of one shape"):
        cl.model.confusion_counts([0, 1], [0])


def test_training_curves_read_fits_history():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 1, 4, 4)), rng.integers(0, 3, 40)
    model = cl.Sequential([cl.Flatten(), cl.Dense(16, 3, rng=rng)])
    kw = dict(loss=cl.softmax_cross_entropy, batch_size=8, rng=rng, val=(X[:10], y[:10]))
    phases = [cl.fit(model, X, y, lr=0.1, epochs=3, **kw), cl.fit(model, X, y, lr=0.01, epochs=2, **kw)]
    fig = ch05.training_curves(phases, "t")
    ax_loss, ax_acc = fig.axes[:2]
    assert ax_loss.get_yscale() == "log"
    train, test = [line for line in ax_acc.lines if len(line.get_xdata()) == 5]
    np.testing.assert_allclose(
        train.get_ydata(), 100 * np.array(phases[0]["train_acc"] + phases[1]["train_acc"])
    )
    np.testing.assert_allclose(test.get_ydata(), 100 * np.array(phases[0]["val_acc"] + phases[1]["val_acc"]))
    assert list(train.get_xdata()) == [1, 2, 3, 4, 5]
    assert f"{100 * phases[1]['val_acc'][-1]:.1f}%" in ax_acc.get_title()
    # one dict (a single phase) works too
    assert len(ch05.training_curves(phases[0]).axes[0].lines) == 2


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


def test_checkers_accept_the_reference_loops_and_reject_stubs(capsys):
    # answers written here, not the fast functions cnnlib.check compares with (calling the
    # library's own backward is refused by the exercises' rule)
    assert ch05.check_maxpool_backward(_offset_loop_last_max)
    assert ch05.check_avgpool_backward(_avgpool_grouped)
    assert "PASSED" in capsys.readouterr().out
    assert not ch05.check_maxpool_backward(lambda *a: None)
    assert "not implemented yet" in capsys.readouterr().out


def _avgpool_grouped(dy, x, size, stride):
    """Exercise 2 another way than its solution: one grouped convolution, a kernel per channel."""
    kh, kw = (size, size) if np.isscalar(size) else size
    C = x.shape[1]
    w = np.full((C, 1, kh, kw), 1 / (kh * kw))
    return cl.conv2d_backward(dy, x, w, size if stride is None else stride, groups=C)[0]


def _avgpool_per_channel(dy, x, size, stride):
    """Right values from one conv2d_backward call per channel: no window loop, but not ONE call."""
    kh, kw = (size, size) if np.isscalar(size) else size
    w, stride = np.full((1, 1, kh, kw), 1 / (kh * kw)), size if stride is None else stride
    parts = [cl.conv2d_backward(dy[:, c : c + 1], x[:, c : c + 1], w, stride)[0] for c in range(x.shape[1])]
    return np.concatenate(parts, axis=1)


def _avgpool_by_offsets(dy, x, size, stride):
    """Right values from kh·kw vectorised passes, exercise 1's way: no convolution at all."""
    (kh, kw), (sh, sw) = _norm(size, stride)
    Ho, Wo = dy.shape[2:]
    dx = np.zeros_like(x)
    for m in range(kh):
        for n in range(kw):
            dx[:, :, m : m + (Ho - 1) * sh + 1 : sh, n : n + (Wo - 1) * sw + 1 : sw] += dy / (kh * kw)
    return dx


def _avgpool_by_windows(dy, x, size, stride):
    kh, kw = (size, size) if np.isscalar(size) else size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dx[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += dy[:, :, i, j, None, None] / (kh * kw)
    return dx


def test_calling_the_library_pooling_backward_is_refused():
    # (the library's average pooling calls no convolution, so exercise 2's one-call rule is broken too)
    for checker, library, broken in [
        (ch05.check_maxpool_backward, cl.maxpool2d_backward, ("library-pool",)),
        (ch05.check_avgpool_backward, cl.reference.avgpool2d_backward, ("library-pool", "one-call")),
    ]:
        verdict = checker(library)
        assert verdict.passed_cases == verdict.total and not verdict
        assert verdict.broken_rules == broken


def test_checkers_catch_tie_and_overlap_bugs(capsys):
    assert ch05.check_maxpool_backward(_offset_loop_last_max)  # any one of the tied maxima is right
    assert ch05.check_maxpool_backward(_maxpool_every_max).bugs == ("tie",)
    assert ch05.check_avgpool_backward(_avgpool_assign).bugs == ("accumulate",)


def test_the_mystery_of_exercise_1_is_the_model_of_its_two_bugs_and_is_not_told_them(capsys):
    # the mystery itself, or pasted unchanged into the learner's own function: "planted-unchanged",
    # and no bug named
    def pasted(dy, x, size, stride):
        return ch05.mystery_maxpool_backward(dy, x, size, stride)

    for fn in (ch05.mystery_maxpool_backward, pasted):
        report = ch05.check_maxpool_backward(fn)
        assert not report and report.bugs == (grading.PLANTED_UNCHANGED,)
    out = capsys.readouterr().out
    assert "planted code unchanged" in out and "tie:" not in out and "+=:" not in out
    # the printed function is the model of those two bugs; with one fixed, the other is named
    for case in (*check.POOL_CASES, ch05_exercises.LARGE_POOL_CASE):
        a = case.arrays()
        planted = ch05_exercises.offset_loop_with_bugs(
            a["dy"], a["x"], case.size, case.stride, tie=True, assign=True
        )
        assert np.array_equal(ch05.mystery_maxpool_backward(a["dy"], a["x"], case.size, case.stride), planted)
    assert ch05.check_maxpool_backward(partial(ch05_exercises.offset_loop_with_bugs, tie=True)).bugs == (
        "tie",
    )


def _is_planted(fn):
    cases = (*check.POOL_CASES, ch05_exercises.LARGE_POOL_CASE)
    args = [(c.arrays()["dy"], c.arrays()["x"], c.size, c.stride) for c in cases]
    return all(np.array_equal(fn(*a), ch05.mystery_maxpool_backward(*a)) for a in args)


def test_each_wrong_offset_loop_is_rejected_and_named_by_its_id(capsys):
    for attempt in ch05_exercises.MAXPOOL_ATTEMPTS[1:]:
        report = ch05.check_maxpool_backward(attempt.answer)
        named = tuple(b for b, _ in attempt.named())
        wanted = (grading.PLANTED_UNCHANGED,) if _is_planted(attempt.answer) else named
        assert not report and report.bugs == wanted, attempt.bug


def _offset_loop_last_max(dy, x, size, stride):
    """The offset loop run backwards: ties go to the LAST maximum, another valid routing."""
    (kh, kw), (sh, sw) = _norm(size, stride)
    Ho, Wo = dy.shape[2:]
    z = cl.maxpool2d_forward(x, (kh, kw), (sh, sw))
    dx, sent = np.zeros_like(x), np.zeros(dy.shape, dtype=bool)
    for m in reversed(range(kh)):
        for n in reversed(range(kw)):
            rows, cols = slice(m, m + (Ho - 1) * sh + 1, sh), slice(n, n + (Wo - 1) * sw + 1, sw)
            wins = (x[:, :, rows, cols] == z) & ~sent
            sent |= wins
            dx[:, :, rows, cols] += wins * dy
    return dx


def _scatter_add_first_max(dy, x, size, stride):
    """No Python loop at all: every window's first maximum by argmax, added with np.add.at."""
    (kh, kw), (sh, sw) = _norm(size, stride)
    N, C, Ho, Wo = dy.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    m, n = np.divmod(windows.reshape(N, C, Ho, Wo, kh * kw).argmax(axis=-1), kw)
    img, ch, i, j = np.indices((N, C, Ho, Wo))
    dx = np.zeros_like(x)
    np.add.at(dx, (img, ch, i * sh + m, j * sw + n), dy)
    return dx


def test_right_answers_other_than_the_oracle_pass(capsys):
    assert ch05.check_maxpool_backward(_offset_loop_last_max)
    assert ch05.check_maxpool_backward(_scatter_add_first_max)
    assert "PASSED" in capsys.readouterr().out


def test_a_loop_over_the_windows_breaks_the_rule(capsys):
    # one Python round per window (right values, or the tie bug): counted on the large case, named by its id
    for fn in (_maxpool_last_max, _maxpool_every_max):
        verdict = ch05.check_maxpool_backward(fn)
        assert not verdict and verdict.broken_rules == ("window-loop",)
    assert ch05.check_maxpool_backward(_maxpool_last_max).passed_cases == 11
    assert "rule broken (window-loop)" in capsys.readouterr().out


def test_the_line_count_is_left_to_the_large_case_and_restores_a_tracer():
    import sys

    calls = []

    def tracer(frame, event, arg):
        calls.append(event)

    guard = grading.limit_lines(lambda n: n, when=lambda n: n >= 100)
    wrapped, broke = guard(lambda n: sum(1 for _ in range(n)))
    sys.settrace(tracer)
    try:
        wrapped(50)  # not measured
        assert not broke()
        wrapped(200)  # a generator over 200 items: 200 lines and more
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(None)
    assert broke()


def test_exercise_2_refuses_a_loop_over_the_windows_and_any_number_of_calls_but_one(capsys):
    # right values every time; only the rules fail them, each named by its id
    for fn, broken in [
        (_avgpool_by_windows, ("window-loop", "one-call")),
        (_avgpool_per_channel, ("one-call",)),
        (_avgpool_by_offsets, ("one-call",)),
    ]:
        verdict = ch05.check_avgpool_backward(fn)
        assert not verdict and verdict.passed_cases == verdict.total == 12
        assert verdict.broken_rules == broken, fn.__name__
    out = capsys.readouterr().out
    assert "rule broken (window-loop)" in out and "rule broken (one-call)" in out


def test_a_kernel_of_ones_is_named_a_wrong_divisor():
    report = ch05.check_avgpool_backward(ch05.attempt_avgpool_ones)
    assert not report and report.bugs == ("divisor",)


def _avgpool_mixing_channels(dy, x, size, stride):
    # one conv2d_backward whose C x C kernel averages every channel into every other one
    kh, kw = (size, size) if np.isscalar(size) else size
    C = x.shape[1]
    return cl.conv2d_backward(
        dy, x, np.full((C, C, kh, kw), 1 / (kh * kw)), size if stride is None else stride
    )[0]


def test_a_kernel_mixing_the_channels_is_named_channel_not_stride():
    report = ch05.check_avgpool_backward(_avgpool_mixing_channels)
    assert not report and report.bugs == ("channel",)
    # a case with C > 1 at stride 1 fails too, so the stride cannot be blamed
    assert any(c.verdict == "fail" and c.shapes["x"][1] > 1 and c.stride == (1, 1) for c in report.ran)


def _shared_by_loops(x, delta):
    # exercise 3's layer: one kernel for every channel, one bias per output row; a loop per weight
    N, C, H, W = x.shape
    D, Ho, Wo = delta.shape[1:]
    dw = np.zeros((D, H - Ho + 1, W - Wo + 1))
    for d, m, n in np.ndindex(dw.shape):
        dw[d, m, n] = np.sum(delta[:, d, None] * x[:, :, m : m + Ho, n : n + Wo])
    db = np.zeros((D, Ho))
    for d, i in np.ndindex(db.shape):
        db[d, i] = delta[:, d, i, :].sum()
    return dw, db


def _shared_by_finite_differences(x, delta):
    # another right answer, straight from the layer's forward: E = Σ y ⊙ δ is linear in (w, b)
    N, C, H, W = x.shape
    D, Ho, Wo = delta.shape[1:]
    kh, kw = H - Ho + 1, W - Wo + 1

    def energy(w, b):
        y = np.zeros((N, D, Ho, Wo)) + b[None, :, :, None]
        for m in range(kh):
            for n in range(kw):
                y += w[None, :, m, n, None, None] * x[:, None, :, m : m + Ho, n : n + Wo].sum(axis=2)
        return float(np.sum(y * delta))

    w0, b0 = np.zeros((D, kh, kw)), np.zeros((D, Ho))
    dw = cl.numerical_gradient(lambda w: energy(w, b0), w0)
    db = cl.numerical_gradient(lambda b: energy(w0, b), b0)
    return dw, db


def test_right_answers_to_exercise_3_other_than_the_oracle_pass(capsys):
    assert ch05.check_kernel_and_bias_grads(_shared_by_loops)
    assert ch05.check_kernel_and_bias_grads(_shared_by_finite_differences)
    assert not ch05.check_kernel_and_bias_grads(lambda x, d: None)
    assert "not implemented yet" in capsys.readouterr().out


def test_section_8s_formulas_used_as_they_are_name_both_sharings(capsys):
    verdict = ch05.check_kernel_and_bias_grads(ch05.attempt_section_8)
    assert not verdict and verdict.bugs == ("channel-sum", "bias")
    out = capsys.readouterr().out
    # the words name the mistake, not the sums of the answer
    assert "shape (D, C, kh, kw)" in out and "sum δ over the images and the columns" not in out


def test_two_attempts_with_one_id_each_print_their_own_words(capsys):
    # the bias summed everywhere and the bias averaged over the columns are both "bias": each its own words
    first, second = [a for a in ch05_exercises.KERNEL_BIAS_ATTEMPTS if a.bug == "bias"]
    assert ch05.check_kernel_and_bias_grads(second.answer).bugs == ("bias",)
    out = capsys.readouterr().out
    assert second.words in out and first.words not in out


def test_each_wrong_kernel_and_bias_attempt_is_named_by_its_id():
    for attempt in ch05_exercises.KERNEL_BIAS_ATTEMPTS:
        verdict = ch05.check_kernel_and_bias_grads(attempt.answer)
        assert not verdict and verdict.bugs == tuple(b for b, _ in attempt.named()), attempt.bug

    def library(x, delta):
        kh, kw = x.shape[2] - delta.shape[2] + 1, x.shape[3] - delta.shape[3] + 1
        dw = cl.conv2d_backward(delta, x, np.zeros((delta.shape[1], x.shape[1], kh, kw)))[1]
        return dw.sum(axis=1), delta.sum(axis=(0, 3))

    verdict = ch05.check_kernel_and_bias_grads(library)
    assert verdict.passed_cases == verdict.total and verdict.broken_rules == ("library-conv",)


def test_routing_picture_shares_one_scale_and_fits_the_column():
    import matplotlib.pyplot as plt

    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 3], [2, 6, 3, 1]], dtype=float)
    fig = ch05.routing_picture(x, np.array([[4.0, 8.0], [-4.0, 12.0]]))
    assert fig.get_size_inches()[0] * 100 <= 1100
    limits = {ax.images[0].get_clim() for ax in fig.axes[1:4]}
    assert limits == {(-12.0, 12.0)}  # δ and both gradients on one symmetric scale
    plt.close(fig)


def test_the_mystery_shown_without_diagnosis_names_no_bug(capsys):
    report = ch05.check_maxpool_backward(ch05.mystery_maxpool_backward, diagnose=False)
    out = capsys.readouterr().out
    assert not report and "Diagnosis" not in out and "FAILED" in out
