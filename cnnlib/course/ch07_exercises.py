"""Notebook 07's exercises: their checkers, the wrong attempts each checker names, and the rule it enforces.

Used by notebooks/07_fast_convolution.ipynb through ``ch07_fast_convolution`` (which re-exports
the checkers). Each ``attempt_*`` function is a common wrong attempt, written as a learner would;
the notebook shows a checker on one of them, the tests on all of them.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import cnnlib as cl  # the mystery function of exercise 3 reads as a learner's code

from ..conv import conv2d_backward, dilate, pad
from ..reference import im2col_windows
from ..shapes import conv_output_size
from .grading import WrongAttempt, check_naming, combinations, random_conv_cases

# --- Exercise 1: im2col by kernel offsets ----------------------------------------------------------


def _offset_slices(xp, kh, kw, s, start, step):
    """cols[:, :, m, n] = xp[:, :, start(m) :: step, start(n) :: step], cut to the output size."""
    N, C, Hp, Wp = xp.shape
    Ho, Wo = (Hp - kh) // s + 1, (Wp - kw) // s + 1
    cols = np.empty((N, C, kh, kw, Ho, Wo))
    for m in range(kh):
        for n in range(kw):
            cols[:, :, m, n] = xp[:, :, start(m) :: step, start(n) :: step][:, :, :Ho, :Wo]
    return cols


def attempt_im2col_window_axes(xp, kh, kw, s):
    """The window view of step 1 as it comes: (N, C, Ho, Wo, kh, kw), window axes last."""
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::s, ::s]


IM2COL_ATTEMPTS = (
    WrongAttempt(
        "axes",
        "your array is laid out (N, C, Ho, Wo, kh, kw), window axes last: the exercise wants the "
        "kernel offset first, cols[img, c, m, n, i, j]; move the axes (or index the other way).",
        attempt_im2col_window_axes,
    ),
    WrongAttempt(
        "stride",
        "the rows of offset m are m, m + 1, m + 2, ...: window i starts at row i·s, so offset m reads "
        "rows m, m + s, m + 2s, ... (a slice with step s).",
        lambda xp, kh, kw, s: _offset_slices(xp, kh, kw, s, lambda m: m, 1),
    ),
)


def check_im2col(fn, seed=0):
    """Exercise: fn(xp, kh, kw, s) -> the windows (N, C, kh, kw, Ho, Wo) of a padded input.

    Cases: strides 1-3, kernels smaller and larger than the stride, non-square
    kernels and inputs, and rows left over when (Hp − kh) mod s ≠ 0.
    Expected: ``reference.im2col_windows`` (loops). Derived in notebooks/07_fast_convolution.ipynb.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for N, C, Hp, Wp, kh, kw, s in [
        (1, 1, 4, 4, 2, 2, 1),
        (2, 3, 6, 5, 3, 2, 1),
        (1, 2, 7, 8, 3, 3, 2),  # (7 - 3) mod 2 = 0, (8 - 3) mod 2 = 1: a column left over
        (2, 1, 8, 7, 2, 1, 3),  # s > k: input rows no window reads
        (1, 2, 5, 9, 1, 4, 2),
    ]:
        cases.append((rng.integers(-9, 10, size=(N, C, Hp, Wp)).astype(float), kh, kw, s))

    def expected(xp, kh, kw, s):
        return im2col_windows(xp, kh, kw, s)

    return check_naming(fn, expected, cases, "im2col", IM2COL_ATTEMPTS)


# --- Exercise 2: how many of a pixel's products meet a δ (on paper) -----------------------------------


def counted_products_meeting_delta(u, Ho, k, s):
    """Row u of pad(dilate(δ, s), k − 1) ★ rot180(w), built: how many of its k products meet a δ row.

    A δ of Ho ones is dilated and fully padded exactly as the rot180 route does; row u of the
    result reads rows u .. u + k − 1 of that array, and the count is how many of them are δ.
    """
    full = pad(dilate(np.ones((1, 1, Ho, 1)), (s, 1)), (k - 1, 0))[0, 0, :, 0]
    if not 0 <= u < full.size - k + 1:
        raise ValueError(f"row u = {u} is outside the route's output, rows 0 .. {full.size - k}")
    return int(np.count_nonzero(full[u : u + k]))


def _count(u, Ho, k, s, *, low="ceil", clamp_top=True, clamp_bottom=True):
    """The closed form, or one of its wrong variants (for the wrong attempts)."""
    hi = u // s if not clamp_bottom else min(Ho - 1, u // s)
    lo = -(-(u - k + 1) // s) if low == "ceil" else (u - k + 1) // s
    lo = max(0, lo) if clamp_top else lo
    return max(0, hi - lo + 1)


COUNT_ATTEMPTS = (
    WrongAttempt(
        "last-row",
        "rows past the last δ row are counted: i runs only up to Ho − 1, so clamp the upper end at Ho − 1.",
        lambda u, Ho, k, s: _count(u, Ho, k, s, clamp_bottom=False),
    ),
    WrongAttempt(
        "first-row",
        "δ rows before row 0 are counted: i starts at 0, so clamp the lower end at 0.",
        lambda u, Ho, k, s: _count(u, Ho, k, s, clamp_top=False),
    ),
    WrongAttempt(
        "floor",
        "the lower end rounds down: i·s ≥ u − k + 1 needs i ≥ ⌈(u − k + 1)/s⌉, rounded up.",
        lambda u, Ho, k, s: _count(u, Ho, k, s, low="floor"),
    ),
    WrongAttempt(
        "schmidt-rows",
        "you return k//s for every row (the sums' literal range in Schmidt's notes): the count "
        "depends on the row u; count, for one u, which δ rows its k products meet.",
        lambda u, Ho, k, s: k // s,
    ),
    WrongAttempt(
        "interior",
        "you return ⌈k/s⌉ for every row: that is the most a row can get; near the ends of δ fewer of "
        "its kernel rows land on δ, and where s does not divide k the count alternates.",
        lambda u, Ho, k, s: -(-k // s),
    ),
)

COUNT_CASES = [
    (0, 4, 3, 2),  # the first row: only δ row 0 reaches it
    (4, 4, 3, 2),  # interior, s does not divide k: 2 here ...
    (5, 4, 3, 2),  # ... and 1 on the next row
    (8, 4, 3, 2),  # the last row of the route's output
    (8, 5, 2, 3),  # k < s: a row no δ row reaches
    (6, 5, 4, 2),  # k = 2s
    (8, 3, 5, 2),  # the last row: rows past the last δ row do not count
    (12, 6, 7, 3),  # k > 2s
]


def check_products_meeting_delta(fn):
    """Exercise: fn(u, Ho, k, s) -> how many of row u's k products meet a δ row in the rot180 route.

    Expected: counted on the built arrays (``counted_products_meeting_delta``).
    """
    return check_naming(
        fn, counted_products_meeting_delta, COUNT_CASES, "products meeting δ", COUNT_ATTEMPTS, ("count",)
    )


# --- Exercise 3: Schmidt's stride formula, find the bugs -------------------------------------------


def _phases(
    dy, w, x_shape, s, p, *, rows=False, flip_order=False, pad_kernel=False, no_flip=False, crop=False
):
    """The zero-free phase route, or it with the wrong attempts' bugs switched on (each keyword one bug)."""
    N, C, H, W = x_shape
    kh, kw = w.shape[2:]
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p))
    for rho in range(s):
        for sig in range(s):
            # flip_order: the phase of the flipped kernel instead of the flipped phase of the kernel
            sub = cl.rot180(w)[:, :, rho::s, sig::s] if flip_order else w[:, :, rho::s, sig::s]
            if rows:  # the sums' literal k/s terms
                sub = sub[:, :, : kh // s, : kw // s]
            if sub.size == 0:
                continue
            a, c = sub.shape[2:]
            kernel = sub if (flip_order or no_flip) else cl.rot180(sub)
            full = cl.pad(dy, (kh - 1, kw - 1) if pad_kernel else (a - 1, c - 1))
            part = cl.conv2d_forward(full, kernel.transpose(1, 0, 2, 3))
            target = dxp[:, :, rho::s, sig::s]
            h, v = min(part.shape[2], target.shape[2]), min(part.shape[3], target.shape[3])
            target[:, :, :h, :v] = part[:, :, :h, :v]
    return dxp[:, :, :H, :W] if crop else dxp[:, :, p : p + H, p : p + W]


def attempt_phases_dilated(dy, w, x_shape, stride, padding):
    """Notebook 07's rot180 route: dilate, pad, correlate with rot180(w) (right, but with the zeros)."""
    N, C, H, W = x_shape
    kh, kw = w.shape[2:]
    full = cl.pad(cl.dilate(dy, stride), (kh - 1, kw - 1))
    reached = cl.conv2d_forward(full, cl.rot180(w).transpose(1, 0, 2, 3))
    dxp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    dxp[:, :, : reached.shape[2], : reached.shape[3]] = reached
    return dxp[:, :, padding : padding + H, padding : padding + W]


# keyword of _phases -> (bug id, the learner's words); the first three are the mystery function's
PHASE_BUGS = {
    "rows": (
        "schmidt-rows",
        "your sub-kernels have k//s rows and columns (the literal range of Schmidt's sums): phase ρ "
        "receives the kernel rows m ≡ ρ (mod s), ⌈(k − ρ)/s⌉ of them; k//s drops rows when s does not "
        "divide k, and all of them when k < s.",
    ),
    "flip_order": (
        "flip-order",
        "you take phase (ρ, σ) of the flipped kernel, rot180(w)[:, :, ρ::s, σ::s]: that phase holds the "
        "rows m ≡ k − 1 − ρ (mod s), another phase's rows. Cut the phase's own sub-kernel "
        "w[:, :, ρ::s, σ::s] first, then flip it.",
    ),
    "pad_kernel": (
        "padding",
        "δ is padded by k − 1, as in section 8's route: a full correlation with a sub-kernel of a rows "
        "pads a − 1 rows (and c − 1 columns); with k − 1 the phase's rows come out shifted by k − a.",
    ),
    "no_flip": (
        "flip",
        "the sub-kernel is not flipped: phase row t gathers Σ_j δ[t − j]·sub[j], a full correlation "
        "with rot180 of the sub-kernel.",
    ),
    "crop": (
        "crop",
        "the padding is cropped from one side (dxp[:H, :W]): it is p rows and columns on each side, "
        "keep dxp[p:p + H, p:p + W].",
    ),
}

# every mix of the bugs (the mystery function has the first three); a kernel is flipped one way only
PHASE_ATTEMPTS = tuple(
    combinations(
        PHASE_BUGS,
        lambda dy, w, x_shape, s, p, **bugs: _phases(dy, w, x_shape, s, p, **bugs),
        exclusive=("flip_order", "no_flip"),
    )
)


def schmidt_phases(dy, w, x_shape, stride, padding):
    """Notebook 07's exercise 3: section 8's route split into phases, Schmidt's k/s sums, three bugs."""
    N, C, H, W = x_shape
    s, p = stride, padding
    kh, kw = w.shape[2:]
    flipped = cl.rot180(w)  # as in section 8
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p))
    for rho in range(s):
        for sig in range(s):
            sub = flipped[:, :, rho::s, sig::s][:, :, : kh // s, : kw // s]  # the sums run over k/s terms
            if sub.size == 0:
                continue
            full = cl.pad(dy, (kh - 1, kw - 1))  # δ fully padded as in section 8, but not dilated
            part = cl.conv2d_forward(full, sub.transpose(1, 0, 2, 3))
            target = dxp[:, :, rho::s, sig::s]  # a view: writing into it fills dxp
            h, v = min(part.shape[2], target.shape[2]), min(part.shape[3], target.shape[3])
            target[:, :, :h, :v] = part[:, :, :h, :v]
    return dxp[:, :, p : p + H, p : p + W]


# the memory case: 16 kernels' δ of 32 x 32 at stride 4 and one input channel. pad(dilate(δ, 4), k − 1)
# has 131² entries per kernel where δ has 32², 16.8x its bytes; the zero-free routes stay near 1-4x.
MEMORY_FACTOR = 8


def _memory_rule():
    def guard(fn):
        worst = []

        def measured(*args):
            dy = args[0]
            if np.size(dy) < 16384:  # only the memory case is measured
                return fn(*args)
            tracemalloc.start()
            try:
                return fn(*args)
            finally:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                worst.append(peak / np.asarray(dy).nbytes)

        return measured, lambda: bool(worst) and max(worst) > MEMORY_FACTOR

    return (
        "dilated-zeros",
        f"on the large case your function needed more than {MEMORY_FACTOR}x the memory of δ: it builds "
        "the dilated, padded δ (about s² times δ) that this route exists to avoid; correlate the "
        "undilated δ with each phase's sub-kernel.",
        guard,
    )


def check_input_gradient(fn, seed=0, diagnose=True):
    """Exercise: fn(dy, w, x_shape, stride, padding) -> ∂E/∂x (N, C, H, W), without the dilated δ.

    The signature of ``cnnlib.reference.conv2d_backward_input``. Cases include strides
    larger than the kernel (phases of the input no kernel weight reaches), kernels the stride
    does not divide, padding, and one large case whose peak memory (tracemalloc) must stay
    below MEMORY_FACTOR times δ's bytes. Derived in notebooks/07_fast_convolution.ipynb.
    """
    rng = np.random.default_rng(seed + 1)
    cases = []
    for x, w, s, p in random_conv_cases(seed, n=5) + [
        (np.zeros((1, 2, 7, 7)), np.zeros((2, 2, 1, 2)), 3, 0),
        (np.zeros((2, 1, 8, 6)), np.zeros((3, 1, 3, 3)), 2, 1),
        (np.zeros((1, 1, 128, 128)), np.zeros((16, 1, 4, 4)), 4, 0),  # the memory case
    ]:
        w = rng.standard_normal(w.shape)
        Ho = conv_output_size(x.shape[2], w.shape[2], s, p)
        Wo = conv_output_size(x.shape[3], w.shape[3], s, p)
        cases.append((rng.standard_normal((x.shape[0], w.shape[0], Ho, Wo)), w, x.shape, s, p))

    def expected(dy, w, x_shape, stride, padding):
        return conv2d_backward(dy, np.zeros(x_shape), w, stride, padding)[0]

    return check_naming(
        fn, expected, cases, "dE/dx", PHASE_ATTEMPTS, rules=[_memory_rule()], diagnose=diagnose
    )
