"""Notebook 08's exercises: their checkers, the wrong attempts each checker names, and the rules it enforces.

Used by notebooks/08_convolution_family.ipynb through ``ch08_convolution_family`` (which
re-exports the checkers). Each ``attempt_*`` function is a common wrong attempt, written as a
learner would; the notebook shows a checker on one of them, the tests on all of them.
"""

from __future__ import annotations

import sys

import numpy as np

import cnnlib as cl  # the attempts and the mystery function read as a learner's code

from .. import reference
from ..conv import conv2d_backward
from ..shapes import conv_output_size
from .grading import WrongAttempt, check_naming, combinations, forbid_calls

# --- Exercise 1: a dilated backward pass from plain ones, without the holes -----------------------


def _dilation_of(*args, **kwargs):
    # dilation is argument 5 of conv2d_forward(x, w, b, s, p, d) and conv2d_backward(dy, x, w, s, p, d)
    d = kwargs.get("dilation", args[5] if len(args) > 5 else 1)
    return d not in (1, (1, 1), [1, 1])


def _conv_modules():
    """Where a learner may find conv2d_forward/backward: cnnlib, cnnlib.conv, cnnlib.reference."""
    return [sys.modules[m] for m in ("cnnlib", "cnnlib.conv", "cnnlib.reference", "cnnlib.reference.conv")]


def _everywhere(name):
    """(module, name) for every module a learner may call ``name`` from, as ``forbid_calls`` takes them."""
    return [(m, name) for m in _conv_modules()]


def _no_dilation_rule():
    return (
        "dilation-argument",
        "you called conv2d_forward/backward with dilation != 1: build the dilated layer's gradients "
        "from plain (undilated) convolutions.",
        forbid_calls(_everywhere("conv2d_forward") + _everywhere("conv2d_backward"), _dilation_of),
    )


def _has_holes(kernel, w, d):
    """Whether kernel is w with d − 1 zeros between its taps (dilate(w, d), flipped or not), for d > 1."""
    if kernel is None or d == 1:
        return False
    kernel, (kh, kw) = np.asarray(kernel), np.shape(w)[2:]
    holes_shape = (d * (kh - 1) + 1, d * (kw - 1) + 1)
    if kernel.shape[2:] != holes_shape or holes_shape == (kh, kw):
        return False
    between = np.ones(holes_shape, dtype=bool)
    between[::d, ::d] = False
    return not kernel[..., between].any()


def _no_holes_rule():
    """A rule: no conv2d_forward/backward call may see a kernel with holes (dilate(w, d) or its flip)."""

    def guard(fn):
        seen = []

        def wrapped(dy, x, w, padding, dilation):
            def kernel_at(at):  # the kernel is argument 1 of conv2d_forward, argument 2 of conv2d_backward
                return lambda *a, **k: _has_holes(k.get("w", a[at] if len(a) > at else None), w, dilation)

            inner, saw_forward = forbid_calls(_everywhere("conv2d_forward"), kernel_at(1))(fn)
            inner, saw_backward = forbid_calls(_everywhere("conv2d_backward"), kernel_at(2))(inner)
            try:
                return inner(dy, x, w, padding, dilation)
            finally:
                seen.append(saw_forward() or saw_backward())

        return wrapped, lambda: any(seen)

    return (
        "dilated-kernel",
        "a conv2d_forward/backward call saw the kernel with holes, dilate(w, d) (section 1's route): "
        "its holes are multiplied like weights. Split the layer into plain convolutions with w itself.",
        guard,
    )


def attempt_dilated_kernel(dy, x, w, padding, dilation):
    """Section 1's route: the plain backward with dilate(w, d), its taps kept (right, but with the holes)."""
    dx, dw_holes, db = cl.conv2d_backward(dy, x, cl.dilate(w, dilation), 1, padding)
    return dx, dw_holes[..., ::dilation, ::dilation], db


def _phase_backward(
    dy, x, w, padding, dilation, *, overwrite=False, crop="each side", phases_of="x_p", skip_empty=True
):
    """The phase route of exercise 1, or it with a wrong attempt's bug switched on.

    phases_of: "x_p" (right), "x, each padded" (the phases of x, padding=p in every call), "x"
    (no padding at all), or "x_p into x's shape" (the phases of x_p collected in an array of x's shape).
    crop: "each side" (right), "one side" (dxp[:H, :W]) or "p:-p" (empty at p = 0).
    """
    d, p = dilation, padding
    H, W = x.shape[2:]
    xp = cl.pad(x, p)
    source, call_padding = {"x, each padded": (x, p), "x": (x, 0)}.get(phases_of, (xp, 0))
    dxp = np.zeros(xp.shape if phases_of == "x_p" else x.shape)
    dw, db = np.zeros(w.shape), np.zeros(w.shape[0])
    for a in range(d):
        for b in range(d):
            dy_ab = dy[:, :, a::d, b::d]
            if skip_empty and dy_ab.size == 0:
                continue
            dx_ab, dw_ab, db_ab = cl.conv2d_backward(dy_ab, source[:, :, a::d, b::d], w, 1, call_padding)
            dxp[:, :, a::d, b::d] = dx_ab
            dw, db = (dw_ab, db_ab) if overwrite else (dw + dw_ab, db + db_ab)
    if phases_of != "x_p":  # collected in x's shape already: nothing to crop
        return dxp, dw, db
    cropped = {"each side": dxp[:, :, p : p + H, p : p + W], "one side": dxp[:, :, :H, :W]}
    return cropped.get(crop, dxp[:, :, p:-p, p:-p]), dw, db


DILATED_ATTEMPTS = (
    WrongAttempt(
        "accumulate",
        "∂E/∂w (or ∂E/∂b) is the last phase's only: `=` where `+=` is needed. Every phase is a "
        "convolution with all of w, so each phase adds its share.",
        lambda dy, x, w, p, d: _phase_backward(dy, x, w, p, d, overwrite=True),
    ),
    WrongAttempt(
        "crop",
        "the padding is cropped from one side (dxp[:H, :W]): it is p rows and columns on each side, "
        "keep dxp[p:p + H, p:p + W].",
        lambda dy, x, w, p, d: _phase_backward(dy, x, w, p, d, crop="one side"),
    ),
    WrongAttempt(
        "crop",
        "dxp[p:-p] is empty when p = 0 (-0 is 0): keep dxp[p:p + H, p:p + W].",
        lambda dy, x, w, p, d: _phase_backward(dy, x, w, p, d, crop="p:-p"),
    ),
    WrongAttempt(
        "phases-of-x",
        "you split the unpadded x into phases and padded each phase (padding=p in every call): pad x "
        "first, then split the padded input into phases. The phases of x_p, not of x, are what each "
        "output phase reads; call conv2d_backward on them with no padding, then crop p off each side.",
        lambda dy, x, w, p, d: _phase_backward(dy, x, w, p, d, phases_of="x, each padded"),
    ),
    WrongAttempt(
        "padding",
        "x is not padded: the windows read x_p, x with p zero rows and columns on each side. Pad x "
        "first, split x_p into phases, and crop p off each side of its gradient at the end.",
        lambda dy, x, w, p, d: _phase_backward(dy, x, w, p, d, phases_of="x"),
    ),
    WrongAttempt(
        "crop",
        "you collect the phases' gradients in an array of x's shape: they are gradients of the phases "
        "of x_p, so collect them in an array of x_p's shape and cut p rows and columns off each side "
        "at the end.",
        lambda dy, x, w, p, d: _phase_backward(dy, x, w, p, d, phases_of="x_p into x's shape"),
    ),
    WrongAttempt(
        "empty-phase",
        "when H_o < d (or W_o < d) some phases of δ are empty, and conv2d_backward refuses a phase "
        "with no output: skip a phase whose δ is empty (it sends nothing back).",
        lambda dy, x, w, p, d: _phase_backward(dy, x, w, p, d, skip_empty=False),
    ),
)

# (N, C, D, H, W, kh, kw, padding, dilation)
DILATED_SHAPES = [
    (1, 1, 1, 5, 5, 2, 2, 0, 2),  # phases of 3 and 2 rows
    (2, 2, 3, 6, 7, 3, 2, 1, 2),
    (1, 3, 2, 7, 7, 3, 3, 0, 3),  # one output: 8 of the 9 phases have none
    (2, 2, 2, 8, 6, 2, 3, 2, 3),  # p not a multiple of d
    (1, 2, 2, 9, 9, 3, 3, 2, 2),
    (1, 2, 3, 5, 10, 1, 3, 1, 2),  # a 1-row kernel: dilation along the columns only
    (3, 1, 1, 6, 6, 2, 2, 1, 4),  # Ho = d: one output row per phase
]


def check_dilated_backward(fn, seed=0):
    """Exercise: fn(dy, x, w, padding, dilation) -> (dx, dw, db) of a stride-1 dilated convolution.

    Built from plain convolutions: every conv2d_forward/backward call is watched, and one with
    dilation != 1 or with a kernel with holes (dilate(w, d)) breaks the exercise's rules.
    Compared with the loops ``reference.conv2d_backward(dy, x, w, 1, padding, dilation)``.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for N, C, D, H, W, kh, kw, p, d in DILATED_SHAPES:
        x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((D, C, kh, kw))
        Ho, Wo = conv_output_size(H, kh, 1, p, d), conv_output_size(W, kw, 1, p, d)
        cases.append((rng.standard_normal((N, D, Ho, Wo)), x, w, p, d))

    def expected(dy, x, w, padding, dilation):
        return reference.conv2d_backward(dy, x, w, 1, padding, dilation)

    rules = [_no_dilation_rule(), _no_holes_rule()]
    return check_naming(fn, expected, cases, "dilated backward", DILATED_ATTEMPTS, ("dx", "dw", "db"), rules)


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
    dy, x, w, s, p, op, *, flip=False, channel=False, cut=False, mean_db=False, stride1=False
):
    """The transposed convolution's backward from convolutions, or it with wrong attempts' bugs on."""
    if cut:  # the output_padding rows and columns dropped from δ
        dy = dy[:, :, : dy.shape[2] - op, : dy.shape[3] - op]
    dx = cl.conv2d_forward(dy, cl.rot180(w) if flip else w, None, 1 if stride1 else s, p)
    dw = cl.conv2d_backward(x, dy, w, s, p)[1]
    if channel:
        dw = dw.transpose(1, 0, 2, 3)
    db = dy.mean(axis=(0, 2, 3)) if mean_db else dy.sum(axis=(0, 2, 3))
    return dx, dw, db


# keyword of _transposed_backward -> (bug id, the learner's words); the first three are the mystery's
TRANSPOSED_BUGS = {
    "flip": (
        "flip",
        "∂E/∂x uses rot180(w): δ_p[d, is + m, js + n]·w[c, d, m, n] pairs δ and w at the same offset "
        "(m, n), a correlation with w itself, no flip (section 8.1).",
    ),
    "channel": (
        "channel",
        "∂E/∂w has its two channel axes swapped: the transposed layer's w is (C_in, C_out, k, k), and "
        "conv2d_backward(dy=x, x=δ, w)'s weight gradient already comes out in that order.",
    ),
    "cut": (
        "output-padding",
        "δ's output_padding rows and columns are cut off: they are outputs like any other. b reaches "
        "every one of them, and with padding ≥ 1 the last windows' overhang does too, so ∂E/∂b (and "
        "then ∂E/∂x and ∂E/∂w) need the whole δ.",
    ),
    "mean_db": (
        "bias",
        "∂E/∂b is a mean: every output pixel of every image adds b[d] once, so ∂E/∂b[d] is the plain "
        "sum of δ over the batch and all positions.",
    ),
    "stride1": (
        "stride",
        "∂E/∂x correlates δ at stride 1: input pixel (i, j) stamped its kernel at (is, js), so its "
        "gradient reads δ at stride s.",
    ),
}

TRANSPOSED_ATTEMPTS = tuple(
    combinations(
        TRANSPOSED_BUGS, lambda dy, x, w, s, p, op, **bugs: _transposed_backward(dy, x, w, s, p, op, **bugs)
    )
)


def mystery_conv_transpose_backward(dy, x, w, stride, padding, output_padding):
    """Notebook 08's exercise 3: the transposed convolution's backward with three planted bugs."""
    Ho, Wo = dy.shape[2] - output_padding, dy.shape[3] - output_padding
    dy = dy[:, :, :Ho, :Wo]  # I think no window of x reaches the output_padding rows and columns
    dx = cl.conv2d_forward(dy, cl.rot180(w), None, stride, padding)
    dw = cl.conv2d_backward(x, dy, w, stride, padding)[1].transpose(1, 0, 2, 3)
    db = dy.sum(axis=(0, 2, 3))
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
