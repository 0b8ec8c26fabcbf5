"""What the exercise checkers of every chapter share.

A checker runs the learner's function and the library's on several random cases and
prints a verdict: "not implemented yet" while the stub returns None, the first wrong
entry (index, expected, got) when it is wrong, or how many cases passed. It returns a
bool and never raises, so stored notebooks hold no error outputs.
"""

from __future__ import annotations

import numpy as np

from .. import conv


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


def check_conv_forward(fn, seed=0):
    """Exercise: fn(x, w, stride, padding) -> y, the layer's forward without bias."""
    return check(
        fn, lambda x, w, s, p: conv.conv2d_forward(x, w, None, s, p), random_conv_cases(seed), "conv forward"
    )
