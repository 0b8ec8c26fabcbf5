"""Tests of cnnlib.course.ch06_debugging_backprop: the lr_max checker, the step-size explorer
and the gradient-check figure."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlib as cl
from cnnlib import check, reference
from cnnlib.course import ch06_debugging_backprop as ch06
from cnnlib.course import ch06_exercises, grading


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


def test_conv_backward_checker_names_the_bug(capsys):
    def bias_averaged(dy, x, w, stride, padding):
        dx, dw, db = reference.conv2d_backward(dy, x, w, stride, padding)
        return dx, dw, db / dy.shape[0]

    assert ch06.check_conv_backward(reference.conv2d_backward)
    assert "PASSED" in capsys.readouterr().out
    # a bug that is none of the mystery's: cnnlib.check's own diagnosis names it
    assert ch06.check_conv_backward(bias_averaged).bugs == ("bias",)
    assert not ch06.check_conv_backward(lambda *a: None)
    assert "not implemented yet" in capsys.readouterr().out


def _exercise_cases():
    return [c for c in check.CONV_CASES if len(set(c.stride)) == 1 and len(set(c.padding)) == 1]


def _args(case, **shape):
    a = replace(case, **shape).arrays()
    return a["dy"], a["x"], a["w"], case.stride[0], case.padding[0]


def _same(got, want):
    return all(
        g.shape == e.shape and np.allclose(g, e, rtol=0, atol=1e-12) for g, e in zip(got, want, strict=True)
    )


def test_the_mystery_is_the_model_of_its_three_bugs_and_is_not_told_them(capsys):
    for case in _exercise_cases():
        args = _args(case)
        planted = ch06_exercises.through_a_with_bugs(*args, layout=True, loop_kh=True, reached=True)
        assert _same(ch06.mystery_conv_backward(*args), planted)
        assert _same(ch06_exercises.through_a_with_bugs(*args), reference.conv2d_backward(*args))

    def pasted(dy, x, w, stride, padding):  # the learner's own function, the mystery's body unchanged
        return ch06.mystery_conv_backward(dy, x, w, stride, padding)

    for fn in (ch06.mystery_conv_backward, pasted):
        report = ch06.check_conv_backward(fn)
        assert not report and report.bugs == (grading.PLANTED_UNCHANGED,)
    out = capsys.readouterr().out
    assert "planted code unchanged" in out
    for words in ("Aᵀδ", "range(kh)", "no window reaches"):  # none of the bugs is told
        assert words not in out


def test_each_bug_shows_only_on_its_shapes():
    # the hints' claims: dw right with one filter; dx right for square kernels, and where the rows no
    # window reaches are padding rows (r <= p); so dx fails in case 7 (2x3 kernel) and case 4 (r = 2 > p = 0)
    for case in _exercise_cases():
        args, one_filter = _args(case), _args(case, D=1)
        right = reference.conv2d_backward(*args)
        assert _same(
            ch06_exercises.through_a_with_bugs(*one_filter, layout=True),
            reference.conv2d_backward(*one_filter),
        )
        assert not np.allclose(ch06_exercises.through_a_with_bugs(*args, layout=True)[1], right[1])
        (kh, kw), (s, p) = (case.kh, case.kw), (case.stride[0], case.padding[0])
        leftover = (case.H + 2 * p - kh) % s > p or (case.W + 2 * p - kw) % s > p
        got = ch06_exercises.through_a_with_bugs(*args, loop_kh=True)[0]
        assert (kh == kw) == (got.shape == right[0].shape and np.allclose(got, right[0]))
        got = ch06_exercises.through_a_with_bugs(*args, reached=True)[0]
        assert (not leftover) == (got.shape == right[0].shape and np.allclose(got, right[0]))
    report = ch06.check_conv_backward(ch06.mystery_conv_backward, diagnose=False)
    assert [c.number for c in report.cases if "dx" in c.wrong] == [4, 7]
    assert all("dw" in c.wrong for c in report.cases)


def test_each_half_fixed_copy_is_named_by_its_ids(capsys):
    planted = ch06.mystery_conv_backward
    for attempt in ch06.MYSTERY_ATTEMPTS[1:]:
        report = ch06.check_conv_backward(attempt.answer)
        unchanged = all(_same(attempt.answer(*_args(c)), planted(*_args(c))) for c in _exercise_cases())
        wanted = (grading.PLANTED_UNCHANGED,) if unchanged else tuple(b for b, _ in attempt.named())
        assert not report and report.bugs == wanted, attempt.bug
    # every planted bug, alone, by its id
    for flag, bug in (("layout", "transpose"), ("loop_kh", "height-width"), ("reached", "leftover-rows")):
        fn = partial(ch06_exercises.through_a_with_bugs, **{flag: True})
        assert ch06.check_conv_backward(fn).bugs == (bug,)


def _fixed_copy(dy, x, w, stride, padding):
    """The notebook's solution: the mystery with its three lines fixed (not the checker's oracle)."""
    s, p = stride, padding
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    Ho, Wo = dy.shape[2:]
    xp = cl.pad(x, p)
    windows = np.zeros((N, Ho, Wo, C, kh, kw))
    for m in range(kh):
        for n in range(kw):
            windows[..., m, n] = xp[:, :, m : m + s * Ho : s, n : n + s * Wo : s].transpose(0, 2, 3, 1)
    A = windows.reshape(N * Ho * Wo, C * kh * kw)
    delta = dy.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, D)
    dw = (A.T @ delta).T.reshape(D, C, kh, kw)
    dA = (delta @ w.reshape(D, C * kh * kw)).reshape(N, Ho, Wo, C, kh, kw)
    dxp = np.zeros_like(xp)
    for m in range(kh):
        for n in range(kw):
            dxp[:, :, m : m + s * Ho : s, n : n + s * Wo : s] += dA[..., m, n].transpose(0, 3, 1, 2)
    return dxp[:, :, p : p + H, p : p + W], dw, delta.sum(axis=0)


def _loops(dy, x, w, stride, padding):
    """Another right answer: one window at a time, with the rows no window reaches padded back in the end."""
    s, p = stride, padding
    kh, kw = w.shape[2:]
    xp = cl.pad(x, p)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            win = (slice(None), slice(None), slice(i * s, i * s + kh), slice(j * s, j * s + kw))
            dw += np.einsum("nd,nchw->dchw", dy[:, :, i, j], xp[win])
            dxp[win] += np.einsum("nd,dchw->nchw", dy[:, :, i, j], w)
    return dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]], dw, dy.sum(axis=(0, 2, 3))


def test_right_answers_other_than_the_oracle_pass(capsys):
    for fn in (_fixed_copy, _loops):
        assert ch06.check_conv_backward(fn)


def test_the_mystery_shown_without_diagnosis_names_no_bug(capsys):
    report = ch06.check_conv_backward(ch06.mystery_conv_backward, diagnose=False)
    out = capsys.readouterr().out
    assert not report and "Diagnosis" not in out and "FAILED" in out


def test_nothing_above_exercise_2_shows_its_bugs():
    # part B's catalogue and section C's planted bug are other bugs: none of the mystery's lines, right or
    # wrong, is printed before the exercise
    path = Path(__file__).resolve().parents[2] / "notebooks" / "06_debugging_backprop.ipynb"
    texts = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    first = next(i for i, t in enumerate(texts) if "### Exercise 2" in t)
    above = "\n".join(texts[:first])
    for line in ("(A.T @ delta).", "for n in range(kh)", "s * (Ho - 1) + kh", "reshape(N * Ho * Wo, D)"):
        assert line not in above, line


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
