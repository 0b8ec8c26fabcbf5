"""Common wrong attempts at an exercise, and naming the one a learner's answer reproduces."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...check.run import relative_error
from .compare import copies, same


@dataclass(frozen=True)
class WrongAttempt:
    """A common wrong attempt at an exercise, to be recognised in a learner's answer.

    Attributes
    ----------
    bug : str or tuple of str
        Stable id (``cnnlib.check``'s vocabulary where it has the bug); a tuple for an
        attempt with several bugs at once.
    words : str or tuple of str
        What the learner did and the right rule, in the learner's words (one per id; ""
        for a combination whose ids are named by the words of their single attempts).
    answer : callable
        Takes the exercise's arguments and returns what this attempt returns (it may
        raise where the attempt raises).
    """

    bug: str | tuple
    words: str | tuple
    answer: Callable

    def named(self):
        """[(id, words), ...], one pair per bug of the attempt."""
        if isinstance(self.bug, str):
            return [(self.bug, self.words)]
        words = self.words if isinstance(self.words, tuple) else ("",) * len(self.bug)
        return list(zip(self.bug, words, strict=True))


def combinations(bugs, planted, exclusive=()):
    """One WrongAttempt per non-empty combination of planted bugs, so that any mix is recognised.

    Parameters
    ----------
    bugs : dict of str -> (id, words)
        Keyed by the keyword that switches the bug on in ``planted``.
    planted : callable
        ``planted(*args, **{key: True, ...})``: the exercise's code with those bugs.
    exclusive : sequence of str
        Keys that cannot all be on at once (two ways of doing one thing wrong).
    """
    attempts = []
    for flags in itertools.product([False, True], repeat=len(bugs)):
        on = [key for key, flag in zip(bugs, flags, strict=True) if flag]
        if on and not (exclusive and set(exclusive) <= set(on)):
            attempts.append(
                WrongAttempt(
                    tuple(bugs[key][0] for key in on),
                    tuple(bugs[key][1] for key in on),
                    lambda *args, on=on: planted(*args, **dict.fromkeys(on, True)),
                )
            )
    return attempts


def _cases_text(numbers):
    return ("case " if len(numbers) == 1 else "cases ") + ", ".join(map(str, sorted(numbers)))


def likely_bugs(wrong, attempts):
    """Name the wrong attempts that reproduce the learner's wrong answers: [(id, sentence), ...].

    Parameters
    ----------
    wrong : list of (case number, args, got, expected)
        The failing cases (not those that raised).
    attempts : sequence of WrongAttempt

    Returns
    -------
    list of (str, str)
        The bugs of the attempt that explains most failing cases first (up to four); when none
        does: "zeros" for an all-zero answer, "constant-factor" for a constant multiple.
    """
    explains = {}
    for attempt in attempts:
        for k, args, got, _ in wrong:
            try:
                predicted = attempt.answer(*copies(args))
            except Exception:  # an attempt that cannot run on this case does not explain it
                continue
            if same(got, predicted):
                explains.setdefault(attempt, set()).add(k)
    named, remaining = [], {k for k, *_ in wrong}
    while remaining and len(named) < 4:
        best = max(attempts, key=lambda a: len(explains.get(a, set()) & remaining), default=None)
        if best is None or not explains.get(best, set()) & remaining:
            break
        scope = "" if explains[best] >= remaining and not named else f" ({_cases_text(explains[best])})"
        named += [(bug, words + scope) for bug, words in best.named()]
        remaining -= explains[best]
    rest = [(k, got, e) for k, _, got, e in wrong if k in remaining]
    arrays = []
    for k, got, e in rest:
        try:
            g, e = np.asarray(got, dtype=np.float64), np.asarray(e, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if g.shape == e.shape and e.size:
            arrays.append((k, g, e))
    if arrays and len(arrays) == len(rest):
        if all(not g.any() and e.any() for _, g, e in arrays):
            named.append(("zeros", "your answer is all zeros: not computed yet?"))
        else:
            ratios = [float(np.vdot(g, e) / np.vdot(e, e)) if e.any() else np.nan for _, g, e in arrays]
            if (
                all(np.isfinite(ratios))
                and np.ptp(ratios) <= 1e-9 * abs(ratios[0])
                and abs(ratios[0] - 1) > 1e-6
                and all(relative_error(g, r * e) <= 1e-9 for (_, g, e), r in zip(arrays, ratios, strict=True))
            ):
                text = f"your answer is {ratios[0]:.4g} times the right one: a constant factor"
                named.append(("constant-factor", text))
    return named


# --- the planted code of a find-the-bug exercise, pasted back unchanged ----------------------------

PLANTED_UNCHANGED = "planted-unchanged"
UNCHANGED_WORDS = (
    "this is the planted code unchanged (it gives the mystery function's answers on every failing "
    "case): find the bugs yourself first. Which output is wrong in which cases, and what do those "
    "cases have in common?"
)


def planted_unchanged(planted, words=UNCHANGED_WORDS):
    """A WrongAttempt that recognises a find-the-bug exercise's planted code, pasted back unchanged.

    Put it FIRST in an exercise's attempts: the checker then says only that the code is the
    planted one (id ``"planted-unchanged"``), not which bugs it holds, where the attempts that
    follow (e.g. ``combinations``, whose all-bugs attempt is the planted code too) would name
    every bug. ``name_in_report`` names it only when the learner's answers equal the planted
    code's on every case, passing ones included; a copy with one bug fixed still gets the
    remaining bugs named.
    """
    return WrongAttempt(PLANTED_UNCHANGED, words, planted)


def name_in_report(report, attempts, arguments, fn=None):
    """Name, in a ``cnnlib.check`` report, the first attempt that reproduces every failing case
    (``planted_unchanged``'s: every case).

    Its ids and words replace the report's diagnosis (which knows the classic loop bugs, not an
    exercise's own forms of them); when no attempt explains every failing case, the report's
    own diagnosis stands.

    Parameters
    ----------
    report : cnnlib.check.Report
    attempts : sequence of WrongAttempt
        Each ``answer`` takes the exercise function's arguments and returns its outputs (a
        tuple for several, as ``OUTPUTS`` orders them: dx, dw, db).
    arguments : callable
        ``arguments(case_result)``: the positional arguments of that case (from its
        ``inputs`` and ``spec``).
    fn : callable or None
        The learner's function, run again on a failing case whose answer the report could
        not keep (an output of the wrong shape); None: no attempt explains such a case.
    """
    failing = [c for c in report.ran if c.verdict == "fail"]
    if not failing:
        return report
    # the planted code must match on EVERY case (a wrong answer can agree with it where it fails and
    # differ where it passes: a bug that hides in the cases the other bug ruins); the others where it fails
    compared = [c for c in report.ran if c.verdict in ("pass", "fail")]
    got = []
    for c in compared:
        keys = [k for k in ("dx", "dw", "db", "y") if k in c.outputs]
        if c.got_shapes and fn is not None:
            try:
                got.append(fn(*copies(arguments(c))))
            except Exception:  # raises where it failed before: explained by no attempt
                return report
        elif c.got_shapes or not keys:  # nothing kept to compare (a wrong shape, None, not arrays)
            return report
        else:
            got.append(tuple(c.outputs[k][0] for k in keys) if len(keys) > 1 else c.outputs[keys[0]][0])
    for attempt in attempts:
        every = attempt.bug == PLANTED_UNCHANGED
        try:
            hit = all(
                same(g, attempt.answer(*copies(arguments(c))))
                for g, c in zip(got, compared, strict=True)
                if every or c.verdict == "fail"
            )
        except Exception:  # an attempt that cannot express a case does not explain it
            hit = False
        if hit:
            report.diagnosis = [words for _, words in attempt.named()]
            report.bugs = tuple(bug for bug, _ in attempt.named())
            break
    return report
