"""Batch normalisation over (N, C, H, W) arrays, forward and backward, training and eval mode.

Each channel c is normalised with one mean and one variance, taken over the batch and
both spatial axes (M = N·H·W values per channel), then scaled and shifted:

    μ[c] = (1/M) Σ_{n,i,j} x[n, c, i, j]
    σ²[c] = (1/M) Σ_{n,i,j} (x[n, c, i, j] − μ[c])²        (biased: the 1/M the forward uses)
    x̂ = (x − μ) / √(σ² + ε)
    y = γ x̂ + β

Training mode takes μ and σ² from the batch, so every output depends on every input of
its channel and the backward goes through the statistics. Eval mode takes them as given
(a layer's running statistics), so the map is affine per channel and its backward is
that map's. ``cnnlib.reference.batchnorm2d_forward``/``_backward`` spell both out as loops.

Edge rules:

- gamma and beta have shape (C,); eps > 0; x is 4-D. In training mode M = N·H·W must be
  at least 2 (one value per channel has no spread; PyTorch refuses it too), so an empty
  batch is an error there; in eval mode an empty batch flows.
- dtypes: float32 stays float32, other real numbers become float64; outputs have
  ``np.result_type`` of x, gamma and beta (of dy and the cache in the backward).
- Inputs are never modified nor kept: the cache holds x̂ (a new array) and copies.

Derived in notebooks/09_the_modern_block.ipynb.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._memory import new_array
from ._parallel import run as run_in_parallel
from .shapes import as_float_array, validate_dy, validate_ndim


class BatchNormCache(NamedTuple):
    """What ``batchnorm2d_backward`` needs from the forward.

    x_hat : ndarray of shape (N, C, H, W), the normalised input (x − μ)/√(σ² + ε)
    gamma : ndarray of shape (C,), a copy of the scale
    inv_std : ndarray of shape (C,), 1/√(σ² + ε)
    mean, var : ndarray of shape (C,), the statistics used (the batch's, biased, in training mode)
    training : bool, whether mean and var came from the batch
    """

    x_hat: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    training: bool


def validate_eps(eps: float) -> float:
    """eps as a float: a positive finite real number, else a ValueError naming it."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    return float(eps)


def _per_channel(a: ArrayLike, name: str, C: int) -> np.ndarray:
    a = as_float_array(a, name)
    if a.shape != (C,):
        raise ValueError(
            f"{name} must have shape (C,) = ({C},), one value per channel of x, got shape {a.shape}"
        )
    return a


def validate_batchnorm_args(
    x: ArrayLike,
    gamma: ArrayLike,
    beta: ArrayLike,
    eps: float,
    mean: ArrayLike | None = None,
    var: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray | None, np.ndarray | None]:
    """Convert and validate batch-norm arguments; returns (x, gamma, beta, eps, mean, var).

    mean and var are both None (training mode: the batch's statistics) or both given
    (eval mode). In training mode x must hold at least 2 values per channel.
    """
    xa = as_float_array(x, "x")
    validate_ndim(xa, 4, "x", "(N, C, H, W)")
    C = xa.shape[1]
    gamma_a, beta_a = _per_channel(gamma, "gamma", C), _per_channel(beta, "beta", C)
    eps = validate_eps(eps)
    if (mean is None) != (var is None):
        raise ValueError(
            "give both mean and var (eval mode: the running statistics) or neither (training mode: "
            f"the batch's), got mean={'None' if mean is None else 'an array'}, "
            f"var={'None' if var is None else 'an array'}"
        )
    if mean is None or var is None:
        M = xa.shape[0] * xa.shape[2] * xa.shape[3]
        if M < 2:
            raise ValueError(
                "batch norm in training mode needs at least 2 values per channel (N·H·W >= 2) to "
                f"take a variance, got N·H·W = {M} (x.shape={xa.shape}); in eval mode give mean and var"
            )
        return xa, gamma_a, beta_a, eps, None, None
    mean_a, var_a = _per_channel(mean, "mean", C), _per_channel(var, "var", C)
    if np.any(var_a < 0):
        raise ValueError(f"var must be >= 0 in every channel, got {var_a}")
    return xa, gamma_a, beta_a, eps, mean_a, var_a


def _channel(a: np.ndarray) -> np.ndarray:
    """A (C,) array as (1, C, 1, 1), to broadcast over N, H, W."""
    return a.reshape(1, -1, 1, 1)


def _channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_{n,i,j} a[n, c, i, j] · b[n, c, i, j] for each channel c: shape (C,).

    One dot product per (image, channel) row of H·W values, then a sum over the images:
    3-6x faster than ``np.einsum`` or ``(a * b).sum`` over (0, 2, 3), as accurate, and
    each channel's sum is the same whatever block of channels it is computed in.
    """

    def rows(t):  # (N, C, H·W); not -1: N may be 0
        return t.reshape(t.shape[0], t.shape[1], t.shape[2] * t.shape[3])

    return np.vecdot(rows(a), rows(b)).sum(axis=0)


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Σ_{n,i,j} a[n, c, i, j] for each channel c (``_channel_dot`` with ones)."""
    return _channel_dot(a, np.ones((1, 1) + a.shape[2:], a.dtype))


# Each channel is normalised apart from the others, so blocks of channels run side by side
# (cnnlib._parallel); an array smaller than this (~1 ms of work) stays one block: waking a
# thread costs 0.1-0.2 ms.
PARALLEL_ENTRIES = 1 << 20


def _channel_blocks(a: np.ndarray) -> list[slice]:
    """Up to 4 blocks of the channels of a; the results are the same bits in any blocks."""
    C = a.shape[1]
    n = 1 if a.size < PARALLEL_ENTRIES else min(C, 4)
    return [slice(C * i // n, C * (i + 1) // n) for i in range(n)]


def batchnorm2d_forward(
    x: ArrayLike,
    gamma: ArrayLike,
    beta: ArrayLike,
    eps: float = 1e-5,
    *,
    mean: ArrayLike | None = None,
    var: ArrayLike | None = None,
) -> tuple[np.ndarray, BatchNormCache]:
    """Batch normalisation of each channel, then y = γ x̂ + β.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    gamma, beta : array-like of shape (C,)
        Scale γ and shift β.
    eps : float > 0
        Added to the variance.
    mean, var : array-like of shape (C,) or None
        None (training mode): the batch's mean and biased variance over N, H, W
        (N·H·W >= 2). Given (eval mode, e.g. a layer's running statistics): used as they are.

    Returns
    -------
    y : ndarray of shape (N, C, H, W)
    cache : BatchNormCache
        For ``batchnorm2d_backward``; ``cache.mean`` and ``cache.var`` are the statistics used.

    Notes
    -----
    μ[c] = (1/M) Σ x[n, c, i, j], σ²[c] = (1/M) Σ (x − μ)², x̂ = (x − μ)/√(σ² + ε),
    y = γ[c] x̂ + β[c], with M = N·H·W and sums over n, i, j.
    Derived in notebooks/09_the_modern_block.ipynb.
    """
    x, gamma, beta, eps, given_mean, given_var = validate_batchnorm_args(x, gamma, beta, eps, mean, var)
    dtype = np.result_type(x, gamma, beta)
    x, gamma, beta = x.astype(dtype, copy=False), gamma.astype(dtype), beta.astype(dtype)
    training = given_mean is None
    C, M = x.shape[1], x.shape[0] * x.shape[2] * x.shape[3]
    x_hat, y, inv_std = new_array(x.shape, dtype), new_array(x.shape, dtype), np.empty(C, dtype)
    if given_mean is None or given_var is None:
        mu, sigma2 = np.empty(C, dtype), np.empty(C, dtype)
    else:
        mu, sigma2 = given_mean.astype(dtype), given_var.astype(dtype)

    def channels(cs):
        xs, hs, ys = x[:, cs], x_hat[:, cs], y[:, cs]
        if training:
            mu[cs] = _channel_sum(xs) / M
        np.subtract(xs, _channel(mu[cs]), out=hs)
        if training:
            # two passes (mean, then squares of x − μ) and not E[x²] − μ²: no cancellation
            sigma2[cs] = _channel_dot(hs, hs) / M
        inv_std[cs] = 1 / np.sqrt(sigma2[cs] + dtype.type(eps))
        hs *= _channel(inv_std[cs])
        np.multiply(hs, _channel(gamma[cs]), out=ys)
        ys += _channel(beta[cs])

    run_in_parallel(channels, _channel_blocks(x))
    return y, BatchNormCache(x_hat, gamma, inv_std, mu, sigma2, training)


def batchnorm2d_backward(dy: ArrayLike, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch normalisation, through the batch statistics in training mode.

    Parameters
    ----------
    dy : array-like of shape (N, C, H, W)
        δ = ∂E/∂y.
    cache : BatchNormCache
        From ``batchnorm2d_forward``.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dgamma, dbeta : ndarray of shape (C,)

    Notes
    -----
    ∂E/∂β = Σ δ, ∂E/∂γ = Σ δ ⊙ x̂ (sums over n, i, j). In eval mode μ and σ² are
    constants: ∂E/∂x = γ δ / √(σ² + ε). In training mode they depend on x, and their
    paths add two terms, one through μ and one through σ²:

        ∂E/∂x = γ / √(σ² + ε) · (δ − (1/M) ∂E/∂β − x̂ (1/M) ∂E/∂γ)

    Derived in notebooks/09_the_modern_block.ipynb.
    """
    if not isinstance(cache, BatchNormCache):
        raise TypeError(
            f"cache must be the BatchNormCache batchnorm2d_forward returned, got {type(cache).__name__}"
        )
    dy = as_float_array(dy, "dy")
    validate_dy(dy, cache.x_hat.shape)
    dtype = np.result_type(dy, cache.x_hat)
    dy, x_hat = dy.astype(dtype, copy=False), cache.x_hat.astype(dtype, copy=False)
    C, M = x_hat.shape[1], x_hat.shape[0] * x_hat.shape[2] * x_hat.shape[3]
    scale = (cache.gamma * cache.inv_std).astype(dtype, copy=False)
    dx, dgamma, dbeta = new_array(x_hat.shape, dtype), np.empty(C, dtype), np.empty(C, dtype)

    def channels(cs):
        d, h, out = dy[:, cs], x_hat[:, cs], dx[:, cs]
        dbeta[cs], dgamma[cs] = _channel_sum(d), _channel_dot(d, h)
        if not cache.training:
            np.multiply(d, _channel(scale[cs]), out=out)
            return
        np.multiply(h, _channel(-dgamma[cs] / M), out=out)
        out -= _channel(dbeta[cs] / M)
        out += d
        out *= _channel(scale[cs])

    run_in_parallel(channels, _channel_blocks(dy))
    return dx, dgamma, dbeta
