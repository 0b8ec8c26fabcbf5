"""Tests of cnnlib.course.ch07_fast_convolution: the checkers, the wide-row and phase-split
pictures and the dilated-delta explorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import cnnlib as cl
from cnnlib.course import ch07_exercises
from cnnlib.course import ch07_fast_convolution as ch07

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _face_counts(ax):
    from matplotlib.colors import to_rgb

    counts = {}
    for patch in ax.patches:
        if patch.get_fill():
            key = tuple(round(v, 3) for v in to_rgb(patch.get_facecolor()))
            counts[key] = counts.get(key, 0) + 1
    return counts


def _products_by_loop(u, Ho, k, s):  # by the definition: pairs (i, m) with i·s + m = u
    return sum(1 for i in range(Ho) for m in range(k) if i * s + m == u)


def _grad_x_scatter(dy, w, x_shape, stride, padding):
    # every output's share added onto its window (the accumulation of step 4, as plain loops over offsets)
    N, C, H, W = x_shape
    Ho, Wo = dy.shape[2:]
    dxp = np.zeros((N, C, H + 2 * padding + stride * Ho, W + 2 * padding + stride * Wo))
    for m in range(w.shape[2]):
        for n in range(w.shape[3]):
            share = np.einsum("ndij,dc->ncij", dy, w[:, :, m, n])
            dxp[:, :, m : m + stride * Ho : stride, n : n + stride * Wo : stride] += share
    return dxp[:, :, padding : padding + H, padding : padding + W]


def _im2col_loops(xp, kh, kw, s, d):  # by the definition, one entry at a time (the checker slices a view)
    N, C, Hp, Wp = xp.shape
    cols = np.empty((N, C, kh, kw, (Hp - d * (kh - 1) - 1) // s + 1, (Wp - d * (kw - 1) - 1) // s + 1))
    for img, c, m, n, i, j in np.ndindex(cols.shape):
        cols[img, c, m, n, i, j] = xp[img, c, i * s + m * d, j * s + n * d]
    return cols


def _im2col_cut_to_shortest(xp, kh, kw, s, d):
    # one slice per offset with no stop, every offset cut to the shortest: right without computing Ho
    slices = [[xp[:, :, m * d :: s, n * d :: s] for n in range(kw)] for m in range(kh)]
    Ho = min(sl.shape[2] for row in slices for sl in row)
    Wo = min(sl.shape[3] for row in slices for sl in row)
    return np.stack([np.stack([sl[:, :, :Ho, :Wo] for sl in row], axis=2) for row in slices], axis=2)


def _im2col_fancy_indexing(xp, kh, kw, s, d):
    # index arrays instead of slices: rows i*s + m*d for every (m, i) at once
    Hp, Wp = xp.shape[2:]
    Ho, Wo = (Hp - d * (kh - 1) - 1) // s + 1, (Wp - d * (kw - 1) - 1) // s + 1
    rows = d * np.arange(kh)[:, None] + s * np.arange(Ho)  # (kh, Ho)
    cols = d * np.arange(kw)[:, None] + s * np.arange(Wo)  # (kw, Wo)
    return xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]


def test_checkers_accept_right_and_reject_wrong_answers(capsys):
    assert ch07.check_im2col(_im2col_cut_to_shortest)
    assert ch07.check_im2col(_im2col_fancy_indexing)
    # forgetting the stride is caught
    assert not ch07.check_im2col(lambda xp, kh, kw, s, d: _im2col_cut_to_shortest(xp, kh, kw, 1, d))
    assert not ch07.check_im2col(lambda *a: None)
    assert ch07.check_products_meeting_delta(_products_by_loop)
    assert not ch07.check_products_meeting_delta(lambda u, Ho, k, s: -(-k // s))
    assert ch07.check_input_gradient(_grad_x_scatter)
    # the stride left out of the backward is caught
    assert not ch07.check_input_gradient(
        lambda dy, w, xs, s, p: _grad_x_scatter(dy, w, xs, 1, p)[..., : xs[2], : xs[3]]
    )
    out = capsys.readouterr().out
    assert "correct on all" in out and "not implemented yet" in out and "FAIL" in out


def test_im2col_loops_over_the_windows_are_right_but_refused():
    verdict = ch07.check_im2col(_im2col_loops)
    assert verdict.passed_cases == verdict.total and not verdict
    assert verdict.broken_rules == ("window-loop",)


def test_the_learners_words_for_im2col_slips_are_named():
    # the blind reader's slips, written as a learner would: the stride on the offset (at d = 1 the rows
    # m*s + i), and each slice stopping at the last window's row (one window short)
    def stride_on_offset(xp, kh, kw, s, d):
        Hp, Wp = xp.shape[2:]
        Ho, Wo = (Hp - d * (kh - 1) - 1) // s + 1, (Wp - d * (kw - 1) - 1) // s + 1
        return np.stack(
            [
                np.stack(
                    [xp[:, :, m * s : m * s + d * Ho : d, n * s : n * s + d * Wo : d] for n in range(kw)], 2
                )
                for m in range(kh)
            ],
            2,
        )

    def one_short(xp, kh, kw, s, d):
        Hp, Wp = xp.shape[2:]
        Ho, Wo = (Hp - d * (kh - 1) - 1) // s + 1, (Wp - d * (kw - 1) - 1) // s + 1
        last_h, last_w = (Ho - 1) * s, (Wo - 1) * s  # the last window's top row, taken as the stop
        return np.stack(
            [
                np.stack(
                    [xp[:, :, m * d : m * d + last_h : s, n * d : n * d + last_w : s] for n in range(kw)], 2
                )
                for m in range(kh)
            ],
            2,
        )

    assert ch07.check_im2col(stride_on_offset).bugs == ("stride-on-offset",)
    assert ch07.check_im2col(one_short).bugs == ("off-by-one",)


def test_the_unclipped_interior_count_is_named_apart_from_the_constant():
    # the blind reader's attempt: floor(u/s) - ceil((u-k+1)/s) + 1, not clipped to delta's rows 0 .. Ho-1
    def unclipped(u, Ho, k, s):
        return u // s - -(-(u - k + 1) // s) + 1

    assert ch07.check_products_meeting_delta(unclipped).bugs == ("unclipped",)
    assert ch07.check_products_meeting_delta(lambda u, Ho, k, s: -(-k // s)).bugs == ("interior",)


def test_input_gradient_checker_has_a_phase_no_kernel_weight_reaches():
    # some case must have stride > kernel size, where a phase-split solution must leave zeros
    seen = []
    ch07.check_input_gradient(
        lambda dy, w, xs, s, p: (
            seen.append((w.shape[2:], s)) or cl.conv2d_backward(dy, np.zeros(xs), w, s, p)[0]
        )
    )
    assert any(min(k) < s for k, s in seen)


def test_wide_row_picture_colours_one_slice():
    Hp, Wp, k, (m, n) = 5, 6, 3, (1, 2)
    fig = ch07.wide_row_picture(Hp, Wp, k, (m, n))
    ax_grid, ax_mem = fig.axes
    Ho, Wo = Hp - k + 1, Wp - k + 1
    read, garbage = (
        tuple(round(v, 3) for v in ch07.READ_RGB),
        tuple(round(v, 3) for v in ch07.GARBAGE_RGB),
    )
    grid = _face_counts(ax_grid)
    assert grid[read] == Ho * Wo
    # garbage reads that fall inside the image (the rest land in the zero tail)
    assert grid[garbage] == sum(1 for t in range(Ho * Wp) if t % Wp >= Wo and m * Wp + n + t < Hp * Wp)
    mem = _face_counts(ax_mem)
    assert mem[read] + mem[garbage] == Ho * Wp
    assert f"[{m * Wp + n}, {m * Wp + n + Ho * Wp})" in ax_mem.get_title()
    with pytest.raises(ValueError, match="offset"):
        ch07.wide_row_picture(5, 6, 3, (3, 0))
    with pytest.raises(ValueError, match="does not fit"):
        ch07.wide_row_picture(2, 6, 3)


def test_phase_split_picture_outlines_one_block_of_one_phase():
    fig = ch07.phase_split_picture(6, 6, 2, kernel_size=3, offset=(1, 2))
    assert len(fig.axes) == 1 + 4
    thick = [[p for p in ax.patches if p.get_linewidth() > 2] for ax in fig.axes]
    assert len(thick[0]) == 4  # 2x2 windows read by offset (1, 2)
    assert [len(t) for t in thick[1:]] == [0, 0, 4, 0]  # all in phase (1, 0) (row-major order of the panels)
    assert "phase (1, 0) shifted by (0, 1)" in fig.get_suptitle()
    with pytest.raises(ValueError, match="phases"):
        ch07.phase_split_picture(12, 12, 4)


def test_dilated_delta_explorer_updates_in_place():
    fig, update = ch07.dilated_delta_explorer(Ho=4, max_stride=4, seed=0)
    n_artists = len(fig.axes), [len(ax.get_children()) for ax in fig.axes]
    for s, k in [(1, 3), (2, 3), (4, 2), (3, 5)]:
        drawn = update(stride=s, kernel_size=k)
        total, zero = drawn["total"], drawn["zero"]
        assert (drawn["stride"], drawn["kernel_size"]) == (s, k)
        assert (total, zero) == cl.shapes.dilated_route_counts(4, 4, k, k, s)
        full_rgb = fig.axes[0].images[0].get_array()
        assert full_rgb.shape[:2] == ((4 - 1) * s + 1 + 2 * (k - 1),) * 2
        use = fig.axes[1].images[0].get_array()
        assert use.shape == ((4 - 1) * s + k,) * 2
        assert use.sum() == 16 * k * k  # every delta meets every weight once
        curve = fig.axes[2].lines[1]
        assert np.allclose(curve.get_ydata()[s - 1], zero / total)
        assert f"{zero} of {total}" in fig.axes[2].get_title()
    assert (len(fig.axes), [len(ax.get_children()) for ax in fig.axes]) == n_artists


def test_true_and_learned_kernels_one_scale_labelled_blocks():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    w_true = rng.standard_normal((2, 2, 3, 3))
    fig = ch07.true_and_learned_kernels(w_true, 0.5 * w_true)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 8
    assert {im.get_clim() for im in images} == {(-np.abs(w_true).max(), np.abs(w_true).max())}
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["true w[d, 0]", "true w[d, 1]", "learned w[d, 0]", "learned w[d, 1]"]
    assert fig.get_size_inches()[0] * 100 <= 1100
    plt.close(fig)


@pytest.mark.parametrize(
    "checker, attempts",
    [
        (ch07.check_im2col, ch07_exercises.IM2COL_ATTEMPTS),
        (ch07.check_products_meeting_delta, ch07_exercises.COUNT_ATTEMPTS),
        (ch07.check_input_gradient, ch07_exercises.PHASE_ATTEMPTS),
    ],
)
def test_each_wrong_attempt_is_rejected_and_named_by_its_id(checker, attempts):
    for attempt in attempts:
        verdict = checker(attempt.answer)
        assert not verdict and verdict.bugs == tuple(b for b, _ in attempt.named()), (attempt.bug, verdict)


def test_the_mystery_of_exercise_3_has_three_bugs_and_is_named_unchanged():
    verdict = ch07.check_input_gradient(ch07.schmidt_phases)
    assert not verdict and verdict.bugs == ("planted-unchanged",)
    # its three bugs are the mystery's: the planted route with them switched on is the mystery itself
    rng = np.random.default_rng(0)
    for k, H, s, p in [(3, 7, 2, 1), (4, 9, 3, 0), (2, 7, 3, 2), (5, 9, 2, 0)]:
        Ho = cl.conv_output_size(H, k, s, p)
        dy, w = rng.standard_normal((1, 2, Ho, Ho)), rng.standard_normal((2, 3, k, k))
        three = ch07_exercises.phases_with_bugs(
            dy, w, (1, 3, H, H), s, p, rows=True, flip_order=True, pad_kernel=True
        )
        assert np.array_equal(three, ch07.schmidt_phases(dy, w, (1, 3, H, H), s, p))
    # one bug fixed: the other two are named
    verdict = ch07.check_input_gradient(
        lambda dy, w, xs, s, p: ch07_exercises.phases_with_bugs(
            dy, w, xs, s, p, flip_order=True, pad_kernel=True
        )
    )
    assert verdict.bugs == ("flip-order", "padding")
    # the mystery is right at stride 1, where every phase is the whole kernel: its bugs are the phases'
    verdict = ch07.check_input_gradient(
        lambda dy, w, xs, s, p: (
            ch07.schmidt_phases(dy, w, xs, 1, p)
            if s == 1
            else cl.conv2d_backward(dy, np.zeros(xs), w, s, p)[0]
        )
    )
    assert verdict


def test_nothing_above_exercise_1_states_the_dilated_slice():
    cells = json.loads((NOTEBOOKS / "07_fast_convolution.ipynb").read_text(encoding="utf-8"))["cells"]
    texts = ["".join(c["source"]) for c in cells]
    exercise = next(i for i, t in enumerate(texts) if t.find("### Exercise 1") >= 0)
    above = "\n".join(texts[:exercise]) + texts[exercise].split("### Exercise 1")[0]
    for answer in ["m * d", "m*d", "md{:}", "d(k_h - 1) + 1", "d(k-1)+1", "d * (kh - 1)"]:
        assert answer not in above, answer
    assert any("m * d : m * d + s * Ho : s" in t for t in texts[exercise:])


def test_nothing_above_exercise_3_states_the_phase_route():
    # the sub-kernel's rows, its flip and its padding are the exercise's answer: only after it
    cells = json.loads((NOTEBOOKS / "07_fast_convolution.ipynb").read_text(encoding="utf-8"))["cells"]
    texts = ["".join(c["source"]) for c in cells]
    exercise = next(i for i, t in enumerate(texts) if t.startswith("### Exercise 3"))
    above = "\n".join(texts[:exercise])
    for answer in ["(k-\\rho)/s", "(k - \\rho)/s", "rot180(w[:", "\\mathrm{rot180}(w[:,:,\\rho", "a - 1"]:
        assert answer not in above, answer
    assert any("(k - \\rho)/s" in t for t in texts[exercise:])


def test_the_dilated_route_is_right_but_refused_by_its_memory():
    verdict = ch07.check_input_gradient(ch07.attempt_phases_dilated)
    assert verdict.passed_cases == verdict.total and not verdict
    assert verdict.broken_rules == ("dilated-zeros",)


def test_the_memory_case_is_where_the_dilated_delta_is_over_10x_delta():
    dy = np.ones((1, 16, 32, 32))
    full = cl.pad(cl.dilate(dy, 4), (3, 3))
    assert full.nbytes >= 10 * dy.nbytes


def test_the_mystery_shown_without_diagnosis_names_no_bug(capsys):
    verdict = ch07.check_input_gradient(ch07.schmidt_phases, diagnose=False)
    out = capsys.readouterr().out
    assert not verdict and verdict.bugs == () and "likely bug" not in out
