"""The checkers of the small exercises: run the learner's function case by case and name its bug.

``check`` (notebooks 00-04) names the wrong attempts that explain most failing cases, after
the tally; ``check_naming`` (notebooks 05-08) names, per output of a function returning
several, the first attempt that explains all of that output's failures, before the tally,
and enforces the exercise's rules (``rules.forbid_calls``).
"""

from __future__ import annotations

import inspect

import numpy as np

from ...check.report import error_text
from ...check.run import relative_error, tolerance
from .attempts import likely_bugs
from .compare import compare_case, describe, first_wrong, parts, run_case, same
from .verdict import Verdict, not_implemented, report


def check(learner_fn, expected_fn, cases, name=None, attempts=(), diagnose=True):
    """Run ``learner_fn(*args)`` and ``expected_fn(*args)`` on every case, print a line per case.

    Parameters
    ----------
    learner_fn, expected_fn : callable
        expected_fn may return a tuple of arrays; learner_fn must then return the same.
        expected_fn must be an independent right answer (not the function the notebook
        shows passing), so that a passing check means something.
    cases : list of tuple
        Positional arguments of each case; described by ``expected_fn``'s parameter names.
    name : str or None
    attempts : sequence of WrongAttempt
        The exercise's common wrong attempts; those that reproduce the learner's wrong
        answers are named after the tally.
    diagnose : bool
        False prints the verdicts only, naming no bug: for showing a find-the-bug
        exercise's planted code fail without giving its bugs away.

    Returns
    -------
    Verdict
        Truthy when every case matches; ``bugs`` lists the ids of the attempts named.
    """
    name = name or getattr(learner_fn, "__name__", "your function")
    try:
        names = list(inspect.signature(expected_fn).parameters)
    except (TypeError, ValueError):
        names = [f"arg{i}" for i in range(len(cases[0]))]
    lines, passed, stub, wrong = [], 0, False, []
    for k, args in enumerate(cases, 1):
        head = f"  case {k} ({describe(args, names)}): "
        got, error = run_case(learner_fn, args)
        if error:
            lines.append(head + error)
            continue
        if got is None:
            stub = True
            break
        expected = expected_fn(*args)
        ok, err, note = compare_case(got, expected)
        shown = "" if err is None else f" (rel. error {error_text(err)})"
        lines.append(head + ("pass" if ok else "FAIL") + shown + ("" if ok else f"\n      {note}"))
        passed += ok
        if not ok:
            wrong.append((k, args, got, expected))
    if stub:
        return not_implemented(name)
    return report(name, lines, passed, len(cases), likely_bugs(wrong, attempts) if diagnose else [])


def check_naming(
    learner_fn, expected_fn, cases, name, wrong_attempts=(), outputs=None, rules=(), diagnose=True
):
    """``check``, then name the wrong attempts whose answers the learner's function reproduces.

    Parameters
    ----------
    learner_fn, expected_fn : callable
        As in ``check``; ``expected_fn`` must be an independent right answer.
    cases : list of tuple
        Positional arguments; each case prints them under ``expected_fn``'s parameter names.
    name : str
    wrong_attempts : sequence of WrongAttempt
        For each wrong output, the first attempt (in this order: put the specific ones first)
        whose answer equals the learner's (shape and values) in every case where that output
        is wrong is named; when no wrong output named one, for each case that raised, the
        first attempt that raises the same exception with the same message there.
    diagnose : bool
        False names no bug (the verdicts and rules only): for showing a find-the-bug
        exercise's planted code fail without giving its bugs away.
    outputs : tuple of str or None
        Names of the results when the function returns a tuple (``("dw", "db")``).
    rules : sequence of (id, words, guard)
        ``guard(fn)`` returns ``(wrapped_fn, broke)``: the checker runs ``wrapped_fn``, and
        ``broke()`` is True when a call broke the rule (a forbidden function, too much memory).

    Returns
    -------
    Verdict
        Falsy when a rule was broken, even if every answer was right.
    """
    outputs = tuple(outputs or ("result",))
    n_out = len(outputs)
    names = list(inspect.signature(expected_fn).parameters)
    guarded, broke = learner_fn, []
    for rule_id, words, guard in rules:
        guarded, test = guard(guarded)
        broke.append((rule_id, words, test))
    lines, passed, wrong = [], 0, {}  # wrong: output index -> list of (case args, learner's part)
    raised = []  # (case args, the learner's "ERROR, raised ..." text)
    for k, args in enumerate(cases, 1):
        head = f"  case {k} ({describe(args, names)}): "
        got, error = run_case(guarded, args)
        if error:
            lines.append(head + error)
            raised.append((args, error))
            continue
        if got is None:
            return not_implemented(name)
        expected = parts(expected_fn(*args), n_out)
        got_parts = parts(got, n_out)
        if got_parts is None:
            want = ", ".join(outputs)
            lines.append(head + f"FAIL\n      expected a tuple ({want}), got {type(got).__name__}")
            continue
        notes, worst, compared = [], 0.0, True
        for i, (g, e) in enumerate(zip(got_parts, expected, strict=True)):
            label = f"{outputs[i]}: " if n_out > 1 else ""
            g_arr, e_arr = np.asarray(g), np.asarray(e, dtype=np.float64)
            if g_arr.dtype.kind not in "biuf":
                notes.append(f"{label}not an array of numbers (dtype {g_arr.dtype})")
                compared = False
            elif e_arr.ndim == 0 and g_arr.shape == () and np.asarray(e).dtype.kind in "iub":
                if g_arr == e_arr:
                    continue
                notes.append(f"{label}expected {e_arr.item():g}, got {g_arr.item():g}")
                compared = False
            elif g_arr.shape != e_arr.shape:
                notes.append(f"{label}wrong shape: expected {e_arr.shape}, got {g_arr.shape}")
                compared = False
            else:
                tol = tolerance(g_arr.dtype) if g_arr.dtype.kind == "f" else tolerance(np.float64)
                err = relative_error(g_arr, e_arr)
                worst = max(worst, err)
                if err <= tol:
                    continue
                if e_arr.ndim == 0:
                    notes.append(f"{label}expected {e_arr.item():.6g}, got {float(g_arr):.6g}")
                else:
                    notes.append(label + first_wrong(g_arr, e_arr, tol))
            wrong.setdefault(i, []).append((args, g))
        arrays = any(np.asarray(e).dtype.kind == "f" for e in expected)  # a count is right or wrong
        shown = f" (rel. error {error_text(worst)})" if compared and arrays else ""
        lines.append(head + ("FAIL" if notes else "pass") + shown + "".join(f"\n      {t}" for t in notes))
        passed += not notes
    # an id's words: the attempt's own, or (a combination's "") those of the first attempt with that id
    words = {}
    for attempt in wrong_attempts:
        for bug, text in attempt.named():
            words[bug] = words.get(bug) or text
    named = {}  # id -> the words of the attempt that matched
    for i, failures in sorted(wrong.items()) if diagnose else ():
        for attempt in wrong_attempts:  # the first attempt that explains every failure of this output
            try:
                hit = all(same(g, parts(attempt.answer(*args), n_out)[i]) for args, g in failures)
            except Exception:  # an attempt that cannot express this case does not match it
                hit = False
            if hit:
                for b, text in attempt.named():
                    named.setdefault(b, text or words[b])
                break
    # a case that raised is named by the first attempt raising the same error there, unless the
    # wrong outputs named a bug already (two slips rarely raise alike; one error text can)
    for args, error in raised if diagnose and not named else ():
        for attempt in wrong_attempts:
            if run_case(attempt.answer, args)[1] == error:
                for b, text in attempt.named():
                    named.setdefault(b, text or words[b])
                break
    bugs = list(named)
    lines += [f"  likely bug ({b}): {text}" for b, text in named.items()]
    broken = tuple(rule_id for rule_id, _, test in broke if test())
    lines += [f"  rule broken ({r}): {w}" for r, w, test in broke if r in broken]
    report(name, lines, passed, len(cases))
    if broken and passed == len(cases):
        print("  ... but the exercise's rule above is broken, so it is not solved yet.")
    return Verdict(name, passed, len(cases), tuple(bugs), broken)


def random_conv_cases(seed=0, n=4):
    """Random (x, w, stride, padding) cases: channels, strides 1-3, padding 0-2; small enough for loops."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        C, D = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        H, W = kh + int(rng.integers(0, 5)), kw + int(rng.integers(0, 5))
        x = rng.standard_normal((int(rng.integers(1, 3)), C, H, W))
        w = rng.standard_normal((D, C, kh, kw))
        cases.append((x, w, s, p))
    return cases
