"""Notebook 09, the modern block: its exercises and their checkers.

Exercise 1 derives the backward of a per-example normalisation with a per-channel scale
(statistics over each example's (C, H, W), γ[c] shared over (N, H, W)); exercise 2 finds the
bugs of a batch-norm backward written node by node through the computation graph.

Used by notebooks/09_the_modern_block.ipynb (as ``ch.<name>`` through
``cnnlib.course.ch09_the_modern_block``).
"""

from __future__ import annotations

import functools

import numpy as np

from .. import check as learner_check
from .. import reference
from ..gradcheck import numerical_gradient
from .grading import WrongAttempt, check_naming, library_check

# --- Exercise 1: per-example normalisation with a per-channel scale --------------------------------

EXAMPLE_AXES = (1, 2, 3)  # one group of statistics = one example's C·H·W values
CHANNEL_AXES = (0, 2, 3)  # batch norm's groups, and the values that share one γ[c]
EPS = 1e-5


def _per_channel(gamma):
    return np.asarray(gamma, dtype=np.float64)[None, :, None, None]


def _normalise(x, axes, ddof=0):
    mu = x.mean(axis=axes, keepdims=True)
    sigma = np.sqrt(x.var(axis=axes, keepdims=True, ddof=ddof) + EPS)
    return (x - mu) / sigma, sigma


def example_norm_forward(x, gamma):
    """y[n, c, i, j] = γ[c] · (x − μₙ)/√(σₙ² + ε), μₙ and σₙ² over example n's (C, H, W) values.

    PyTorch's ``GroupNorm(1, C)`` without its shift β; ε = 1e-5, the variance divided by C·H·W.
    """
    return _per_channel(gamma) * _normalise(np.asarray(x, dtype=np.float64), EXAMPLE_AXES)[0]


def _example_norm_backward(dy, x, gamma, *, stats=EXAMPLE_AXES, gamma_outside=False, mean_path=True,
                           var_path=True, ddof=0, gamma_power=1, dgamma_axes=CHANNEL_AXES,
                           gamma_in_dgamma=False):  # fmt: skip
    """(dx, dgamma) of ``example_norm_forward``, or of one usual wrong derivation (defaults: right).

    Section 2's chain rule Σ_k ∂E/∂x̂_k · ∂x̂_k/∂x_j with ∂E/∂x̂ = γ[c] δ, the means over the
    statistics' group: dx = (g − mean(g) − x̂ mean(g x̂))/σₙ with g = γ[c] δ; dγ[c] = Σ_{n,i,j} δ x̂.
    """
    x_hat, sigma = _normalise(x, stats, ddof)
    g = _per_channel(gamma)
    d = dy if gamma_outside else dy * g**gamma_power  # ∂E/∂x̂ (or what the attempt takes for it)

    def mean(a):
        return a.mean(axis=stats, keepdims=True)

    dx = (d - mean_path * mean(d) - var_path * x_hat * mean(d * x_hat)) / sigma
    if gamma_outside:  # batch norm's γ/σ in front: right only when γ is the same over the whole group
        dx = g * dx
    dgamma = (dy * x_hat * (g if gamma_in_dgamma else 1)).sum(axis=dgamma_axes)
    return dx, dgamma


def example_norm_backward(dy, x, gamma):
    """The right (dx, dgamma) (checked against finite differences in the tests)."""
    return _example_norm_backward(dy, x, gamma)


def _attempt(bug, words, **kwargs):
    return WrongAttempt(bug, words, functools.partial(_example_norm_backward, **kwargs))


# the first attempt that explains an output's failures is named: the specific ones first
EXAMPLE_NORM_ATTEMPTS = (
    _attempt(
        "bn-axes",
        "your statistics are batch norm's, one mean and variance per channel over (N, H, W); here each "
        "example has its own, over its C·H·W values (axes 1, 2, 3), and x̂ with them.",
        stats=CHANNEL_AXES,
    ),
    _attempt(
        "gamma-outside",
        "you put batch norm's γ/σ in front of the bracket. That needs one γ for the whole group, and here "
        "γ[c] changes from channel to channel within one example (so it passes only with one channel): "
        "section 2's means are of ∂E/∂x̂, which is γ[c]·δ.",
        gamma_outside=True,
    ),
    _attempt(
        "bn-mean-path",
        "∂E/∂x misses the path through the mean μₙ: every value of example n moves μₙ.",
        mean_path=False,
    ),
    _attempt(
        "bn-var-path",
        "∂E/∂x misses the path through the variance σₙ²: every value of example n moves σₙ².",
        var_path=False,
    ),
    _attempt(("bn-mean-path", "bn-var-path"), "", mean_path=False, var_path=False),
    _attempt(("gamma-outside", "bn-mean-path"), "", gamma_outside=True, mean_path=False),
    _attempt(("gamma-outside", "bn-var-path"), "", gamma_outside=True, var_path=False),
    _attempt(
        "bn-unbiased",
        "your σₙ² is divided by C·H·W − 1 (the unbiased variance); the forward divides by C·H·W.",
        ddof=1,
    ),
    _attempt(
        "bn-gamma",
        "γ is in the wrong place: ∂E/∂x̂ = γ[c]·δ carries γ once, ∂E/∂γ = Σ δ·x̂ carries none.",
        gamma_power=0,
    ),
    _attempt("bn-gamma", "", gamma_power=2),
    _attempt("bn-gamma", "", gamma_in_dgamma=True),
    _attempt(
        "bn-sum-axes",
        "∂E/∂γ is summed over the wrong axes. γ[c] multiplies every value of channel c, in every example "
        "and at every pixel, so ∂E/∂γ[c] sums δ·x̂ over those (shape (C,)), whatever axes the statistics use.",
        dgamma_axes=EXAMPLE_AXES,
    ),
    _attempt("bn-sum-axes", "", dgamma_axes=(0, 1, 2, 3)),
    _attempt("bn-sum-axes", "", dgamma_axes=(2, 3)),
)


def example_norm_cases(seed=0):
    """(dy, x, gamma) cases: channel means and spreads that differ, γ of both signs with |γ| >= 1.3.

    Case 4 has one channel, where γ is one number for each example's whole group.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for N, C, H, W in [(2, 3, 4, 4), (3, 2, 3, 5), (1, 4, 2, 2), (4, 1, 3, 3)]:
        offset, spread = rng.uniform(-2, 2, (1, C, 1, 1)), rng.uniform(0.5, 3, (1, C, 1, 1))
        x = offset + spread * rng.standard_normal((N, C, H, W))
        gamma = rng.uniform(1.3, 2.0, C) * np.where(np.arange(C) % 2, -1, 1)
        cases.append((rng.standard_normal(x.shape), x, gamma))
    return cases


def check_example_norm_backward(fn, seed=0):
    """Exercise 1: fn(dy, x, gamma) -> (dx, dgamma) of ``example_norm_forward``.

    Compared with the right formula (checked against finite differences in the tests) on
    ``example_norm_cases``; a wrong output equal to one of the usual wrong derivations is named
    (``EXAMPLE_NORM_ATTEMPTS``; ``Verdict.bugs`` holds the ids).
    """
    return check_naming(
        fn,
        example_norm_backward,
        example_norm_cases(seed),
        "per-example normalisation backward",
        EXAMPLE_NORM_ATTEMPTS,
        ("dx", "dgamma"),
    )


def numerical_dx(dy, x, forward):
    """∂(Σ y ⊙ dy)/∂x by central differences, for a forward x -> y (small arrays only)."""
    return numerical_gradient(lambda v: float(np.sum(forward(v) * dy)), x)


# --- Exercise 2: find the bugs in a node-by-node batch-norm backward ------------------------------


def mystery_bn_backward(dy, cache):
    """Notebook 09's exercise 2: batch norm's backward through x → μ → σ² → x̂ → y, three bugs."""
    x, gamma, eps = cache.x, cache.gamma[None, :, None, None], cache.eps
    mu, var = cache.mean[None, :, None, None], cache.var[None, :, None, None]
    axes = (0, 2, 3)  # one mean and one variance per channel
    N = x.shape[0]
    # the forward's nodes again
    x_mu = x - mu
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = x_mu * inv_std
    # backward, from y to x, one node at a time
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * x_hat).sum(axis=axes)
    dvar = (dy * x_mu).sum(axis=axes, keepdims=True) * -0.5 * inv_std**3
    dmu = dvar * (-2 * x_mu).sum(axis=axes, keepdims=True) / N
    dx = gamma * dy * inv_std + dvar * 2 * x_mu / N + dmu / N
    return dx, dgamma, dbeta


def check_bn_backward(fn, diagnose=True):
    """Exercise 2: fn(dy, cache) -> (dx, dgamma, dbeta), training-mode batch norm.

    ``cache`` is the ``ReferenceBatchNormCache`` of ``cnnlib.reference.batchnorm2d_forward``
    (x, gamma, eps, mean, var). Run by ``cnnlib.check.batchnorm_backward``, which names the
    usual bugs (a missing path, M counted wrong, γ missing or twice, wrong axes, sums over the
    wrong axes); ``diagnose=False`` prints the verdicts only (the planted code of a find-the-bug
    exercise must not be named).
    """
    report = learner_check.batchnorm_backward(fn, convention="cnnlib", forward=reference.batchnorm2d_forward)
    if not diagnose:
        report.diagnosis = []
    return library_check(fn, report)
