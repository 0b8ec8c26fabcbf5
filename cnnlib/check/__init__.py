"""Check a learner's own convolution and pooling code, and name the likely bug.

Three calling conventions are understood: this course's (``"cnnlib"``), Stanford
CS231n's (``"cs231n"``: ``conv_backward_naive(dout, cache)`` and friends) and
deeplearning.ai's "Convolution model, Step by Step" (``"coursera"``: NHWC,
``conv_backward(dZ, cache)``, ``pool_backward(dA, cache, mode)``)::

    from cnnlib import check
    report = check.conv_backward(fn, convention="cnnlib")      # fn(dy, x, w, stride, padding)
    report = check.conv_backward(conv_backward_naive, convention="cs231n", forward=conv_forward_naive)
    report                                                    # table, tally, first wrong entry, diagnosis
    bool(report), report.cases, report.diagnosis, report.bugs, report.refused
    check.conv_backward(conv_backward_naive, "cs231n", assume=["divisible"])  # what the assignment promises
    check.batchnorm_backward(spatial_batchnorm_backward, "cs231n", forward=spatial_batchnorm_forward)

Every case runs; the learner's exceptions are reported with their case, never raised.
A case the learner's own code refuses on purpose (an AssertionError, NotImplementedError,
TypeError or raised ValueError whose innermost frame is theirs: ``check.refusals``) is
"refused", not an error: the report passes when every accepted case is right and the
accepted cases still include the core ones, and says in one line what was refused
(``report.scope``). Wrong values are never a refusal. ``assume=`` ("square", "divisible",
"int") draws only the cases inside what an assignment promises. ``time_limit=`` bounds the
whole check; a slow check prints each case's line as it finishes.
The right answers are cnnlib's (``cnnlib.conv2d_backward`` and the pooling functions);
the diagnosis recomputes the answer under the classic bugs (stride ignored, wrong crop,
kernel flipped, ``=`` for ``+=``, channels swapped, bias averaged, ties routed to every
maximum, height and width swapped) and names those that reproduce the learner's.

Each finding carries a stable id, collected in ``report.bugs`` (a tuple, in the order
the diagnosis names them) so that tests and exercise checkers match ids, not wording:

========================  ====================================================================
``"stride"``              stride ignored or misapplied (windows at i + m, rows no window
                          reaches, δ not dilated, output size with stride 1 or rounded up)
``"divisible"``           wrong only where the stride does not divide (H + 2p - k)
``"pairs"``               wrong only where stride, padding or window is an (h, w) pair (code
                          written for ints: assume=["int"])
``"crop"``                padding cropped wrongly ([p:-p] at p = 0, the wrong side, not at all)
``"padding"``             padding ignored or wrong
``"flip"``                kernel flipped (rot180) once too often or too few, or on wrong axes
``"accumulate"``          ``=`` where ``+=`` is needed (overlapping windows, the loop over d)
``"channel"``             input-channel and filter indices swapped (pooling: channels mixed)
``"bias"``                bias gradient averaged, partial or misshapen; forward bias wrong
``"batch"``               one sample, or the batch mean, where the sum over samples is needed
``"tie"``                 a window's δ sent to every tied maximum
``"average"``             max pooling that spreads δ like average pooling
``"divisor"``             average pooling divided by the wrong window size
``"height-width"``        height and width swapped, or one used for both
``"window-index"``        δ read at the window's input corner (h·s, w·s), not at (h, w)
``"zeros"``               the answer is all zeros: not computed yet?
``"nan"``                 the answer holds NaN or inf (np.empty never filled?)
``"buffer"``              outputs are views of one reused buffer
``"shape"``               an output of the wrong shape, for no recognised reason
``"constant-factor"``     the answer is a constant times the right one
``"float32"``             off by float32 rounding only
``"unknown"``             wrong in a way none of the classic bugs explains
``"exception"``           the code raises (not a refusal: IndexError, a NumPy shape error, ...)
``"refused-core"``        the code refuses cases the check needs (N, C, D > 1, stride 1 and
                          2+, padding 0 and 1+, kernels wider than 1)
``"signature"``           fn called with arguments it does not take
``"return"``              fn returns something other than the convention's arrays
``"not-run"``             the time limit ended the check before every case ran
``"no-case"``             no case ran
========================  ====================================================================

The same list, with one line each, is ``check.BUG_IDS``; it also holds the ids of
``check.batchnorm_backward`` (``check.batchnorm.BATCHNORM_BUG_IDS``: "bn-mean-path",
"bn-var-path", "bn-axes", "bn-unbiased", "bn-gamma", "bn-sum-axes", "bn-count").

Derived in notebooks/01_single_kernel.ipynb to 05_pooling_and_a_full_cnn.ipynb; used in
notebooks/06_debugging_backprop.ipynb.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from ..shapes import IntOrPair, validate_dilation
from .batchnorm import BATCHNORM_BUG_IDS, BATCHNORM_CASES, BatchNormCase, batchnorm_backward
from .cases import ASSUME_CONV_CASES, ASSUME_POOL_CASES, CONV_CASES, POOL_CASES, ConvCase, PoolCase
from .conventions import CONVENTIONS, get_convention
from .diagnose import diagnose
from .loop import run_cases, validate_time_limit
from .refusals import ASSUMPTIONS, core_missing, inside, refused_properties, scope_lines, validate_assume
from .report import CaseResult, FirstWrong, Report
from .run import tolerance
from .wording import BUG_IDS

BUG_IDS = {**BUG_IDS, **BATCHNORM_BUG_IDS}  # batch norm's own ids, listed in check.batchnorm

__all__ = [
    "conv_backward",
    "conv_forward",
    "maxpool_backward",
    "avgpool_backward",
    "batchnorm_backward",
    "Report",
    "CaseResult",
    "FirstWrong",
    "ConvCase",
    "PoolCase",
    "CONV_CASES",
    "POOL_CASES",
    "CONVENTIONS",
    "BUG_IDS",
    "BatchNormCase",
    "BATCHNORM_CASES",
    "ASSUMPTIONS",
]


def _input_shapes(op, conv, case):
    """The inputs' shapes in the convention's layout and names, for the table."""
    a = case.arrays()
    keys = ("x", "w") if op.startswith("conv") else ("x",)
    return {conv.label(k): conv.to_layout(k, a[k].shape) for k in keys}


def _family_args(dilation, groups):
    """dilation and groups validated as cnnlib's layers validate them (2.5, '2', True, 0 refused)."""
    dilation = validate_dilation(dilation)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be an int, got {groups!r} (type {type(groups).__name__})")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups!r}")
    return dilation, int(groups)


def _check(
    op, fn, convention, forward, cases, dilation=1, groups=1, assume=None, time_limit=None, progress=None
):
    conv = get_convention(convention, op)
    dilation, groups = _family_args(dilation, groups)
    family = dilation != (1, 1) or groups != 1
    if family and convention != "cnnlib":
        raise ValueError(
            f"dilation and groups are checked in the 'cnnlib' convention only, got convention={convention!r}"
        )
    assume = validate_assume(assume)
    time_limit = validate_time_limit(time_limit)
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
    default = cases is None
    if default:
        cases = CONV_CASES if kind is ConvCase else POOL_CASES
    cases = list(cases)
    for case in cases:
        if not isinstance(case, kind):
            raise TypeError(f"cases must hold {kind.__name__} objects for {op}, got {type(case).__name__}")
    if assume:
        extra = (ASSUME_CONV_CASES if kind is ConvCase else ASSUME_POOL_CASES) if default else ()
        cases = [c for c in [*cases, *extra] if inside(c, assume)]
    if family:
        cases = [case.with_family(dilation, groups) for case in cases]
    results = run_cases(
        op, conv, fn, forward, cases, lambda c: _input_shapes(op, conv, c), time_limit, progress
    )
    report = Report(op, convention, results)
    findings = diagnose(op, results, conv)
    not_run = [r.number for r in results if r.verdict == "not run"]
    if not_run:
        findings.append(
            (
                ("not-run",),
                f"The time limit of {time_limit:g} s ran out: cases {not_run[0]}-{not_run[-1]} were not run "
                "(a slow function, or an endless loop in the case that was running); raise time_limit= "
                "or make the function faster.",
            )
        )
    report.diagnosis = [text for _, text in findings]
    report.bugs = tuple(dict.fromkeys(i for ids, _ in findings for i in ids))
    report.refused = refused_properties(results)
    report.scope = scope_lines(report.refused, core_missing(results), assume, len(cases) if assume else None)
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
    assume: Sequence[str] | None = None,
    time_limit: float | None = None,
    progress: bool | None = None,
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
    assume : list of str, optional
        What your assignment guarantees, from ``check.ASSUMPTIONS``: "square" (square
        kernels and windows), "divisible" ((H + 2p - k) divisible by the stride), "int" (one
        int stride and padding). Only cases inside them are drawn, and the report says so.
    time_limit : float, optional
        Seconds for the whole check; the cases left when it runs out are "not run".
    progress : bool or None
        Print each case's line as it finishes: None (default) once the check has run 1.5 s.

    Returns
    -------
    Report
        ``bool(report)`` is True when every case was right or refused on purpose by your
        own code, and the right ones include the core cases (see ``Report``);
        ``report.bugs`` the ids of the diagnosis, ``report.refused`` what was refused.

    Raises
    ------
    ValueError
        Unknown convention or assumption; ``forward`` given for "cnnlib"; dilation or
        groups < 1; time_limit <= 0.
    TypeError
        ``fn`` or ``forward`` not callable; a case of the wrong kind; dilation or groups
        not an int (2.5, "2", True).
    """
    return _check(
        "conv_backward", fn, convention, forward, cases, dilation, groups, assume, time_limit, progress
    )


def conv_forward(
    fn: Callable[..., Any],
    convention: str = "cnnlib",
    *,
    cases: Sequence[ConvCase] | None = None,
    dilation: IntOrPair = 1,
    groups: int = 1,
    assume: Sequence[str] | None = None,
    time_limit: float | None = None,
    progress: bool | None = None,
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
    assume, time_limit, progress
        As in ``conv_backward``.

    Returns
    -------
    Report
    """
    return _check("conv_forward", fn, convention, None, cases, dilation, groups, assume, time_limit, progress)


def maxpool_backward(
    fn: Callable[..., Any],
    convention: str = "cnnlib",
    forward: Callable[..., Any] | None = None,
    *,
    cases: Sequence[PoolCase] | None = None,
    assume: Sequence[str] | None = None,
    time_limit: float | None = None,
    progress: bool | None = None,
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
    assume, time_limit, progress
        As in ``conv_backward``.

    Returns
    -------
    Report
        Tied maxima may be routed to any one of them.
    """
    return _check("maxpool_backward", fn, convention, forward, cases, 1, 1, assume, time_limit, progress)


def avgpool_backward(
    fn: Callable[..., Any],
    convention: str = "cnnlib",
    forward: Callable[..., Any] | None = None,
    *,
    cases: Sequence[PoolCase] | None = None,
    assume: Sequence[str] | None = None,
    time_limit: float | None = None,
    progress: bool | None = None,
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
    assume, time_limit, progress
        As in ``conv_backward``.

    Returns
    -------
    Report
    """
    return _check("avgpool_backward", fn, convention, forward, cases, 1, 1, assume, time_limit, progress)
