"""Running a learner's function on every case and comparing it with cnnlib's answer.

Every case runs: the learner's exceptions become a "refused" verdict (their own code
refusing the case on purpose, see ``refusals``) or an "error" one, a wrong shape or a wrong
value a "fail", a case the convention cannot express is "skipped". The right answers come
from cnnlib's public functions.
"""

from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward
from ..gradcheck import rel_error
from ..pool import avgpool2d_backward, maxpool2d_backward
from .conventions import OUTPUTS, BadOutput, LearnerRaised, exception_text
from .refusals import is_refusal
from .report import CaseResult, FirstWrong

__all__ = ["oracle", "tolerance", "relative_error", "run_case", "valid_tie_routing", "mark_overwritten"]


def _conv_args(case):
    return case.stride, case.padding, case.dilation, case.groups


def oracle(op, a, case):
    """cnnlib's answer for one case, as a dict of NCHW arrays keyed like ``OUTPUTS[op]``."""
    if op == "conv_forward":
        return {"y": conv2d_forward(a["x"], a["w"], a["b"], *_conv_args(case))}
    if op == "conv_backward":
        return dict(
            zip(OUTPUTS[op], conv2d_backward(a["dy"], a["x"], a["w"], *_conv_args(case)), strict=True)
        )
    backward = maxpool2d_backward if op == "maxpool_backward" else avgpool2d_backward
    return {"dx": backward(a["dy"], a["x"], case.size, case.stride)}


def tolerance(dtype):
    """Largest relative error accepted for an answer of this dtype.

    float64 sums taken in another order agree to ~1e-15; float32 ones to ~1e-6 (eps 1.2e-7
    times a few dozen terms). A real bug moves entries by O(1) of the scale.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return 1e-2
    if dtype == np.float32:
        return 1e-4
    return 1e-8


def relative_error(got, expected):
    """cnnlib's rel_error (one global scale), with inf for non-finite answers."""
    got = np.asarray(got, dtype=np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf")
    return rel_error(got, expected)


def valid_tie_routing(x, dy, size, stride, got, expected):
    """The right answer closest to ``got`` when windows hold tied maxima.

    Any routing of a window's δ to one of its maxima is a valid (sub)gradient; cnnlib
    picks the first in row-major order. For non-overlapping windows each window is
    independent, so where ``got`` routes δ to another of the tied maxima, that routing
    is taken as the expected one. Routing δ to every maximum is not valid: it counts
    δ once per tie.

    Parameters
    ----------
    x, dy, got, expected : ndarray of shape (N, C, H, W) / (N, C, Ho, Wo)
    size, stride : (kh, kw), (sh, sw)

    Returns
    -------
    ndarray of shape (N, C, H, W)
    """
    (kh, kw), (sh, sw) = size, stride
    out = expected.copy()
    N, C, Ho, Wo = dy.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    win = x[n, c, rows, cols]
                    ties = np.argwhere(win == win.max())
                    if len(ties) < 2:
                        continue
                    g = np.asarray(got[n, c, rows, cols], dtype=np.float64)
                    for m, k in ties:
                        cand = np.zeros_like(win)
                        cand[m, k] = dy[n, c, i, j]
                        if np.allclose(g, cand, rtol=1e-4, atol=1e-6 * (abs(dy[n, c, i, j]) + 1)):
                            out[n, c, rows, cols] = cand
                            break
    return out


def _first_wrong(label, got, expected, tol):
    """FirstWrong of arrays in the convention's layout, or None."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = max(1e-8, float(np.max(np.abs(e))) * 2) if e.size else 1.0
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(g - e) <= tol * scale)
    where = np.argwhere(bad)
    if not len(where):
        return None
    idx = tuple(int(i) for i in where[0])
    return FirstWrong(label, idx, float(e[idx]), float(g[idx]))


def _as_array(label, value):
    if value is None:
        raise BadOutput(f"returned None for {label} (is it still a stub?)")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and other non-arrays
        raise BadOutput(f"{label} is not an array ({type(value).__name__}): {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise BadOutput(f"{label} has dtype {arr.dtype}, expected a float array")
    return arr


def run_case(number, op, conv, fn, forward, case, shapes):
    """Run one case and compare every output.

    Returns
    -------
    CaseResult
        With the evidence the diagnosis reads: inputs, and (got, expected) NCHW pairs.
    """
    base = dict(number=number, shapes=shapes, stride=case.stride, spec=case)
    base["padding"] = getattr(case, "padding", (0, 0))
    base["size"] = getattr(case, "size", None)
    reason = conv.unsupported(op, case)
    if getattr(case, "family", False) and conv.name != "cnnlib":
        reason = "dilation and groups are checked in the cnnlib convention only"
    if reason:
        return CaseResult(verdict="skipped", message=reason, **base)
    a = case.arrays()
    given = {k: v.copy() for k, v in a.items()}
    expected = oracle(op, a, case)
    names = OUTPUTS[op]
    result = CaseResult(verdict="pass", inputs=a, **base)
    try:
        raw = conv.call(op, fn, forward, given, case)
        if raw is None or not isinstance(raw, (tuple, list)):
            labels = ", ".join(conv.label(k) for k in names)
            raise BadOutput(f"returned {type(raw).__name__}, expected a tuple ({labels})")
        if len(raw) != len(names):
            labels = ", ".join(conv.label(k) for k in names)
            raise BadOutput(f"returned {len(raw)} values, expected {len(names)} ({labels})")
        arrays = [_as_array(conv.label(k), v) for k, v in zip(names, raw, strict=True)]
    except LearnerRaised as err:
        result.verdict = "refused" if is_refusal(err.exc) else "error"
        result.exception = err.exc
        result.message = f"{err.stage} raised {type(err.exc).__name__}: {exception_text(err.exc)}"
        return result
    except BadOutput as err:
        result.verdict, result.message = "fail", f"your function {err}"
        return result
    except (Exception, GeneratorExit) as exc:  # a return value whose len() or __array__ raises
        result.verdict = "fail"
        result.message = (
            f"your function returned something the checker cannot read ({type(exc).__name__}: "
            f"{exception_text(exc)})"
        )
        return result
    changed = [conv.label(k) for k in a if not np.array_equal(given[k], a[k])]
    if changed:
        result.message = f"your function modified its input {', '.join(changed)} in place. "
    errors, wrong, messages = [], [], []
    for key, arr in zip(names, arrays, strict=True):
        label = conv.label(key)
        want = conv.to_layout(key, expected[key].shape)
        if arr.shape != want:
            result.got_shapes[key] = arr.shape
            wrong.append(label)
            messages.append(f"{label} has shape {arr.shape}, expected {want}")
            continue
        result.returned.append((label, arr, arr.copy()))
        got = conv.from_layout(key, arr)
        exp = expected[key]
        if op == "maxpool_backward" and case.ties and not case.overlapping:
            exp = valid_tie_routing(a["x"], a["dy"], case.size, case.stride, got, exp)
        tol = tolerance(arr.dtype)
        err = relative_error(got, exp)
        errors.append(err)
        result.outputs[key] = (got, exp, arr.dtype)
        if not err <= tol:
            wrong.append(label)
            if result.first_wrong is None:
                result.first_wrong = _first_wrong(label, arr, conv.to_layout(key, exp), tol)
    result.max_error = max(errors) if errors else None
    result.wrong = tuple(wrong)
    if wrong:
        result.verdict = "fail"
        if not messages:
            messages.append(f"wrong {', '.join(wrong)}")
    result.message += "; ".join(messages)
    return result


def mark_overwritten(results):
    """Fail the cases whose returned arrays a later call changed (views of one reused buffer).

    Run once every case has run; drops the references to the learner's arrays.
    """
    for r in results:
        changed = tuple(
            dict.fromkeys(
                lab for lab, arr, snap in r.returned if not np.array_equal(arr, snap, equal_nan=True)
            )
        )
        r.returned = []
        if changed:
            r.overwritten = changed
            if r.verdict == "pass":
                r.verdict = "fail"
            note = f"its {', '.join(changed)} changed when your function was called again (a reused buffer)"
            r.message = f"{r.message}; {note}" if r.message else note
