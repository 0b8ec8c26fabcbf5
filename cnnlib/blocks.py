"""The layers of the modern block: batch normalisation, global average pooling, residual connections.

A ResNet-style block is conv3x3 → BatchNorm2D → ReLU → conv3x3 → BatchNorm2D, added to
its input (``Residual``), then ReLU; a ``GlobalAvgPool2D`` before the classifier
replaces flattening. The layers follow the rules of ``cnnlib.layers`` (forward/backward,
params/grads, dtypes, inputs never modified nor kept); ``train()``/``eval()`` switch
batch norm between batch statistics and running statistics, through any nesting.

Derived in notebooks/09_the_modern_block.ipynb.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .layers import Layer
from .nesting import validate_sublayers
from .norm import batchnorm2d_backward, batchnorm2d_forward, validate_eps
from .shapes import as_float_array, validate_dy, validate_layer_dtype, validate_ndim


class BatchNorm2D(Layer):
    """Batch normalisation of each of C channels, with a learned scale γ and shift β.

    Parameters
    ----------
    num_channels : int
        C, channels of the input.
    eps : float > 0
        Added to the variance.
    momentum : float in [0, 1]
        Weight of the new batch in the running statistics (PyTorch's convention).
    dtype : np.float64 (default) or np.float32

    Notes
    -----
    params["gamma"] starts at ones, params["beta"] at zeros, both of shape (C,).
    Training mode (the default; ``train()``): y = γ x̂ + β with the batch's statistics
    (``batchnorm2d_forward``), and the running statistics move as PyTorch's BatchNorm2d
    moves them, with the unbiased batch variance (M = N·H·W):

        running_mean ← (1 − momentum) running_mean + momentum μ
        running_var ← (1 − momentum) running_var + momentum σ² M/(M − 1)

    Eval mode (``eval()``): the same map with running_mean and running_var (starting at
    zeros and ones), an affine map per channel; nothing moves.
    Derived in notebooks/09_the_modern_block.ipynb.
    """

    def __init__(
        self, num_channels: int, eps: float = 1e-5, momentum: float = 0.1, dtype: DTypeLike = np.float64
    ) -> None:
        super().__init__()
        if (
            isinstance(num_channels, bool)
            or not isinstance(num_channels, (int, np.integer))
            or num_channels < 1
        ):
            raise ValueError(f"num_channels must be a positive int, got {num_channels!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}")
        dtype = validate_layer_dtype(dtype)
        self.num_channels: int = int(num_channels)
        self.eps: float = validate_eps(eps)
        self.momentum: float = float(momentum)
        self.params["gamma"] = np.ones(self.num_channels, dtype=dtype)
        self.params["beta"] = np.zeros(self.num_channels, dtype=dtype)
        self.running_mean: np.ndarray = np.zeros(self.num_channels, dtype=dtype)
        self.running_var: np.ndarray = np.ones(self.num_channels, dtype=dtype)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x : (N, C, H, W) -> y : (N, C, H, W); in training mode N·H·W >= 2."""
        x = as_float_array(x, "x")
        validate_ndim(x, 4, "x", "(N, C, H, W)")
        if x.shape[1] != self.num_channels:
            raise ValueError(
                f"BatchNorm2D expects num_channels={self.num_channels}, got an input with "
                f"C={x.shape[1]} channels (x.shape={x.shape})"
            )
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not self.training:
            y, cache = batchnorm2d_forward(
                x, gamma, beta, self.eps, mean=self.running_mean, var=self.running_var
            )
        else:
            y, cache = batchnorm2d_forward(x, gamma, beta, self.eps)
            M = x.size // x.shape[1]
            m = self.momentum
            # in place: whoever holds the running arrays sees them move, as PyTorch's buffers
            self.running_mean *= 1 - m
            self.running_mean += m * cache.mean
            self.running_var *= 1 - m
            self.running_var += m * cache.var * (M / (M - 1))
        self._save(cache)
        return y

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """dy : (N, C, H, W) -> dx : (N, C, H, W); sets grads["gamma"], grads["beta"]."""
        dx, dgamma, dbeta = batchnorm2d_backward(dy, self._saved_for_backward())
        self.grads = {"gamma": dgamma, "beta": dbeta}
        return dx

    def __repr__(self) -> str:
        return f"BatchNorm2D({self.num_channels}, eps={self.eps}, momentum={self.momentum})"


class GlobalAvgPool2D(Layer):
    """The mean of each channel over its H x W pixels: (N, C, H, W) -> (N, C).

    Notes
    -----
    y[n, c] = 1/(H·W) Σ_{i,j} x[n, c, i, j]; backward: ∂E/∂x[n, c, i, j] = δ[n, c]/(H·W)
    (every pixel of a channel gets the same share). Keeps only x's shape.
    Derived in notebooks/09_the_modern_block.ipynb.
    """

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x : (N, C, H, W) -> y : (N, C)."""
        x = as_float_array(x, "x")
        validate_ndim(x, 4, "x", "(N, C, H, W)")
        if x.shape[2] * x.shape[3] == 0:
            raise ValueError(
                f"global average pooling needs H, W >= 1 (a mean of no pixels), got x.shape={x.shape}"
            )
        self._save((x.shape, x.dtype))
        return x.mean(axis=(2, 3))

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """dy : (N, C) -> dx : (N, C, H, W)."""
        (N, C, H, W), dtype = self._saved_for_backward()
        dy = as_float_array(dy, "dy")
        validate_dy(dy, (N, C))
        share = (dy / (H * W)).astype(np.result_type(dy, dtype), copy=False)
        return np.repeat(share, H * W, axis=1).reshape(N, C, H, W)


class Residual(Layer):
    """y = layers(x) + shortcut(x): a residual connection around a stack of layers.

    Parameters
    ----------
    *layers : Layer
        The main branch, applied in order (at least one).
    shortcut : Layer, Sequential or None
        None: the identity (y = F(x) + x); else e.g. a 1x1 Conv2D that matches the
        main branch's channels or stride.

    Notes
    -----
    Backward: δ reaches x along both branches and the two add up,
    ∂E/∂x = (∂F/∂x)ᵀ δ + (∂S/∂x)ᵀ δ; with the identity shortcut, the second term is δ
    itself, unchanged by the depth of F. Nested layers are named "0", "1", ... and
    "shortcut" (e.g. gradient-check key "1.0.gamma"); each instance at one place only.
    Derived in notebooks/09_the_modern_block.ipynb.
    """

    def __init__(self, *layers: Layer, shortcut: Layer | None = None) -> None:
        super().__init__()
        if not layers:
            raise ValueError("Residual needs at least one layer on its main branch, got none")
        # typed loosely: any object with forward and backward is a layer (validate_sublayers checks)
        self.layers: list[Any] = list(layers)
        self.shortcut: Any = shortcut
        validate_sublayers(self.sublayers())

    def sublayers(self) -> list[tuple[str, Layer]]:
        """The main branch's layers by position, then the shortcut (when not the identity)."""
        named = [(str(i), layer) for i, layer in enumerate(self.layers)]
        return named + ([("shortcut", self.shortcut)] if self.shortcut is not None else [])

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x -> layers(x) + shortcut(x)."""
        x = as_float_array(x, "x")
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        s = x if self.shortcut is None else self.shortcut.forward(x)
        if h.shape != s.shape:
            what = "the input (identity shortcut)" if self.shortcut is None else "the shortcut's output"
            raise ValueError(
                f"Residual adds the main branch's output, shape {h.shape}, to {what}, shape {s.shape}: "
                "they must match (a 1x1 Conv2D shortcut can change channels and stride)"
            )
        return h + s

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """δ through the main branch (in reverse) plus δ through the shortcut."""
        dy = as_float_array(dy, "dy")
        dh = dy
        for layer in reversed(self.layers):
            dh = layer.backward(dh)
        ds = dy if self.shortcut is None else self.shortcut.backward(dy)
        return dh + ds

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Residual({inner}{'' if self.shortcut is None else f', shortcut={self.shortcut!r}'})"
