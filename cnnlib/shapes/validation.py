"""Argument normalisation and validation, and the output size of a window (see ``cnnlib.shapes``)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np

# what the public API takes for stride, padding, dilation and sizes: an int or an (h, w) pair
# (a 0-d or length-2 integer array too)
IntOrPair: TypeAlias = int | tuple[int, int] | Sequence[int] | np.ndarray
# what a layer's or a training loop's rng= takes: a Generator, an int seed or None (fresh, unseeded)
RngLike: TypeAlias = np.random.Generator | int | None


def as_pair(value, name: str) -> tuple[int, int]:
    """Normalise an int or an (h, w) pair of ints to a pair of Python ints.

    Parameters
    ----------
    value : int or pair of int
        Stride, padding, kernel size or pool size.
    name : str
        Argument name used in error messages.

    Returns
    -------
    (int, int)
        The value along the height axis and along the width axis.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]  # a 0-d array is its one entry: np.array(2) means 2
    if isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
        return (_as_int(value[0], name, value), _as_int(value[1], name, value))
    return (_as_int(value, name, value),) * 2


def _as_int(v, name: str, whole) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(
            f"{name} must be an int or an (h, w) pair of ints, got {whole!r} (type {type(v).__name__})"
        )
    return int(v)


def padding_sides(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) from an int, an (ph, pw) pair or that nested form.

    Amounts may be negative (a crop), as ``cnnlib.pad`` takes them.
    """
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and isinstance(padding[0], (tuple, list)):
        return as_pair(padding[0], "padding"), as_pair(padding[1], "padding")
    top, left = as_pair(padding, "padding")
    return (top, top), (left, left)


def validate_stride(stride, name: str = "stride") -> tuple[int, int]:
    """Return stride as an (sh, sw) pair; each must be an integer >= 1."""
    s = as_pair(stride, name)
    if min(s) < 1:
        raise ValueError(f"{name} must be >= 1 along both axes, got {stride!r}")
    return s


def validate_padding(padding, name: str = "padding") -> tuple[int, int]:
    """Return zero padding as a (ph, pw) pair; each must be an integer >= 0."""
    p = as_pair(padding, name)
    if min(p) < 0:
        raise ValueError(f"{name} must be >= 0 along both axes, got {padding!r}")
    return p


def validate_size(size, name: str = "size") -> tuple[int, int]:
    """Return a kernel or pool window size as a (kh, kw) pair; each must be >= 1."""
    k = as_pair(size, name)
    if min(k) < 1:
        raise ValueError(f"{name} must be >= 1 along both axes, got {size!r}")
    return k


def validate_dilation(dilation, name: str = "dilation") -> tuple[int, int]:
    """Return dilation as a (dh, dw) pair; each must be an integer >= 1 (1: no gaps between taps)."""
    return validate_stride(dilation, name)


def validate_groups(groups, C: int, D: int) -> int:
    """Return groups as an int >= 1 that divides both the input channels C and the kernels D."""
    if isinstance(groups, np.ndarray) and groups.ndim == 0:
        groups = groups[()]
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be an int, got {groups!r} (type {type(groups).__name__})")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups!r}")
    if C % groups or D % groups:
        raise ValueError(
            f"groups={groups} must divide both the input channels C={C} and the number of kernels D={D}"
        )
    return int(groups)


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Number of window positions along one axis.

    Parameters
    ----------
    n : int
        Input length (H or W).
    k : int
        Kernel (or pool window) length along the same axis.
    stride : int
        Step s between window positions, >= 1.
    padding : int
        Zeros p added on each side, >= 0.
    dilation : int
        Step d between the kernel's taps, >= 1: a dilated kernel spans d(k - 1) + 1 entries.

    Returns
    -------
    int
        floor((n + 2p - d(k - 1) - 1) / s) + 1, which is floor((n + 2p - k) / s) + 1 for d = 1.
        n = 0 is allowed when the padding makes room for the window (a convolution of an
        empty axis with padding reads only zeros).

    Notes
    -----
    The last window must end inside the padded input: i·s + k <= n + 2p for
    i = 0 .. out-1, which gives out = floor((n + 2p - k) / s) + 1. No window reads
    the last (n + 2p - k) mod s rows, nor, when s > k, the s - k rows between two
    windows (``coverage_map`` counts the windows over every row). A dilated kernel
    is a kernel of size d(k - 1) + 1 with zeros between its taps.
    Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    for name, v, low in (("n", n, 0), ("k", k, 1)):
        _as_int(v, name, v)
        if v < low:
            raise ValueError(f"{name} must be >= {low}, got {v!r}")
    for name, v in (("stride", stride), ("padding", padding), ("dilation", dilation)):
        if isinstance(v, (tuple, list)) or np.ndim(v) > 0:
            raise TypeError(
                f"conv_output_size works along one axis: {name} must be an int, got {v!r}; "
                "call it once per axis with that axis' value"
            )
    (s, _), (p, _), (d, _) = validate_stride(stride), validate_padding(padding), validate_dilation(dilation)
    n, k = int(n), int(k)
    span = d * (k - 1) + 1  # what the window covers: k for d = 1
    if span > n + 2 * p:
        dilated = f" (kernel {k} dilated by {d})" if d > 1 else ""
        raise ValueError(
            f"window of size {span}{dilated} is larger than the padded input of size "
            f"{n} + 2*{p} = {n + 2 * p}"
        )
    return (n + 2 * p - span) // s + 1


def as_float_array(a, name: str) -> np.ndarray:
    """Convert an array-like to a float array: float32 stays float32, anything else float64.

    The input is never modified; callers only read the result.
    """
    if isinstance(a, np.ndarray) and a.dtype == np.float32:
        return a
    try:
        arr = np.asarray(a)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array, got {type(a).__name__}: {e}") from e
    if arr.dtype == np.float32:
        return arr
    # dtype kinds: b bool, i/u integers, f floats; c complex, m timedelta64 (which NumPy
    # counts as a number), M datetime64, O object, U/S strings, V records are not numbers
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def validate_layer_dtype(dtype) -> np.dtype:
    """Return a layer's parameter dtype: float32 or float64, anything else is a TypeError.

    Integer weights would be initialised to zeros (the uniform draw truncates) and
    float16 has too few digits for the gradient checks the course relies on.
    """
    try:
        if dtype is None:  # np.dtype(None) would silently mean float64
            raise TypeError
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from e
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dt}")
    return dt


def as_rng(rng: RngLike, name: str = "rng") -> np.random.Generator:
    """A Generator from a Generator, an int seed or None (fresh, unseeded), as ``np.random.default_rng``."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)  # a Generator is returned as is
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(
            f"{name} must be a numpy.random.Generator, an int seed or None, "
            f"got {rng!r} (type {type(rng).__name__})"
        )
    if rng < 0:
        raise ValueError(f"{name} must be a non-negative int seed, got {rng!r}")
    return np.random.default_rng(int(rng))


def validate_ndim(a: np.ndarray, ndim: int, name: str, layout: str) -> None:
    """Raise ValueError unless ``a`` has ``ndim`` dimensions (layout like "(N, C, H, W)")."""
    if a.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D with shape {layout}, got {a.ndim}-D array of shape {a.shape}"
        )


def output_shape(x_shape, w_shape, stride, padding, dilation=1, groups=1) -> tuple[int, int, int, int]:
    """Shape (N, D, Ho, Wo) of conv2d_forward(x, w, stride, padding, dilation, groups), with clear errors.

    Checks that x is (N, C, H, W), w is (D, C/groups, kh, kw), that groups divides C
    and D, and that the (dilated) kernel fits inside the padded input along both axes.
    """
    N, C, H, W = x_shape
    D, Cw, kh, kw = w_shape
    groups = validate_groups(groups, C, D)
    if groups == 1 and C != Cw:
        raise ValueError(
            f"channel mismatch: x has C={C} channels (x.shape={tuple(x_shape)}) but w expects "
            f"C={Cw} (w.shape={tuple(w_shape)}, layout (D, C, kh, kw))"
        )
    if groups != 1 and Cw != C // groups:
        raise ValueError(
            f"channel mismatch: with groups={groups}, w's second axis must be C/groups = {C}/{groups} "
            f"= {C // groups} (x.shape={tuple(x_shape)}), got w.shape={tuple(w_shape)} "
            "(layout (D, C/groups, kh, kw))"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel must be at least 1x1, got w.shape={tuple(w_shape)}")
    (sh, sw), (ph, pw), (dh, dw) = (
        validate_stride(stride),
        validate_padding(padding),
        validate_dilation(dilation),
    )
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # the dilated kernel's extent
    if eh > H + 2 * ph or ew > W + 2 * pw:
        dilated = f" dilated by {(dh, dw)} spans {eh}x{ew} and" if (dh, dw) != (1, 1) else ""
        raise ValueError(
            f"kernel {kh}x{kw}{dilated} is larger than the padded input "
            f"{H + 2 * ph}x{W + 2 * pw} (x.shape={tuple(x_shape)}, padding={(ph, pw)})"
        )
    return N, D, (H + 2 * ph - eh) // sh + 1, (W + 2 * pw - ew) // sw + 1


def pool_output_shape(x_shape, size, stride) -> tuple[int, int, int, int]:
    """Shape (N, C, Ho, Wo) of a pooling of x with window ``size`` and ``stride``."""
    N, C, H, W = x_shape
    (kh, kw), (sh, sw) = size, stride
    if kh > H or kw > W:
        raise ValueError(f"pool window {kh}x{kw} is larger than the input {H}x{W} (x.shape={tuple(x_shape)})")
    return N, C, (H - kh) // sh + 1, (W - kw) // sw + 1


def validate_dy(dy: np.ndarray, expected: tuple, name: str = "dy") -> None:
    """Raise ValueError unless the upstream gradient has the forward output's shape."""
    if dy.shape != tuple(expected):
        raise ValueError(
            f"{name} must have the shape of the forward output {tuple(expected)}, got {dy.shape}"
        )


def validate_conv_args(
    x, w, stride, padding, dilation=1, groups=1
) -> tuple[np.ndarray, np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
    """Convert and validate the arguments of a convolution.

    Returns
    -------
    x, w : float ndarrays of shape (N, C, H, W) and (D, C/groups, kh, kw)
    stride, padding : (int, int) pairs
    out_shape : (N, D, Ho, Wo)

    ``validate_dilation`` gives dilation as a pair; groups is checked here.
    """
    x, w = as_float_array(x, "x"), as_float_array(w, "w")
    validate_ndim(x, 4, "x", "(N, C, H, W)")
    validate_ndim(w, 4, "w", "(D, C, kh, kw)" if groups == 1 else "(D, C/groups, kh, kw)")
    out = output_shape(x.shape, w.shape, stride, padding, dilation, groups)
    return x, w, validate_stride(stride), validate_padding(padding), out


def validate_output_padding(output_padding, stride) -> tuple[int, int]:
    """Return output_padding as a pair of ints >= 0, each smaller than the stride (a pair) along its axis."""
    op = validate_padding(output_padding, "output_padding")
    if op[0] >= stride[0] or op[1] >= stride[1]:
        raise ValueError(
            f"output_padding must be smaller than stride along each axis, got output_padding={op} "
            f"and stride={tuple(stride)}"
        )
    return op


def validate_conv_transpose_args(
    x, w, stride, padding, output_padding
) -> tuple[
    np.ndarray, np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int, int, int]
]:
    """Convert and validate the arguments of a transposed convolution.

    Returns
    -------
    x, w : float ndarrays of shape (N, C_in, H, W) and (C_in, C_out, kh, kw)
    stride, padding, output_padding : (int, int) pairs
    out_shape : (N, C_out, Ho, Wo) with Ho = (H − 1)·sh − 2·ph + kh + oph (PyTorch's size)
    """
    x, w = as_float_array(x, "x"), as_float_array(w, "w")
    validate_ndim(x, 4, "x", "(N, C_in, H, W)")
    validate_ndim(w, 4, "w", "(C_in, C_out, kh, kw)")
    (N, C, H, W), (Cw, D, kh, kw) = x.shape, w.shape
    if C != Cw:
        raise ValueError(
            f"channel mismatch: x has C_in={C} channels (x.shape={x.shape}) but w expects C_in={Cw} "
            f"(w.shape={w.shape}, layout (C_in, C_out, kh, kw))"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel must be at least 1x1, got w.shape={w.shape}")
    s, p = validate_stride(stride), validate_padding(padding)
    op = validate_output_padding(output_padding, s)
    if H < 1 or W < 1:
        raise ValueError(
            f"a transposed convolution needs at least one input row and column, got x.shape={x.shape}"
        )
    Ho, Wo = (H - 1) * s[0] - 2 * p[0] + kh + op[0], (W - 1) * s[1] - 2 * p[1] + kw + op[1]
    if Ho < 1 or Wo < 1:
        raise ValueError(
            f"output size (H − 1)·s − 2p + k + output_padding = {Ho}x{Wo} must be at least 1x1 "
            f"(x.shape={x.shape}, w.shape={w.shape}, stride={s}, padding={p}, output_padding={op})"
        )
    return x, w, s, p, op, (N, D, Ho, Wo)


def validate_bias(b, D: int) -> np.ndarray | None:
    """Convert b to a float array of shape (D,), or pass None through."""
    if b is None:
        return None
    b = as_float_array(b, "b")
    if b.shape != (D,):
        raise ValueError(f"b must have shape (D,) = ({D},), one bias per kernel, got {b.shape}")
    return b


def validate_pool_args(
    x, size, stride
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
    """Convert and validate the arguments of a pooling; stride None means stride = size.

    Returns
    -------
    x : float ndarray of shape (N, C, H, W)
    size, stride : (int, int) pairs
    out_shape : (N, C, Ho, Wo)
    """
    x = as_float_array(x, "x")
    validate_ndim(x, 4, "x", "(N, C, H, W)")
    size = validate_size(size, "size")
    stride = size if stride is None else validate_stride(stride)
    return x, size, stride, pool_output_shape(x.shape, size, stride)
