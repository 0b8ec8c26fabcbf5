"""Tests of the notebook-07 toolkit: im2col windows, the rot180 route's counts, their checkers,
the wide-row and phase-split pictures and the dilated-delta explorer."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import cnnlib as cl
from cnnlib import exercises, plots, widgets

# --- exercises.py -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,kh,kw,s", [((2, 3, 6, 5), 3, 2, 1), ((1, 2, 7, 8), 3, 3, 2), ((2, 1, 8, 7), 2, 1, 3)]
)
def test_im2col_windows_matches_its_definition(shape, kh, kw, s):
    xp = np.random.default_rng(0).standard_normal(shape)
    cols = exercises.im2col_windows(xp, kh, kw, s)
    N, C, Hp, Wp = shape
    Ho, Wo = (Hp - kh) // s + 1, (Wp - kw) // s + 1
    assert cols.shape == (N, C, kh, kw, Ho, Wo)
    for img, c, m, n, i, j in np.ndindex(cols.shape):
        assert cols[img, c, m, n, i, j] == xp[img, c, i * s + m, j * s + n]
    assert not np.shares_memory(cols, xp)


def test_im2col_windows_times_kernels_is_the_forward():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    cols = exercises.im2col_windows(cl.pad(x, 1), 3, 2, 2)
    y = np.einsum("acmnij,dcmn->adij", cols, w)
    assert cl.rel_error(y, cl.reference.conv2d_forward(x, w, None, 2, 1)) < 1e-12


@pytest.mark.parametrize(
    "Ho,Wo,kh,kw,s", [(1, 1, 1, 1, 1), (3, 4, 3, 2, 2), (5, 5, 2, 2, 3), (4, 3, 1, 3, 4), (6, 2, 4, 4, 2)]
)
def test_dilated_route_counts_equal_counting_the_zeros(Ho, Wo, kh, kw, s):
    assert exercises.dilated_route_counts(Ho, Wo, kh, kw, s) == exercises._counted_dilated_route(
        Ho, Wo, kh, kw, s
    )


def test_dilated_route_zero_share_tends_to_one_minus_one_over_s_squared():
    for s in (1, 2, 3, 4):
        total, zero = exercises.dilated_route_counts(400, 400, 3, 3, s)
        assert abs(zero / total - (s * s - 1) / (s * s)) < 0.01
    # at s = 1 only the k - 1 border is wasted
    total, zero = exercises.dilated_route_counts(10, 10, 3, 3, 1)
    assert (total, zero) == (12 * 12 * 9, (144 - 100) * 9)


def test_dilated_route_useful_products_are_the_accumulation_products():
    # the products that meet a delta: Ho·Wo·kh·kw, what the offset accumulation computes
    total, zero = exercises.dilated_route_counts(7, 5, 3, 2, 2)
    assert total - zero == 7 * 5 * 3 * 2


def test_checkers_accept_right_and_reject_wrong_answers(capsys):
    assert exercises.check_im2col(lambda xp, kh, kw, s: exercises.im2col_windows(xp, kh, kw, s))
    # forgetting the stride is caught
    assert not exercises.check_im2col(lambda xp, kh, kw, s: exercises.im2col_windows(xp, kh, kw, 1))
    assert not exercises.check_im2col(lambda *a: None)
    assert exercises.check_dilated_route_counts(exercises.dilated_route_counts)
    # counting only the dilated delta's zeros (no border, no k-fold reuse) is caught
    assert not exercises.check_dilated_route_counts(
        lambda Ho, Wo, kh, kw, s: (
            ((Ho - 1) * s + 1) * ((Wo - 1) * s + 1),
            ((Ho - 1) * s + 1) * ((Wo - 1) * s + 1) - Ho * Wo,
        )
    )
    assert exercises.check_input_gradient(cl.reference.conv2d_backward_input)
    assert exercises.check_input_gradient(
        lambda dy, w, xs, s, p: cl.conv2d_backward(dy, np.zeros(xs), w, s, p)[0]
    )
    # the stride left out of the backward is caught
    assert not exercises.check_input_gradient(
        lambda dy, w, xs, s, p: cl.reference.conv2d_backward_input(
            cl.dilate(dy, s)[..., : dy.shape[2], : dy.shape[3]], w, xs, s, p
        )
    )
    out = capsys.readouterr().out
    assert "correct on all" in out and "not implemented yet" in out and "wrong" in out


def test_input_gradient_checker_has_a_phase_no_kernel_weight_reaches():
    # some case must have stride > kernel size, where a phase-split solution must leave zeros
    seen = []
    exercises.check_input_gradient(
        lambda dy, w, xs, s, p: (
            seen.append((w.shape[2:], s)) or cl.conv2d_backward(dy, np.zeros(xs), w, s, p)[0]
        )
    )
    assert any(min(k) < s for k, s in seen)


# --- plots.py ---------------------------------------------------------------------------------


def _face_counts(ax):
    from matplotlib.colors import to_rgb

    counts = {}
    for patch in ax.patches:
        if patch.get_fill():
            key = tuple(round(v, 3) for v in to_rgb(patch.get_facecolor()))
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_wide_row_picture_colours_one_slice():
    Hp, Wp, k, (m, n) = 5, 6, 3, (1, 2)
    fig = plots.wide_row_picture(Hp, Wp, k, (m, n))
    ax_grid, ax_mem = fig.axes
    Ho, Wo = Hp - k + 1, Wp - k + 1
    read, garbage = (
        tuple(round(v, 3) for v in plots._READ_RGB),
        tuple(round(v, 3) for v in plots._GARBAGE_RGB),
    )
    grid = _face_counts(ax_grid)
    assert grid[read] == Ho * Wo
    # garbage reads that fall inside the image (the rest land in the zero tail)
    assert grid[garbage] == sum(1 for t in range(Ho * Wp) if t % Wp >= Wo and m * Wp + n + t < Hp * Wp)
    mem = _face_counts(ax_mem)
    assert mem[read] + mem[garbage] == Ho * Wp
    assert f"[{m * Wp + n}, {m * Wp + n + Ho * Wp})" in ax_mem.get_title()
    with pytest.raises(ValueError, match="offset"):
        plots.wide_row_picture(5, 6, 3, (3, 0))
    with pytest.raises(ValueError, match="does not fit"):
        plots.wide_row_picture(2, 6, 3)


def test_phase_split_picture_outlines_one_block_of_one_phase():
    fig = plots.phase_split_picture(6, 6, 2, kernel_size=3, offset=(1, 2))
    assert len(fig.axes) == 1 + 4
    thick = [[p for p in ax.patches if p.get_linewidth() > 2] for ax in fig.axes]
    assert len(thick[0]) == 4  # 2x2 windows read by offset (1, 2)
    assert [len(t) for t in thick[1:]] == [0, 0, 4, 0]  # all in phase (1, 0) (row-major order of the panels)
    assert "phase (1, 0) shifted by (0, 1)" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="phases"):
        plots.phase_split_picture(12, 12, 4)


# --- widgets.py -------------------------------------------------------------------------------


def test_dilated_delta_explorer_updates_in_place():
    fig, update = widgets.dilated_delta_explorer(Ho=4, max_stride=4, max_kernel=5, seed=0)
    n_artists = len(fig.axes), [len(ax.get_children()) for ax in fig.axes]
    for s, k in [(1, 3), (2, 3), (4, 2), (3, 5)]:
        total, zero = update(stride=s, kernel=k)
        assert (total, zero) == exercises.dilated_route_counts(4, 4, k, k, s)
        full_rgb = fig.axes[0].images[0].get_array()
        assert full_rgb.shape[:2] == ((4 - 1) * s + 1 + 2 * (k - 1),) * 2
        use = fig.axes[1].images[0].get_array()
        assert use.shape == ((4 - 1) * s + k,) * 2
        assert use.sum() == 16 * k * k  # every delta meets every weight once
        curve = fig.axes[2].lines[1]
        assert np.allclose(curve.get_ydata()[s - 1], zero / total)
        assert f"{zero} of {total}" in fig.axes[2].get_title()
    assert (len(fig.axes), [len(ax.get_children()) for ax in fig.axes]) == n_artists
    assert widgets.redraw_ms(fig, update, [{"stride": 2, "kernel": 3}], repeats=1) > 0
