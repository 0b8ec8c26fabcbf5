"""Output sizes and argument checks shared by every op.

Every public function of cnnlib validates its arguments here, so that a mistake
(a 3-channel input given to a 2-channel kernel, a stride of 0, ...) fails at once
with a message naming what was expected and what was received, instead of an
IndexError from deep inside NumPy or, worse, a silently wrong answer.

Derived in notebooks/00_correlation_and_notation.ipynb (output size).
"""

from .validation import (
    IntOrPair,
    RngLike,
    as_float_array,
    as_pair,
    as_rng,
    conv_output_size,
    output_shape,
    padding_sides,
    pool_output_shape,
    validate_bias,
    validate_conv_args,
    validate_conv_transpose_args,
    validate_dilation,
    validate_dy,
    validate_groups,
    validate_layer_dtype,
    validate_ndim,
    validate_output_padding,
    validate_padding,
    validate_pool_args,
    validate_size,
    validate_stride,
)
from .windows import coverage_map, dilated_route_counts, transposed_conv_padding

__all__ = [
    "IntOrPair", "RngLike",
    "as_float_array", "as_pair", "as_rng", "conv_output_size", "output_shape", "padding_sides",
    "pool_output_shape", "validate_bias", "validate_conv_args", "validate_conv_transpose_args",
    "validate_dilation", "validate_dy", "validate_groups", "validate_layer_dtype", "validate_ndim",
    "validate_output_padding", "validate_padding", "validate_pool_args", "validate_size",
    "validate_stride",
    "coverage_map", "dilated_route_counts", "transposed_conv_padding",
]  # fmt: skip
