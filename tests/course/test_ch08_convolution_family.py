"""Tests of cnnlib.course.ch08_convolution_family: the explorers keep the explorer contract, the
receptive-field measure agrees with its closed form, and the exercise checkers pass right answers,
fail wrong ones and call a stub "not implemented yet"."""

from __future__ import annotations

import base64
import inspect
import json
from pathlib import Path

import numpy as np
import pytest

import cnnlib as cl
from cnnlib.course import ch08_convolution_family as ch08
from cnnlib.course import ch08_exercises
from cnnlib.course.explore import HINT, explore, redraw_ms

EXPLORERS = {
    "ch08 dilation": (
        lambda: ch08.dilation_explorer(seed=0),
        [
            dict(input_size=9, kernel_size=3, stride=1, dilation=2, row=1, col=1),
            dict(input_size=12, kernel_size=5, stride=2, dilation=3),
        ],
    ),
    "ch08 receptive field": (
        lambda: ch08.receptive_field_explorer(H=33, max_layers=4),
        [dict(stack="3×3 s1 ×3", layers=2), dict(stack="3×3 dilated 1, 2, 4", layers=4)],
    ),
}
SHARED = {"input_size", "kernel_size", "stride", "padding", "row", "col"}
OWN = {"dilation", "stack", "layers"}


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_explorer_keeps_the_contract(name):
    build, positions = EXPLORERS[name]
    fig, update = build()
    assert fig.get_size_inches()[0] <= 11
    n_artists = [len(ax.get_children()) for ax in fig.axes]
    assert set(inspect.signature(update).parameters) <= SHARED | OWN
    for settings in positions:
        drawn = update(**settings)
        assert isinstance(drawn, dict)
        for key, value in settings.items():
            if key not in ("row", "col"):
                assert drawn[key] == value, (name, key)
    assert [len(ax.get_children()) for ax in fig.axes] == n_artists, f"{name}: a redraw added artists"
    print(f"\n{name}: redraw {redraw_ms(fig, update, positions, repeats=3):.0f} ms (update + PNG render)")


def test_dilation_explorer_names_a_kernel_that_does_not_fit_and_clamps_the_output():
    fig, update = ch08.dilation_explorer()
    drawn = update(input_size=5, kernel_size=3, stride=1, dilation=3)
    assert drawn["Ho"] == 0 and "larger than the 5×5 input" in drawn["reason"]
    drawn = update(input_size=9, kernel_size=3, stride=2, dilation=2, row=11, col=11)
    assert (drawn["row"], drawn["col"], drawn["Ho"], drawn["k_eff"]) == (2, 2, 3, 5)
    assert drawn["unread"] == 9 * 9 - 5 * 5  # odd rows and columns: an even stride over even taps


def test_explorer_shows_its_figure_and_a_hint_before_the_kernel_runs():
    fig, update = ch08.receptive_field_explorer()
    update(stack="3×3 s1 ×3", layers=3)
    bundle = explore(fig, update, layers=(1, 4))._repr_mimebundle_()
    assert bundle["text/plain"] == HINT
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", list(ch08.STACKS))
@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_receptive_field_measured_equals_closed_form(name, L):
    spec = ch08.STACKS[name](L)
    dx, measured = ch08.receptive_field_map(spec, H=41)
    assert measured == ch08.receptive_field(spec)
    assert np.count_nonzero(dx.any(axis=0)) == measured  # square


def test_dilated_coverage_is_the_count_of_windows():
    H, k, s, d = 9, 3, 2, 2
    count = np.zeros((H, H))
    Ho = cl.conv_output_size(H, k, s, 0, d)
    for i in range(Ho):
        for j in range(Ho):
            rows, cols = ch08.window_taps(k, s, d, i, j)
            count[rows, cols] += 1
    assert np.array_equal(ch08.dilated_coverage(H, k, s, d), count)


def test_connection_matrix_is_block_diagonal():
    M = ch08.connection_matrix(6, 4, 2)
    assert np.array_equal(np.isnan(M), np.array([[0, 0, 0, 1, 1, 1]] * 2 + [[1, 1, 1, 0, 0, 0]] * 2, bool))
    w = np.zeros((4, 3, 1, 1))
    assert np.count_nonzero(~np.isnan(M)) == w.size  # one entry per existing w[d, c]


@pytest.mark.parametrize("s, d, p", [(1, 2, 0), (2, 3, 1), (3, 1, 2), (2, 2, 0)])
def test_weight_gradient_by_duality(s, d, p):
    rng = np.random.default_rng(s * 10 + d)
    x, w = rng.standard_normal((2, 3, 14, 13)), rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal(cl.conv2d_forward(x, w, None, s, p, d).shape)
    expected = cl.reference.conv2d_backward(dy, x, w, s, p, d)[1]
    assert np.allclose(ch08.weight_gradient_by_duality(dy, x, 3, s, p, d), expected)


def test_costs():
    assert ch08.costs(32, 64, 3, 16, 16, groups=4) == (4608, 4608 * 256)
    assert ch08.costs(8, 8, 3, 1, 1, groups=8)[0] == cl.Conv2D(8, 8, 3, groups=8, rng=0).params["w"].size


def _solution_dilated(dy, x, w, padding, dilation):
    # the phase route: output phase (a, b) is a plain convolution of input phase (a, b) with w
    d, p = dilation, padding
    xp = cl.pad(x, p)
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    for a, b in np.ndindex(d, d):
        if dy[:, :, a::d, b::d].size:
            dx_ab, dw_ab, _ = cl.conv2d_backward(dy[:, :, a::d, b::d], xp[:, :, a::d, b::d], w)
            dxp[:, :, a::d, b::d] = dx_ab
            dw += dw_ab
    return dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]], dw, dy.sum(axis=(0, 2, 3))


def _dilated_by_einsum(dy, x, w, padding, dilation):
    # no convolution call at all: the products of section 1, offset by offset
    d, p, (kh, kw) = dilation, padding, w.shape[2:]
    xp = cl.pad(x, p)
    Ho, Wo = dy.shape[2:]
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    for m, n in np.ndindex(kh, kw):
        window = xp[:, :, m * d : m * d + Ho, n * d : n * d + Wo]
        dw[:, :, m, n] = np.einsum("ndij,ncij->dc", dy, window)
        dxp[:, :, m * d : m * d + Ho, n * d : n * d + Wo] += np.einsum("ndij,dc->ncij", dy, w[:, :, m, n])
    return dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]], dw, dy.sum(axis=(0, 2, 3))


def _phases_of_the_unpadded_input(dy, x, w, padding, dilation):
    # the phases cut before padding, each padded by p: wrong rows (and shapes) whenever p > 0
    d = dilation
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for a, b in np.ndindex(d, d):
        dx_ab, dw_ab, _ = cl.conv2d_backward(dy[:, :, a::d, b::d], x[:, :, a::d, b::d], w, 1, padding)
        dx[:, :, a::d, b::d] = dx_ab
        dw += dw_ab
    return dx, dw, dy.sum(axis=(0, 2, 3))


def _phases_each_padded_by_hand(dy, x, w, padding, dilation):
    # the phases of x, each zero-padded with cl.pad before a plain call: the same slip as padding=p
    d = dilation
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for a in range(d):
        for b in range(d):
            if dy[:, :, a::d, b::d].size == 0:
                continue
            phase = cl.pad(x[:, :, a::d, b::d], padding)
            dx_ab, dw_ab, _ = cl.conv2d_backward(dy[:, :, a::d, b::d], phase, w)
            h, w_ = dx_ab.shape[2:]
            dx[:, :, a::d, b::d] = dx_ab[:, :, padding : h - padding, padding : w_ - padding]
            dw += dw_ab
    return dx, dw, dy.sum(axis=(0, 2, 3))


def _phase_route(dy, x, w, padding, dilation, *, pad=True, skip=True, into_x=False, crop="each side"):
    # a learner's phase route, written with np.ndindex, with one of the usual slips switched on
    d, p = dilation, padding
    src = cl.pad(x, p) if pad else x
    grad = np.zeros_like(x if into_x else src)
    dw = np.zeros_like(w)
    for a, b in np.ndindex(d, d):
        part = dy[:, :, a::d, b::d]
        if skip and not part.size:
            continue
        dx_ab, dw_ab, _ = cl.conv2d_backward(part, src[:, :, a::d, b::d], w)
        grad[:, :, a::d, b::d] = dx_ab
        dw = dw + dw_ab
    if into_x or not pad:
        return grad, dw, dy.sum(axis=(0, 2, 3))
    H, W = x.shape[2:]
    dx = grad[:, :, p : p + H, p : p + W] if crop == "each side" else grad[:, :, p:-p, p:-p]
    return dx, dw, dy.sum(axis=(0, 2, 3))


@pytest.mark.parametrize(
    "attempt, ids",
    [
        (_phases_of_the_unpadded_input, ("phases-of-x", "empty-phase")),
        (_phases_each_padded_by_hand, ("phases-of-x",)),
        (lambda *a: _phase_route(*a, skip=False), ("empty-phase",)),
        (lambda *a: _phase_route(*a, pad=False), ("padding",)),
        (lambda *a: _phase_route(*a, into_x=True), ("crop",)),
        (lambda *a: _phase_route(*a, crop="p:-p"), ("crop",)),
    ],
)
def test_the_dilated_checker_names_the_slips_that_raise_or_misshape(attempt, ids, capsys):
    # a learner's own code (not the attempts' code): the raising cases are named by the same error
    assert ch08.check_dilated_backward(lambda *a: _phase_route(*a))
    verdict = ch08.check_dilated_backward(attempt)
    out = capsys.readouterr().out
    assert not verdict and verdict.bugs == ids, verdict
    assert all(f"likely bug ({b})" in out for b in ids)


def test_the_library_transposed_backward_is_the_two_convolutions_of_the_solution():
    # exercise 3's solution says so; the notebook no longer prints it under the exercise
    rng = np.random.default_rng(5)
    for k, s, p, op in [(3, 2, 1, 1), (4, 2, 1, 0), (2, 3, 0, 2)]:
        x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, k, k))
        dy = rng.standard_normal(cl.conv_transpose2d_forward(x, w, None, s, p, op).shape)
        dx, dw, _ = cl.conv_transpose2d_backward(dy, x, w, s, p, op)
        assert np.allclose(dx, cl.conv2d_forward(dy, w, None, s, p))
        assert np.allclose(dw, cl.conv2d_backward(x, dy, w, s, p)[1])


def test_no_output_under_exercise_3_shows_its_calls():
    # the cells between exercise 3 and the summary show the checker and the library's checks, not the answer
    path = Path(__file__).resolve().parents[2] / "notebooks" / "08_convolution_family.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    texts = ["".join(c["source"]) for c in cells]
    first = next(i for i, t in enumerate(texts) if "### Exercise 3" in t)
    last = next(i for i, t in enumerate(texts) if t.startswith("## Summary"))
    for cell in cells[first:last]:
        if cell["cell_type"] != "code":
            continue
        shown = "".join(cell["source"]) + "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        for answer in ["conv2d_forward(dyt", "conv2d_backward(xt", "conv2d_forward(delta", "dy=x, x=delta"]:
            assert answer not in shown, answer


def _field_span(layers, i):
    # the recursion a_l(i) = a_{l-1}(i s_l - p_l), walked from the output down (not the closed form)
    first = last = i
    for k, s, d, p in reversed(layers):
        first, last = first * s - p, last * s - p + (k - 1) * d
    return first, last


def _forgets_stride(layers, i):
    first = i - sum(p for *_, p in layers)
    return first, first + sum((k - 1) * d for k, _, d, _ in layers)


def _transpose_backward(dy, x, w, stride, padding, output_padding):
    dx = cl.conv2d_forward(dy, w, None, stride, padding)
    dw = cl.conv2d_backward(x, dy, w, stride, padding)[1]
    return dx, dw, dy.sum(axis=(0, 2, 3))


def _transpose_backward_unswapped(dy, x, w, stride, padding, output_padding):
    dx, _, db = _transpose_backward(dy, x, w, stride, padding, output_padding)
    return dx, np.swapaxes(cl.conv2d_backward(x, dy, w, stride, padding)[1], 2, 3), db


@pytest.mark.parametrize(
    "checker, right, wrong",
    [
        (ch08.check_dilated_backward, _solution_dilated, _phases_of_the_unpadded_input),
        (ch08.check_field_span, _field_span, _forgets_stride),
        (ch08.check_conv_transpose_backward, _transpose_backward, _transpose_backward_unswapped),
    ],
)
def test_checkers(checker, right, wrong, capsys):
    assert checker(right)
    assert not checker(wrong)

    def stub(*args, **kwargs):
        return None

    result = checker(stub)
    assert not result
    assert "not implemented yet" in capsys.readouterr().out


def test_figures_fit_the_notebook_column():
    for fig in (ch08.family_picture(), ch08.connection_picture()):
        assert fig.get_size_inches()[0] * fig.dpi <= 1100


@pytest.mark.parametrize(
    "checker, attempts",
    [
        (ch08.check_dilated_backward, ch08_exercises.DILATED_ATTEMPTS),
        (ch08.check_field_span, ch08_exercises.FIELD_ATTEMPTS),
        (ch08.check_conv_transpose_backward, ch08_exercises.TRANSPOSED_ATTEMPTS),
    ],
)
def test_each_wrong_attempt_is_rejected_and_named_by_its_id(checker, attempts):
    for attempt in attempts:
        verdict = checker(attempt.answer)
        ids = [b for b, _ in attempt.named()]  # named output by output (dx, dw, db), each id once
        assert not verdict and sorted(verdict.bugs) == sorted(ids), (attempt.bug, verdict)


def test_the_mystery_of_exercise_3_has_three_named_bugs():
    verdict = ch08.check_conv_transpose_backward(ch08.mystery_conv_transpose_backward)
    assert not verdict and verdict.bugs == ("flip", "output-padding", "channel")


def test_the_dilated_checker_accepts_right_answers_that_are_not_its_loops(capsys):
    assert ch08.check_dilated_backward(_dilated_by_einsum)
    assert ch08.check_dilated_backward(_solution_dilated)

    # a phase with no output must be skipped: calling the plain backward on it raises, and the case says so
    def no_skip(dy, x, w, padding, dilation):
        d, xp = dilation, cl.pad(x, padding)
        parts = [
            cl.conv2d_backward(dy[:, :, a::d, b::d], xp[:, :, a::d, b::d], w) for a, b in np.ndindex(d, d)
        ]
        return parts[0]

    assert not ch08.check_dilated_backward(no_skip)
    assert "ERROR, raised ValueError: kernel 3x3 is larger" in capsys.readouterr().out


def test_rules_refuse_the_forbidden_calls_even_when_the_answer_is_right():
    def passes_dilation_on(dy, x, w, padding, dilation):
        return cl.conv2d_backward(dy, x, w, 1, padding, dilation=dilation)

    def gathers_with_the_flipped_holes(dy, x, w, padding, dilation):
        full = cl.pad(dy, dilation * (np.array(w.shape[2:]) - 1))
        dxp = cl.conv2d_forward(full, cl.rot180(cl.dilate(w, dilation)).transpose(1, 0, 2, 3))
        p = padding
        return (
            dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]],
            _dilated_by_einsum(dy, x, w, p, dilation)[1],
            dy.sum(axis=(0, 2, 3)),
        )

    verdict = ch08.check_dilated_backward(passes_dilation_on)
    assert verdict.passed_cases == verdict.total and not verdict
    assert verdict.broken_rules == ("dilation-argument",)
    for holes in (ch08.attempt_dilated_kernel, gathers_with_the_flipped_holes):
        verdict = ch08.check_dilated_backward(holes)
        assert verdict.passed_cases == verdict.total and verdict.broken_rules == ("dilated-kernel",)
    for library in (cl.conv_transpose2d_backward, cl.reference.conv_transpose2d_backward):
        verdict = ch08.check_conv_transpose_backward(library)
        assert verdict.passed_cases == verdict.total and verdict.broken_rules == ("transposed-library",)
    # the spies are removed after the check
    assert cl.conv2d_backward is cl.conv.conv2d_backward and cl.conv2d_backward.__module__ == "cnnlib.conv"


def test_field_span_is_measured_and_refuses_a_field_at_the_border():
    with pytest.raises(ValueError, match="border"):
        ch08.measured_field_span([(3, 1, 1, 1)], 0, H=10)
    assert ch08.measured_field_span([(3, 2, 1, 1), (3, 1, 1, 1)], 5) == _field_span(
        [(3, 2, 1, 1), (3, 1, 1, 1)], 5
    )


def test_the_mystery_shown_without_diagnosis_names_no_bug(capsys):
    verdict = ch08.check_conv_transpose_backward(ch08.mystery_conv_transpose_backward, diagnose=False)
    out = capsys.readouterr().out
    assert not verdict and verdict.bugs == () and "likely bug" not in out and "0 of 5 cases correct" in out


def test_nothing_above_exercises_1_and_3_states_their_routes():
    # exercise 1's phases and exercise 3's convolution calls are the answers: only after the exercises
    path = Path(__file__).resolve().parents[2] / "notebooks" / "08_convolution_family.ipynb"
    texts = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    first = next(i for i, t in enumerate(texts) if "### Exercise 1" in t)
    above = "\n".join(texts[:first])
    for answer in [
        "a::d",
        "a{::}d",
        "conv2d_backward(dy=x",
        "conv2d\\_forward}(\\delta",
        "x and $\\delta$ swapped",
    ]:
        assert answer not in above, answer
    below = "\n".join(texts[first:])
    assert "a::d" in below and "conv2d_backward(x, dy, w, stride, padding)[1]" in below
