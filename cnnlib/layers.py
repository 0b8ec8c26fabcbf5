"""Layers: objects that keep what their backward needs from the forward.

Every layer has ``forward(x) -> y`` and ``backward(dy) -> dx``. Layers with
parameters keep them in ``layer.params`` and, after ``backward``, their gradients in
``layer.grads`` under the same keys ("w", "b"). ``backward`` overwrites ``grads``
(it never accumulates across calls), so no zero_grad is needed.

Edge rules:

- What a layer keeps is its own: a copy of x (activations, Dense, MaxPool2D), only
  its shape (Flatten, AvgPool2D) or the convolution's cache, itself a copy
  (Conv2D). Changing x in place between forward and backward changes nothing.
- A layer remembers one forward, so one instance cannot appear twice in a
  ``Sequential`` (a ValueError says so); use two instances.
- dtypes: a layer's ``dtype=`` is np.float32 or np.float64, anything else is a
  TypeError at construction (integers would initialise every weight to 0). Inputs
  convert as everywhere in cnnlib: float32 stays, other real numbers become
  float64, other dtypes are a TypeError naming the dtype; outputs have the
  ``np.result_type`` of input and parameters.
- NaN and inf propagate as in the functions the layers call (see cnnlib.conv and
  cnnlib.pool).
- Empty batches (N = 0) flow through every layer, forward and backward, as
  arrays of the right shapes.
- ``rng`` is a Generator, an int seed or None, as ``np.random.default_rng`` takes.

Derived in notebooks/01_single_kernel.ipynb to 05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import activations
from .conv_layers import Conv2D, ConvTranspose2D
from .layer import Layer, own_copy, shape_only, uniform_init, validate_count
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .shapes import (
    IntOrPair,
    RngLike,
    as_float_array,
    as_rng,
    validate_dy,
    validate_layer_dtype,
    validate_size,
    validate_stride,
)

__all__ = [
    "AvgPool2D",
    "Conv2D",
    "ConvTranspose2D",
    "Dense",
    "Flatten",
    "Layer",
    "MaxPool2D",
    "ReLU",
    "Sigmoid",
    "Tanh",
]


class _Pool(Layer):
    _forward: Callable[..., np.ndarray]  # set by each pooling layer
    _backward: Callable[..., np.ndarray]
    _needs_values = True  # False: the backward reads only x's shape

    def __init__(self, size: IntOrPair, stride: IntOrPair | None = None) -> None:
        super().__init__()
        self.size = validate_size(size, "size")
        self.stride = self.size if stride is None else validate_stride(stride)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x : (N, C, H, W) -> y : (N, C, Ho, Wo)."""
        x_in, x = x, as_float_array(x, "x")
        y = type(self)._forward(x, self.size, self.stride)
        self._save(own_copy(x, x_in) if self._needs_values else shape_only(x))
        return y

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """dy : (N, C, Ho, Wo) -> dx : (N, C, H, W)."""
        return type(self)._backward(dy, self._saved_for_backward(), self.size, self.stride)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, stride={self.stride})"


class MaxPool2D(_Pool):
    """Max pooling layer; see ``maxpool2d_forward``/``maxpool2d_backward``.

    Keeps a copy of x: the backward finds each window's winner again from it.
    """

    _forward, _backward = staticmethod(maxpool2d_forward), staticmethod(maxpool2d_backward)


class AvgPool2D(_Pool):
    """Average pooling layer; see ``avgpool2d_forward``/``avgpool2d_backward``."""

    _forward, _backward = staticmethod(avgpool2d_forward), staticmethod(avgpool2d_backward)
    _needs_values = False


class _Activation(Layer):
    f: Callable[[np.ndarray], np.ndarray]  # set by each activation layer
    f_prime: Callable[[np.ndarray], np.ndarray]

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Element-wise f(x); any shape. Keeps a copy of x for f′(x)."""
        x_in, x = x, as_float_array(x, "x")
        self._save(own_copy(x, x_in))
        return type(self).f(x)

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """δ_in = δ_out ⊙ f′(x)."""
        x = self._saved_for_backward()
        dy = as_float_array(dy, "dy")
        validate_dy(dy, x.shape)
        return dy * type(self).f_prime(x)


class ReLU(_Activation):
    """f(x) = max(0, x); f′(x) = 1 for x > 0, else 0."""

    f, f_prime = staticmethod(activations.relu), staticmethod(activations.relu_derivative)


class Sigmoid(_Activation):
    """f(x) = 1/(1 + e^(−x)); f′ = f(1 − f)."""

    f, f_prime = staticmethod(activations.sigmoid), staticmethod(activations.sigmoid_derivative)


class Tanh(_Activation):
    """f(x) = tanh x; f′ = 1 − tanh² x."""

    f, f_prime = staticmethod(activations.tanh), staticmethod(activations.tanh_derivative)


class Flatten(Layer):
    """(N, C, H, W) -> (N, C·H·W), row-major; backward reshapes δ back. Keeps only x's shape."""

    def forward(self, x: ArrayLike) -> np.ndarray:
        x = as_float_array(x, "x")
        if x.ndim < 1:
            raise ValueError(f"x must have a batch axis: shape (N, ...), got shape {x.shape}")
        self._save(x.shape)
        # the size, not -1: reshape cannot infer it from an empty batch
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, dy: ArrayLike) -> np.ndarray:
        shape = self._saved_for_backward()
        dy = as_float_array(dy, "dy")
        validate_dy(dy, (shape[0], math.prod(shape[1:])))
        return dy.reshape(shape)


class Dense(Layer):
    """Fully connected layer, y = x @ w.T + b (PyTorch's layout).

    Parameters
    ----------
    in_features, out_features : int
    rng : numpy.random.Generator, int seed or None
    dtype : np.float64 (default) or np.float32
        Anything else is a TypeError.

    Notes
    -----
    params["w"] has shape (out_features, in_features), params["b"] shape (out_features,).
    Backward: ∂E/∂w = δᵀ x, ∂E/∂b = Σ_N δ, ∂E/∂x = δ w.
    Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """

    def __init__(
        self, in_features: int, out_features: int, rng: RngLike = None, dtype: DTypeLike = np.float64
    ) -> None:
        super().__init__()
        self.in_features = validate_count(in_features, "in_features")
        self.out_features = validate_count(out_features, "out_features")
        rng, dtype = as_rng(rng), validate_layer_dtype(dtype)
        shape = (self.out_features, self.in_features)
        self.params["w"] = uniform_init(rng, shape, self.in_features, dtype)
        self.params["b"] = uniform_init(rng, (self.out_features,), self.in_features, dtype)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x : (N, in_features) -> y : (N, out_features). Keeps a copy of x for ∂E/∂w."""
        x_in, x = x, as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Dense expects input of shape (N, in_features) = (N, {self.in_features}), got {x.shape}"
            )
        self._save(own_copy(x, x_in))
        return x @ self.params["w"].T + self.params["b"]

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """dy : (N, out_features) -> dx : (N, in_features); sets grads["w"], grads["b"]."""
        x = self._saved_for_backward()
        dy = as_float_array(dy, "dy")
        validate_dy(dy, (x.shape[0], self.out_features))
        self.grads = {"w": dy.T @ x, "b": dy.sum(axis=0)}
        return dy @ self.params["w"]

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features})"
