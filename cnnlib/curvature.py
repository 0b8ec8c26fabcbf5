"""Curvature of a convolution's loss: why a learning rate too large makes the loss go up.

For a linear convolution trained with the mean squared error, the loss is exactly
quadratic in (w, b), so its Hessian AᵀA/N (A: the im2col design matrix) fixes the
largest stable step size 2/λmax, and gradient descent's loss splits into one
geometric sequence per eigen-direction. Derived in notebooks/06_debugging_backprop.ipynb.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .conv import pad
from .reference import im2col_windows
from .shapes import IntOrPair, validate_conv_args, validate_size


def conv_regression_design(
    x: ArrayLike, kernel_size: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0
) -> np.ndarray:
    """The im2col matrix of a linear conv regression, with a column of ones for the bias.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)

    Returns
    -------
    A : ndarray of shape (N·Ho·Wo, C·kh·kw + 1)
        Row (n, i, j) holds the padded window xp[n, :, i·s : i·s + kh, j·s : j·s + kw],
        flattened in (c, m, n) order, then a 1; so A @ θ with θ = (w.ravel(), b) is the
        output y[n, 0, i, j] of ``conv2d_forward(x, w, b, stride, padding)`` for one kernel.

    Notes
    -----
    Derived in notebooks/06_debugging_backprop.ipynb,
    "A.1 Derivation: a linear convolution's loss is a quadratic bowl".
    """
    x = np.asarray(x, dtype=np.float64)
    kh, kw = validate_size(kernel_size, "kernel_size")
    C = x.shape[1] if x.ndim == 4 else 1
    x, _, (sh, sw), (ph, pw), (N, _, Ho, Wo) = validate_conv_args(
        x, np.zeros((1, C, kh, kw)), stride, padding
    )
    windows = im2col_windows(pad(x, (ph, pw)), kh, kw, (sh, sw))  # (N, C, kh, kw, Ho, Wo)
    cols = windows.transpose(0, 4, 5, 1, 2, 3).reshape(N * Ho * Wo, C * kh * kw)
    return np.hstack([cols, np.ones((N * Ho * Wo, 1))])


def conv_regression_hessian(
    x: ArrayLike, kernel_size: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0
) -> np.ndarray:
    """Hessian of the mean squared error of a linear conv regression with respect to (w, b).

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)

    Returns
    -------
    ndarray of shape (C·kh·kw + 1, C·kh·kw + 1)
        AᵀA / N with A = ``conv_regression_design(x, ...)``.

    Notes
    -----
    With y = x ★ w + b (one kernel) and ``mse_loss``, E(θ) = 1/(2N)·‖Aθ − t‖², so
    ∇E = Aᵀ(Aθ − t)/N and ∇²E = AᵀA/N, whatever the targets t. With D kernels the
    Hessian is block diagonal with D copies of this block (same eigenvalues).
    Derived in notebooks/06_debugging_backprop.ipynb,
    "A.1 Derivation: a linear convolution's loss is a quadratic bowl".
    """
    x = np.asarray(x, dtype=np.float64)
    A = conv_regression_design(x, kernel_size, stride, padding)
    return A.T @ A / x.shape[0]


def largest_stable_lr(
    x: ArrayLike, kernel_size: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0
) -> float:
    """The largest step size for which full-batch gradient descent on that loss converges.

    Returns
    -------
    float
        2 / λmax of ``conv_regression_hessian(x, kernel_size, stride, padding)``: gradient
        descent with a learning rate below it converges, above it diverges (from almost
        every starting point). Derived in notebooks/06_debugging_backprop.ipynb.
    """
    lam = np.linalg.eigvalsh(conv_regression_hessian(x, kernel_size, stride, padding))
    return 2.0 / float(lam.max())


def gd_direction_losses(
    lam: ArrayLike, c0: ArrayLike, lr: float, steps: int, stop_factor: float = 1e6
) -> np.ndarray:
    """Loss of full-batch gradient descent on a quadratic, split by eigen-direction (closed form).

    Parameters
    ----------
    lam : array-like of shape (P,)
        Eigenvalues λᵢ of the Hessian (all > 0).
    c0 : array-like of shape (P,)
        Components cᵢ(0) = vᵢ · (θ₀ − θ*) of the starting error along the eigenvectors vᵢ.
    lr : float
        Step size η.
    steps : int
    stop_factor : float
        A diverging run is cut at the first step whose loss exceeds stop_factor × the
        initial loss: later rows are NaN (a plot shows the run stopping there).

    Returns
    -------
    ndarray of shape (steps + 1, P)
        parts[k, i] = ½ λᵢ · ((1 − η λᵢ)ᵏ cᵢ(0))², so parts[k].sum() = E(θ_k) − E*.

    Notes
    -----
    Gradient descent θ ← θ − η ∇E on E = E* + ½ (θ − θ*)ᵀ H (θ − θ*) multiplies each
    component cᵢ by (1 − η λᵢ) per step: it shrinks iff η < 2/λᵢ.
    Derived in notebooks/06_debugging_backprop.ipynb,
    "A.5 Why first down, then up: one direction at a time".
    """
    lam, c0 = np.asarray(lam, dtype=float), np.asarray(c0, dtype=float)
    k = np.arange(steps + 1)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        parts = 0.5 * lam * (c0 * (1.0 - lr * lam) ** k) ** 2
    total = parts.sum(axis=1)
    over = np.flatnonzero(~(total <= stop_factor * total[0]))
    if over.size:
        parts[over[0] + 1 :] = np.nan
    return parts
