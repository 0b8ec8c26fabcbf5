"""Telling "your code refuses this case" from "your code is wrong on this case".

A correct layer may refuse part of the case set on purpose: a CS231n layer asserting
``(H + 2*pad - HH) % stride == 0`` (the assignment lets students assume it), a layer
class that takes square kernels only, a function written for an int stride. Such a
case is a **refusal**, not an error, when the learner's own code raises it:

- the innermost frame of the traceback is the learner's (not NumPy's, not cnnlib's,
  not another installed package's), and
- the exception is an AssertionError or a NotImplementedError, a ValueError raised by
  a ``raise`` statement (not NumPy refusing a shape mismatch on the learner's line: that
  is a bug), or a TypeError (an int-only function given an (h, w) pair).

Wrong values are never a refusal. A report with refusals passes when every accepted case
is right and the accepted cases still hold the core ones (``CORE``): a layer that refuses
every case with padding 0 is not "correct where it runs", it is broken.

``assume=`` lets a learner state the domain up front (``ASSUMPTIONS``): only cases inside
it are run, and the report says so.
"""

from __future__ import annotations

import dis
import os
import re
import sysconfig
from pathlib import Path

from .conventions import exception_text

__all__ = [
    "ASSUMPTIONS",
    "CORE",
    "is_refusal",
    "validate_assume",
    "inside",
    "core_missing",
    "refused_properties",
    "scope_lines",
    "group_key",
]

# name -> (what the learner assumes, the property of the cases it leaves out)
ASSUMPTIONS = {
    "square": ("square kernels and pool windows (kh = kw)", "non-square kernels"),
    "divisible": ("(H + 2p - k) divisible by the stride", "strides that leave rows no window reaches"),
    "int": ("one int stride and padding for both axes", "(h, w) pairs of stride, padding or window"),
}

_ASSUMED = {prop for _, prop in ASSUMPTIONS.values()}

# the properties a passing report's accepted cases must still hold (where any case that ran has them)
CORE = ("N > 1", "C > 1", "D > 1", "stride 1", "stride 2+", "padding 0", "padding 1+", "kernel wider than 1")

_NOT_THEIRS = tuple(
    str(Path(p).resolve()) + os.sep
    for p in {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    | {str(Path(__file__).resolve().parents[1])}
    if p
)


def _innermost(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _theirs(filename):
    """True for a file of the learner's (a notebook cell, their module), False for installed code."""
    if filename.startswith("<frozen"):
        return False
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return True  # "<string>", "<ipython-input-...>": code the learner typed
    return not path.startswith(_NOT_THEIRS)


def _raised_by_statement(tb):
    """True when the frame's current instruction is a ``raise`` (or an ``assert``)."""
    try:
        ops = {i.offset: i.opname for i in dis.get_instructions(tb.tb_frame.f_code)}
    except Exception:  # an exotic code object: do not guess
        return False
    return ops.get(tb.tb_lasti) == "RAISE_VARARGS"


def is_refusal(exc):
    """True when ``exc`` is the learner's own code refusing a case (see the module docstring)."""
    if not isinstance(exc, (AssertionError, ValueError, TypeError, NotImplementedError)):
        return False
    tb = _innermost(exc)
    if tb is None or not _theirs(tb.tb_frame.f_code.co_filename):
        return False
    if isinstance(exc, (AssertionError, NotImplementedError, TypeError)):
        return True
    return _raised_by_statement(tb)


def validate_assume(assume):
    """``assume=`` as a tuple of known names; a str is one name.

    Raises
    ------
    TypeError
        Not a str nor an iterable of str.
    ValueError
        An unknown name (the message lists the valid ones).
    """
    if assume is None:
        return ()
    if isinstance(assume, str):
        assume = [assume]
    try:
        names = list(assume)
    except TypeError:
        raise TypeError(
            f"assume must be a list of names from {sorted(ASSUMPTIONS)}, got {assume!r}"
        ) from None
    for name in names:
        if not isinstance(name, str) or name not in ASSUMPTIONS:
            valid = ", ".join(f"{k!r} ({v[0]})" for k, v in ASSUMPTIONS.items())
            raise ValueError(f"unknown assumption {name!r} in assume=; the valid ones are {valid}")
    return tuple(dict.fromkeys(names))


def _props(case):
    """The refusal-relevant properties of a case: the assumptions' complements and the core."""
    pool = hasattr(case, "size")
    (kh, kw) = case.size if pool else (case.kh, case.kw)
    (sh, sw), (ph, pw) = case.stride, getattr(case, "padding", (0, 0))
    left = (case.H + 2 * ph - kh) % sh or (case.W + 2 * pw - kw) % sw
    pair = sh != sw or ph != pw or (pool and kh != kw)
    props = {
        ASSUMPTIONS["square"][1]: kh != kw,
        ASSUMPTIONS["divisible"][1]: bool(left),
        ASSUMPTIONS["int"][1]: pair,
        "non-square inputs": case.H != case.W,
        "stride > kernel": sh > kh or sw > kw,
        "N > 1": case.N > 1,
        "C > 1": case.C > 1,
        "stride 1": max(sh, sw) == 1,
        "stride 2+": max(sh, sw) > 1,
        "kernel wider than 1": kh > 1 and kw > 1,
    }
    if not pool:
        props |= {"D > 1": case.D > 1, "padding 0": max(ph, pw) == 0, "padding 1+": max(ph, pw) > 0}
    return props


def inside(case, assume):
    """True when the case lies inside every named assumption."""
    props = _props(case)
    return not any(props[ASSUMPTIONS[name][1]] for name in assume)


def core_missing(results):
    """The core properties some case that ran has but only refused cases have."""
    ran = [r for r in results if r.verdict not in ("skipped", "not run")]
    have = {p for r in ran for p, v in _props(r.spec).items() if v}
    accepted = {p for r in ran if r.verdict != "refused" for p, v in _props(r.spec).items() if v}
    return [p for p in CORE if p in have and p not in accepted]


def group_key(r):
    """Cases that raised alike: the exception's type and message, digits aside."""
    return type(r.exception).__name__, re.sub(r"\d+", "#", exception_text(r.exception))


def refused_properties(results):
    """``{property: [case numbers]}`` for the refused cases.

    The cases refused with one message (digits aside) are named by the property they all
    have that the fewest other cases have, preferring one that no accepted case has; when no
    property covers them, by the exception's message.
    """
    ran = [r for r in results if r.verdict not in ("skipped", "not run")]
    groups = {}
    for r in (r for r in ran if r.verdict == "refused"):
        groups.setdefault(group_key(r), []).append(r)
    out = {}
    for rs in groups.values():
        numbers = {r.number for r in rs}
        having = {}
        for r in ran:
            for p, v in _props(r.spec).items():
                if v:
                    having.setdefault(p, set()).add(r.number)
        covering = [p for p, cases in having.items() if numbers <= cases]
        if covering:
            name = min(covering, key=lambda p: (len(having[p] - numbers), p not in _ASSUMED))
        else:
            exc = rs[0].exception
            name = f"the cases where it raises {type(exc).__name__}: {exception_text(exc)}"
        out.setdefault(name, []).extend(sorted(numbers))
    return {k: sorted(v) for k, v in out.items()}


def _numbers(cases):
    return ("case " if len(cases) == 1 else "cases ") + ", ".join(map(str, cases))


# what refusing a property means for the learner, after "fine if ..."
_MEANING = {
    ASSUMPTIONS["square"][1]: "your assignment allows square kernels only",
    ASSUMPTIONS["divisible"][1]: (
        "your assignment guarantees (H + 2p - k) divisible by the stride (say so with assume=['divisible'])"
    ),
    ASSUMPTIONS["int"][1]: "your assignment passes one int per hyper-parameter (say so with assume=['int'])",
    "non-square inputs": "your assignment has square inputs only",
}


def scope_lines(refused, missing, assume, drawn):
    """One line per refused property (what it means), and one for the assumptions stated.

    Parameters
    ----------
    refused : dict of str -> list of int
    missing : list of str
        Core properties no accepted case has (the refusals then make the check fail).
    assume : tuple of str
    drawn : int or None
        How many cases the assumptions left (None when no assumption was stated).
    """
    lines = []
    if assume:
        what = "; ".join(ASSUMPTIONS[a][0] for a in assume)
        lines.append(f"Assumed (assume={list(assume)}): {what}; only the {drawn} cases inside were drawn.")
    for prop, cases in refused.items():
        where = f"{prop} ({_numbers(cases)})"
        if missing:
            lines.append(f"Your code refuses {where}.")
        elif prop in _MEANING:
            lines.append(f"Your code refuses {where}: fine if {_MEANING[prop]}; the layer is not general.")
        else:
            lines.append(f"Your code refuses {where}: fine if your assignment excludes them; not general.")
    return lines
