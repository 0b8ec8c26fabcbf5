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
from .evidence import all_zeros, buffer_finding, nonfinite_finding, window_index_finding, zeros_sentence
from .refusals import core_missing, group_key
from .run import relative_error, tolerance
from .shape_evidence import shape_finding
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


def _tag_matters(op, key, tag, tags, r):
    """False when the combination ``tags`` predicts the same answer without ``tag`` in case r
    (a stride bug at stride 1, a crop bug at padding 0): that case is no evidence for it."""
    preds = dict(CANDIDATES[(op, key)](r.inputs, r.spec))
    without = tuple(t for t in tags if t != tag)
    if tags not in preds or without not in preds:
        return True
    return not np.array_equal(preds[tags], preds[without])


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
            bad = ~(np.abs(got - exp) <= tolerance(dtype) * max(1e-8, np.abs(exp).max())).all(axis=(0, 1))
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
    buffer = buffer_finding(ran, conv)
    if buffer:
        out.append(buffer)
    nonfinite = any(not np.all(np.isfinite(got)) for r in ran for got, _, _ in r.outputs.values())
    nondivisible = {r.number for r in ran if r.spec.features()["rows no window reaches"]}
    if bad and bad <= nondivisible and nondivisible != {r.number for r in ran} and not nonfinite:
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
    by_kind = {}
    for r in errors:
        by_kind.setdefault(group_key(r), []).append(r)
    for (name, _), rs in by_kind.items():
        where, hint = where_phrase({r.number for r in rs}, ran)
        msg = rs[0].message
        text = f"{msg[0].upper()}{msg[1:].rstrip()}; this happens {where}."
        ids = ["exception"] if rs[0].verdict == "error" else []
        if name == "TypeError" and "argument" in exception_text(rs[0].exception):
            text += f" The checker calls {conv.signatures.get(op, op)}."
            ids = ["signature"]
        index = window_index_finding(op, rs, ran, conv) if rs[0].verdict == "error" else None
        if hint and not index:
            ids.append(hint[0])
            text += f" {hint[1][0].upper() + hint[1][1:]}"
        out.append((tuple(ids), text))
        if index:
            out.append(index)
    for r in ran:
        if r.verdict == "fail" and not r.outputs and not r.got_shapes:  # unusable return value
            text = f"{r.message} (case {r.number}); the checker expects {conv.signatures.get(op, op)}."
            out.append((("return",), text))
            break
    zero_labels, zero_cases = [], set()
    for key in OUTPUTS[op]:
        label = conv.label(key)
        groups = {}  # one sentence per rule, with the first case's shapes as the example
        for r in (r for r in ran if key in r.got_shapes):
            bug, text = shape_finding(op, key, r, conv)
            groups.setdefault(re.sub(r"\([\d, ]*\)", "()", text), (bug, text, set()))[2].add(r.number)
        out += [((bug,), f"{text} ({_cases(numbers)})") for bug, text, numbers in groups.values()]
        # the bug models are plain convolutions: dilated or grouped cases are compared, not diagnosed
        comparable = [r for r in ran if key in r.outputs and not getattr(r.spec, "family", False)]
        failing = [r for r in comparable if label in r.wrong]
        finding = nonfinite_finding(key, label, failing, conv)
        if finding:
            out.append(finding)
            failing = [r for r in failing if np.all(np.isfinite(r.outputs[key][0]))]
        if not failing:
            continue
        if all_zeros(failing, key):
            zero_labels.append(label)
            zero_cases |= {r.number for r in failing}
            continue
        found, remaining = _search(op, key, comparable, {r.number for r in failing})
        by_number = {r.number: r for r in comparable}
        per_tag = {}  # one sentence per bug, naming only the cases where that bug changes the answer
        for tags, numbers in found:
            for t in tags:
                if t not in NEUTRAL:
                    active = {n for n in numbers if _tag_matters(op, key, t, tags, by_number[n])}
                    per_tag.setdefault(t, set()).update(active or numbers)
        all_failing = {r.number for r in failing}
        for t, numbers in per_tag.items():
            scope = "" if numbers == all_failing else f" [{_cases(numbers)}]"
            out.append(((tag_id(t),), tag_sentence(t, key, op, label) + scope))
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
    if zero_labels:
        out.append(zeros_sentence(zero_labels, zero_cases))
    return out or [
        (("unknown",), "Some cases failed, and the evidence names no bug; see the table and messages above.")
    ]
