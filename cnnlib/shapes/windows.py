"""The arithmetic of windows: coverage maps, the padding of ∂E/∂x as a transposed convolution,
route counts.
"""

from __future__ import annotations

import numpy as np

from .validation import conv_output_size, validate_padding, validate_size, validate_stride


def _axis_coverage(n, k, s, p):
    """Per position of the padded axis (length n + 2p): how many windows read it."""
    count = np.zeros(n + 2 * p, dtype=int)
    for i in range(conv_output_size(n, k, s, p)):
        count[i * s : i * s + k] += 1
    return count


def coverage_map(H, W, kernel_size, stride=1, padding=0, *, padded=False):
    """How many outputs read each input pixel (the coverage map of a strided correlation).

    Parameters
    ----------
    H, W : int
        Input size (before padding).
    kernel_size, stride, padding : int or pair
    padded : bool
        False: the map over the input, shape (H, W). True: over the padded input,
        shape (H + 2ph, W + 2pw), padding cells included.

    Returns
    -------
    ndarray of int, shape (H, W) or (H + 2ph, W + 2pw)

    Notes
    -----
    count[u, v] = #{(i, j) : 0 ≤ u − i·s < kh and 0 ≤ v − j·s < kw} in padded
    coordinates; it factorises into (windows over row u) × (windows over column v).
    It equals ∂E/∂x when δ = 1 and w = 1. Away from the borders a row is read by
    ⌊k/s⌋ or ⌈k/s⌉ windows, so the map is uneven (a checkerboard) whenever k is
    not a multiple of s, and zero on rows no window reaches.
    Derived in notebooks/03_stride.ipynb.
    """
    (kh, kw), (sh, sw), (ph, pw) = (
        validate_size(kernel_size, "kernel_size"),
        validate_stride(stride),
        validate_padding(padding),
    )
    rows, cols = _axis_coverage(H, kh, sh, ph), _axis_coverage(W, kw, sw, pw)
    full = np.outer(rows, cols)
    return full if padded else full[ph : ph + H, pw : pw + W]


def transposed_conv_padding(n, k, stride=1, padding=0):
    """Zeros to add before and after dilate(δ, s) along one axis, for ∂E/∂x as a transposed convolution.

    The library's solution of the second exercise of notebooks/04_padding.ipynb.

    Parameters
    ----------
    n : int
        Input length H (or W) before padding.
    k : int
        Kernel length along the same axis.
    stride : int
        s along that axis.
    padding : int or (top, bottom)
        The forward padding along that axis: p on both sides, or top zeros before and
        bottom zeros after the input (asymmetric, as "same" padding needs for even k).

    Returns
    -------
    (before, after) : (int, int)
        before = k − 1 − top and after = k − 1 − bottom + r with
        r = (n + top + bottom − k) mod s; for symmetric padding p these are k − p − 1
        and k − p − 1 + r. A negative amount means cropping that many entries
        (``cnnlib.pad`` accepts it).

    Notes
    -----
    After padding, the valid cross-correlation with rot180(w) has length
    before + (Ho − 1)·s + 1 + after − k + 1 = n: exactly ∂E/∂x, no crop needed.
    Derived in notebooks/04_padding.ipynb.
    """
    top, bottom = (padding, padding) if np.ndim(padding) == 0 else padding
    r = (n + top + bottom - k) % stride
    return k - 1 - top, k - 1 - bottom + r


def dilated_route_counts(Ho, Wo, kh, kw, stride=1):
    """Multiply-adds of the "dilate, pad, correlate with rot180(w)" route to ∂E/∂x, and how many are by zero.

    Counted for one image, one input channel c and one kernel d (multiply by N·C·D
    for a whole layer).

    Parameters
    ----------
    Ho, Wo : int
        Size of δ.
    kh, kw : int
        Kernel size.
    stride : int

    Returns
    -------
    total, zero : int
        total = ((Ho − 1)s + kh) · ((Wo − 1)s + kw) · kh·kw: every pixel of the
        ((Ho − 1)s + kh) × ((Wo − 1)s + kw) region of ∂E/∂xp that windows reach takes
        kh·kw products with pad(dilate(δ, s), k − 1). Only Ho·Wo·kh·kw of them meet a
        δ entry (each entry meets each kernel weight once: the products of the
        accumulation route); the rest, zero = total − Ho·Wo·kh·kw, multiply a
        zero. Their share tends to (s² − 1)/s² for large Ho, Wo.

    Notes
    -----
    Derived in notebooks/07_fast_convolution.ipynb.
    """
    s = int(stride)
    total = ((Ho - 1) * s + kh) * ((Wo - 1) * s + kw) * kh * kw
    return total, total - Ho * Wo * kh * kw
