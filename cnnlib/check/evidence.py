"""Evidence that names a bug without a bug model: all zeros, NaN, a δ read past its end,
outputs overwritten by later calls.

Each function returns ``(ids, sentence)`` findings, the form ``diagnose`` collects.
"""

from __future__ import annotations

import re

import numpy as np

from .conventions import exception_text

__all__ = ["all_zeros", "zeros_sentence", "nonfinite_finding", "window_index_finding", "buffer_finding"]


def _cases(numbers):
    numbers = sorted(numbers)
    return ("case " if len(numbers) == 1 else "cases ") + ", ".join(str(n) for n in numbers)


def all_zeros(failing, key):
    """True when the learner's ``key`` is all zeros in every failing case (and the answer is not)."""
    return bool(failing) and all(not np.any(r.outputs[key][0]) and np.any(r.outputs[key][1]) for r in failing)


def zeros_sentence(labels, numbers):
    """The "not computed yet?" finding for the outputs in ``labels``."""
    what = " and ".join(labels) if len(labels) < 3 else ", ".join(labels[:-1]) + f" and {labels[-1]}"
    verb = "is" if len(labels) == 1 else "are"
    return (
        ("zeros",),
        f"{what} {verb} all zeros ({_cases(numbers)}): not computed yet? The function returns arrays of "
        "the right shape that nothing was added to.",
    )


def nonfinite_finding(key, label, failing, conv):
    """NaN or inf in the learner's ``key``: where, and the usual cause; None when all finite."""
    bad = [r for r in failing if not np.all(np.isfinite(r.outputs[key][0]))]
    if not bad:
        return None
    got = np.asarray(conv.to_layout(key, bad[0].outputs[key][0]))
    idx = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
    count = int(np.sum(~np.isfinite(got)))
    what = "NaN" if np.isnan(got[idx]) else "inf"
    more = f" (and {count - 1} more entries)" if count > 1 else ""
    at = f"{label}[{', '.join(map(str, idx))}]"
    return (
        ("nan",),
        f"{label} has {what} at {at}{more} in {_cases(r.number for r in bad)}: "
        "an array created with np.empty and never filled everywhere? Start from np.zeros (np.empty holds "
        "whatever the memory held), and look for a division by zero or an overflow.",
    )


_BOUNDS = re.compile(r"out of bounds for axis \d+ with size (\d+)")
_EMPTY = re.compile(r"\((?:\d+,)*0(?:,\d+)*\)")


def window_index_finding(op, rs, ran, conv):
    """δ read past its end where the stride is > 1: dy[h·s] for dy[h]. None when the evidence lacks.

    Parameters
    ----------
    rs : list of CaseResult
        Cases that raised alike (one exception type and message).
    """
    if op == "conv_forward":
        return None
    strided = {r.number for r in ran if max(r.spec.stride) > 1}
    if (
        not rs
        or {r.number for r in rs} - strided
        or not all(r.verdict == "pass" for r in ran if r.number not in strided)
    ):
        return None
    for r in rs:
        text = exception_text(r.exception)
        m = _BOUNDS.search(text)
        sizes = set(r.spec.out_hw) - {r.spec.H, r.spec.W}
        if not (
            (m and int(m.group(1)) in sizes)
            or (isinstance(r.exception, ValueError) and _EMPTY.search(text.replace(" ", "")))
        ):
            return None
    dy = conv.label("dy")
    return (
        ("window-index",),
        f"{dy} is read past its end, only where the stride is > 1 ({_cases(r.number for r in rs)}): {dy} has "
        f"one entry per window position (h, w); read {dy}[h, w], not {dy} at the window's input corner "
        "(h·s, w·s), which only coincide at stride 1.",
    )


def buffer_finding(ran, conv):
    """Outputs a later call overwrote: views of one buffer the function reuses. None when none."""
    hit = [r for r in ran if r.overwritten]
    if not hit:
        return None
    labels = list(dict.fromkeys(label for r in hit for label in r.overwritten))
    return (
        ("buffer",),
        f"The {', '.join(labels)} returned for {_cases(r.number for r in hit)} changed when your function "
        "was called again: it returns views of one buffer it reuses, so a gradient kept from one call (a "
        "training loop keeps them) is overwritten by the next. Return new arrays (np.zeros(...), .copy()).",
    )
