"""Check a learner's batch-norm backward (training mode, statistics per channel) and name the bug.

Two conventions: this course's (``"cnnlib"``: ``fn(dy, cache) -> (dx, dgamma, dbeta)`` with the
cache of ``forward(x, gamma, beta, eps) -> (y, cache)``, by default
``cnnlib.batchnorm2d_forward``) and Stanford CS231n's spatial batch norm
(``spatial_batchnorm_backward(dout, cache)``, whose cache only the learner's
``spatial_batchnorm_forward(x, gamma, beta, bn_param)`` can make, so ``forward=`` is
required). deeplearning.ai's course has no batch-norm assignment. When the learner's forward
is used, its output is checked too.

The diagnosis recomputes the answer under the usual bugs (``BATCHNORM_BUG_IDS``) and names
those that reproduce the learner's outputs on every case: a path through the batch
statistics forgotten, statistics over the wrong axes, 1/(M − 1) where 1/M belongs, γ twice
or not at all, ∂E/∂γ or ∂E/∂β summed over the wrong axes, M counted as N (or N·C·H·W)
instead of the N·H·W values of a channel.

Derived in notebooks/09_the_modern_block.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..norm import batchnorm2d_backward, batchnorm2d_forward
from .batchnorm_diagnosis import diagnose_batchnorm
from .conventions import exception_text
from .refusals import is_refusal
from .report import CaseResult, FirstWrong, Report
from .run import relative_error, tolerance

__all__ = ["BATCHNORM_BUG_IDS", "BATCHNORM_CASES", "BatchNormCase", "batchnorm_backward"]

BATCHNORM_BUG_IDS = {
    "bn-mean-path": "∂E/∂x misses the path through the batch mean μ (every x moves μ)",
    "bn-var-path": "∂E/∂x misses the path through the batch variance σ² (every x moves σ²)",
    "bn-axes": "the statistics are taken over the wrong axes (per pixel, over channels, x.reshape(-1, C))",
    "bn-unbiased": "1/(M − 1) (the unbiased variance) where the normalisation uses 1/M, or the reverse",
    "bn-gamma": "γ applied twice or not at all (in ∂E/∂x or ∂E/∂γ)",
    "bn-sum-axes": "∂E/∂γ or ∂E/∂β summed over the wrong axes, or averaged: one sum per channel over N, H, W",
    "bn-count": "M, the number of values per channel, taken as N (the batch) or N·C·H·W instead of N·H·W",
}


@dataclass(frozen=True)
class BatchNormCase:
    """One case: x of shape (N, C, H, W) with a spread in every channel; γ, β, δ drawn from ``seed``."""

    N: int
    C: int
    H: int
    W: int
    seed: int = 0
    eps: float = 1e-5

    def arrays(self):
        rng = np.random.default_rng(self.seed)
        N, C, H, W = self.N, self.C, self.H, self.W
        spread, offset = rng.uniform(0.5, 2, (1, C, 1, 1)), rng.uniform(-1, 1, (1, C, 1, 1))
        x = rng.standard_normal((N, C, H, W)) * spread + offset
        # |γ| >= 1.3 and of both signs: γ = 1 would hide "γ not applied" (and γ² = γ "γ twice")
        gamma = rng.uniform(1.3, 2.0, C) * np.where(np.arange(C) % 2, -1, 1)
        return {"x": x, "gamma": gamma, "beta": rng.standard_normal(C), "dy": rng.standard_normal(x.shape)}


# (N·H·W >= 3 everywhere: with 2 values per channel x̂ = ±1 and ∂E/∂x is O(ε), which hides bugs)
BATCHNORM_CASES = (
    BatchNormCase(2, 3, 4, 5, seed=1),
    BatchNormCase(4, 2, 3, 3, seed=2),
    BatchNormCase(1, 3, 3, 4, seed=3),  # one sample: statistics over H, W only
    BatchNormCase(6, 2, 1, 1, seed=4),  # 1x1 images: batch norm of vectors
    BatchNormCase(3, 4, 2, 3, seed=5),
    BatchNormCase(2, 1, 5, 2, seed=6),
)

_LABELS = {
    "cnnlib": {"y": "y", "dx": "dx", "dgamma": "dgamma", "dbeta": "dbeta", "dy": "dy"},
    "cs231n": {"y": "out", "dx": "dx", "dgamma": "dgamma", "dbeta": "dbeta", "dy": "dout"},
}


def _call(stage, fn, *args):
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the learner's error is reported with its case, never raised
        raise _Raised(stage, exc) from exc


class _Raised(Exception):
    def __init__(self, stage, exc):
        super().__init__(stage)
        self.stage, self.exc = stage, exc


def _pair(value, what):
    if not (isinstance(value, tuple) and len(value) == 2):
        raise ValueError(f"{what} returned {type(value).__name__}, expected a tuple (out, cache)")
    return value


def _run(fn, forward, convention, a, eps):
    """The learner's outputs as a dict (y only when their forward ran)."""
    x, gamma, beta, dy = (a[k].copy() for k in ("x", "gamma", "beta", "dy"))
    if convention == "cs231n":
        bn_param = {"mode": "train", "eps": eps}
        y, cache = _pair(_call("your forward", forward, x, gamma, beta, bn_param), "forward")
    elif forward is not None:
        y, cache = _pair(_call("your forward", forward, x, gamma, beta, eps), "forward")
    else:
        y, cache = batchnorm2d_forward(x, gamma, beta, eps)
    grads = _call("your backward", fn, dy, cache)
    if not isinstance(grads, (tuple, list)) or len(grads) != 3:
        raise ValueError(f"returned {type(grads).__name__}, expected a tuple (dx, dgamma, dbeta)")
    out = dict(zip(("dx", "dgamma", "dbeta"), grads, strict=True))
    if forward is not None:
        out["y"] = y
    for k, v in out.items():
        if v is None:
            raise ValueError(f"returned None for {k} (is it still a stub?)")
        arr = np.asarray(v)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{k} has dtype {arr.dtype}, expected a float array")
        out[k] = arr
    return out


# --- the check ----------------------------------------------------------------------------------------


@dataclass
class BatchNormCaseResult(CaseResult):
    """A CaseResult whose table row names the shapes and ε (there is no stride or padding)."""

    expected_shapes: dict | None = None

    def row(self):
        row = super().row()
        row[2] = f"eps {self.spec.eps:g}"
        return row


class BatchNormReport(Report):
    """A Report for batch norm: passes when every case ran and passed."""

    @property
    def passed(self):
        verdicts = {c.verdict for c in self.cases}
        return verdicts == {"pass"}


def _check_case(number, fn, forward, convention, case):
    labels = _LABELS[convention]
    a = case.arrays()
    expected_y, cache = batchnorm2d_forward(a["x"], a["gamma"], a["beta"], case.eps)
    dx, dgamma, dbeta = batchnorm2d_backward(a["dy"], cache)
    expected = {"y": expected_y, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
    shapes = {"x": a["x"].shape}
    result = BatchNormCaseResult(number=number, shapes=shapes, stride=(1, 1), padding=(0, 0), size=None,
                                 verdict="pass", spec=case, inputs=a)  # fmt: skip
    result.expected_shapes = {k: v.shape for k, v in expected.items()}
    given = {k: v.copy() for k, v in a.items()}
    try:
        got = _run(fn, forward, convention, given, case.eps)
    except _Raised as err:
        result.verdict = "refused" if is_refusal(err.exc) else "error"
        result.exception = err.exc
        result.message = f"{err.stage} raised {type(err.exc).__name__}: {exception_text(err.exc)}"
        return result
    except ValueError as err:
        result.verdict, result.message = "fail", f"your function {err}"
        return result
    errors, wrong = [], []
    for key, arr in got.items():
        label = labels[key]
        if arr.shape != expected[key].shape:
            result.got_shapes[key] = arr.shape
            wrong.append(key)
            continue
        error = relative_error(arr, expected[key])
        errors.append(error)
        result.outputs[key] = (arr, expected[key], arr.dtype)
        if not error <= tolerance(arr.dtype):
            wrong.append(key)
            if result.first_wrong is None:
                scale = tolerance(arr.dtype) * np.abs(expected[key]).max()
                bad = np.argwhere(~(np.abs(arr - expected[key]) <= scale))
                idx = tuple(int(i) for i in bad[0]) if len(bad) else (0,) * arr.ndim
                result.first_wrong = FirstWrong(label, idx, float(expected[key][idx]), float(arr[idx]))
    result.max_error = max(errors) if errors else None
    result.wrong = tuple(wrong)
    if wrong:
        result.verdict = "fail"
        parts = [f"{labels[k]} has shape {result.got_shapes[k]}, expected {expected[k].shape}"
                 for k in wrong if k in result.got_shapes]  # fmt: skip
        rest = [labels[k] for k in wrong if k not in result.got_shapes]
        result.message = "; ".join(parts + ([f"wrong {', '.join(rest)}"] if rest else []))
    return result


def batchnorm_backward(
    fn: Callable,
    convention: str = "cnnlib",
    forward: Callable | None = None,
    *,
    cases: Iterable | None = None,
) -> Report:
    """Check a learner's batch-norm backward (training mode) on every case; return a printable Report.

    Parameters
    ----------
    fn : callable
        ``"cnnlib"``: ``fn(dy, cache) -> (dx, dgamma, dbeta)``, NCHW, dgamma and dbeta of shape (C,).
        ``"cs231n"``: ``spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``.
    convention : {"cnnlib", "cs231n"}
        "coursera" has no batch norm: ValueError.
    forward : callable or None
        ``"cnnlib"``: ``forward(x, gamma, beta, eps) -> (y, cache)``; None uses
        ``cnnlib.batchnorm2d_forward`` (whose cache is a ``BatchNormCache``).
        ``"cs231n"``: required, ``spatial_batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)``,
        called with ``bn_param = {"mode": "train", "eps": eps}``. A given forward's output is checked too.
    cases : iterable of BatchNormCase, optional
        Defaults to ``BATCHNORM_CASES``.

    Returns
    -------
    Report
        ``bool(report)`` is True when every case passed; ``report.bugs`` holds the ids of
        ``BATCHNORM_BUG_IDS`` (and the shared ones: "zeros", "nan", "shape", "float32",
        "exception", "unknown") of what the diagnosis names.

    Raises
    ------
    ValueError
        Unknown convention, "coursera", or "cs231n" without ``forward``.
    TypeError
        ``fn`` or ``forward`` not callable; a case that is not a BatchNormCase.
    """
    if convention == "coursera":
        raise ValueError(
            "the 'coursera' convention has no batch norm (deeplearning.ai's CNN assignments do not ask for "
            "one): use 'cnnlib' (fn(dy, cache)) or 'cs231n' (spatial_batchnorm_backward(dout, cache))"
        )
    if convention not in _LABELS:
        raise ValueError(f"convention must be 'cnnlib' or 'cs231n' for batch norm, got {convention!r}")
    if not callable(fn):
        raise TypeError(f"fn must be a function (the backward), got {type(fn).__name__}: {fn!r}")
    if forward is None and convention == "cs231n":
        raise ValueError(
            "the 'cs231n' convention needs forward=spatial_batchnorm_forward: the cache is yours, and only "
            "your forward knows what it holds"
        )
    if forward is not None and not callable(forward):
        raise TypeError(f"forward must be a function or None, got {type(forward).__name__}: {forward!r}")
    cases = list(BATCHNORM_CASES if cases is None else cases)
    for case in cases:
        if not isinstance(case, BatchNormCase):
            raise TypeError(f"cases must hold BatchNormCase objects, got {type(case).__name__}")
    results = [_check_case(i, fn, forward, convention, c) for i, c in enumerate(cases, 1)]
    report = BatchNormReport("batchnorm_backward", convention, results)
    bugs, sentences = diagnose_batchnorm(results)
    errors = [r for r in results if r.verdict in ("error", "refused")]
    if errors:
        bugs += ("exception",)
        sentences.append(f"exception: your code raised on {len(errors)} case(s) (see the messages above).")
    if not results:
        bugs, sentences = ("no-case",), ["no case ran"]
    report.bugs, report.diagnosis = tuple(dict.fromkeys(bugs)), sentences
    return report
