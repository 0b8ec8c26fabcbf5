"""Comparing one case's answer with the right one, entry by entry, and describing the case."""

from __future__ import annotations

import numpy as np

from ...check.run import relative_error, tolerance


def copies(args):
    """A case's arguments with every array copied, so that no function run on them changes the case."""
    return [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]


def run_case(fn, args):
    """(fn's answer on copies of args, "") or (None, "ERROR, raised ...") when fn raises.

    A learner's bug must print with its case, not crash the notebook.
    """
    try:
        return fn(*copies(args)), ""
    except Exception as e:
        return None, f"ERROR, raised {type(e).__name__}: {e}"


def describe(args, names):
    """One case's arguments as text: arrays by their shape, everything else by value."""
    parts = []
    for name, a in zip(names, args, strict=False):
        if isinstance(a, np.ndarray):
            parts.append(f"{name} {'×'.join(map(str, a.shape)) or 'scalar'}")
        else:
            parts.append(f"{name}={a!r}")
    return ", ".join(parts)


def first_wrong(got, expected, tol):
    """Text naming the first entry of ``got`` off by more than ``tol`` of the scale, or ''."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = max(1e-8, 2 * float(np.max(np.abs(e)))) if e.size else 1.0
    with np.errstate(invalid="ignore"):
        bad = np.argwhere(~(np.abs(g - e) <= tol * scale))
    if not len(bad):
        return ""
    idx = tuple(int(i) for i in bad[0])
    return f"first wrong entry at {idx}: expected {e[idx]:.6g}, got {g[idx]:.6g}"


def compare_case(got, expected):
    """(ok, max relative error or None, message) for one case's answer against the right one."""
    exp_parts = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return False, None, f"expected a tuple of {len(expected)} results, got {type(got).__name__}"
        got_parts = tuple(got)
    else:
        got_parts = (got,)
    worst, notes = 0.0, []
    for part, (g, e) in enumerate(zip(got_parts, exp_parts, strict=True)):
        label = f"result {part + 1}: " if len(exp_parts) > 1 else ""
        try:
            g_arr = np.asarray(g)
            if g_arr.dtype.kind not in "biuf":
                raise TypeError(f"dtype {g_arr.dtype}")
        except (TypeError, ValueError) as exc:
            return False, None, f"{label}not an array of numbers ({exc})"
        e_arr = np.asarray(e, dtype=np.float64)
        if g_arr.shape != e_arr.shape:
            return False, None, f"{label}wrong shape: expected {e_arr.shape}, got {g_arr.shape}"
        tol = tolerance(g_arr.dtype) if g_arr.dtype.kind == "f" else tolerance(np.float64)
        err = relative_error(g_arr, e_arr)
        worst = max(worst, err)
        if not err <= tol:
            notes.append(label + first_wrong(g_arr, e_arr, tol))
    return not notes, worst, "; ".join(notes)


def same(got, predicted):
    """Whether an answer equals a wrong attempt's prediction (same shape, same numbers, 1e-7)."""

    wanted = predicted if isinstance(predicted, tuple) else (predicted,)
    got_parts = tuple(got) if isinstance(predicted, tuple) and isinstance(got, (tuple, list)) else (got,)
    if len(wanted) != len(got_parts):
        return False
    for g, e in zip(got_parts, wanted, strict=True):
        try:
            g, e = np.asarray(g, dtype=np.float64), np.asarray(e, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if g.shape != e.shape or not relative_error(g, e) <= 1e-7:
            return False
    return True


def parts(value, n):
    """value as a tuple of n results (a single result for n == 1), or None when it is not one."""
    if n == 1:
        return (value,)
    return tuple(value) if isinstance(value, (tuple, list)) and len(value) == n else None
