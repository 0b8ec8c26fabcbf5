"""Losses E and their gradients ∂E/∂(prediction), averaged over the batch.

An empty batch (N = 0) is a ValueError: the mean over zero samples has no value.

Derived in notebooks/01_single_kernel.ipynb (squared error) and
05_pooling_and_a_full_cnn.ipynb (softmax cross-entropy).
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from .shapes import as_float_array


def _batch_size(a):
    """N, which must be >= 1: the mean over zero samples has no value (it would be 0/0)."""
    if a.shape[0] == 0:
        raise ValueError(f"a loss needs at least one sample, got an empty batch of shape {a.shape}")
    return a.shape[0]


def mse_loss(y: ArrayLike, t: ArrayLike) -> tuple[float, np.ndarray]:
    """Half squared error, averaged over the batch.

    Parameters
    ----------
    y : array-like of shape (N, ...)
        Predictions.
    t : array-like of the same shape
        Targets.

    Returns
    -------
    loss : float
        E = 1/(2N) · Σ (y − t)², N = y.shape[0] (the blogs' ½Σ per sample, averaged).
    dy : ndarray of the shape of y
        ∂E/∂y = (y − t) / N.
    """
    y, t = as_float_array(y, "y"), as_float_array(t, "t")
    if y.shape != t.shape:
        raise ValueError(f"y and t must have the same shape, got y.shape={y.shape}, t.shape={t.shape}")
    if y.ndim == 0:
        raise ValueError("y must have a batch axis: shape (N, ...), got a scalar")
    N = _batch_size(y)
    diff = y - t
    return float(np.sum(diff * diff) / (2 * N)), diff / N


def softmax(logits: ArrayLike) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, shifted by the row maximum so exp never overflows."""
    z = as_float_array(logits, "logits")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> tuple[float, np.ndarray]:
    """Softmax followed by cross-entropy with integer class labels, averaged over the batch.

    Parameters
    ----------
    logits : array-like of shape (N, K)
    labels : array-like of int of shape (N,)
        Class indices in 0 .. K-1.

    Returns
    -------
    loss : float
        E = −1/N · Σ_n log softmax(logits[n])[labels[n]].
    dlogits : ndarray of shape (N, K)
        ∂E/∂logits = (softmax(logits) − onehot(labels)) / N.
    """
    z = as_float_array(logits, "logits")
    if z.ndim != 2:
        raise ValueError(f"logits must be 2-D with shape (N, K), got shape {z.shape}")
    labels = np.asarray(labels)
    if labels.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape (N,) = ({z.shape[0]},), got {labels.shape}")
    # kinds i/u only: NumPy counts timedelta64 as an integer and Python counts bool as
    # one, but neither names a class
    if labels.dtype.kind not in "iu" and not (
        labels.dtype == object
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in labels.tolist())
    ):
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}")
    N = _batch_size(z)
    labels = labels.astype(np.intp)
    K = z.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(
            f"labels must lie in 0..{K - 1} (K={K} classes), got min {labels.min()}, max {labels.max()}"
        )
    shifted = z - z.max(axis=1, keepdims=True)
    # log Σ exp(shifted) = log(1 + rest), rest = the sum without one row maximum (its exp is 1).
    # log1p(rest) keeps full relative precision when one class dominates; log(1 + rest) would
    # round away rest's last digits, and a confident loss of 1e-5 would lose five of them.
    others = np.exp(shifted)
    others[np.arange(N), np.argmax(shifted, axis=1)] = 0.0
    log_p = shifted - np.log1p(others.sum(axis=1, keepdims=True))
    loss = -float(log_p[np.arange(N), labels].sum() / N)
    dlogits = np.exp(log_p)
    dlogits[np.arange(N), labels] -= 1
    return loss, dlogits / N
