"""Loops of batch normalisation, forward and backward, as the derivation goes: one step per line.

The backward is the chain rule taken one node at a time through the graph
x → μ → σ² → x̂ → y, the way a learner derives it on paper: ∂E/∂x̂, then ∂E/∂σ²,
then ∂E/∂μ (which gets a term through σ²), then ∂E/∂x (three paths: direct, via μ,
via σ²). The fast version in ``cnnlib.norm`` is the same sum, simplified.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ..norm import validate_batchnorm_args
from ..shapes import as_float_array, validate_dy


class ReferenceBatchNormCache(NamedTuple):
    """x (a copy), gamma, eps, the statistics used (mean, var), and whether they came from the batch."""

    x: np.ndarray
    gamma: np.ndarray
    eps: float
    mean: np.ndarray
    var: np.ndarray
    training: bool


def batchnorm2d_forward(
    x: ArrayLike,
    gamma: ArrayLike,
    beta: ArrayLike,
    eps: float = 1e-5,
    *,
    mean: ArrayLike | None = None,
    var: ArrayLike | None = None,
) -> tuple[np.ndarray, ReferenceBatchNormCache]:
    """Batch normalisation as loops; same arguments and results as ``cnnlib.batchnorm2d_forward``.

    Notes
    -----
    M = N·H·W; μ[c] = (1/M) Σ_{img,i,j} x[img, c, i, j]; σ²[c] = (1/M) Σ (x[img, c, i, j] − μ[c])²;
    x̂[img, c, i, j] = (x[img, c, i, j] − μ[c]) / √(σ²[c] + ε); y = γ[c] x̂ + β[c].
    In eval mode μ and σ² are the given mean and var.
    Derived in notebooks/09_the_modern_block.ipynb.
    """
    x, gamma, beta, eps, mean, var = validate_batchnorm_args(x, gamma, beta, eps, mean, var)
    dtype = np.result_type(x, gamma, beta)
    N, C, H, W = x.shape
    M = N * H * W
    training = mean is None
    if mean is None or var is None:
        mean, var = np.zeros(C, dtype=dtype), np.zeros(C, dtype=dtype)
        for c in range(C):
            total = 0.0
            for img in range(N):
                for i in range(H):
                    for j in range(W):
                        total += x[img, c, i, j]
            mean[c] = total / M
            squares = 0.0
            for img in range(N):
                for i in range(H):
                    for j in range(W):
                        squares += (x[img, c, i, j] - mean[c]) ** 2
            var[c] = squares / M
    y = np.zeros(x.shape, dtype=dtype)
    for img in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    x_hat = (x[img, c, i, j] - mean[c]) / np.sqrt(var[c] + eps)
                    y[img, c, i, j] = gamma[c] * x_hat + beta[c]
    return y, ReferenceBatchNormCache(np.array(x, dtype=dtype), np.array(gamma), eps, mean, var, training)


def batchnorm2d_backward(
    dy: ArrayLike, cache: ReferenceBatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalisation backward as loops, node by node; same results as ``cnnlib.batchnorm2d_backward``.

    Notes
    -----
    With x̂ = (x − μ)/√(σ² + ε) and sums over img, i, j:

    - ∂E/∂β[c] = Σ δ;  ∂E/∂γ[c] = Σ δ x̂;  ∂E/∂x̂ = γ[c] δ
    - ∂E/∂σ²[c] = Σ ∂E/∂x̂ · (x − μ) · (−½)(σ² + ε)^(−3/2)
    - ∂E/∂μ[c] = Σ ∂E/∂x̂ · (−1/√(σ² + ε)) + ∂E/∂σ² · (1/M) Σ −2(x − μ)
    - ∂E/∂x = ∂E/∂x̂ / √(σ² + ε) + ∂E/∂σ² · 2(x − μ)/M + ∂E/∂μ / M

    In eval mode μ and σ² do not depend on x: only the first term of ∂E/∂x remains.
    Derived in notebooks/09_the_modern_block.ipynb.
    """
    x, gamma, eps, mean, var = cache.x, cache.gamma, cache.eps, cache.mean, cache.var
    dy = as_float_array(dy, "dy")
    validate_dy(dy, x.shape)
    N, C, H, W = x.shape
    M = N * H * W
    dtype = np.result_type(dy, x)
    dx = np.zeros(x.shape, dtype=dtype)
    dgamma, dbeta = np.zeros(C, dtype=dtype), np.zeros(C, dtype=dtype)
    for c in range(C):
        std = np.sqrt(var[c] + eps)
        dvar, dmean, centred = 0.0, 0.0, 0.0
        for img in range(N):
            for i in range(H):
                for j in range(W):
                    x_hat = (x[img, c, i, j] - mean[c]) / std
                    dbeta[c] += dy[img, c, i, j]
                    dgamma[c] += dy[img, c, i, j] * x_hat
                    dx_hat = gamma[c] * dy[img, c, i, j]
                    dvar += dx_hat * (x[img, c, i, j] - mean[c]) * (-0.5) * std**-3
                    dmean += dx_hat * (-1 / std)
                    centred += -2 * (x[img, c, i, j] - mean[c])
        if cache.training:
            dmean += dvar * centred / M
        else:
            dvar = dmean = 0.0  # the running statistics are constants
        for img in range(N):
            for i in range(H):
                for j in range(W):
                    dx_hat = gamma[c] * dy[img, c, i, j]
                    dx[img, c, i, j] = dx_hat / std + dvar * 2 * (x[img, c, i, j] - mean[c]) / M + dmean / M
    return dx, dgamma, dbeta
