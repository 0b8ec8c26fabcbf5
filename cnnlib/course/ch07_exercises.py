"""Notebook 07's exercises: their checkers, the wrong attempts each checker names, and the rule it enforces.

Used by notebooks/07_fast_convolution.ipynb through ``ch07_fast_convolution`` (which re-exports
the checkers). Each ``attempt_*`` function is a common wrong attempt, written as a learner would;
the notebook shows a checker on one of them, the tests on all of them.
"""

from __future__ import annotations

import tracemalloc

import numpy as np

import cnnlib as cl  # the mystery function of exercise 3 reads as a learner's code

from ..conv import conv2d_backward, dilate, pad
from ..reference import im2col_windows
from ..shapes import conv_output_size
from .grading import WrongAttempt, check_naming, combinations, limit_lines, random_conv_cases

# --- Exercise 1: im2col by kernel offsets, for a dilated kernel ---------------------------------------


def _windows_fitting(n, k, s, d):
    """H_o: the last window's last tap, row (H_o − 1)s + (k − 1)d, is inside the n rows."""
    return (n - d * (k - 1) - 1) // s + 1


def dilated_windows(xp, kh, kw, s, d):
    """The right answer, by another route: the windows of the kernel's whole span, every d-th tap kept."""
    return im2col_windows(xp, d * (kh - 1) + 1, d * (kw - 1) + 1, s)[:, :, ::d, ::d]


def _attempt(start=lambda m, s, d: m * d, step=lambda s, d: s, count=_windows_fitting):
    """An attempt that slices xp[start(m) :: step] per offset, cut to count(...) windows, and stacks them
    (not written into an array of the right shape, so a wrong count shows as a wrong shape)."""

    def attempt(xp, kh, kw, s, d):
        Ho, Wo, a = count(xp.shape[2], kh, s, d), count(xp.shape[3], kw, s, d), step(s, d)
        cols = [
            [xp[:, :, start(m, s, d) :: a, start(n, s, d) :: a][:, :, :Ho, :Wo] for n in range(kw)]
            for m in range(kh)
        ]
        return np.array(cols).transpose(2, 3, 0, 1, 4, 5)

    return attempt


def attempt_im2col_plain_windows(xp, kh, kw, s, d):
    """Step 1's window view of a plain kh x kw kernel, moved offset-first: the dilation left out."""
    return im2col_windows(xp, kh, kw, s)


IM2COL_ATTEMPTS = (
    WrongAttempt(
        "plain-windows",
        "these are the windows of a plain kh × kw kernel (the dilation left out): a dilated window "
        "spans more rows than kh, so fewer windows fit, and its taps are d rows apart.",
        attempt_im2col_plain_windows,
    ),
    WrongAttempt(
        "axes",
        "your array is laid out (N, C, Ho, Wo, kh, kw), window axes last: the exercise wants the "
        "kernel offset first, cols[img, c, m, n, i, j]; move the axes (or index the other way).",
        lambda *args: dilated_windows(*args).transpose(0, 1, 4, 5, 2, 3),
    ),
    WrongAttempt(
        "stride-on-offset",
        "the stride multiplies your offset (rows m·s + i·d): the stride moves the window, so it "
        "multiplies the window index i; the dilation spreads the kernel, so it multiplies the offset m.",
        _attempt(start=lambda m, s, d: m * s, step=lambda s, d: d),
    ),
    WrongAttempt(
        "dilation-step",
        "your slice steps by d (rows m·d + i·d): along one offset's slice the window index i moves, "
        "and consecutive windows are s rows apart.",
        _attempt(step=lambda s, d: d),
    ),
    WrongAttempt(
        "stride",
        "the rows of offset m are m·d, m·d + 1, m·d + 2, ...: window i starts at row i·s, so its "
        "slice steps by s.",
        _attempt(step=lambda s, d: 1),
    ),
    WrongAttempt(
        "dilation",
        "offset m's slice starts at row m: with dilation d, kernel row m sits m·d rows below the "
        "window's top row.",
        _attempt(start=lambda m, s, d: m),
    ),
    WrongAttempt(
        "effective-size",
        "too few windows: a dilated window spans d·(k − 1) + 1 rows, not d·k (from its first tap to "
        "its last there are k − 1 gaps of d rows).",
        _attempt(count=lambda n, k, s, d: max(0, (n - d * k) // s + 1)),
    ),
    WrongAttempt(
        "off-by-one",
        "one window too few: your slice stops at the last window's row, but a slice's stop is "
        "exclusive; stop it one step (s rows) later, or count the windows: Ho of them.",
        _attempt(count=lambda n, k, s, d: _windows_fitting(n, k, s, d) - 1),
    ),
)

# (N, C, Hp, Wp, kh, kw, s, d): dilation 1 (plain), d < s, d = s, d > s, a 1-row kernel, rows left over
IM2COL_CASES = [
    (1, 1, 5, 5, 2, 2, 1, 2),
    (2, 3, 7, 6, 3, 2, 1, 1),
    (1, 2, 9, 8, 3, 3, 2, 2),  # (8 − 5) mod 2 = 1: a column left over
    (2, 1, 10, 9, 2, 3, 3, 2),  # s > d
    (1, 2, 8, 11, 1, 4, 2, 3),  # a kernel one row high: its dilation changes only the columns
    (1, 1, 11, 10, 3, 2, 2, 3),  # d > s
    (1, 1, 24, 24, 3, 3, 1, 2),  # 20 × 20 windows: a loop over them shows (window-loop)
]
LARGE_IM2COL_WINDOWS = 400


def _no_window_loop_im2col():
    def windows(xp, kh, kw, s, d):
        Hp, Wp = np.shape(xp)[2:]
        return _windows_fitting(Hp, kh, s, d) * _windows_fitting(Wp, kw, s, d)

    return (
        "window-loop",
        f"on the case with {LARGE_IM2COL_WINDOWS} windows your code ran a line of Python (or more) per "
        "window: a loop over the windows. Loop over the kh·kw offsets only, each filled with one "
        "strided slice that holds every window at once.",
        limit_lines(windows, when=lambda *args: windows(*args) >= LARGE_IM2COL_WINDOWS),
    )


def check_im2col(fn, seed=0):
    """Exercise: fn(xp, kh, kw, s, d) -> the windows (N, C, kh, kw, Ho, Wo) of a padded input, dilation d.

    cols[img, c, m, n, i, j] = xp[img, c, i·s + m·d, j·s + n·d]. Cases: dilation 1 to 3 below, at and
    above the stride, non-square kernels and inputs, rows left over, and one case of 400 windows on
    which a Python loop over the windows breaks the rule. Expected: ``reference.im2col_windows`` of the
    kernel's whole span, every d-th offset kept. Derived in notebooks/07_fast_convolution.ipynb.
    """
    rng = np.random.default_rng(seed)
    cases = [
        (rng.integers(-9, 10, size=(N, C, Hp, Wp)).astype(float), kh, kw, s, d)
        for N, C, Hp, Wp, kh, kw, s, d in IM2COL_CASES
    ]

    return check_naming(
        fn, dilated_windows, cases, "im2col", IM2COL_ATTEMPTS, rules=[_no_window_loop_im2col()]
    )


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
        "unclipped",
        "your range of δ rows is not clipped: near the ends of δ it counts rows i < 0 or i > Ho − 1, "
        "windows past the ends of δ that do not exist; clip i to 0 .. Ho − 1 at both ends.",
        lambda u, Ho, k, s: _count(u, Ho, k, s, clamp_top=False, clamp_bottom=False),
    ),
    WrongAttempt(
        "interior",
        "you return ⌈k/s⌉ for every row, the same number whatever u is: that is the most a row can get; "
        "near the ends of δ fewer of its kernel rows land on δ, and where s does not divide k the count "
        "alternates from row to row.",
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


def phases_with_bugs(
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


# keyword of phases_with_bugs -> (bug id, the learner's words); the first three are the mystery function's
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

# every mix of the bugs but the mystery's own three (named as the planted code unchanged, below);
# a kernel is flipped one way only
_MYSTERY_BUGS = ("schmidt-rows", "flip-order", "padding")
PHASE_ATTEMPTS = tuple(
    attempt
    for attempt in combinations(
        PHASE_BUGS,
        lambda dy, w, x_shape, s, p, **bugs: phases_with_bugs(dy, w, x_shape, s, p, **bugs),
        exclusive=("flip_order", "no_flip"),
    )
    if attempt.bug != _MYSTERY_BUGS
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


# the mystery pasted unchanged: its verdicts, not a list of its bugs (finding them is the exercise)
PLANTED_UNCHANGED = WrongAttempt(
    "planted-unchanged",
    "your function returns exactly what the printed ch.schmidt_phases returns: none of its three bugs "
    "is fixed yet. Hold each of its lines against the rows you derived on paper.",
    lambda *args: schmidt_phases(*args),
)


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
        fn,
        expected,
        cases,
        "dE/dx",
        (PLANTED_UNCHANGED, *PHASE_ATTEMPTS),
        rules=[_memory_rule()],
        diagnose=diagnose,
    )
