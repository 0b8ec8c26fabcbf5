"""Notebook 09, the modern block: its exercises and their checkers (per-example normalisation's
backward, batch norm's backward).

Used by notebooks/09_the_modern_block.ipynb (as ``ch.<name>`` through
``cnnlib.course.ch09_the_modern_block``).
"""

from __future__ import annotations

import numpy as np

from .. import check as learner_check
from ..gradcheck import numerical_gradient
from .grading import library_check, not_implemented, report


def _norm_over(x, axes, eps):
    mu = x.mean(axis=axes, keepdims=True)
    sigma = np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return (x - mu) / sigma, sigma


def layernorm_candidates(dy, x, eps=1e-5):
    """The right ∂E/∂x of per-example normalisation and the usual wrong attempts, by name.

    The forward is y = (x − μₙ)/σₙ with μₙ, σₙ² the mean and variance of example n over
    (C, H, W). Every candidate is a formula of the same shape; the first is the right one
    (checked against finite differences in the tests), the others are what a derivation
    that forgets a path or copies batch norm's axes gives.
    """
    axes = (1, 2, 3)
    xhat, sigma = _norm_over(x, axes, eps)
    mean = lambda a, ax=axes: a.mean(axis=ax, keepdims=True)  # noqa: E731
    bn_hat, bn_sigma = _norm_over(x, (0, 2, 3), eps)
    bn_mean = lambda a: a.mean(axis=(0, 2, 3), keepdims=True)  # noqa: E731
    return {
        "right": (dy - mean(dy) - xhat * mean(dy * xhat)) / sigma,
        "batch norm's axes (N, H, W) instead of the example's (C, H, W)":
            (dy - bn_mean(dy) - bn_hat * bn_mean(dy * bn_hat)) / bn_sigma,
        "the path through the variance is missing (the − x̂·mean(δ x̂) term)": (dy - mean(dy)) / sigma,
        "the path through the mean is missing (the − mean(δ) term)": (dy - xhat * mean(dy * xhat)) / sigma,
        "neither path through the statistics (δ/σ only)": dy / sigma,
        "the variance divided by M − 1 (unbiased) instead of M": (dy - mean(dy) - xhat * mean(dy * xhat))
        / np.sqrt(x.var(axis=axes, keepdims=True, ddof=1) + eps),
    }  # fmt: skip


def layernorm_cases(seed=0):
    """(dy, x) cases of several shapes; channel means and scales far from 0 and 1."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape in [(2, 3, 4, 4), (3, 2, 3, 5), (1, 4, 2, 2), (4, 1, 3, 3)]:
        x = 2.0 + 3.0 * rng.standard_normal(shape)
        cases.append((rng.standard_normal(shape), x))
    return cases


def check_layernorm_backward(fn, seed=0):
    """Exercise: fn(dy, x) -> ∂E/∂x of per-example normalisation over (C, H, W), ε = 1e-5.

    Each case is compared with the right formula (itself checked against finite differences
    in the tests); a wrong answer is matched against the usual wrong derivations, and the
    one it equals is named.
    """
    cases = layernorm_cases(seed)

    def expected(dy, x):
        return layernorm_candidates(dy, x)["right"]

    lines, passed = [], 0
    for k, (dy, x) in enumerate(cases, 1):
        head = f"  case {k} (dy {'×'.join(map(str, dy.shape))}, x {'×'.join(map(str, x.shape))}): "
        try:
            got = fn(dy.copy(), x.copy())
        except Exception as e:  # a learner's bug prints, never crashes the notebook
            lines.append(head + f"ERROR, raised {type(e).__name__}: {e}")
            continue
        if got is None:
            return not_implemented(getattr(fn, "__name__", "your function"))
        got = np.asarray(got, dtype=float)
        right = expected(dy, x)
        if got.shape != right.shape:
            lines.append(head + f"FAIL: wrong shape, expected {right.shape}, got {got.shape}")
            continue
        if np.allclose(got, right, rtol=1e-7, atol=1e-9):
            lines.append(head + "pass")
            passed += 1
            continue
        named = [
            n
            for n, c in layernorm_candidates(dy, x).items()
            if n != "right" and np.allclose(got, c, rtol=1e-7, atol=1e-9)
        ]
        if named:
            lines.append(head + f"FAIL: your dx is this wrong variant: {named[0]}")
        elif not np.allclose(got.sum(axis=(1, 2, 3)), 0, atol=1e-8 * max(1.0, float(np.abs(right).max()))):
            lines.append(
                head + "FAIL: Σ ∂E/∂x over each example's C, H, W is not 0, so the path through "
                "the mean is wrong; " + _first_wrong(got, right)
            )
        else:
            lines.append(head + "FAIL: " + _first_wrong(got, right))
    return report("per-example normalisation backward", lines, passed, len(cases))


def _first_wrong(got, right):
    idx = tuple(int(i) for i in np.argwhere(~np.isclose(got, right, rtol=1e-7, atol=1e-9))[0])
    return f"first wrong entry at {idx}: expected {right[idx]:.6g}, got {got[idx]:.6g}"


def numerical_dx(dy, x, forward):
    """∂(Σ y ⊙ dy)/∂x by central differences, for a forward x -> y (small arrays only)."""
    return numerical_gradient(lambda v: float(np.sum(forward(v) * dy)), x)


def check_bn_backward(fn, seed=0, diagnose=True):
    """Exercise: fn(dy, cache) -> (dx, dgamma, dbeta), training-mode batch norm, cnnlib's convention.

    ``cache`` is the ``BatchNormCache`` of ``cl.batchnorm2d_forward`` (x_hat, gamma, inv_std,
    mean, var, training). Run by ``cnnlib.check.batchnorm_backward``, which names the usual
    bugs (a missing path, wrong axes, γ twice, sums over the wrong axes); ``diagnose=False``
    prints the verdicts only (the planted code of a find-the-bug exercise must not be named).
    """
    report = learner_check.batchnorm_backward(fn, convention="cnnlib")
    if not diagnose:
        report.diagnosis = []
    return library_check(fn, report)
