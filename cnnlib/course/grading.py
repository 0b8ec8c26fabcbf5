"""What the exercise checkers of every chapter share, built on ``cnnlib.check``'s core.

A checker runs the learner's function and an independent right answer (the reference
loops, a formula, or a count) on EVERY case and prints one line per case: its arguments
(shapes, stride, padding), the verdict and the largest relative error; under a failing
case the first wrong entry (index, expected, got); at the end the tally. Tolerances
follow the answer's dtype as in ``cnnlib.check`` (float32 answers right to float32
precision pass). A stub that returns None gets "not implemented yet". The learner's
exceptions are printed with their case, never raised, so stored notebooks hold no error
outputs. A checker returns a ``Verdict``, truthy when every case passed.

Checkers of a whole convolution or pooling backward call ``cnnlib.check`` itself, which
also names the likely bug. The small checkers name it too: each exercise lists its common
wrong attempts (``WrongAttempt``: a bug id, the words a learner recognises, and what that
attempt returns); a wrong answer equal to an attempt's on its failing cases is named under
"likely bug". The ids are ``cnnlib.check``'s where the bug is one of its classic bugs
("flip", "stride", "crop", "padding", "accumulate", "channel", "height-width", "bias",
"batch", "divisor", "divisible", "shape", "constant-factor", "zeros"); the others name an
exercise's own mistake ("cut", "leftover-rows", "product-of-sums", "channel-sum", "sign",
"floor", "negative", "sides", "off-by-one", "border"). ``Verdict.bugs`` holds the ids
named, so tests match ids, not wording.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..check.report import error_text
from ..check.run import relative_error, tolerance


@dataclass
class Verdict:
    """What a checker found: the tally; truthy when at least one case ran and all passed."""

    name: str
    passed_cases: int
    total: int
    bugs: tuple = ()  # ids of the likely bugs named, in the order printed

    def __bool__(self):
        return self.total > 0 and self.passed_cases == self.total

    passed = property(__bool__)


@dataclass(frozen=True)
class WrongAttempt:
    """A common wrong attempt at an exercise, to be recognised in a learner's answer.

    Attributes
    ----------
    bug : str or tuple of str
        Stable id (``cnnlib.check``'s vocabulary where it has the bug); a tuple for an
        attempt with several bugs at once.
    words : str or tuple of str
        What the learner did and the right rule, in the learner's words (one per id).
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
        return list(zip(self.bug, self.words, strict=True))


def describe(args, names):
    """One case's arguments as text: arrays by their shape, everything else by value."""
    parts = []
    for name, a in zip(names, args, strict=False):
        if isinstance(a, np.ndarray):
            parts.append(f"{name} {'×'.join(map(str, a.shape)) or 'scalar'}")
        else:
            parts.append(f"{name}={a!r}")
    return ", ".join(parts)


def first_wrong(got, expected, tol):
    """Text naming the first entry of ``got`` off by more than ``tol`` of the scale, or ''."""
    g, e = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = max(1e-8, 2 * float(np.max(np.abs(e)))) if e.size else 1.0
    with np.errstate(invalid="ignore"):
        bad = np.argwhere(~(np.abs(g - e) <= tol * scale))
    if not len(bad):
        return ""
    idx = tuple(int(i) for i in bad[0])
    return f"first wrong entry at {idx}: expected {e[idx]:.6g}, got {g[idx]:.6g}"


def compare_case(got, expected):
    """(ok, max relative error or None, message) for one case's answer against the right one."""
    exp_parts = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return False, None, f"expected a tuple of {len(expected)} results, got {type(got).__name__}"
        got_parts = tuple(got)
    else:
        got_parts = (got,)
    worst, notes = 0.0, []
    for part, (g, e) in enumerate(zip(got_parts, exp_parts, strict=True)):
        label = f"result {part + 1}: " if len(exp_parts) > 1 else ""
        try:
            g_arr = np.asarray(g)
            if g_arr.dtype.kind not in "biuf":
                raise TypeError(f"dtype {g_arr.dtype}")
        except (TypeError, ValueError) as exc:
            return False, None, f"{label}not an array of numbers ({exc})"
        e_arr = np.asarray(e, dtype=np.float64)
        if g_arr.shape != e_arr.shape:
            return False, None, f"{label}wrong shape: expected {e_arr.shape}, got {g_arr.shape}"
        tol = tolerance(g_arr.dtype) if g_arr.dtype.kind == "f" else tolerance(np.float64)
        err = relative_error(g_arr, e_arr)
        worst = max(worst, err)
        if not err <= tol:
            notes.append(label + first_wrong(g_arr, e_arr, tol))
    return not notes, worst, "; ".join(notes)


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
        try:
            got = learner_fn(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
        except Exception as e:  # a learner's bug must print, not crash the notebook
            lines.append(head + f"ERROR, raised {type(e).__name__}: {e}")
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


def not_implemented(name):
    """What a checker says about a stub that still returns None."""
    print(f"{name}: not implemented yet (your function returned None).")
    return Verdict(name, 0, 0)


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


def _same(got, predicted):
    """Whether an answer equals a wrong attempt's prediction (same shape, same numbers)."""
    parts = predicted if isinstance(predicted, tuple) else (predicted,)
    got_parts = tuple(got) if isinstance(predicted, tuple) and isinstance(got, (tuple, list)) else (got,)
    if len(parts) != len(got_parts):
        return False
    for g, e in zip(got_parts, parts, strict=True):
        try:
            g, e = np.asarray(g, dtype=np.float64), np.asarray(e, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if g.shape != e.shape or not relative_error(g, e) <= 1e-7:
            return False
    return True


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
                predicted = attempt.answer(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
            except Exception:  # an attempt that cannot run on this case does not explain it
                continue
            if _same(got, predicted):
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


def report(name, lines, passed, total, bugs=()):
    """Print the per-case lines, the tally and the likely bugs; return the Verdict.

    bugs : list of (id, sentence), as ``likely_bugs`` returns.
    """
    if lines:
        print("\n".join(lines))
    if passed == total:
        print(f"{name}: correct on all {total} cases.")
    else:
        print(f"{name}: {passed} of {total} cases correct.")
    for _, sentence in bugs:
        print(f"Likely bug: {sentence}")
    return Verdict(name, passed, total, tuple(bug for bug, _ in bugs))


def library_check(fn, report):
    """Print a ``cnnlib.check`` report on fn; a stub (None on every case) is "not implemented yet".

    Parameters
    ----------
    fn : callable
        The learner's function (only its name is used here).
    report : cnnlib.check.Report
        ``check.conv_backward(fn)`` or another of ``cnnlib.check``'s checks, already run.
    """
    if report.cases and all("None" in (c.message or "") for c in report.cases if c.verdict != "skipped"):
        return not_implemented(getattr(fn, "__name__", "your function"))
    print(report)
    return report


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


# --- Checkers that name the wrong attempt (notebooks 05-08) ---------------------------------------


@dataclass
class Diagnosed(Verdict):
    """A Verdict that also names what went wrong: the stable ids of the wrong attempts recognised
    (``bugs``) and of the exercise's rules the function broke (``broken_rules``, e.g. a forbidden
    call); falsy when a rule was broken, even if every answer was right."""

    bugs: tuple = ()
    broken_rules: tuple = ()

    def __bool__(self):
        return Verdict.__bool__(self) and not self.broken_rules

    passed = property(__bool__)


@dataclass(frozen=True)
class NamedMistake:
    """A common wrong attempt at an exercise of notebooks 05-08.

    Attributes
    ----------
    bug : str or tuple of str
        Stable id(s) (``cnnlib.check``'s vocabulary where it has the bug); a tuple for an
        attempt with several bugs at once.
    words : str or tuple of str
        The mistake and the right rule in the learner's words, one per id ("" for a
        combination: each id is then named with the words of its single attempt).
    answer : callable
        Takes the exercise's arguments and returns what this attempt returns.

    Notes
    -----
    The same fields as the WrongAttempt of notebooks 00-04 (branch issue24); once both are
    merged, one of the two can go.
    """

    bug: object
    words: object
    answer: object

    def named(self):
        """[(id, words), ...], one pair per bug of the attempt."""
        if isinstance(self.bug, str):
            return [(self.bug, self.words)]
        words = self.words if isinstance(self.words, tuple) else ("",) * len(self.bug)
        return list(zip(self.bug, words, strict=True))


def _matches(got, predicted, tol):
    try:
        g, p = np.asarray(got, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return g.shape == p.shape and relative_error(g, p) <= max(tol, 1e-7)


def _parts(value, n):
    if n == 1:
        return (value,)
    return tuple(value) if isinstance(value, (tuple, list)) and len(value) == n else None


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
    wrong_attempts : sequence of NamedMistake
        For each wrong output, the first attempt (in this order: put the specific ones first)
        whose answer equals the learner's (shape and values) in every case where that output
        is wrong is named.
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
    Diagnosed
    """
    outputs = tuple(outputs or ("result",))
    n_out = len(outputs)
    names = list(inspect.signature(expected_fn).parameters)
    guarded, broke = learner_fn, []
    for rule_id, words, guard in rules:
        guarded, test = guard(guarded)
        broke.append((rule_id, words, test))
    lines, passed, wrong = [], 0, {}  # wrong: output index -> list of (case args, learner's part)
    for k, args in enumerate(cases, 1):
        head = f"  case {k} ({describe(args, names)}): "
        try:
            got = guarded(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
        except Exception as raised:  # a learner's bug must print, not crash the notebook
            lines.append(head + f"ERROR, raised {type(raised).__name__}: {raised}")
            continue
        if got is None:
            return not_implemented(name)
        expected = _parts(expected_fn(*args), n_out)
        got_parts = _parts(got, n_out)
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
    bugs, words = [], {}
    for attempt in wrong_attempts:
        for bug, text in attempt.named():
            words[bug] = words.get(bug) or text
    for i, failures in sorted(wrong.items()) if diagnose else ():
        for attempt in wrong_attempts:  # the first attempt that explains every failure of this output
            try:
                hit = all(
                    _matches(g, _parts(attempt.answer(*args), n_out)[i], tolerance(np.float64))
                    for args, g in failures
                )
            except Exception:  # an attempt that cannot express this case does not match it
                hit = False
            if hit:
                bugs += [b for b, _ in attempt.named() if b not in bugs]
                break
    lines += [f"  likely bug ({b}): {words[b]}" for b in bugs]
    broken = tuple(rule_id for rule_id, _, test in broke if test())
    lines += [f"  rule broken ({r}): {w}" for r, w, test in broke if r in broken]
    report(name, lines, passed, len(cases))
    if broken and passed == len(cases):
        print("  ... but the exercise's rule above is broken, so it is not solved yet.")
    return Diagnosed(name, passed, len(cases), tuple(bugs), broken)


def forbid_calls(targets, when=None):
    """A rule for ``check_naming``: the learner's function must not call ``targets`` (as ``when`` says).

    Parameters
    ----------
    targets : list of (module, attribute name)
        Where the learner may look the functions up (``cnnlib``, ``cnnlib.conv``, ...); each is
        replaced by a spy while the learner's function runs, and restored after.
    when : callable or None
        ``when(*args, **kwargs)`` is True for a forbidden call (e.g. one with ``dilation`` != 1);
        None forbids every call.

    Returns
    -------
    callable
        ``guard(fn) -> (wrapped_fn, broke)``, as ``check_naming``'s ``rules`` take.
    """

    def guard(fn):
        seen = []

        def spy(original):
            def call(*args, **kwargs):
                if when is None or when(*args, **kwargs):
                    seen.append(original.__name__)
                return original(*args, **kwargs)

            return call

        def wrapped(*args, **kwargs):
            originals = [(module, name, getattr(module, name)) for module, name in targets]
            if any(fn is original for _, _, original in originals):  # the forbidden function itself
                seen.append(fn.__name__)
            try:
                for module, name, original in originals:
                    setattr(module, name, spy(original))
                return fn(*args, **kwargs)
            finally:
                for module, name, original in originals:
                    setattr(module, name, original)

        return wrapped, lambda: bool(seen)

    return guard


def library_check_with_rules(fn, run_check, rules, diagnose=True):
    """``library_check`` of ``run_check(fn)`` (a ``cnnlib.check`` call) with an exercise's rules enforced.

    Parameters
    ----------
    fn : callable
        The learner's function.
    run_check : callable
        ``run_check(f)`` runs a ``cnnlib.check`` check on f and returns its Report.
    rules : sequence of (id, words, guard)
        As ``check_naming`` takes them.
    diagnose : bool
        False prints the report without its diagnosis (the verdicts only).

    Returns
    -------
    cnnlib.check.Report or Diagnosed
        The report when no rule was broken; else a falsy Diagnosed carrying the report's bugs.
    """
    from ..check.report import Report  # here, so that the top of this module stays as it was

    wrapped, tests = fn, []
    for rule_id, words, guard in rules:
        wrapped, test = guard(wrapped)
        tests.append((rule_id, words, test))
    checked = run_check(wrapped)
    if not diagnose:  # the verdicts only: the bugs' names would give a find-the-bug exercise away
        checked.diagnosis = []
    result = library_check(fn, checked)
    broken = [(rule_id, words) for rule_id, words, test in tests if test()]
    if not broken or not isinstance(result, Report):
        return result
    for rule_id, words in broken:
        print(f"rule broken ({rule_id}): {words}")
    ran = result.ran
    passed = sum(c.verdict == "pass" for c in ran)
    return Diagnosed(
        getattr(fn, "__name__", "your function"), passed, len(ran), result.bugs, tuple(r for r, _ in broken)
    )
