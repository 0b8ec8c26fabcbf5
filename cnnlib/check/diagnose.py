"""Turning the evidence of a failed check into sentences that name the likely bug.

Four kinds of evidence, strongest first:

1. the learner's wrong answer equals what a classic bug produces (``bug_models``), in
   every failing case: the bug is named outright;
2. the wrong answer has a telltale shape (the padded shape: no crop; zero rows at
   p = 0: ``[p:-p]``);
3. where the failures and exceptions sit: only at padding 0, only with C != D, only
   for non-square shapes, only where windows overlap, ...;
4. otherwise: which output is wrong, in which cases, a constant ratio, and the first
   wrong entry.
"""

from __future__ import annotations

import re

import numpy as np

from ..conv import conv2d_backward
from ..pool import avgpool2d_backward
from .bug_models import CANDIDATES, NEUTRAL
from .conventions import OUTPUTS, exception_text
from .refusals import core_missing
from .run import relative_error, tolerance
from .wording import FEATURE_HINTS, tag_id, tag_sentence

__all__ = ["diagnose", "where_phrase"]


def _cases(numbers):
    numbers = sorted(numbers)
    return ("case " if len(numbers) == 1 else "cases ") + ", ".join(str(n) for n in numbers)


def where_phrase(bad, ran):
    """Where a set of cases differs from the rest: (phrase, (id, hint) or None).

    Parameters
    ----------
    bad : set of int
        Numbers of the cases that went wrong.
    ran : list of CaseResult
        Every case that ran.
    """
    every = {r.number for r in ran}
    if bad == every:
        return "in every case", None
    feats = {name: {r.number for r in ran if r.spec.features().get(name)} for name, _, _ in FEATURE_HINTS}
    for name, bug, hint in FEATURE_HINTS:
        if feats[name] == bad:
            return f"only in the cases with {name} ({_cases(bad)})", (bug, hint)
    supersets = [(len(feats[n]), n, (b, h)) for n, b, h in FEATURE_HINTS if bad < feats[n] != every]
    if supersets:
        _, name, hint = min(supersets, key=lambda t: t[0])
        return f"in {_cases(bad)}, all with {name} (the other cases with {name} are right)", hint
    return f"in {_cases(bad)}", None


def _search(op, key, comparable, failing):
    """Bug combinations whose prediction equals the learner's answer: [(tags, cases), ...]."""
    matches, contradicts = {}, {}
    for r in comparable:
        got, _, dtype = r.outputs[key]
        tol = max(tolerance(dtype), 1e-7)
        for tags, pred in CANDIDATES[(op, key)](r.inputs, r.spec):
            hit = pred.shape == got.shape and relative_error(got, pred) <= tol
            (matches if hit else contradicts).setdefault(tags, set()).add(r.number)
    found, remaining = [], set(failing)
    while remaining and len(found) < 2:
        options = [t for t in matches if set(t) - NEUTRAL and matches[t] & remaining]
        if not options:
            break
        best = max(
            options, key=lambda t: (len(matches[t] & remaining), -len(contradicts.get(t, ())), -len(t))
        )
        found.append((best, matches[best] & remaining))
        remaining -= matches[best]
    return found, remaining


def _shape_sentence(op, key, r, conv):
    """A sentence for an output of the wrong shape, naming the bug when the shape tells it."""
    label, got = conv.label(key), r.got_shapes[key]
    case = r.spec
    if key == "dx" and op == "conv_backward":
        (ph, pw), (N, C, H, W) = case.padding, r.inputs["x"].shape
        if got == conv.to_layout("dx", (N, C, H + 2 * ph, W + 2 * pw)):
            return (
                f"crop: {label} has the padded shape {got}; "
                "remove the p rows and columns of padding from each side."
            )
        if 0 in got and (ph == 0 or pw == 0):
            return (
                f"crop: {label} has shape {got} at padding 0: [p:-p] is empty when p = 0 (-0 is 0); "
                "crop with [p:p + H] or skip the crop when p = 0."
            )
        Ho, Wo = case.out_hw
        (sh, sw) = case.stride
        covered = (N, C, (Ho - 1) * sh + case.kh - 2 * ph, (Wo - 1) * sw + case.kw - 2 * pw)
        if got == conv.to_layout("dx", covered):
            return (
                f"stride: {label} has shape {got}, the rows the windows cover; when (H + 2p - k) mod s "
                "!= 0 the last rows belong to no window but are still part of x (gradient 0)."
            )
    if (
        key == "db"
        and int(np.prod(got)) == r.inputs["dy"].shape[0] * r.inputs["dy"].shape[1] > 0
        and len(got) >= 2
    ):
        return (
            f"bias: {label} has shape {got}: sum δ over the batch as well "
            "(∂E/∂b[d] = Σ_n Σ_i Σ_j δ[n, d, i, j])."
        )
    if key == "y":
        (N, C, H, W), D = r.inputs["x"].shape, r.inputs["w"].shape[0]
        (sh, sw), (ph, pw), kh, kw = case.stride, case.padding, case.kh, case.kw
        alts = {
            "stride: the output size uses stride 1; Ho = floor((H + 2p - kh) / s) + 1.": (
                (H + 2 * ph - kh) + 1,
                (W + 2 * pw - kw) + 1,
            ),
            "padding: the output size ignores the padding; Ho = floor((H + 2p - kh) / s) + 1.": (
                (H - kh) // sh + 1,
                (W - kw) // sw + 1,
            ),
            "stride: the output size rounds up; Ho = floor((H + 2p - kh) / s) + 1 rounds down.": (
                -(-(H + 2 * ph - kh) // sh) + 1,
                -(-(W + 2 * pw - kw) // sw) + 1,
            ),
        }
        for text, hw in alts.items():
            if got == conv.to_layout("y", (N, D, *hw)) and hw != case.out_hw:
                keyword, rule = text.split(": ", 1)
                return f"{keyword}: {label} has shape {got}; {rule}"
    right = {"dx": r.inputs["x"].shape, "dw": r.inputs["w"].shape if "w" in r.inputs else None}.get(key)
    if key == "y":
        right = (r.inputs["x"].shape[0], r.inputs["w"].shape[0], *case.out_hw)
    if right is not None and got == conv.to_layout(key, right[:2] + right[2:][::-1]):
        return (
            f"height/width: {label} has shape {got}, its height and width swapped; only square "
            "shapes would work."
        )
    if key == "dw" and right is not None and got == conv.to_layout(key, (right[1], right[0]) + right[2:]):
        return f"channel: {label} has shape {got}, its filter and channel axes swapped."
    return f"{label} has the wrong shape {got}: {r.message}"


# the keyword a shape sentence starts with -> its id
_SHAPE_IDS = {"crop": "crop", "stride": "stride", "padding": "padding", "bias": "bias",
              "height/width": "height-width", "channel": "channel"}  # fmt: skip


def _shape_id(sentence):
    return _SHAPE_IDS.get(sentence.split(":", 1)[0], "shape")


def _coverage(r, op):
    """How many windows cover each input pixel, (H, W)."""
    case, x = r.spec, r.inputs["x"]
    Ho, Wo = case.out_hw
    if op == "conv_backward":
        ones = np.ones((1, 1, case.kh, case.kw))
        return conv2d_backward(np.ones((1, 1, Ho, Wo)), np.zeros((1, 1) + x.shape[2:]), ones,
                               case.stride, case.padding)[0][0, 0]  # fmt: skip
    kh, kw = case.size
    return avgpool2d_backward(
        np.ones((1, 1, Ho, Wo)), np.zeros((1, 1) + x.shape[2:]), case.size, case.stride
    )[0, 0] * (kh * kw)


def _fallback(op, key, label, failing, ran, conv):
    """Which output is wrong, where, a constant ratio, where in the array: for an unrecognised bug.

    Returns (ids, sentence): "unknown" and the ids of whatever the evidence points at.
    """
    where, hint = where_phrase({r.number for r in failing}, ran)
    text = [f"{label} is wrong {where}, in a way none of the classic bugs explains."]
    ids = ["unknown"]
    ratios = []
    for r in failing:
        got, exp, _ = r.outputs[key]
        denom = float(np.vdot(exp, exp))
        k = float(np.vdot(got, exp)) / denom if denom else np.nan
        ratios.append(k if denom and relative_error(got, k * exp) <= 1e-6 else np.nan)
    if ratios and np.all(np.isfinite(ratios)) and np.ptp(ratios) <= 1e-6 * abs(ratios[0]):
        text.append(f"It is {ratios[0]:.4g} times the right answer: a constant factor is missing or extra.")
        ids.append("constant-factor")
    if key == "dx" and op != "conv_forward":
        regions = []
        for r in failing:
            got, exp, dtype = r.outputs[key]
            bad = (np.abs(got - exp) > tolerance(dtype) * max(1e-8, np.abs(exp).max())).any(axis=(0, 1))
            cov = _coverage(r, op)
            regions.append(
                "overlap" if (cov[bad] >= 2).all() else "unreached" if (cov[bad] == 0).all() else ""
            )
        if all(g == "overlap" for g in regions):
            text.append(
                "Its wrong entries all sit where windows overlap: accumulate (+=) the contributions "
                "of every window there (overlap)."
            )
            ids.append("accumulate")
        elif all(g == "unreached" for g in regions):
            text.append(
                "Its wrong entries all sit in rows or columns no window reaches (stride): their "
                "gradient is 0."
            )
            ids.append("stride")
    if hint:
        ids.append(hint[0])
        text.append(hint[1][0].upper() + hint[1][1:])
    fw = next((r.first_wrong for r in failing if r.first_wrong and r.first_wrong.output == label), None)
    if fw is not None:
        text.append(f"First wrong entry: {fw}.")
    return tuple(dict.fromkeys(ids)), " ".join(text)


def diagnose(op, results, conv):
    """Findings naming the likely bug(s); [] when every case that ran passed.

    Parameters
    ----------
    op : str
    results : list of CaseResult
    conv : Convention

    Returns
    -------
    list of (tuple of str, str)
        Each finding's ids (keys of ``wording.BUG_IDS``) and its sentence.
    """
    ran = [r for r in results if r.verdict not in ("skipped", "not run")]
    missing = core_missing(results)
    bad = {r.number for r in ran if r.verdict in ("fail", "error")}
    if not ran:
        if any(r.verdict == "not run" for r in results):
            return []  # the time limit's finding says it
        return [(("no-case",), "No case ran: this convention cannot express any of the cases given.")]
    if not bad and not missing:
        return []
    out = []
    refused = [r.number for r in ran if r.verdict == "refused"]
    if missing and refused:
        out.append(
            (
                ("refused-core",),
                f"Your code refuses {_cases(refused)}, and so no accepted case has {', '.join(missing)}: "
                "these are cases every layer must handle, so the refusal itself is the bug "
                "(the messages below say where it comes from).",
            )
        )
    nondivisible = {r.number for r in ran if r.spec.features()["rows no window reaches"]}
    if bad and bad <= nondivisible and nondivisible != {r.number for r in ran}:
        out.append(
            (
                ("divisible", "stride"),
                f"Only cases whose stride does not divide (H + 2p - k) go wrong ({_cases(bad)}): there the "
                "last rows or columns belong to no window and keep gradient 0 (notebook 03). If your "
                "assignment guarantees (H + 2p - k) divisible by the stride, check with "
                "assume=['divisible'].",
            )
        )
    errors = [r for r in ran if r.verdict == "error" or (missing and r.verdict == "refused")]
    by_type = {}
    for r in errors:
        by_type.setdefault(type(r.exception).__name__, []).append(r)
    for name, rs in by_type.items():
        where, hint = where_phrase({r.number for r in rs}, ran)
        msg = rs[0].message
        text = f"{msg[0].upper()}{msg[1:].rstrip()}; this happens {where}."
        ids = ["exception"] if rs[0].verdict == "error" else []
        if name == "TypeError" and "argument" in exception_text(rs[0].exception):
            text += f" The checker calls {conv.signatures.get(op, op)}."
            ids = ["signature"]
        if hint:
            ids.append(hint[0])
            text += f" {hint[1][0].upper() + hint[1][1:]}"
        out.append((tuple(ids), text))
    for r in ran:
        if r.verdict == "fail" and not r.outputs and not r.got_shapes:  # unusable return value
            text = f"{r.message} (case {r.number}); the checker expects {conv.signatures.get(op, op)}."
            out.append((("return",), text))
            break
    for key in OUTPUTS[op]:
        label = conv.label(key)
        groups = {}  # one sentence per rule, with the first case's shapes as the example
        for r in (r for r in ran if key in r.got_shapes):
            text = _shape_sentence(op, key, r, conv)
            groups.setdefault(re.sub(r"\([\d, ]*\)", "()", text), (text, set()))[1].add(r.number)
        out += [((_shape_id(text),), f"{text} ({_cases(numbers)})") for text, numbers in groups.values()]
        # the bug models are plain convolutions: dilated or grouped cases are compared, not diagnosed
        comparable = [r for r in ran if key in r.outputs and not getattr(r.spec, "family", False)]
        failing = [r for r in comparable if label in r.wrong]
        if not failing:
            continue
        found, remaining = _search(op, key, comparable, {r.number for r in failing})
        for tags, numbers in found:
            scope = "" if numbers == {r.number for r in failing} else f" [{_cases(numbers)}]"
            out += [((tag_id(t),), tag_sentence(t, key, op, label) + scope) for t in tags if t not in NEUTRAL]
        rest = [r for r in failing if r.number in remaining]
        tiny = [r for r in rest if relative_error(*r.outputs[key][:2]) < 1e-4]
        if tiny and len(tiny) == len(rest):
            text = (
                f"{label} is off only by float32-level rounding "
                f"(up to {max(r.max_error for r in tiny):.0e}): "
                "something computes in float32; compute in float64 to check gradients."
            )
            out.append((("float32",), text))
        elif rest:
            out.append(_fallback(op, key, label, rest, ran, conv))
    return out or [
        (("unknown",), "Some cases failed, and the evidence names no bug; see the table and messages above.")
    ]
