"""Loop implementations that read like the course's equations, index by index.

Slow on purpose: every line of these functions is a line of a derivation in the
notebooks, with the same index names (x[c, i, j], y[d, i, j], w[d, c, m, n],
stride s, padding p). They are the oracles the fast versions in ``cnnlib.conv``
and ``cnnlib.pool`` are tested against. ``img`` indexes the examples of a batch.

The arguments are validated exactly as in the fast versions (same messages).
One function is vectorised on purpose: ``im2col_windows`` (a ``sliding_window_view``),
the answer of notebook 07's exercise, whose point is that copy; it is tested against
its loop definition.
"""

from .conv import conv2d_backward, conv2d_backward_input, conv2d_forward
from .correlate import convolve2d, correlate2d, im2col_windows
from .norm import batchnorm2d_backward, batchnorm2d_forward
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .transposed import conv_transpose2d_backward, conv_transpose2d_forward

__all__ = [
    "conv2d_forward", "conv2d_backward", "conv2d_backward_input",
    "conv_transpose2d_forward", "conv_transpose2d_backward",
    "correlate2d", "convolve2d", "im2col_windows",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "batchnorm2d_forward", "batchnorm2d_backward",
]  # fmt: skip
