"""Notebook 05's exercises: their checkers and the wrong attempts each checker names.

Used by notebooks/05_pooling_and_a_full_cnn.ipynb through ``ch05_pooling_and_a_full_cnn`` (which
re-exports the checkers). The pooling checkers are ``cnnlib.check``'s (its ``report.bugs`` holds
the ids of the bugs it names); exercise 1's names first the bugs of its loop over the window
offsets (``MAXPOOL_ATTEMPTS``) and refuses a loop over the windows by counting lines of Python
(``grading.limit_lines``); exercise 2's refuses the same loop, and any number of
``conv2d_backward`` calls but one (``grading.call_once``); the kernel-and-bias checker names its own
wrong attempts.
"""

from __future__ import annotations

import sys

import numpy as np

import cnnlib as cl  # the functions below read as a learner's code

from .. import check as learner_check
from ..check.cases import POOL_CASES, PoolCase
from ..conv import conv2d_backward, rot180
from ..shapes import as_pair
from .grading import (
    WrongAttempt,
    call_once,
    check_naming,
    combinations,
    forbid_calls,
    library_check_with_rules,
    library_functions,
    limit_lines,
    name_in_report,
    planted_unchanged,
)


def _no_library_pool(kind):
    modules = [sys.modules[m] for m in ("cnnlib", "cnnlib.pool", "cnnlib.reference", "cnnlib.reference.pool")]
    name = f"{kind}pool2d_backward"
    return (
        "library-pool",
        f"you called {name}, the library's answer to this exercise: write the backward yourself.",
        forbid_calls([(m, name) for m in modules if hasattr(m, name)]),
    )


# --- Exercise 1: find the bugs in a max pooling backward that loops over the offsets ---------------


def mystery_maxpool_backward(dy, x, size, stride):
    """Notebook 05's exercise 1: a max pooling backward (NCHW) over a window's offsets, two planted bugs."""
    kh, kw = (size, size) if np.isscalar(size) else size
    if stride is None:
        sh, sw = kh, kw
    else:
        sh, sw = (stride, stride) if np.isscalar(stride) else stride
    N, C, Ho, Wo = dy.shape
    z = cl.maxpool2d_forward(x, (kh, kw), (sh, sw))  # every window's maximum, (N, C, Ho, Wo)
    dx = np.zeros_like(x)
    for m in range(kh):  # one pass per offset (m, n) inside a window ...
        for n in range(kw):
            # ... over all windows at once: entry (i, j) of this slice is pixel x[..., i*sh + m, j*sw + n]
            rows = slice(m, m + (Ho - 1) * sh + 1, sh)
            cols = slice(n, n + (Wo - 1) * sw + 1, sw)
            is_max = x[:, :, rows, cols] == z  # is pixel (m, n) of window (i, j) its maximum?
            dx[:, :, rows, cols] = is_max * dy
    return dx


def offset_loop_with_bugs(
    dy,
    x,
    size,
    stride,
    *,
    tie=False,
    assign=False,
    split=False,
    index_kh=False,
    step_1=False,
    pixel_flag=False,
):
    """The offset loop right (first maximum, +=), or with the bugs a learner's copy may keep or add.

    tie: δ to every pixel equal to the maximum; assign: ``=`` for ``+=``; split: δ shared equally
    by a window's tied maxima; index_kh: the winner's flat index m·kw + n written m·kh + n;
    step_1: the slices step by 1 instead of the stride; pixel_flag: a pixel that holds a δ already
    (dx != 0) gets no other, where the flag belongs to the window.
    """
    (kh, kw), (sh, sw) = as_pair(size, "size"), as_pair(size if stride is None else stride, "stride")
    N, C, Ho, Wo = dy.shape
    z = cl.maxpool2d_forward(x, (kh, kw), (sh, sw))
    views = [
        (slice(m, m + Ho), slice(n, n + Wo))
        if step_1
        else (slice(m, m + (Ho - 1) * sh + 1, sh), slice(n, n + (Wo - 1) * sw + 1, sw))
        for m in range(kh)
        for n in range(kw)
    ]
    ties = sum((x[:, :, r, c] == z).astype(float) for r, c in views)
    first = np.stack([x[:, :, r, c] for r, c in views], axis=-1).argmax(axis=-1)
    dx, routed = np.zeros_like(x), np.zeros(dy.shape, dtype=bool)
    for k, (r, c) in enumerate(views):
        m, n = divmod(k, kw)
        if index_kh:
            wins = first == m * kh + n
        elif tie or split:
            wins = x[:, :, r, c] == z
        elif pixel_flag:
            wins = (x[:, :, r, c] == z) & (dx[:, :, r, c] == 0)
        else:
            wins = (x[:, :, r, c] == z) & ~routed
            routed |= wins
        share = wins * dy / (ties if split else 1.0)
        if assign:
            dx[:, :, r, c] = share
        else:
            dx[:, :, r, c] += share
    return dx


_TIE_WORDS = (
    "tie: a window that holds its maximum twice sends its δ to both pixels (x[...] == z is true at "
    "each of them), so δ counts twice where the forward used one maximum once. Send each window's δ "
    "to one maximum only (the first in row-major order, as np.argmax), however many pixels equal z."
)
MAXPOOL_ATTEMPTS: tuple[WrongAttempt, ...] = (
    planted_unchanged(mystery_maxpool_backward),  # first: the mystery pasted back is not told its bugs
    *combinations(
        {
            "tie": ("tie", _TIE_WORDS),
            "assign": (
                "accumulate",
                "+=: dx[...] = ... overwrites. Where windows overlap (stride < size) one pixel is visited "
                "by several offsets, as pixel (m, n) of one window and (m − sh, n) of the next, and keeps "
                "only the last visit; a pixel that wins several windows must receive the sum of their δ's.",
            ),
        },
        offset_loop_with_bugs,
    ),
    WrongAttempt(
        ("tie", "accumulate"),
        (
            "tie: your flag belongs to the pixel (dx == 0), but the second of two tied maxima has received "
            "nothing yet, so it gets the window's δ as well: the flag must belong to the window (one per "
            "entry of δ), saying whether its δ has gone out.",
            "+=: with a pixel flag, a pixel that holds one window's δ cannot take the δ of another window "
            "it also wins (overlapping windows); it must collect both.",
        ),
        lambda *args: offset_loop_with_bugs(*args, pixel_flag=True),
    ),
    WrongAttempt(
        "tie",
        "tie: you split a tied window's δ equally among its maxima. That is what central differences "
        "report at a tie (§5), and a valid subgradient, but this exercise (like cnnlib and np.argmax) "
        "sends all of it to one maximum.",
        lambda *args: offset_loop_with_bugs(*args, split=True),
    ),
    WrongAttempt(
        "height-width",
        "height/width: the flat index of offset (m, n) in a window of kh rows and kw columns is "
        "m·kw + n (row-major); compared with m·kh + n, only square windows come out right.",
        lambda *args: offset_loop_with_bugs(*args, index_kh=True),
    ),
    WrongAttempt(
        "stride",
        "stride: your slices step by 1, so entry (i, j) is x[i + m, j + n], a window placed at stride "
        "1; window (i, j) starts at (i·sh, j·sw): the slice of offset (m, n) steps by the stride.",
        lambda *args: offset_loop_with_bugs(*args, step_1=True),
    ),
)


def _pool_arguments(case):
    return [case.inputs["dy"], case.inputs["x"], case.spec.size, case.spec.stride]


# the large case on which a loop over the windows shows: 2 x 2 maps of 22 x 22 windows each
LARGE_POOL_CASE = PoolCase(N=2, C=2, H=45, W=45, size=3, stride=2, seed=214)


def _no_window_loop(remedy):
    def positions(dy, *args, **kwargs):
        return np.shape(dy)[2] * np.shape(dy)[3]

    return (
        "window-loop",
        "on the 45×45 case your code ran a line of Python (or more) per window position: a loop over "
        f"the windows. {remedy}",
        limit_lines(positions, when=lambda *args, **kwargs: positions(*args, **kwargs) >= 400),
    )


def check_maxpool_backward(fn, seed=0, diagnose=True):
    """Exercise: fn(dy, x, size, stride) -> dx, max pooling backward (NCHW), without a loop over windows.

    Each window's δ goes to one of its maxima (any one: each is a valid subgradient);
    overlapping windows add up. ``cnnlib.check`` compares with ``cnnlib.maxpool2d_backward``
    on its cases and ``LARGE_POOL_CASE``; the bug is named from the offset loop's wrong
    versions (``MAXPOOL_ATTEMPTS``), else by ``cnnlib.check`` (``report.bugs``: "tie",
    "accumulate", ...); ``diagnose=False`` names none. On the large case the learner's code
    must run fewer lines of Python than there are window positions (rule "window-loop").
    """
    cases = (*POOL_CASES, LARGE_POOL_CASE)
    return library_check_with_rules(
        fn,
        lambda f: name_in_report(
            learner_check.maxpool_backward(f, convention="cnnlib", cases=cases),
            MAXPOOL_ATTEMPTS,
            _pool_arguments,
        ),
        [
            _no_library_pool("max"),
            _no_window_loop("Keep the offset loop, kh·kw passes that each handle every window at once."),
        ],
        diagnose,
    )


# --- Exercise 2: average pooling backward as a convolution's -----------------------------------------


def attempt_avgpool_ones(dy, x, size, stride):
    """Average pooling read as a convolution with a kernel of ones (the 1/(kh·kw) forgotten)."""
    kh, kw = (size, size) if np.isscalar(size) else size
    N, C, H, W = x.shape
    ones = np.ones((1, 1, kh, kw))
    dx = cl.conv2d_backward(
        dy.reshape(N * C, 1, *dy.shape[2:]), x.reshape(N * C, 1, H, W), ones, stride or size
    )[0]
    return dx.reshape(x.shape)


def check_avgpool_backward(fn, seed=0):
    """Exercise: fn(dy, x, size, stride) -> dx, average pooling backward (NCHW).

    ``cnnlib.check`` compares with ``cnnlib.avgpool2d_backward`` and names the bug
    (``report.bugs``: "divisor", "accumulate", "channel", ...). Its cases are ``cnnlib.check``'s, one
    with C > 1 at stride 1, so that a kernel mixing the channels is not taken for a stride bug, and
    ``LARGE_POOL_CASE``, on which a loop over the windows shows (rule "window-loop"). Every run must
    call ``conv2d_backward`` exactly once (rule "one-call"): the exercise's point is that average
    pooling IS one convolution.
    """
    # one more case, with several channels at stride 1: without it C > 1 comes only with stride > 1, and a
    # kernel mixing the channels would look like a stride bug
    cases = (*POOL_CASES, PoolCase(N=2, C=3, H=5, W=5, size=2, stride=1, seed=213), LARGE_POOL_CASE)
    one_call = (
        "one-call",
        "the exercise computes dx with exactly ONE call of cl.conv2d_backward, for every image and channel "
        "at once; a loop of calls (or none) misses the one convolution that average pooling is.",
        call_once(library_functions("conv2d_backward")),
    )
    return library_check_with_rules(
        fn,
        lambda f: learner_check.avgpool_backward(f, convention="cnnlib", cases=cases),
        [
            _no_library_pool("avg"),
            _no_window_loop(
                "Average pooling is one convolution: one call of cl.conv2d_backward handles every window."
            ),
            one_call,
        ],
    )


# --- Exercise 3: a kernel shared by every channel and a bias per row (on paper) -------------------------
#
# y[img, d, i, j] = b[d, i] + Σ_c Σ_m Σ_n w[d, m, n] x[img, c, i + m, j + n]: stride 1, no padding;
# dw has shape (D, kh, kw), db shape (D, Ho).


def _per_channel_grads(x, delta):
    """§8d's and §8e's gradients of the ordinary layer: dw (D, C, kh, kw) and db (D,), by the library."""
    kh, kw = x.shape[2] - delta.shape[2] + 1, x.shape[3] - delta.shape[3] + 1
    return conv2d_backward(delta, x, np.zeros((delta.shape[1], x.shape[1], kh, kw)))[1:]


def _shared_grads(x, delta):
    """The right answer: the per-channel kernel gradient summed over the channels, δ summed over images
    and columns. (The shared kernel sees only the sum of the channels; b[d, i] only row i.)"""
    return _per_channel_grads(x, delta)[0].sum(axis=1), delta.sum(axis=(0, 3))


def attempt_section_8(x, delta):
    """§8d's and §8e's formulas used as they are: a kernel gradient per channel, a bias summed everywhere."""
    return _per_channel_grads(x, delta)


def _with(dw=None, db=None):
    """An attempt with one output replaced: dw(x, delta) or db(x, delta); the other one right."""
    return lambda x, delta: (
        (dw or (lambda x, delta: _shared_grads(x, delta)[0]))(x, delta),
        (db or (lambda x, delta: _shared_grads(x, delta)[1]))(x, delta),
    )


KERNEL_BIAS_ATTEMPTS: tuple[WrongAttempt, ...] = (
    WrongAttempt(
        "channel-sum",
        "∂E/∂w has one slice per channel, shape (D, C, kh, kw): that is §8d's layer, whose kernel has a "
        "slice for each input channel. This layer's kernel w[d] has none: count how often w[d, m, n] "
        "occurs in ONE output y[img, d, i, j], and with which factors.",
        _with(dw=lambda x, delta: _per_channel_grads(x, delta)[0]),
    ),
    WrongAttempt(
        "channel-sum",
        "∂E/∂w is the mean over the channels (divided by C): each channel's term enters y with factor 1, "
        "so the channels' contributions add up, divided by nothing.",
        _with(dw=lambda x, delta: _per_channel_grads(x, delta)[0].mean(axis=1)),
    ),
    WrongAttempt(
        "channel",
        "∂E/∂w reads one channel only: the kernel is used on every channel, so every channel contributes.",
        _with(dw=lambda x, delta: _per_channel_grads(x, delta)[0][:, 0]),
    ),
    WrongAttempt(
        "flip",
        "∂E/∂w is rot180 of the right one: ∂E/∂w[d, m, n] pairs δ[i, j] with x[i + m, j + n], the input "
        "at offset (m, n), a correlation without a flip.",
        _with(dw=lambda x, delta: rot180(_shared_grads(x, delta)[0][:, None])[:, 0]),
    ),
    WrongAttempt(
        "bias",
        "∂E/∂b has one entry per kernel, shape (D,): that is §8e's bias, one per kernel, shared by every "
        "position. This layer has one per kernel AND output row: which outputs y[img, d, i', j] contain "
        "b[d, i]?",
        _with(db=lambda x, delta: delta.sum(axis=(0, 2, 3))),
    ),
    WrongAttempt(
        "untied-bias",
        "∂E/∂b has one entry per position, shape (D, Ho, Wo): b[d, i] is the same at every column j (every "
        "time step), so its gradient sums δ over the columns as well.",
        _with(db=lambda x, delta: delta.sum(axis=0)),
    ),
    WrongAttempt(
        "bias-per-image",
        "∂E/∂b has one row per image, shape (N, D, Ho): the same b[d, i] is used for every image of the "
        "batch, so its gradient sums over the images as well.",
        _with(db=lambda x, delta: delta.sum(axis=3)),
    ),
    WrongAttempt(
        "height-width",
        "∂E/∂b is summed over the rows i and keeps the columns j: b[d, i] belongs to row i, so keep axis 2 "
        "(the rows, Ho of them) and sum over axis 3 (the columns).",
        _with(db=lambda x, delta: delta.sum(axis=(0, 2))),
    ),
    WrongAttempt(
        "bias",
        "∂E/∂b is δ's mean over the columns (divided by Wo): b[d, i] enters every column of row i with "
        "factor 1, so its gradient is the sum, divided by nothing.",
        _with(db=lambda x, delta: delta.sum(axis=0).mean(axis=2)),
    ),
    WrongAttempt(
        "batch",
        "only the first image counts: the kernel and the biases are shared by the whole batch, so "
        "their gradients sum the contributions of every image.",
        lambda x, delta: _shared_grads(x[:1], delta[:1]),
    ),
    WrongAttempt(
        "batch-mean",
        "your gradients are the mean over the images (divided by N): δ already carries the loss's "
        "1/N, so the layer sums over the images.",
        lambda x, delta: tuple(g / x.shape[0] for g in _shared_grads(x, delta)),
    ),
)


def check_kernel_and_bias_grads(fn, seed=0):
    """Exercise: fn(x, delta) -> (dw, db) for a stride-1, unpadded layer whose kernel is shared by all
    channels and whose bias is one per output row.

    x : (N, C, H, W), delta : (N, D, Ho, Wo); dw : (D, H − Ho + 1, W − Wo + 1), db : (D, Ho).
    The right answer is ``cnnlib.conv2d_backward``'s kernel gradient summed over the channels, and δ
    summed over the images and the columns; inside fn ``conv2d_backward`` is off limits.
    """
    rng = np.random.default_rng(seed)
    cases = []
    # square and non-square outputs (rows and columns told apart), C = 1 and C > 1, N = 1 and N > 1
    for N, C, D, H, W, kh, kw in [(2, 3, 2, 8, 8, 5, 5), (3, 2, 3, 6, 7, 3, 2), (1, 1, 2, 7, 5, 2, 3)]:
        cases.append((rng.standard_normal((N, C, H, W)), rng.standard_normal((N, D, H - kh + 1, W - kw + 1))))

    def expected(x, delta):
        return _shared_grads(x, delta)

    modules = [sys.modules[m] for m in ("cnnlib", "cnnlib.conv", "cnnlib.reference", "cnnlib.reference.conv")]
    no_library = (
        "library-conv",
        "you called conv2d_backward, the function the checker compares with: derive the two sums "
        "and write them yourself.",
        forbid_calls([(m, "conv2d_backward") for m in modules]),
    )
    return check_naming(
        fn, expected, cases, "kernel and bias gradients", KERNEL_BIAS_ATTEMPTS, ("dw", "db"), [no_library]
    )
