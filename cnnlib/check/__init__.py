"""Check a learner's own convolution and pooling code, and name the likely bug.

Three calling conventions are understood: this course's (``"cnnlib"``), Stanford
CS231n's (``"cs231n"``: ``conv_backward_naive(dout, cache)`` and friends) and
deeplearning.ai's "Convolution model, Step by Step" (``"coursera"``: NHWC,
``conv_backward(dZ, cache)``, ``pool_backward(dA, cache, mode)``)::

    from cnnlib import check
    report = check.conv_backward(fn, convention="cnnlib")      # fn(dy, x, w, stride, padding)
    report = check.conv_backward(conv_backward_naive, convention="cs231n", forward=conv_forward_naive)
    report                                                    # table, tally, first wrong entry, diagnosis
    bool(report), report.cases, report.diagnosis

Every case runs; the learner's exceptions are reported with their case, never raised.
The right answers are cnnlib's (``cnnlib.conv2d_backward`` and the pooling functions);
the diagnosis recomputes the answer under the classic bugs (stride ignored, wrong crop,
kernel flipped, ``=`` for ``+=``, channels swapped, bias averaged, ties routed to every
maximum, height and width swapped) and names those that reproduce the learner's.

Derived in notebooks/01_single_kernel.ipynb to 05_pooling_and_a_full_cnn.ipynb; used in
notebooks/06_debugging_backprop.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..shapes import IntOrPair
from .cases import CONV_CASES, POOL_CASES, ConvCase, PoolCase
from .conventions import CONVENTIONS, get_convention
from .diagnose import diagnose
from .report import CaseResult, FirstWrong, Report
from .run import run_case, tolerance

__all__ = [
    "conv_backward",
    "conv_forward",
    "maxpool_backward",
    "avgpool_backward",
    "Report",
    "CaseResult",
    "FirstWrong",
    "ConvCase",
    "PoolCase",
    "CONV_CASES",
    "POOL_CASES",
    "CONVENTIONS",
]


def _input_shapes(op, conv, case):
    """The inputs' shapes in the convention's layout and names, for the table."""
    a = case.arrays()
    keys = ("x", "w") if op.startswith("conv") else ("x",)
    return {conv.label(k): conv.to_layout(k, a[k].shape) for k in keys}


def _check(op, fn, convention, forward, cases, dilation=1, groups=1):
    conv = get_convention(convention, op)
    family = dilation not in (1, (1, 1)) or groups != 1
    if family and convention != "cnnlib":
        raise ValueError(
            f"dilation and groups are checked in the 'cnnlib' convention only, got convention={convention!r}"
        )
    if not callable(fn):
        raise TypeError(f"fn must be a function ({conv.signatures[op]}), got {type(fn).__name__}: {fn!r}")
    if forward is not None:
        if op == "conv_forward":
            raise ValueError("forward= is for checking a backward; conv_forward checks fn itself")
        if convention == "cnnlib":
            raise ValueError(
                "forward= is used only by the 'cs231n' and 'coursera' conventions, whose backward takes a "
                "cache; a 'cnnlib' backward takes x and w directly"
            )
        if not callable(forward):
            raise TypeError(f"forward must be a function or None, got {type(forward).__name__}: {forward!r}")
    kind = ConvCase if op.startswith("conv") else PoolCase
    if cases is None:
        cases = CONV_CASES if kind is ConvCase else POOL_CASES
    cases = list(cases)
    for case in cases:
        if not isinstance(case, kind):
            raise TypeError(f"cases must hold {kind.__name__} objects for {op}, got {type(case).__name__}")
    if family:
        cases = [case.with_family(dilation, groups) for case in cases]
    results = [
        run_case(i, op, conv, fn, forward, c, _input_shapes(op, conv, c)) for i, c in enumerate(cases, 1)
    ]
    report = Report(op, convention, results)
    report.diagnosis = diagnose(op, results, conv)
    report.notes = _notes(op, conv, results)
    return report


def _notes(op, conv, results):
    notes = []
    skipped = [r.number for r in results if r.verdict == "skipped"]
    if skipped:
        notes.append(
            f"{len(skipped)} case(s) skipped ({', '.join(map(str, skipped))}): the {conv.name} convention "
            "cannot express them (see the messages above)."
        )
    dtypes = {str(v[2]) for r in results for v in r.outputs.values()}
    if "float32" in dtypes or "float16" in dtypes:
        tol = max(tolerance(d) for d in dtypes)
        notes.append(
            f"Your answers are {' and '.join(sorted(dtypes))}; they were compared at that precision "
            f"(relative error <= {tol:g}). Check gradients in float64: float32 rounding (~1e-7) hides "
            "small bugs and drowns finite differences."
        )
    if op == "maxpool_backward" and any(getattr(r.spec, "ties", False) for r in results):
        notes.append(
            "Where a window holds tied maxima, routing its δ to any one of them is accepted "
            "(cnnlib, like np.argmax, picks the first in row-major order)."
        )
    return notes


def conv_backward(
    fn: Callable[..., Any],
    convention: str = "cnnlib",
    forward: Callable[..., Any] | None = None,
    *,
    cases: Sequence[ConvCase] | None = None,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Report:
    """Check a learner's convolution backward on every case; return a printable Report.

    Parameters
    ----------
    fn : callable
        ``"cnnlib"``: ``fn(dy, x, w, stride, padding) -> (dx, dw, db)``, NCHW, stride and
        padding an int (or an (h, w) pair when the two differ).
        ``"cs231n"``: ``conv_backward_naive(dout, cache) -> (dx, dw, db)``.
        ``"coursera"``: ``conv_backward(dZ, cache) -> (dA_prev, dW, db)``, NHWC, W of
        shape (f, f, n_C_prev, n_C), db of shape (1, 1, 1, n_C).
    convention : {"cnnlib", "cs231n", "coursera"}
    forward : callable or None
        The learner's forward, called to make each cache (``conv_forward_naive(x, w, b,
        conv_param)`` or ``conv_forward(A_prev, W, b, hparameters)``, returning (out, cache)).
        None builds the documented cache: (x, w, b, conv_param) or (A_prev, W, b,
        hparameters). Only for "cs231n" and "coursera".
    cases : iterable of ConvCase, optional
        Defaults to ``CONV_CASES``; a case the convention cannot express is skipped.
    dilation, groups : int (or pair), optional
        Check a dilated or grouped convolution ("cnnlib" convention only): every case is
        run with them (grown where the dilated kernel or the groups need it) and fn is
        called with ``dilation=`` and ``groups=`` keywords, each only when not 1.

    Returns
    -------
    Report
        ``bool(report)`` is True when at least one case ran and all passed.

    Raises
    ------
    ValueError
        Unknown convention; ``forward`` given for "cnnlib".
    TypeError
        ``fn`` or ``forward`` not callable; a case of the wrong kind.
    """
    return _check("conv_backward", fn, convention, forward, cases, dilation, groups)


def conv_forward(
    fn: Callable[..., Any],
    convention: str = "cnnlib",
    *,
    cases: Sequence[ConvCase] | None = None,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Report:
    """Check a learner's convolution forward; return a printable Report.

    Parameters
    ----------
    fn : callable
        ``"cnnlib"``: ``fn(x, w, b, stride, padding) -> y`` (N, D, Ho, Wo).
        ``"cs231n"``: ``conv_forward_naive(x, w, b, conv_param) -> (out, cache)``.
        ``"coursera"``: ``conv_forward(A_prev, W, b, hparameters) -> (Z, cache)``, NHWC.
    convention : {"cnnlib", "cs231n", "coursera"}
    cases : iterable of ConvCase, optional
    dilation, groups : int (or pair), optional
        As in ``conv_backward``.

    Returns
    -------
    Report
    """
    return _check("conv_forward", fn, convention, None, cases, dilation, groups)


def maxpool_backward(
    fn: Callable[..., Any],
    convention: str = "cnnlib",
    forward: Callable[..., Any] | None = None,
    *,
    cases: Sequence[PoolCase] | None = None,
) -> Report:
    """Check a learner's max-pooling backward; return a printable Report.

    Parameters
    ----------
    fn : callable
        ``"cnnlib"``: ``fn(dy, x, size, stride) -> dx``, NCHW.
        ``"cs231n"``: ``max_pool_backward_naive(dout, cache) -> dx``.
        ``"coursera"``: ``pool_backward(dA, cache, mode) -> dA_prev``, called with mode "max".
    convention : {"cnnlib", "cs231n", "coursera"}
    forward : callable or None
        ``max_pool_forward_naive(x, pool_param)`` or ``pool_forward(A_prev, hparameters,
        mode)``; None builds the documented cache (x, pool_param) or (A_prev, hparameters).
    cases : iterable of PoolCase, optional
        Defaults to ``POOL_CASES``.

    Returns
    -------
    Report
        Tied maxima may be routed to any one of them.
    """
    return _check("maxpool_backward", fn, convention, forward, cases)


def avgpool_backward(
    fn: Callable[..., Any],
    convention: str = "cnnlib",
    forward: Callable[..., Any] | None = None,
    *,
    cases: Sequence[PoolCase] | None = None,
) -> Report:
    """Check a learner's average-pooling backward; return a printable Report.

    Parameters
    ----------
    fn : callable
        ``"cnnlib"``: ``fn(dy, x, size, stride) -> dx``, NCHW.
        ``"coursera"``: ``pool_backward(dA, cache, mode) -> dA_prev``, called with mode "average".
    convention : {"cnnlib", "coursera"}
        CS231n has no average pooling: ValueError.
    forward : callable or None
        ``pool_forward(A_prev, hparameters, mode)``; None builds (A_prev, hparameters).
    cases : iterable of PoolCase, optional

    Returns
    -------
    Report
    """
    return _check("avgpool_backward", fn, convention, forward, cases)
