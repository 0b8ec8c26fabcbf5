"""Finite-difference gradient checking: the referee for every backward in the course.

Derived in notebooks/01_single_kernel.ipynb; used to catch bugs in
notebooks/06_debugging_backprop.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from .nesting import named_layers
from .shapes import RngLike, as_float_array, as_rng


class LayerLike(Protocol):
    """What ``gradcheck_layer`` needs: a layer or a ``Sequential`` (``forward``, ``backward``)."""

    def forward(self, x: np.ndarray) -> np.ndarray: ...

    def backward(self, dy: np.ndarray) -> np.ndarray: ...


def rel_error(a: ArrayLike, b: ArrayLike) -> float:
    """Relative error with one global scale: max|a − b| / max(1e-8, max(|a| + |b|)).

    A per-element denominator would blow up on entries of a correct gradient that are
    (nearly) zero; one scale for the whole array does not.
    """
    a, b = as_float_array(a, "a"), as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def error_bound(err: float, tol: float = 1e-7) -> str:
    """A relative error as a learner should read it: its order of magnitude and the verdict.

    The decade above ``err``, at least 1e-12, set against the tolerance:
    ``"rel. error < 1e-10, well below 1e-07"`` (``"below"`` when err is within a decade of
    tol), or ``"rel. error 3e-02, ABOVE 1e-07: the gradient is wrong"``. Errors of a correct
    float64 gradient against central differences are rounding noise, ~1e-12 .. 1e-9; a wrong
    index or a missing term gives 1e-2 or more, so the verdict is unmistakable.

    The decade itself is NOT stable: rounding noise lands on either side of a power of ten
    depending on the last bits of a sum, which differ from CPU to CPU (and with the BLAS
    kernel and thread count). A notebook that stores this string is compared with nbval's
    ``--nbval-sanitize-with tests/nbval_sanitize.cfg``, which rewrites exactly the token
    ``rel. error < 1e-NN`` and still compares the verdict.

    Parameters
    ----------
    err : float
        A relative error, e.g. ``rel_error(analytic, numerical)``.
    tol : float
        The threshold the course uses for float64 finite differences.

    Returns
    -------
    str
    """
    err = float(err)
    if err <= tol:
        bound = max(10.0 ** np.ceil(np.log10(err) + 1e-9), 1e-12) if err > 0 else 1e-12
        if bound <= tol / 10:  # a decade or more below the tolerance
            return f"rel. error < {bound:.0e}, well below {tol:.0e}"
        return f"rel. error < {bound:.0e}, below {tol:.0e}"
    return f"rel. error {err:.0e}, ABOVE {tol:.0e}: the gradient is wrong"


def numerical_gradient(f: Callable[[np.ndarray], Any], x: ArrayLike, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar function.

    Parameters
    ----------
    f : callable
        f(array of the shape of x) -> float (a scalar; an array of another size is a ValueError).
    x : array-like, float64
        Point at which to differentiate; not modified (f receives copies).
    eps : float
        Step h.

    Returns
    -------
    ndarray of the shape of x
        g[k] = (f(x + h·e_k) − f(x − h·e_k)) / (2h); its error is O(h²).
    """
    x = np.array(as_float_array(x, "x"), dtype=np.float64)  # a private float64 copy
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + eps
        up = _scalar(f(x.copy()))
        x[k] = old - eps
        down = _scalar(f(x.copy()))
        x[k] = old
        grad[k] = (up - down) / (2 * eps)
    return grad


def _scalar(value):
    """f's value as a float; anything but one real number is an error naming what f returned."""
    arr = as_float_array(value, "the value f returns")
    if arr.size != 1:
        raise ValueError(
            f"f must return a scalar (e.g. the loss E, or np.sum(y * r)), got an array of shape {arr.shape}"
        )
    return float(arr.reshape(()))


def gradient_error(
    f: Callable[[np.ndarray], Any], x: ArrayLike, analytic: ArrayLike, eps: float = 1e-6
) -> float:
    """Relative error between an analytic gradient and central finite differences of f at x.

    Parameters
    ----------
    f : callable, f(x) -> float
    x : array-like
    analytic : array-like of the shape of x
        The gradient your backward computed.
    eps : float

    Returns
    -------
    float
        rel_error(analytic, numerical_gradient(f, x, eps)); below ~1e-7 in float64 means
        the backward is right.
    """
    return rel_error(analytic, numerical_gradient(f, x, eps))


def gradcheck_layer(layer: LayerLike, x: ArrayLike, rng: RngLike, eps: float = 1e-6) -> dict[str, float]:
    """Check a layer's backward (input and every parameter) against finite differences.

    The scalar checked is E = Σ y ⊙ r with a fixed random r, so that δ = r is a generic
    upstream gradient rather than all ones. Nested layers are reached through
    ``cnnlib.nesting.named_layers``; the layers' other arrays (batch norm's running
    statistics, which every training-mode forward moves) are put back afterwards.

    Parameters
    ----------
    layer : Layer or Sequential
    x : ndarray, float64
    rng : numpy.random.Generator, int seed or None

    Returns
    -------
    dict
        {"x": rel_error of ∂E/∂x, "<path>.<key>": rel_error of each parameter}, the path
        naming where the layer sits ("1.0.gamma": layer 0 inside layer 1); just "<key>"
        for the parameters of ``layer`` itself.
    """
    x = np.array(as_float_array(x, "x"), dtype=np.float64)
    rng = as_rng(rng)
    layers = list(named_layers(layer))
    state = [  # the public arrays a forward may move (running statistics), to put back
        (arr, arr.copy())
        for _, lay in layers
        for name, arr in vars(lay).items()
        if not name.startswith("_") and isinstance(arr, np.ndarray) and arr.flags.writeable
    ]
    try:
        r = rng.standard_normal(layer.forward(x).shape)
        errors = {"x": gradient_error(lambda v: np.sum(layer.forward(v) * r), x, layer.backward(r), eps)}
        grads = {(path, k): (lay.params[k], g.copy()) for path, lay in layers for k, g in lay.grads.items()}
        for (path, key), (p, g) in grads.items():

            def f(v, p=p):
                saved = p.copy()
                p[...] = v
                try:
                    return np.sum(layer.forward(x) * r)
                finally:
                    p[...] = saved

            errors[f"{path}.{key}" if path else key] = gradient_error(f, p, g, eps)
    finally:
        for arr, saved in state:
            arr[...] = saved
    return errors
