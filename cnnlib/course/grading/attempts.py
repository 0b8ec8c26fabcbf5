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
