"""Notebook 05's exercises: their checkers and the wrong attempts each checker names.

Used by notebooks/05_pooling_and_a_full_cnn.ipynb through ``ch05_pooling_and_a_full_cnn`` (which
re-exports the checkers). The pooling checkers are ``cnnlib.check``'s (its ``report.bugs`` holds
the ids of the bugs it names); exercise 1's names first the bugs of its loop over the window
offsets (``MAXPOOL_ATTEMPTS``) and refuses a loop over the windows by counting lines of Python
(``grading.limit_lines``); the kernel-and-bias checker names its own wrong attempts.
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
    check_naming,
    combinations,
    copies,
    forbid_calls,
    library_check_with_rules,
    limit_lines,
    same,
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


def _offset_loop(
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
        _offset_loop,
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
        lambda *args: _offset_loop(*args, pixel_flag=True),
    ),
    WrongAttempt(
        "tie",
        "tie: you split a tied window's δ equally among its maxima. That is what central differences "
        "report at a tie (§5), and a valid subgradient, but this exercise (like cnnlib and np.argmax) "
        "sends all of it to one maximum.",
        lambda *args: _offset_loop(*args, split=True),
    ),
    WrongAttempt(
        "height-width",
        "height/width: the flat index of offset (m, n) in a window of kh rows and kw columns is "
        "m·kw + n (row-major); compared with m·kh + n, only square windows come out right.",
        lambda *args: _offset_loop(*args, index_kh=True),
    ),
    WrongAttempt(
        "stride",
        "stride: your slices step by 1, so entry (i, j) is x[i + m, j + n], a window placed at stride "
        "1; window (i, j) starts at (i·sh, j·sw): the slice of offset (m, n) steps by the stride.",
        lambda *args: _offset_loop(*args, step_1=True),
    ),
)


def _name_attempts(report, attempts):
    """Name the first attempt that reproduces every failing case of a ``cnnlib.check`` report.

    Its words and id replace the report's diagnosis, which does not know the offset loop's
    versions of the bugs; when none does, the report's own diagnosis stands.
    """
    failing = [c for c in report.ran if c.verdict == "fail"]
    if not failing or any("dx" not in c.outputs for c in failing):
        return report
    for attempt in attempts:
        try:
            hit = all(
                same(
                    c.outputs["dx"][0],
                    attempt.answer(*copies([c.inputs["dy"], c.inputs["x"]]), c.spec.size, c.spec.stride),
                )
                for c in failing
            )
        except Exception:  # an attempt that cannot express a case does not explain it
            hit = False
        if hit:
            report.diagnosis = [words for _, words in attempt.named()]
            report.bugs = tuple(bug for bug, _ in attempt.named())
            break
    return report


# the large case on which a loop over the windows shows: 2 x 2 maps of 22 x 22 windows each
LARGE_POOL_CASE = PoolCase(N=2, C=2, H=45, W=45, size=3, stride=2, seed=214)


def _no_window_loop():
    def positions(dy, *args, **kwargs):
        return np.shape(dy)[2] * np.shape(dy)[3]

    return (
        "window-loop",
        "on the 45×45 case your code ran a line of Python (or more) per window position: a loop over "
        "the windows. Keep the offset loop, kh·kw passes that each handle every window at once.",
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
        lambda f: _name_attempts(
            learner_check.maxpool_backward(f, convention="cnnlib", cases=cases), MAXPOOL_ATTEMPTS
        ),
        [_no_library_pool("max"), _no_window_loop()],
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
    (``report.bugs``: "divisor", "accumulate", "channel", ...). Its cases are ``cnnlib.check``'s and one
    with C > 1 at stride 1, so that a kernel mixing the channels is not taken for a stride bug.
    """
    # one more case, with several channels at stride 1: without it C > 1 comes only with stride > 1, and a
    # kernel mixing the channels would look like a stride bug
    cases = (*POOL_CASES, PoolCase(N=2, C=3, H=5, W=5, size=2, stride=1, seed=213))
    return library_check_with_rules(
        fn,
        lambda f: learner_check.avgpool_backward(f, convention="cnnlib", cases=cases),
        [_no_library_pool("avg")],
    )


# --- Exercise 3: the kernel gradient and the shared-bias gradient (on paper) -----------------------------


def _right_grads(x, delta):
    kh, kw = x.shape[2] - delta.shape[2] + 1, x.shape[3] - delta.shape[3] + 1
    return conv2d_backward(delta, x, np.zeros((delta.shape[1], x.shape[1], kh, kw)))[1:]


def attempt_untied_bias(x, delta):
    """One of the question's answers: a bias gradient per position b[i, j] (the kernel gradient right)."""
    return _right_grads(x, delta)[0], delta.sum(axis=0)


KERNEL_BIAS_ATTEMPTS: tuple[WrongAttempt, ...] = (
    WrongAttempt(
        "untied-bias",
        "∂E/∂b has one entry per position, shape (D, Ho, Wo): that is the gradient of untied biases "
        "b[d, i, j], while this layer has ONE bias per kernel, used at every position.",
        attempt_untied_bias,
    ),
    WrongAttempt(
        "bias-per-image",
        "∂E/∂b has one row per image, shape (N, D): the same b[d] is used for every image of the "
        "batch, so its gradient sums over the images as well.",
        lambda x, delta: (_right_grads(x, delta)[0], delta.sum(axis=(2, 3))),
    ),
    WrongAttempt(
        "batch",
        "only the first image counts: the kernel and the bias are shared by the whole batch, so "
        "their gradients sum the contributions of every image.",
        lambda x, delta: _right_grads(x[:1], delta[:1]),
    ),
    WrongAttempt(
        "batch-mean",
        "your gradients are the mean over the images (divided by N): δ already carries the loss's "
        "1/N, so the layer sums over the images.",
        lambda x, delta: tuple(g / x.shape[0] for g in _right_grads(x, delta)),
    ),
    WrongAttempt(
        "flip",
        "∂E/∂w is rot180 of the right one: ∂E/∂w[d, c, m, n] pairs δ[i, j] with x[i + m, j + n], the "
        "input at offset (m, n), a correlation x ★ δ without a flip.",
        lambda x, delta: (rot180(_right_grads(x, delta)[0]), _right_grads(x, delta)[1]),
    ),
)


# db averaged where it is summed (δ's mean over everything, or over the positions of each image)
KERNEL_BIAS_ATTEMPTS += (
    WrongAttempt(
        "bias",
        "∂E/∂b is the mean of δ, not its sum: b[d] enters every output of kernel d (every image, every "
        "position) with factor 1, so ∂E/∂b[d] = Σ_img Σ_i Σ_j δ[img, d, i, j], divided by nothing.",
        lambda x, delta: (_right_grads(x, delta)[0], delta.mean(axis=(0, 2, 3))),
    ),
    WrongAttempt(
        "bias",
        "∂E/∂b is δ's mean over the positions (divided by Ho·Wo): b[d] enters every position with "
        "factor 1, so ∂E/∂b[d] sums δ over the positions (and the images), divided by nothing.",
        lambda x, delta: (_right_grads(x, delta)[0], delta.mean(axis=(2, 3)).sum(axis=0)),
    ),
)


def check_kernel_and_bias_grads(fn, seed=0):
    """Exercise: fn(x, delta) -> (dw, db) for a stride-1, unpadded convolution layer.

    x : (N, C, H, W), delta : (N, D, Ho, Wo); dw : (D, C, H − Ho + 1, W − Wo + 1),
    db : (D,), one shared bias per kernel. Compared with ``cnnlib.conv2d_backward``.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for N, C, D, H, W, kh, kw in [(1, 1, 3, 8, 8, 5, 5), (2, 2, 3, 6, 7, 3, 2), (3, 1, 1, 5, 5, 1, 1)]:
        cases.append((rng.standard_normal((N, C, H, W)), rng.standard_normal((N, D, H - kh + 1, W - kw + 1))))

    def expected(x, delta):
        return _right_grads(x, delta)

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
