"""Element-wise activations f and their derivatives f′.

In backprop an activation enters only through f′: δ_before = δ_after ⊙ f′(y), where
y is the activation's input (the pre-activation of the layer below).
Derived in notebooks/01_single_kernel.ipynb and 05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .shapes import as_float_array


def relu(y: ArrayLike) -> np.ndarray:
    """f(y) = max(0, y), element-wise. y : ndarray of any shape."""
    y = as_float_array(y, "y")
    return np.maximum(y, 0)


def relu_derivative(y: ArrayLike) -> np.ndarray:
    """f′(y) = 1 where y > 0, else 0 (the derivative at 0 is taken to be 0)."""
    y = as_float_array(y, "y")
    return (y > 0).astype(y.dtype)


def sigmoid(y: ArrayLike) -> np.ndarray:
    """f(y) = 1 / (1 + exp(-y)), computed without overflow for large |y|."""
    y = as_float_array(y, "y")
    e = np.exp(-np.abs(y))
    return np.where(y >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(y: ArrayLike) -> np.ndarray:
    """f′(y) = f(y)·(1 − f(y))."""
    s = sigmoid(y)
    return s * (1 - s)


def tanh(y: ArrayLike) -> np.ndarray:
    """f(y) = tanh(y)."""
    return np.tanh(as_float_array(y, "y"))


def tanh_derivative(y: ArrayLike) -> np.ndarray:
    """f′(y) = 1 − tanh(y)²."""
    return 1 - tanh(y) ** 2
