"""Notebook 06's exercises: their checkers and the wrong attempts each checker names.

Used by notebooks/06_debugging_backprop.ipynb through ``ch06_debugging_backprop`` (which
re-exports them). Exercise 1 asks for the largest stable learning rate of a linear
convolution followed by global average pooling (a variant of part A's layer, derived on
paper); exercise 2 is ``cnnlib.check``'s convolution backward on a find-the-bug function, a backward
through part A's matrix A (im2col) whose bugs show only on some shapes.
"""

from __future__ import annotations

import sys

import numpy as np

import cnnlib as cl  # the mystery function below reads as a learner's code

from .. import check as learner_check
from .. import conv, pool
from ..curvature import conv_regression_design
from ..losses import mse_loss
from .grading import (
    WrongAttempt,
    check_naming,
    combinations,
    forbid_calls,
    library_check,
    name_in_report,
    planted_unchanged,
)

# --- Exercise 1: the largest stable learning rate of a convolution followed by global average pooling ---


def _pooled_lr_max(
    x, kernel_size, stride, padding, *, rows="mean", loss_divisor="N", bias=True, channels="all", factor=2.0
):
    """2/λmax of ĀᵀĀ/N (Ā: the rows of A averaged per image), or one of its wrong variants.

    rows: "mean" (right), "sum" (the pool read as a sum), "per-position" (part A's A, the pool
    ignored), "mean-of-squares" (part A's per-position Hessians averaged, AᵀA/(N·Ho·Wo)), "scaled"
    (part A's Hessian times 1/(Ho·Wo)², the cross terms between positions dropped).
    loss_divisor: "N" (right), "none" (a sum over the images), "rows" (N·Ho·Wo, part A's row count).
    """
    x = np.asarray(x, dtype=np.float64)
    N = x.shape[0]
    A = conv_regression_design(x if channels == "all" else x[:, :1], kernel_size, stride, padding)
    A = A if bias else A[:, :-1]
    per_image = A.reshape(N, -1, A.shape[1])  # (N, Ho·Wo, P): image n's windows
    R = {
        "mean": per_image.mean(axis=1),
        "sum": per_image.sum(axis=1),
        "per-position": A,
        "mean-of-squares": A / np.sqrt(per_image.shape[1]),
        "scaled": A / per_image.shape[1],
    }[rows]
    n = {"N": N, "none": 1, "rows": A.shape[0]}[loss_divisor]
    return factor / float(np.linalg.eigvalsh(R.T @ R / n).max())


def _attempt(**bug):
    return lambda x, kernel_size, stride, padding: _pooled_lr_max(x, kernel_size, stride, padding, **bug)


attempt_pooled_lr_part_a = _attempt(rows="per-position")

POOLED_LR_ATTEMPTS = (
    WrongAttempt(
        "pool-ignored",
        "this is part A's Hessian AᵀA/N, one squared error per output position, and its rate is more "
        "than Ho·Wo times too small. Here the pool leaves one output per image: write z_n as a function "
        "of θ first, then the loss over the N images.",
        attempt_pooled_lr_part_a,
    ),
    WrongAttempt(
        "mean-of-squares",
        "you averaged part A's per-position Hessian, AᵀA/(N·Ho·Wo): that averages the squared errors "
        "of the positions. The pool averages the outputs BEFORE the error is squared, so the Hessian is "
        "built from the average window, not from every window.",
        _attempt(rows="mean-of-squares"),
    ),
    WrongAttempt(
        "mean-of-squares",
        "you scaled part A's Hessian by 1/(Ho·Wo)²: that drops the cross terms. The square of a mean is "
        "not the mean of the squares: (Σ_ij a_nij·θ)² pairs every position with every other, so build "
        "the Hessian from each image's mean window instead.",
        _attempt(rows="scaled"),
    ),
    WrongAttempt(
        "divisor",
        "your rate is (Ho·Wo)² times too small: you summed each image's windows. The pool averages: "
        "every window enters z_n with weight 1/(Ho·Wo).",
        _attempt(rows="sum"),
    ),
    WrongAttempt(
        "constant-factor",
        "your rate is N times too small: the loss (1/2N) Σ_n (z_n − t_n)² divides by the batch size "
        "N, and so does its Hessian.",
        _attempt(loss_divisor="none"),
    ),
    WrongAttempt(
        "constant-factor",
        "your rate is Ho·Wo times too large: you divided by N·Ho·Wo, the number of rows of part A's "
        "A. Behind the pool the loss has one term per image, and (1/2N) divides by the N images.",
        _attempt(loss_divisor="rows"),
    ),
    WrongAttempt(
        "one-over-lambda",
        "your rate is half the bound: gradient descent along v_max multiplies the error by "
        "1 − ηλmax, which stays above −1 up to η = 2/λmax, not 1/λmax.",
        _attempt(factor=1.0),
    ),
    WrongAttempt(
        "bias",
        "the bias is missing from θ: it is a parameter too, and the pool keeps it whole (the mean of "
        "b is b), so its entry in every row is 1; with positive pixels that direction is the steepest.",
        _attempt(bias=False),
    ),
    WrongAttempt(
        "channel",
        "only channel 0 is in your rows: the kernel reads all C channels, so a window holds C·k·k "
        "values (then the 1 of the bias).",
        _attempt(channels="first"),
    ),
)


def pooled_lr_max_from_gradients(x, kernel_size, stride, padding):
    """2/λmax with the Hessian built from gradients alone: the exercise checker's independent answer.

    The model is z_n = mean over (i, j) of y[n, 0, i, j], y = x ★ w + b with one kernel over all
    C channels, and E = mse_loss(z, t). E is exactly quadratic in θ = (w, b), so its gradient is
    affine, g(θ) = Hθ + g(0), and column i of the Hessian is g(eᵢ) − g(0): a backward pass through
    the pool and the convolution per parameter, no design matrix.
    """
    x = np.asarray(x, dtype=np.float64)
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    C = x.shape[1]
    P = C * kh * kw + 1
    map_shape = conv.conv2d_forward(x, np.zeros((1, C, kh, kw)), None, stride, padding).shape
    whole_map = map_shape[2:]  # one pooling window over the whole map: global average pooling
    t = np.zeros((x.shape[0], 1, 1, 1))

    def gradient(theta):
        w, b = theta[:-1].reshape(1, C, kh, kw), theta[-1:]
        y = conv.conv2d_forward(x, w, b, stride, padding)
        _, dz = mse_loss(pool.avgpool2d_forward(y, whole_map), t)
        _, dw, db = conv.conv2d_backward(pool.avgpool2d_backward(dz, y, whole_map), x, w, stride, padding)
        return np.append(dw.ravel(), db)

    g0 = gradient(np.zeros(P))
    H = np.stack([gradient(e) - g0 for e in np.eye(P)], axis=1)
    return 2.0 / float(np.linalg.eigvalsh((H + H.T) / 2).max())


def check_pooled_lr_max(fn, seed=0):
    """Exercise: fn(x, kernel_size, stride, padding) -> the largest stable learning rate of the pooled model.

    Cases mix single- and multi-channel inputs, strides 1-2, padding 0-1, and inputs with a
    positive mean (like raw pixel intensities) as well as centred ones. The right answer builds
    the Hessian from gradients (``pooled_lr_max_from_gradients``); inside fn the library's
    backward functions and its Hessian and rate functions are off limits (rule "library-backward").
    """
    rng = np.random.default_rng(seed)
    cases = []
    for C, H, W, k, s, p, mean in [(1, 6, 6, 3, 1, 0, 0.0), (1, 7, 8, 3, 2, 1, 0.5), (2, 5, 6, 2, 1, 1, 1.0)]:
        cases.append((mean + rng.standard_normal((10, C, H, W)), k, s, p))
    forbidden = [
        (sys.modules["cnnlib.curvature"], name) for name in ("conv_regression_hessian", "largest_stable_lr")
    ]
    for module in ("cnnlib", "cnnlib.conv", "cnnlib.pool", "cnnlib.reference"):
        forbidden += [
            (sys.modules[module], n)
            for n in ("conv2d_backward", "avgpool2d_backward")
            if hasattr(sys.modules[module], n)
        ]
    no_library = (
        "library-backward",
        "you called the library's backward or its Hessian or rate: derive the Hessian on paper and "
        "build it from the windows (conv_regression_design, part A's matrix A, is allowed).",
        forbid_calls(forbidden),
    )
    return check_naming(
        fn, pooled_lr_max_from_gradients, cases, "lr_max", POOLED_LR_ATTEMPTS, ("lr_max",), [no_library]
    )


# --- Exercise 2: find and fix the bugs of a convolution backward through part A's matrix A ----------


def mystery_conv_backward(dy, x, w, stride, padding):
    """Notebook 06's exercise 2: a convolution backward (NCHW) through part A's matrix A, three bugs."""
    s, p = stride, padding
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    Ho, Wo = dy.shape[2:]
    xp = cl.pad(x, p)
    # A (part A): one row per output (image, i, j), one column per weight (c, m, n), built one
    # offset (m, n) at a time: entry (i, j) of the slice is xp[..., i*s + m, j*s + n]
    windows = np.zeros((N, Ho, Wo, C, kh, kw))
    for m in range(kh):
        for n in range(kw):
            windows[..., m, n] = xp[:, :, m : m + s * Ho : s, n : n + s * Wo : s].transpose(0, 2, 3, 1)
    A = windows.reshape(N * Ho * Wo, C * kh * kw)
    delta = dy.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, D)  # δ, in A's row order
    dw = (A.T @ delta).reshape(D, C, kh, kw)  # the gradient A^T δ
    db = delta.sum(axis=0)
    # ∂E/∂A, each window's share of ∂E/∂x, sent back to the pixels the window read
    dA = (delta @ w.reshape(D, C * kh * kw)).reshape(N, Ho, Wo, C, kh, kw)
    dxp = np.zeros((N, C, s * (Ho - 1) + kh, s * (Wo - 1) + kw))
    for m in range(kh):
        for n in range(kh):
            dxp[:, :, m : m + s * Ho : s, n : n + s * Wo : s] += dA[..., m, n].transpose(0, 3, 1, 2)
    dx = dxp[:, :, p : p + H, p : p + W]
    return dx, dw, db


def through_a_with_bugs(
    dy, x, w, stride, padding, *, layout=False, all_axes=False, loop_kh=False, reached=False
):
    """``mystery_conv_backward`` right, or with its bugs and the half-fixes of a learner's copy.

    layout: Aᵀδ, shape (C·kh·kw, D), reshaped to (D, C, kh, kw) untransposed; all_axes: the
    4-D (C, kh, kw, D) reversed with ``.T`` (the kernel comes out transposed); loop_kh: the
    column loop of the scatter runs over range(kh); reached: ∂E/∂x_p sized by the rows the
    windows reach, s·(Ho − 1) + kh, instead of x_p's.
    """
    s, p = stride, padding
    N, C, H, W = x.shape
    D, _, kh, kw = w.shape
    Ho, Wo = dy.shape[2:]
    xp = cl.pad(x, p)
    views = [(m, n, slice(m, m + s * Ho, s), slice(n, n + s * Wo, s)) for m in range(kh) for n in range(kw)]
    windows = np.zeros((N, Ho, Wo, C, kh, kw))
    for m, n, r, c in views:
        windows[..., m, n] = xp[:, :, r, c].transpose(0, 2, 3, 1)
    A = windows.reshape(N * Ho * Wo, C * kh * kw)
    delta = dy.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, D)
    g = A.T @ delta
    if all_axes:
        dw = g.reshape(C, kh, kw, D).T
    else:
        dw = (g if layout else g.T).reshape(D, C, kh, kw)
    dA = (delta @ w.reshape(D, -1)).reshape(N, Ho, Wo, C, kh, kw)
    dxp = np.zeros((N, C, s * (Ho - 1) + kh, s * (Wo - 1) + kw) if reached else xp.shape)
    for m, n, r, c in views:
        if not (loop_kh and n >= kh):  # range(kh) for the columns skips columns kh, ..., kw - 1
            dxp[:, :, r, c] += dA[..., m, n].transpose(0, 3, 1, 2)
    if loop_kh and kw < kh:  # range(kh) reads past the kernel's last column, as the mystery does
        raise IndexError(f"index {kw} is out of bounds for axis 5 with size {kw}")
    return dxp[:, :, p : p + H, p : p + W], dw, delta.sum(axis=0)


_LAYOUT_WORDS = (
    "∂E/∂w: Aᵀδ has one row per weight (c, m, n) and one column per filter d, shape (C·kh·kw, D). "
    "Reshaped straight to (D, C, kh, kw) it is read in the wrong order, which is right only for D = 1 "
    "(a gradient check with one filter passes it). w's order is (d, then c, m, n): the filter first."
)
MYSTERY_ATTEMPTS: tuple[WrongAttempt, ...] = (
    planted_unchanged(mystery_conv_backward),
    *combinations(
        {
            "layout": ("transpose", _LAYOUT_WORDS),
            "all_axes": (
                "transpose",
                "∂E/∂w: .T of the 4-D array (C, kh, kw, D) reverses all four axes, giving (D, kw, kh, C): "
                "the filters are right but each kernel comes out transposed, its channels on the last "
                "axis (the shapes agree only when C = kh = kw). Transpose the 2-D matrix Aᵀδ, then reshape.",
            ),
            "loop_kh": (
                "height-width",
                "∂E/∂x: the loop over a window's columns n, where ∂E/∂A goes back to x_p, runs over "
                "range(kh), the kernel's HEIGHT: with kw > kh the last kw − kh columns of every window "
                "send nothing back (with kw < kh it reads past the kernel). Only non-square kernels show it.",
            ),
            "reached": (
                "leftover-rows",
                "∂E/∂x: ∂E/∂x_p has s·(Ho − 1) + kh rows, the rows the windows reach, where x_p has "
                "H + 2p. When the stride leaves r = (H + 2p − kh) mod s rows that no window reaches and "
                "r > p, the crop returns fewer than H rows (the same for the columns). Give ∂E/∂x_p the "
                "padded input's shape: the rows no window reads get 0.",
            ),
        },
        through_a_with_bugs,
        exclusive=("layout", "all_axes"),
    ),
)


def _conv_arguments(case):
    return [case.inputs["dy"], case.inputs["x"], case.inputs["w"], case.spec.stride[0], case.spec.padding[0]]


def check_conv_backward(fn, seed=0, diagnose=True):
    """Exercise: fn(dy, x, w, stride, padding) -> (dx, dw, db); ``diagnose=False`` names no bug.

    ``cnnlib.check`` compares with ``cnnlib.conv2d_backward``; the bugs are named from
    ``mystery_conv_backward``'s versions (``MYSTERY_ATTEMPTS``: "transpose", "height-width",
    "leftover-rows"; the planted code unchanged is "planted-unchanged"), else by
    ``cnnlib.check``'s own diagnosis (``report.bugs``: "stride", "crop", "bias", ...).
    """
    # the exercise's functions take one int stride and padding (as mystery_conv_backward does): the
    # cases of cnnlib.check with the same stride and padding along both axes
    cases = [c for c in learner_check.CONV_CASES if len(set(c.stride)) == 1 and len(set(c.padding)) == 1]
    report = learner_check.conv_backward(fn, convention="cnnlib", cases=cases)
    report = name_in_report(report, MYSTERY_ATTEMPTS, _conv_arguments, fn)
    if not diagnose:  # the verdicts only: the bugs' names would give the find-the-bug exercise away
        report.diagnosis = []
    return library_check(fn, report)
