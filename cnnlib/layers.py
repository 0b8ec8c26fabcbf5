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
from .conv import conv2d_backward, conv2d_forward_with_cache
from .conv_transpose import conv_transpose2d_backward, conv_transpose2d_forward
from .nesting import Nesting
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .shapes import (
    IntOrPair,
    RngLike,
    as_float_array,
    as_rng,
    validate_dilation,
    validate_dy,
    validate_groups,
    validate_layer_dtype,
    validate_ndim,
    validate_output_padding,
    validate_padding,
    validate_size,
    validate_stride,
)


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


def _own_copy(x, x_in):
    """x (already converted from the caller's x_in) as an array no caller can change."""
    if isinstance(x_in, np.ndarray) and np.may_share_memory(x, x_in):
        return x.copy()
    return x  # converting already made a new array


def _shape_only(x):
    """A stand-in of x's shape and dtype that takes no memory, for backwards that read only those."""
    return np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)


def _uniform_init(rng, shape, fan_in, dtype):
    # PyTorch's default (kaiming_uniform_ with a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _validate_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _conv_geometry(in_channels, out_channels, kernel_size, stride, padding):
    """The checked channel counts, kernel size, stride and padding every convolution layer has."""
    return (
        _validate_count(in_channels, "in_channels"),
        _validate_count(out_channels, "out_channels"),
        validate_size(kernel_size, "kernel_size"),
        validate_stride(stride),
        validate_padding(padding),
    )


class Conv2D(Layer):
    """Convolution layer (cross-correlation) with D = out_channels kernels and one bias each.

    Parameters
    ----------
    in_channels : int
        C, channels of the input.
    out_channels : int
        D, number of kernels (channels of the output).
    kernel_size : int or (kh, kw)
    stride, padding, dilation : int or pair
    groups : int
        Dividing C and D; groups = C = D is a depthwise convolution.
    rng : numpy.random.Generator, int seed or None
        For the initial weights; None makes a fresh unseeded generator.
    dtype : np.float64 (default) or np.float32
        Anything else is a TypeError.

    Notes
    -----
    params["w"] has shape (D, C/groups, kh, kw), params["b"] shape (D,); both start
    U(−1/√fan_in, 1/√fan_in) with fan_in = C/groups·kh·kw (PyTorch's default).
    Forward: y = x ★ w + b; backward: see ``conv2d_backward``.
    Derived in notebooks/02_multi_kernel.ipynb; dilation and groups taught in
    notebooks/08_convolution_family.ipynb.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair = 0,
        dilation: IntOrPair = 1,
        groups: int = 1,
        rng: RngLike = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding = _conv_geometry(
            in_channels, out_channels, kernel_size, stride, padding
        )
        self.dilation = validate_dilation(dilation)
        self.groups = validate_groups(groups, self.in_channels, self.out_channels)
        rng, dtype = as_rng(rng), validate_layer_dtype(dtype)
        kh, kw = self.kernel_size
        c = self.in_channels // self.groups  # the channels each kernel reads
        fan_in = c * kh * kw
        self.params["w"] = _uniform_init(rng, (self.out_channels, c, kh, kw), fan_in, dtype)
        self.params["b"] = _uniform_init(rng, (self.out_channels,), fan_in, dtype)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x : (N, C, H, W) -> y : (N, D, Ho, Wo)."""
        x = as_float_array(x, "x")
        validate_ndim(x, 4, "x", "(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2D expects in_channels={self.in_channels}, got an input with C={x.shape[1]} "
                f"channels (x.shape={x.shape})"
            )
        # keep only the cache: a copy of the padded x, laid out as the backward reads it
        args = (self.stride, self.padding, self.dilation, self.groups)
        y, cache = conv2d_forward_with_cache(x, self.params["w"], self.params["b"], *args)
        self._save(cache)
        return y

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """dy : (N, D, Ho, Wo) -> dx : (N, C, H, W); sets grads["w"], grads["b"]."""
        cache, w = self._saved_for_backward(), self.params["w"]
        args = (self.stride, self.padding, self.dilation, self.groups)
        dx, dw, db = conv2d_backward(dy, None, w, *args, cache=cache)
        self.grads = {"w": dw, "b": db}
        return dx

    def __repr__(self) -> str:
        family = "" if self.dilation == (1, 1) else f", dilation={self.dilation}"
        family += "" if self.groups == 1 else f", groups={self.groups}"
        return (
            f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}{family})"
        )


class ConvTranspose2D(Layer):
    """Transposed convolution layer (upsampling by the stride) with one bias per output channel.

    Parameters
    ----------
    in_channels : int
        C_in, channels of the input.
    out_channels : int
        C_out, channels of the output.
    kernel_size : int or (kh, kw)
    stride, padding, output_padding : int or pair
        output_padding smaller than stride along each axis.
    rng : numpy.random.Generator, int seed or None
    dtype : np.float64 (default) or np.float32

    Notes
    -----
    params["w"] has shape (C_in, C_out, kh, kw), params["b"] shape (C_out,); both start
    U(−1/√fan_in, 1/√fan_in) with fan_in = C_out·kh·kw, PyTorch's default: its
    fan_in reads the weight's second axis, which for this layout is C_out.
    Forward and backward: see ``conv_transpose2d_forward`` and ``conv_transpose2d_backward``.
    The layer keeps a copy of x (its ∂E/∂w needs it). Derived in notebooks/08_convolution_family.ipynb.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair = 0,
        output_padding: IntOrPair = 0,
        rng: RngLike = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding = _conv_geometry(
            in_channels, out_channels, kernel_size, stride, padding
        )
        self.output_padding = validate_output_padding(output_padding, self.stride)
        rng, dtype = as_rng(rng), validate_layer_dtype(dtype)
        kh, kw = self.kernel_size
        fan_in = self.out_channels * kh * kw
        self.params["w"] = _uniform_init(rng, (self.in_channels, self.out_channels, kh, kw), fan_in, dtype)
        self.params["b"] = _uniform_init(rng, (self.out_channels,), fan_in, dtype)

    def _args(self):
        return self.stride, self.padding, self.output_padding

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x : (N, C_in, H, W) -> y : (N, C_out, Ho, Wo)."""
        x_in, x = x, as_float_array(x, "x")
        validate_ndim(x, 4, "x", "(N, C_in, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"ConvTranspose2D expects in_channels={self.in_channels}, got an input with "
                f"C={x.shape[1]} channels (x.shape={x.shape})"
            )
        y = conv_transpose2d_forward(x, self.params["w"], self.params["b"], *self._args())
        self._save(_own_copy(x, x_in))
        return y

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """dy : (N, C_out, Ho, Wo) -> dx : (N, C_in, H, W); sets grads["w"], grads["b"]."""
        x = self._saved_for_backward()
        dx, dw, db = conv_transpose2d_backward(dy, x, self.params["w"], *self._args())
        self.grads = {"w": dw, "b": db}
        return dx

    def __repr__(self) -> str:
        return (
            f"ConvTranspose2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding})"
        )


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
        self._save(_own_copy(x, x_in) if self._needs_values else _shape_only(x))
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
        self._save(_own_copy(x, x_in))
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
        self.in_features = _validate_count(in_features, "in_features")
        self.out_features = _validate_count(out_features, "out_features")
        rng, dtype = as_rng(rng), validate_layer_dtype(dtype)
        shape = (self.out_features, self.in_features)
        self.params["w"] = _uniform_init(rng, shape, self.in_features, dtype)
        self.params["b"] = _uniform_init(rng, (self.out_features,), self.in_features, dtype)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x : (N, in_features) -> y : (N, out_features). Keeps a copy of x for ∂E/∂w."""
        x_in, x = x, as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Dense expects input of shape (N, in_features) = (N, {self.in_features}), got {x.shape}"
            )
        self._save(_own_copy(x, x_in))
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
