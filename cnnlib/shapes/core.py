"""Argument normalisation and validation, and the output size of a window (see ``cnnlib.shapes``)."""

from __future__ import annotations

import numbers

import numpy as np


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


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0) -> int:
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

    Returns
    -------
    int
        floor((n + 2p - k) / s) + 1. n = 0 is allowed when the padding makes room for
        the window (a convolution of an empty axis with padding reads only zeros).

    Notes
    -----
    The last window must end inside the padded input: i·s + k <= n + 2p for
    i = 0 .. out-1, which gives out = floor((n + 2p - k) / s) + 1. When
    (n + 2p - k) is not divisible by s, the last (n + 2p - k) mod s rows are
    never covered by any window. Derived in notebooks/00_correlation_and_notation.ipynb.
    """
    for name, v, low in (("n", n, 0), ("k", k, 1)):
        _as_int(v, name, v)
        if v < low:
            raise ValueError(f"{name} must be >= {low}, got {v!r}")
    for name, v in (("stride", stride), ("padding", padding)):
        if isinstance(v, (tuple, list)) or np.ndim(v) > 0:
            raise TypeError(
                f"conv_output_size works along one axis: {name} must be an int, got {v!r}; "
                "call it once per axis with that axis' value"
            )
    (s, _), (p, _) = validate_stride(stride), validate_padding(padding)
    n, k = int(n), int(k)
    if k > n + 2 * p:
        raise ValueError(
            f"window of size {k} is larger than the padded input of size {n} + 2*{p} = {n + 2 * p}"
        )
    return (n + 2 * p - k) // s + 1


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


def as_rng(rng, name: str = "rng") -> np.random.Generator:
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


def output_shape(x_shape, w_shape, stride, padding) -> tuple[int, int, int, int]:
    """Shape (N, D, Ho, Wo) of conv2d_forward(x, w, stride, padding), with clear errors.

    Checks that x is (N, C, H, W), w is (D, C, kh, kw) with the same C, and that the
    kernel fits inside the padded input along both axes.
    """
    N, C, H, W = x_shape
    D, Cw, kh, kw = w_shape
    if C != Cw:
        raise ValueError(
            f"channel mismatch: x has C={C} channels (x.shape={tuple(x_shape)}) but w expects "
            f"C={Cw} (w.shape={tuple(w_shape)}, layout (D, C, kh, kw))"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel must be at least 1x1, got w.shape={tuple(w_shape)}")
    (sh, sw), (ph, pw) = validate_stride(stride), validate_padding(padding)
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(
            f"kernel {kh}x{kw} is larger than the padded input "
            f"{H + 2 * ph}x{W + 2 * pw} (x.shape={tuple(x_shape)}, padding={(ph, pw)})"
        )
    return N, D, (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1


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


def validate_conv_args(x, w, stride, padding):
    """Convert and validate the arguments of a convolution.

    Returns
    -------
    x, w : float ndarrays of shape (N, C, H, W) and (D, C, kh, kw)
    stride, padding : (int, int) pairs
    out_shape : (N, D, Ho, Wo)
    """
    x, w = as_float_array(x, "x"), as_float_array(w, "w")
    validate_ndim(x, 4, "x", "(N, C, H, W)")
    validate_ndim(w, 4, "w", "(D, C, kh, kw)")
    out = output_shape(x.shape, w.shape, stride, padding)
    return x, w, validate_stride(stride), validate_padding(padding), out


def validate_bias(b, D: int):
    """Convert b to a float array of shape (D,), or pass None through."""
    if b is None:
        return None
    b = as_float_array(b, "b")
    if b.shape != (D,):
        raise ValueError(f"b must have shape (D,) = ({D},), one bias per kernel, got {b.shape}")
    return b


def validate_pool_args(x, size, stride):
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
