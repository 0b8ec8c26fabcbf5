"""Checkers for the notebooks' exercises.

A checker runs the learner's function and the library's on several random cases and
prints a verdict: "not implemented yet" while the stub returns None, the first wrong
entry (index, expected, got) when it is wrong, or how many cases passed. It returns a
bool and never raises, so stored notebooks hold no error outputs.
"""

from __future__ import annotations

import numpy as np

from . import conv, reference
from .shapes import conv_output_size


def compare(name, got, expected, rtol=1e-6, atol=1e-9):
    """Print whether ``got`` matches ``expected``; on a mismatch print the first wrong entry.

    Returns
    -------
    bool
    """
    if got is None:
        print(f"{name}: not implemented yet (your function returned None).")
        return False
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        print(f"{name}: wrong shape: expected {expected.shape}, got {got.shape}.")
        return False
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if bad.any():
        idx = tuple(int(v) for v in np.argwhere(bad)[0])
        print(
            f"{name}: {int(bad.sum())} of {bad.size} entries wrong; first at index {idx}: "
            f"expected {expected[idx]:.6g}, got {got[idx]:.6g}."
        )
        return False
    return True


def check(learner_fn, expected_fn, cases, name=None):
    """Run ``learner_fn(*args)`` and ``expected_fn(*args)`` on every case and compare.

    Parameters
    ----------
    learner_fn, expected_fn : callable
        expected_fn may return a tuple of arrays; learner_fn must then return the same.
    cases : list of tuple
        Positional arguments of each case.
    name : str or None

    Returns
    -------
    bool
        True when every case matches.
    """
    name = name or getattr(learner_fn, "__name__", "your function")
    for k, args in enumerate(cases):
        try:
            got = learner_fn(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
        except Exception as e:  # a learner's bug must print, not crash the notebook
            print(f"{name}: case {k + 1} raised {type(e).__name__}: {e}")
            return False
        expected = expected_fn(*args)
        if got is None:
            return compare(name, None, None)
        if isinstance(expected, tuple):
            if not isinstance(got, (tuple, list)) or len(got) != len(expected):
                print(f"{name}: case {k + 1}: expected a tuple of {len(expected)} arrays.")
                return False
            pairs = list(zip(got, expected, strict=True))
        else:
            pairs = [(got, expected)]
        for part, (g, e) in enumerate(pairs):
            label = f"{name} (case {k + 1}" + (f", output {part})" if len(pairs) > 1 else ")")
            if not compare(label, g, e):
                return False
    print(f"{name}: correct on all {len(cases)} cases.")
    return True


def random_conv_cases(seed=0, n=4, *, channels=True, stride=True, padding=True):
    """Random (x, w, stride, padding) cases, small enough for loop solutions.

    With channels=False the arrays are single images (N = C = D = 1).
    """
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        C, D = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if channels else (1, 1)
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        s = int(rng.integers(1, 4)) if stride else 1
        p = int(rng.integers(0, 3)) if padding else 0
        H, W = kh + int(rng.integers(0, 5)), kw + int(rng.integers(0, 5))
        x = rng.standard_normal((int(rng.integers(1, 3)), C, H, W))
        w = rng.standard_normal((D, C, kh, kw))
        cases.append((x, w, s, p))
    return cases


def check_correlate2d(fn, seed=0):
    """Exercise: valid cross-correlation fn(a, k) of 2-D arrays (a ★ k, no flip)."""
    rng = np.random.default_rng(seed)
    cases = [
        (rng.standard_normal((h, w)), rng.standard_normal((m, n)))
        for h, w, m, n in [(3, 3, 2, 2), (5, 4, 3, 2), (4, 6, 1, 3)]
    ]
    return check(fn, reference.correlate2d, cases, "correlate2d")


def check_conv_forward(fn, seed=0):
    """Exercise: fn(x, w, stride, padding) -> y, the layer's forward without bias."""
    return check(
        fn, lambda x, w, s, p: conv.conv2d_forward(x, w, None, s, p), random_conv_cases(seed), "conv forward"
    )


def check_conv_backward(fn, seed=0):
    """Exercise: fn(dy, x, w, stride, padding) -> (dx, dw, db)."""
    rng = np.random.default_rng(seed + 1)
    cases = []
    for x, w, s, p in random_conv_cases(seed):
        Ho, Wo = (
            conv_output_size(x.shape[2], w.shape[2], s, p),
            conv_output_size(x.shape[3], w.shape[3], s, p),
        )
        cases.append((rng.standard_normal((x.shape[0], w.shape[0], Ho, Wo)), x, w, s, p))
    return check(fn, conv.conv2d_backward, cases, "conv backward")


# --- notebooks 00-01 (add below; keep each notebook pair in its own section) ---


def check_output_size(fn):
    """Exercise: fn(n, k, stride, padding) -> the number of window positions along one axis.

    The cases include strides that do not divide n + 2p − k (floor, not round) and a
    kernel exactly as large as the padded input (one position). Derived in
    notebooks/00_correlation_and_notation.ipynb.
    """
    cases = [(5, 3, 1, 0), (5, 3, 2, 1), (6, 3, 2, 0), (7, 2, 3, 0), (28, 5, 1, 0), (4, 6, 1, 1)]
    cases.append((10, 3, 4, 2))  # (10 + 4 − 3) = 11 is not divisible by 4
    return check(fn, conv_output_size, cases, "output size")


def _single_kernel_cases(seed, kinds):
    """(x, w, δ) triples of single 2-D arrays, square and not, kernel up to the input's size."""
    rng = np.random.default_rng(seed)
    cases = []
    for H, W, kh, kw in [(3, 3, 2, 2), (5, 4, 3, 2), (4, 6, 1, 3), (4, 4, 4, 4)]:
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((kh, kw))
        delta = rng.standard_normal((H - kh + 1, W - kw + 1))
        cases.append({"x": x, "w": w, "delta": delta})
    return [tuple(c[k] for k in kinds) for c in cases]


def _dw_expected(x, delta):
    kh, kw = x.shape[0] - delta.shape[0] + 1, x.shape[1] - delta.shape[1] + 1
    w = np.zeros((1, 1, kh, kw))  # the values of w do not enter ∂E/∂w
    return conv.conv2d_backward(delta[None, None], x[None, None], w)[1][0, 0]


def _dx_expected(delta, w):
    H, W = delta.shape[0] + w.shape[0] - 1, delta.shape[1] + w.shape[1] - 1
    x = np.zeros((1, 1, H, W))  # the values of x do not enter ∂E/∂x
    return conv.conv2d_backward(delta[None, None], x, w[None, None])[0][0, 0]


def check_single_kernel_dw(fn, seed=0):
    """Exercise: fn(x, delta) -> ∂E/∂w of one kernel: x (H, W), δ (Ho, Wo) -> (kh, kw).

    Expected: ∂E/∂w[m, n] = Σ_i Σ_j δ[i, j] · x[i + m, j + n] = (x ★ δ)[m, n].
    Derived in notebooks/01_single_kernel.ipynb.
    """
    return check(fn, _dw_expected, _single_kernel_cases(seed, ("x", "delta")), "dE/dw")


def check_single_kernel_dx(fn, seed=0):
    """Exercise: fn(delta, w) -> ∂E/∂x of one kernel: δ (Ho, Wo), w (kh, kw) -> (H, W).

    Expected: the full cross-correlation pad(δ, k − 1) ★ rot180(w), H = Ho + kh − 1.
    Derived in notebooks/01_single_kernel.ipynb.
    """
    return check(fn, _dx_expected, _single_kernel_cases(seed, ("delta", "w")), "dE/dx")


# --- notebooks 02-03 ---

# --- notebook 04 ---

# --- notebook 05 ---

# --- notebook 06 ---

# --- notebook 07 ---
