"""Notebook 04's exercises: the source question's formula and the checkers of section 11.

The notebook reaches them through ``ch04_padding`` as ``ch.<name>``.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from .. import conv
from ..shapes import conv_output_size
from .grading import WrongAttempt, check, combinations, likely_bugs, not_implemented, report


def _input_gradient_2d(dy, w, x_hw, stride, padding):
    """The library's ∂E/∂x of one single-channel layer (2-D arrays): the checkers' oracle."""
    x = np.zeros((1, 1) + tuple(x_hw))
    dx = conv.conv2d_backward(np.asarray(dy)[None, None], x, np.asarray(w)[None, None], stride, padding)[0]
    return dx[0, 0]


def random_2d_cases(seed, n):
    """Random single-channel (dy, w, (H, W), s, p) cases, non-square, with stride and padding.

    The first cases are fixed so that every checker meets a 1x1 kernel with p > k - 1
    (windows made only of padding) and a stride that leaves rows unread.
    """
    rng = np.random.default_rng(seed)
    shapes = [((4, 5), (1, 1), 1, 2), ((6, 5), (3, 2), 2, 1), ((5, 7), (2, 3), 3, 2)]
    while len(shapes) < n:
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        H, W = max(1, kh - 2 * p) + int(rng.integers(0, 6)), max(1, kw - 2 * p) + int(rng.integers(0, 6))
        shapes.append(((H, W), (kh, kw), s, p))
    return _cases_of_shapes(rng, shapes)


def _cases_of_shapes(rng, shapes):
    """(dy, w, (H, W), s, p) with random dy and w for each ((H, W), (kh, kw), s, p) of shapes."""
    cases = []
    for (H, W), (kh, kw), s, p in shapes:
        Ho, Wo = conv_output_size(H, kh, s, p), conv_output_size(W, kw, s, p)
        cases.append((rng.standard_normal((Ho, Wo)), rng.standard_normal((kh, kw)), (H, W), s, p))
    return cases


def question_input_gradient(dEdO, F, I_shape, s, p):
    """∂E/∂I of the stride-and-padding question, written literally in its symbols.

    The library's solution of the third exercise of notebooks/04_padding.ipynb.

    Parameters
    ----------
    dEdO : ndarray of shape (H1, W1)
        ∂E/∂O, the delta of the output (our δ).
    F : ndarray of shape (FS, FS)
        The filter (our w).
    I_shape : (H, W)
        Shape of the input I (our x), before padding.
    s, p : int

    Returns
    -------
    ndarray of shape I_shape

    Notes
    -----
    I[u, v] appears in O[k, h] with the filter entry F[u − k·s + p, v − h·s + p], so

        ∂E/∂I[u, v] = Σ_k Σ_h ∂E/∂O[k, h] · F[u − k·s + p, v − h·s + p]

    with F read as 0 outside 0..FS−1. Derived in notebooks/04_padding.ipynb.
    """
    dEdO, F = np.asarray(dEdO, dtype=float), np.asarray(F, dtype=float)
    FSh, FSw = F.shape

    def F_at(a, b):
        return F[a, b] if 0 <= a < FSh and 0 <= b < FSw else 0.0

    dI = np.zeros(I_shape)
    for u in range(I_shape[0]):
        for v in range(I_shape[1]):
            for k in range(dEdO.shape[0]):
                for h in range(dEdO.shape[1]):
                    dI[u, v] += dEdO[k, h] * F_at(u - k * s + p, v - h * s + p)
    return dI


def circular_cases(seed):
    """Single-channel (dy, w, (H, W), s, p) cases with p ≤ H, W (the frame wraps once, as in PyTorch).

    Non-square; a 1x1 kernel with p = 2 (windows made of the frame alone), p = 0 (no frame),
    p = H (the frame copies the whole image), strides that leave rows unread.
    """
    rng = np.random.default_rng(seed)
    shapes = [
        ((4, 5), (1, 1), 1, 2),
        ((6, 5), (3, 2), 2, 1),
        ((5, 7), (2, 3), 3, 2),
        ((3, 4), (3, 3), 1, 3),
        ((4, 6), (2, 3), 2, 0),
        ((5, 5), (3, 3), 1, 1),
        ((6, 4), (4, 2), 2, 2),
        ((7, 6), (2, 2), 3, 1),
    ]
    return _cases_of_shapes(rng, shapes)


def _padded_input_gradient(dy, w, x_hw, s, p):
    """∂E/∂x_p: the unpadded layer's input gradient on the (H + 2p) x (W + 2p) padded input."""
    H, W = x_hw
    return _input_gradient_2d(dy, w, (H + 2 * p, W + 2 * p), s, 0)


def _add_to_copied(dxp, x_hw, shift):
    """dx with each entry of dxp added at x[(a + shift) mod H, (b + shift) mod W], the pixel it copies."""
    (H, W), (Hp, Wp) = x_hw, dxp.shape
    dx = np.zeros((H, W))
    np.add.at(dx, np.ix_((np.arange(Hp) + shift) % H, (np.arange(Wp) + shift) % W), dxp)
    return dx


def _circular_expected(dy, w, x_hw, s, p):
    # x_p[a, b] = x[(a - p) mod H, (b - p) mod W]: each entry's gradient goes to the pixel it copies
    return _add_to_copied(_padded_input_gradient(dy, w, x_hw, s, p), x_hw, -p)


def _fold(a, p, side):
    """Fold the first axis of a (n + 2p rows) onto its n inner rows, each strip of p rows onto the far
    (right for circular padding) or the near side."""
    n = a.shape[0] - 2 * p
    out = a[p : p + n].copy()
    top_to, bottom_to = (slice(n - p, n), slice(0, p)) if side == "far" else (slice(0, p), slice(n - p, n))
    out[top_to] += a[:p]
    out[bottom_to] += a[p + n :]
    return out


def _planted_circular(dy, w, x_hw, s, p, rows="far", cols="far", corners=True, sign=False, crop=False):
    """Exercise 1's fold of the frame with the usual mistakes: a strip sent to the near side, the corner
    blocks lost, the index (a + p) mod H, the frame cropped off as for zero padding."""
    (H, W), dxp = x_hw, _padded_input_gradient(dy, w, x_hw, s, p)
    inner = dxp[p : p + H, p : p + W]
    if crop:
        return inner.copy()
    if sign:
        return _add_to_copied(dxp, x_hw, p)
    if corners:  # the rows over the full width, then the columns: the corner blocks come along
        return _fold(_fold(dxp, p, rows).T, p, cols).T
    row_strips = _fold(dxp[:, p : p + W], p, rows) - inner
    col_strips = _fold(dxp[p : p + H, :].T, p, cols).T - inner
    return inner + row_strips + col_strips


_SIDES = (
    "sides: x_p's top p rows copy the LAST p rows of x ((a − p) mod H for a < p), so their gradient goes "
    "to the bottom of x; the bottom strip goes to the top, the left strip to the right, the right strip "
    "to the left (and a corner block to the opposite corner)."
)
_CORNERS = (
    "corners: the four p×p corner blocks of ∂E/∂x_p are lost; they are copies of x's pixels too "
    "(x_p[0, 0] is x[H − p, W − p]), so their gradient goes back to x like the strips'."
)
_CROP = (
    "crop: you cropped the frame off as for zero padding; with circular padding the frame holds copies "
    "of x's pixels, so its gradient is added to the pixels it copies (step 2 of section 1 no longer "
    "gives 0)."
)
_SIGN = (
    "sign: x_p's row a copies x's row (a − p) mod H (x starts p rows into x_p); (a + p) mod H shifts the "
    "whole gradient by 2p rows and columns."
)


def _circular_attempts():
    attempts = [
        WrongAttempt("crop", _CROP, functools.partial(_planted_circular, crop=True)),
        WrongAttempt("sign", _SIGN, functools.partial(_planted_circular, sign=True)),
    ]
    for rows, cols, corners in itertools.product(("far", "near"), ("far", "near"), (True, False)):
        named = ([("sides", _SIDES)] if "near" in (rows, cols) else []) + (
            [] if corners else [("corners", _CORNERS)]
        )
        if named:
            bugs, words = zip(*named, strict=True)
            answer = functools.partial(_planted_circular, rows=rows, cols=cols, corners=corners)
            attempts.append(WrongAttempt(bugs, words, answer))
    return attempts


def check_circular_input_gradient(fn, seed=0, diagnose=True):
    """Exercise (find the bugs): fn(dy, w, (H, W), s, p) -> ∂E/∂x of a circularly padded layer.

    Circular padding: x_p[a, b] = x[(a − p) mod H, (b − p) mod W] (PyTorch's
    padding_mode="circular", NumPy's mode="wrap"), p ≤ H, W. Then ∂E/∂x[u, v] adds ∂E/∂x_p
    over every entry that copies x[u, v]: the inner part, the strips of the frame on the
    opposite side, the corner blocks at the opposite corner. Compared on 8 single-channel
    cases (non-square, strides 1-3, p = 0 to p = H, a 1x1 kernel with p = 2). Names "sides"
    (a part of the frame sent to the near side), "corners" (the corner blocks lost),
    "crop" (the frame cropped off as for zero padding), "sign" (the index (a + p) mod H);
    ``diagnose=False`` names none. Derived in notebooks/04_padding.ipynb.
    """
    cases = circular_cases(seed)
    return check(
        fn, _circular_expected, cases, "circular input gradient", _circular_attempts(), diagnose=diagnose
    )


def _transposed_attempt(kind):
    def answer(n, k, s, padding):
        top, bottom = padding
        r = (n + top + bottom - k) % s
        return {
            "leftover-rows": (k - 1 - top, k - 1 - bottom),
            "sides": (k - 1 - bottom, k - 1 - top + r),
            "padding": (k - 1 - top, k - 1 - top + (n + 2 * top - k) % s),
            "off-by-one": (k - top, k - bottom + r),
        }[kind]

    return answer


_TRANSPOSED_ATTEMPTS = [
    WrongAttempt(
        "leftover-rows",
        "leftover-rows: the after-padding leaves out, or miscounts, the r rows at the bottom that "
        "no window reads (sections 2 and 8); count r with this layer's own padding, top and "
        "bottom, and add them after the last δ.",
        _transposed_attempt("leftover-rows"),
    ),
    WrongAttempt(
        "sides",
        "sides: before and after are swapped; δ[0] is the window over input rows -top .. k - 1 - top, so "
        "the zeros before δ depend on top.",
        _transposed_attempt("sides"),
    ),
    WrongAttempt(
        "padding",
        "padding: that is section 8's symmetric answer with p = top, which ignores bottom; redo its steps "
        "with top zeros before the input and bottom zeros after it.",
        _transposed_attempt("padding"),
    ),
    WrongAttempt(
        "off-by-one",
        "off-by-one: one zero too many on each side: a valid correlation with a k-row kernel reads "
        "k - 1 rows beyond its output row, not k.",
        _transposed_attempt("off-by-one"),
    ),
]


def check_transposed_padding(fn, max_n=7, max_k=4, max_s=3, max_p=2):
    """Exercise: fn(n, k, s, (top, bottom)) -> (before, after), the zeros around dilate(δ, s).

    Every (n, k, s, top, bottom) with n ≤ max_n, s ≤ max_s, top and bottom ≤ max_p and
    k ≤ min(max_k, n + top + bottom) is checked, symmetric and asymmetric padding alike.
    The expected amounts are counted from what the padding must achieve, not from the
    closed formula: δ[0] belongs to the window over input rows −top .. k − 1 − top, and
    output u of a valid correlation reads positions u .. u + k − 1, so δ[0] must sit at
    position before = k − 1 − top; the padded length must be n + k − 1 so that the
    correlation returns n entries. Names "leftover-rows", "sides", "padding", "off-by-one".
    Derived in notebooks/04_padding.ipynb.
    """

    def expected(n, k, s, top, bottom):
        Ho = (n + top + bottom - k) // s + 1
        before = k - 1 - top
        return before, (n + k - 1) - before - ((Ho - 1) * s + 1)

    cases = [
        (n, k, s, top, bottom)
        for n in range(1, max_n + 1)
        for top in range(max_p + 1)
        for bottom in range(max_p + 1)
        for k in range(1, min(max_k, n + top + bottom) + 1)
        for s in range(1, max_s + 1)
    ]
    name = "transposed padding"
    wrong, answers = [], []  # every case runs; the first few wrong ones are printed, then the tally
    for number, (n, k, s, top, bottom) in enumerate(cases, 1):
        args = f"case {number} (n={n}, k={k}, s={s}, padding=({top}, {bottom}))"
        try:
            got = fn(n, k, s, (top, bottom))
        except Exception as e:  # a learner's bug must print, not crash the notebook
            wrong.append(f"  {args}: ERROR, raised {type(e).__name__}: {e}")
            continue
        if got is None:
            return not_implemented(name)
        want = expected(n, k, s, top, bottom)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or tuple(got) != want:
            wrong.append(f"  {args}: FAIL, expected (before, after) = {want}, got {got!r}")
            answers.append((number, (n, k, s, (top, bottom)), got, want))
    shown = wrong[:6] + ([f"  ... and {len(wrong) - 6} more wrong cases"] if len(wrong) > 6 else [])
    return report(
        name, shown, len(cases) - len(wrong), len(cases), likely_bugs(answers, _TRANSPOSED_ATTEMPTS)
    )


def _question_expected(dEdO, F, I_shape, s, p):  # the exercise's parameter names, for the case lines
    return _input_gradient_2d(dEdO, F, I_shape, s, p)


def _planted_question(dEdO, F, I_shape, s, p, sign=False, assign=False):
    """Exercise 3's loops with its planted bugs: -p for +p, = for +=."""
    dI = np.zeros(I_shape)
    for u in range(I_shape[0]):
        for v in range(I_shape[1]):
            for k in range(dEdO.shape[0]):
                for h in range(dEdO.shape[1]):
                    a, b = (u - k * s - p, v - h * s - p) if sign else (u - k * s + p, v - h * s + p)
                    if 0 <= a < F.shape[0] and 0 <= b < F.shape[1]:
                        dI[u, v] = dEdO[k, h] * F[a, b] + (0 if assign else dI[u, v])
    return dI


_QUESTION_BUGS = {
    "sign": ("sign", "sign: input row u is padded row u + p, so I[u, v] meets the filter entry "
             "F[u - ks + p, v - hs + p]; yours reads F[u - ks - p, ...], the gradient shifted by 2p."),
    "assign": ("accumulate", "accumulate: dI[u, v] keeps only the last output's term (= instead of +=); "
               "equation (1) sums over every output O[k, h] that I[u, v] feeds."),
}  # fmt: skip


def check_question_input_gradient(fn, seed=1, n=6, diagnose=True):
    """Exercise (find the bugs): fn(dEdO, F, I_shape, s, p) -> ∂E/∂I, the question's missing gradient.

    Compared with ``conv2d_backward`` (our ∂E/∂x). Names "sign" and "accumulate".
    Derived in notebooks/04_padding.ipynb.
    """
    cases = random_2d_cases(seed, n)
    attempts = combinations(_QUESTION_BUGS, _planted_question)
    return check(fn, _question_expected, cases, "question input gradient", attempts, diagnose=diagnose)
