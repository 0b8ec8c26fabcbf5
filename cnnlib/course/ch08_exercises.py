"""Notebook 08's exercises: their checkers, the wrong attempts each checker names, and the rules it enforces.

Used by notebooks/08_convolution_family.ipynb through ``ch08_convolution_family`` (which
re-exports the checkers). Each ``attempt_*`` function is a common wrong attempt, written as a
learner would; the notebook shows a checker on one of them, the tests on all of them.
"""

from __future__ import annotations

import sys

import numpy as np

import cnnlib as cl  # the mystery function of exercise 3 reads as a learner's code

from .. import check as learner_check
from .. import reference
from ..conv import conv2d_backward, conv2d_forward, dilate, rot180
from ..shapes import conv_output_size
from .grading import WrongAttempt, check_naming, forbid_calls

# --- Exercise 1: a dilated backward pass from a plain one ----------------------------------------


def _dilation_of(*args, **kwargs):
    # dilation is argument 5 of conv2d_forward(x, w, b, s, p, d) and conv2d_backward(dy, x, w, s, p, d)
    d = kwargs.get("dilation", args[5] if len(args) > 5 else 1)
    return d not in (1, (1, 1), [1, 1])


def _conv_modules():
    """Where a learner may find conv2d_forward/backward: cnnlib, cnnlib.conv, cnnlib.reference."""
    return [sys.modules[m] for m in ("cnnlib", "cnnlib.conv", "cnnlib.reference", "cnnlib.reference.conv")]


def _no_dilation_rule():
    targets = [(m, f) for m in _conv_modules() for f in ("conv2d_forward", "conv2d_backward")]
    return (
        "dilation-argument",
        "you called conv2d_forward/backward with dilation != 1: build the dilated layer's gradients "
        "from the plain (undilated) backward.",
        forbid_calls(targets, _dilation_of),
    )


def _taps(dw_holes, dilation):
    dh, dw_ = (dilation, dilation) if np.ndim(dilation) == 0 else dilation
    return dw_holes[..., ::dh, ::dw_]


def attempt_holes_kept(dy, x, w, stride, padding, dilation=1):
    """The dilated kernel's gradient returned whole: an entry for every hole as well."""
    return conv2d_backward(dy, x, dilate(w, dilation), stride, padding)


def attempt_first_rows(dy, x, w, stride, padding, dilation=1):
    """The dilated kernel's gradient cut to its first k rows and columns instead of its taps."""
    dx, dw_holes, db = conv2d_backward(dy, x, dilate(w, dilation), stride, padding)
    return dx, dw_holes[..., : w.shape[2], : w.shape[3]], db


DILATED_ATTEMPTS = (
    WrongAttempt(
        "holes-kept",
        "∂E/∂w has the dilated kernel's shape: the holes are not parameters; keep only the entries of "
        "the taps (every d-th row and column).",
        attempt_holes_kept,
    ),
    WrongAttempt(
        "first-rows",
        "∂E/∂w is the dilated kernel's gradient cut to its first k rows and columns: which entries of "
        "the dilated kernel hold the parameters w[m, n]?",
        attempt_first_rows,
    ),
)


def check_dilated_backward(fn):
    """Exercise: fn(dy, x, w, stride, padding, dilation=1) -> (dx, dw, db) without dilation= in any call.

    The cases of ``cnnlib.check`` (square and non-square, strides 1-3, padding 0-2) with
    dilation 2, compared with the loops ``reference.conv2d_backward``.
    """
    cases = []
    for case in learner_check.CONV_CASES:
        a = case.with_family(2, 1).arrays()
        cases.append((a["dy"], a["x"], a["w"], case.stride, case.padding, 2))

    def expected(dy, x, w, stride, padding, dilation):
        return reference.conv2d_backward(dy, x, w, stride, padding, dilation)

    return check_naming(
        fn, expected, cases, "dilated backward", DILATED_ATTEMPTS, ("dx", "dw", "db"), [_no_dilation_rule()]
    )


# --- Exercise 2: where the receptive field of one output starts and ends --------------------------


def measured_field_span(layers, i, H=96):
    """(first, last) input row that output row i of a stack of (k, s, d, p) layers reads, by backprop.

    A spike δ = 1 at output row i, kernels of ones (so no paths cancel), sent back through
    each layer with ``conv2d_backward``; the field is the span of the non-zero rows of ∂E/∂x.
    """
    shapes = [(1, 1, H, 1)]
    for k, s, d, p in layers:
        shapes.append((1, 1, conv_output_size(shapes[-1][2], k, s, p, d), 1))
    if not 0 <= i < shapes[-1][2]:
        raise ValueError(f"output row {i} does not exist: the stack maps {H} rows to {shapes[-1][2]}")
    delta = np.zeros(shapes[-1])
    delta[0, 0, i, 0] = 1.0
    for (k, s, d, p), shape in zip(reversed(layers), reversed(shapes[:-1]), strict=True):
        delta = conv2d_backward(delta, np.zeros(shape), np.ones((1, 1, k, 1)), (s, 1), (p, 0), (d, 1))[0]
    rows = np.flatnonzero(delta[0, 0, :, 0])
    if rows[0] == 0 or rows[-1] == H - 1:
        raise ValueError("the field reaches the input's border: measure with a larger H")
    return int(rows[0]), int(rows[-1])


def _span(layers, i, *, pad_scale="jump", last_extra=0, dilation_in_jump=False):
    """The closed form, or one of its wrong variants (for the wrong attempts)."""
    first, r, jump = 0, 1, 1
    for k, s, d, p in layers:
        scale = {"jump": jump, "none": 1, "own": jump * s, "zero": 0}[pad_scale]
        first -= p * scale
        r += (k - 1) * d * jump
        jump *= s * (d if dilation_in_jump else 1)
    first += i * jump
    return first, first + r - 1 + last_extra


FIELD_ATTEMPTS = (
    WrongAttempt(
        "padding-ignored",
        "your field starts at i·J_L, where it would start if no layer were padded: each padded layer "
        "moves its windows back; by how many input pixels?",
        lambda layers, i: _span(layers, i, pad_scale="zero"),
    ),
    WrongAttempt(
        "padding-not-scaled",
        "you subtract Σ p_l: a layer's padding counts in units of ITS input, which are J_{l-1} input "
        "pixels apart: subtract Σ p_l·J_{l-1}.",
        lambda layers, i: _span(layers, i, pad_scale="none"),
    ),
    WrongAttempt(
        "padding-own-stride",
        "you scale layer l's padding by J_l, which includes its own stride: its padding is in units "
        "of its input, J_{l-1} = Π_{l'<l} s_l' pixels apart.",
        lambda layers, i: _span(layers, i, pad_scale="own"),
    ),
    WrongAttempt(
        "off-by-one",
        "last = first + r: a field of r pixels that starts at `first` ends at first + r - 1.",
        lambda layers, i: _span(layers, i, last_extra=1),
    ),
    WrongAttempt(
        "dilation-in-jump",
        "you multiply the jump by the dilation: dilation spreads a layer's taps, not its outputs; "
        "neighbouring outputs are still s apart (J_l = J_{l-1}·s_l).",
        lambda layers, i: _span(layers, i, dilation_in_jump=True),
    ),
)

FIELD_CASES = [
    ([(3, 1, 1, 1)] * 3, 10),
    ([(3, 2, 1, 1), (3, 1, 1, 1)], 5),
    ([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)], 20),
    ([(5, 2, 1, 2), (3, 2, 1, 1), (3, 1, 2, 2)], 6),
    ([(2, 2, 1, 0)] * 3, 3),
    ([(4, 2, 1, 1), (3, 2, 2, 0), (1, 1, 1, 0)], 4),
    ([(3, 3, 2, 3), (3, 1, 1, 1)], 7),
]


def check_field_span(fn):
    """Exercise: fn(layers, i) -> (first, last) input row read by output row i; layers of (k, s, d, p).

    The right answer is measured by backprop (``measured_field_span``), not computed.
    """
    return check_naming(fn, measured_field_span, FIELD_CASES, "field span", FIELD_ATTEMPTS, ("first", "last"))


# --- Exercise 3: the transposed convolution's backward, find the bugs -----------------------------


def _transposed_modules():
    names = ("cnnlib", "cnnlib.conv_transpose", "cnnlib.reference", "cnnlib.reference.transposed")
    return [sys.modules[m] for m in names]


def _only_convolutions_rule():
    names = ("conv_transpose2d_forward", "conv_transpose2d_backward")
    targets = [(m, f) for m in _transposed_modules() for f in names]
    return (
        "transposed-library",
        "you called conv_transpose2d_forward/backward: the exercise builds the backward from "
        "conv2d_forward and conv2d_backward only.",
        forbid_calls(targets),
    )


def _transposed_backward(
    dy, x, w, stride, padding, *, flip=False, swap_dw=False, mean_db=False, stride1=False
):  # noqa: E501
    kernel = rot180(w) if flip else w
    dx = conv2d_forward(dy, kernel, None, 1 if stride1 else stride, padding)
    dw = conv2d_backward(x, dy, w, stride, padding)[1]
    if swap_dw:
        dw = dw.transpose(1, 0, 2, 3)
    db = dy.mean(axis=(0, 2, 3)) if mean_db else dy.sum(axis=(0, 2, 3))
    return dx, dw, db


TRANSPOSED_ATTEMPTS = (
    WrongAttempt(
        "flip",
        "∂E/∂x uses rot180(w): δ_p[d, is + m, js + n]·w[c, d, m, n] pairs δ and w at the same offset "
        "(m, n), a correlation with w itself, no flip (section 8.1).",
        lambda dy, x, w, s, p, op: _transposed_backward(dy, x, w, s, p, flip=True),
    ),
    WrongAttempt(
        "channel",
        "∂E/∂w has its two channel axes swapped: the transposed layer's w is (C_in, C_out, k, k), and "
        "conv2d_backward(dy=x, x=δ, w)'s weight gradient already comes out in that order.",
        lambda dy, x, w, s, p, op: _transposed_backward(dy, x, w, s, p, swap_dw=True),
    ),
    WrongAttempt(
        "bias",
        "∂E/∂b is a mean: every output pixel of every image adds b[d] once, so ∂E/∂b[d] is the plain "
        "sum of δ over the batch and all positions.",
        lambda dy, x, w, s, p, op: _transposed_backward(dy, x, w, s, p, mean_db=True),
    ),
    WrongAttempt(
        "stride",
        "∂E/∂x correlates δ at stride 1: input pixel (i, j) stamped its kernel at (is, js), so its "
        "gradient reads δ at stride s.",
        lambda dy, x, w, s, p, op: _transposed_backward(dy, x, w, s, p, stride1=True),
    ),
)


def mystery_conv_transpose_backward(dy, x, w, stride, padding, output_padding):
    """Notebook 08's exercise 3: the transposed convolution's backward with three planted bugs."""
    dx = cl.conv2d_forward(dy, cl.rot180(w), None, stride, padding)
    dw = cl.conv2d_backward(x, dy, w, stride, padding)[1].transpose(1, 0, 2, 3)
    db = dy.mean(axis=(0, 2, 3))
    return dx, dw, db


def check_conv_transpose_backward(fn, seed=0, diagnose=True):
    """Exercise: fn(dy, x, w, stride, padding, output_padding) -> (dx, dw, db) of a transposed convolution.

    Checked against the loops ``reference.conv_transpose2d_backward``; the learner's function
    may call only conv2d_forward and conv2d_backward.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for N, C, D, H, k, s, p, op in [
        (1, 1, 1, 3, 3, 2, 1, 1),
        (2, 2, 3, 4, 4, 2, 1, 0),
        (1, 3, 2, 3, 2, 3, 0, 2),
        (2, 2, 2, 5, 3, 1, 1, 0),
        (2, 3, 3, 4, 3, 2, 0, 1),
    ]:
        x = rng.standard_normal((N, C, H, H))
        w = rng.standard_normal((C, D, k, k))
        Ho = (H - 1) * s - 2 * p + k + op
        cases.append((rng.standard_normal((N, D, Ho, Ho)), x, w, s, p, op))

    def expected(dy, x, w, stride, padding, output_padding):
        return reference.conv_transpose2d_backward(dy, x, w, stride, padding, output_padding)

    return check_naming(
        fn,
        expected,
        cases,
        "transposed-convolution backward",
        TRANSPOSED_ATTEMPTS,
        ("dx", "dw", "db"),
        [_only_convolutions_rule()],
        diagnose,
    )


def attempt_field_padding_ignored(layers, i):
    """A first attempt at exercise 2: the jump and the width of section 10, the padding forgotten."""
    return _span(layers, i, pad_scale="zero")
