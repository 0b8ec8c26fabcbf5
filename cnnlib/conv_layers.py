"""The convolution layers: Conv2D and ConvTranspose2D (exported by cnnlib.layers and cnnlib).

The edge rules of every layer are in cnnlib.layers. Derived in notebooks/01_single_kernel.ipynb to
04_padding.ipynb (Conv2D) and 08_convolution_family.ipynb (ConvTranspose2D).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .conv import conv2d_backward, conv2d_forward_with_cache
from .conv_transpose import conv_transpose2d_backward, conv_transpose2d_forward
from .layer import Layer, own_copy, uniform_init, validate_count
from .shapes import (
    IntOrPair,
    RngLike,
    as_float_array,
    as_rng,
    validate_dilation,
    validate_groups,
    validate_layer_dtype,
    validate_ndim,
    validate_output_padding,
    validate_padding,
    validate_size,
    validate_stride,
)


def _conv_geometry(in_channels, out_channels, kernel_size, stride, padding):
    """The checked channel counts, kernel size, stride and padding every convolution layer has."""
    return (
        validate_count(in_channels, "in_channels"),
        validate_count(out_channels, "out_channels"),
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
        self.params["w"] = uniform_init(rng, (self.out_channels, c, kh, kw), fan_in, dtype)
        self.params["b"] = uniform_init(rng, (self.out_channels,), fan_in, dtype)

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
        self.params["w"] = uniform_init(rng, (self.in_channels, self.out_channels, kh, kw), fan_in, dtype)
        self.params["b"] = uniform_init(rng, (self.out_channels,), fan_in, dtype)

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
        self._save(own_copy(x, x_in))
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
