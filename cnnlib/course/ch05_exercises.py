"""Notebook 05's exercises: their checkers and the wrong attempts each checker names.

Used by notebooks/05_pooling_and_a_full_cnn.ipynb through ``ch05_pooling_and_a_full_cnn`` (which
re-exports the checkers). The pooling checkers are ``cnnlib.check``'s (its ``report.bugs`` holds
the ids of the bugs it names); the kernel-and-bias checker names its own wrong attempts.
"""

from __future__ import annotations

import sys

import numpy as np

import cnnlib as cl  # the functions below read as a learner's code

from .. import check as learner_check
from ..check.cases import POOL_CASES, PoolCase
from ..conv import conv2d_backward, rot180
from .grading import WrongAttempt, check_naming, forbid_calls, library_check_with_rules


def _no_library_pool(kind):
    modules = [sys.modules[m] for m in ("cnnlib", "cnnlib.pool", "cnnlib.reference", "cnnlib.reference.pool")]
    name = f"{kind}pool2d_backward"
    return (
        "library-pool",
        f"you called {name}, the library's answer to this exercise: write the backward yourself.",
        forbid_calls([(m, name) for m in modules if hasattr(m, name)]),
    )


# --- Exercise 1: find the bugs in a max pooling backward -------------------------------------------


def mystery_maxpool_backward(dy, x, size, stride):
    """Notebook 05's exercise 1: a max pooling backward (NCHW) with two planted bugs."""
    kh, kw = (size, size) if np.isscalar(size) else size
    if stride is None:
        sh, sw = kh, kw
    else:
        sh, sw = (stride, stride) if np.isscalar(stride) else stride
    dx = np.zeros_like(x)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            window = x[:, :, rows, cols]
            winners = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, rows, cols] = winners * dy[:, :, i, j, None, None]
    return dx


def check_maxpool_backward(fn, seed=0, diagnose=True):
    """Exercise: fn(dy, x, size, stride) -> dx, max pooling backward (NCHW).

    Each window's δ goes to one of its maxima (any one: each is a valid subgradient);
    overlapping windows add up. ``cnnlib.check`` compares with ``cnnlib.maxpool2d_backward``
    and names the bug (``report.bugs``: "tie", "accumulate", ...); ``diagnose=False`` names none.
    """
    return library_check_with_rules(
        fn,
        lambda f: learner_check.maxpool_backward(f, convention="cnnlib"),
        [_no_library_pool("max")],
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
