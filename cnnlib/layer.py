"""The base of every layer (``Layer``) and what the layers share: copies, shapes, initial weights.

The layers' edge rules are in cnnlib.layers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .nesting import Nesting


class Layer(Nesting):
    """Base class: no parameters; subclasses implement forward and backward.

    ``sublayers()``, ``train()``, ``eval()`` and the ``training`` flag come from
    cnnlib.nesting.Nesting (layers that hold layers).
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self._saved = None

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x -> y; keeps what the backward needs."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """δ of y -> δ of x; overwrites (never accumulates) ``self.grads``."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward")

    def _save(self, value):
        self._saved = value

    def _saved_for_backward(self):
        """What forward kept for backward (an input, its cache or its shape, by layer)."""
        if self._saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def own_copy(x, x_in):
    """x (already converted from the caller's x_in) as an array no caller can change."""
    if isinstance(x_in, np.ndarray) and np.may_share_memory(x, x_in):
        return x.copy()
    return x  # converting already made a new array


def shape_only(x):
    """A stand-in of x's shape and dtype that takes no memory, for backwards that read only those."""
    return np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)


def uniform_init(rng, shape, fan_in, dtype):
    """Weights drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as PyTorch initialises its layers."""
    # PyTorch's default (kaiming_uniform_ with a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def validate_count(value, name):
    """value as an int, or a ValueError naming it when it is not a positive int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)
