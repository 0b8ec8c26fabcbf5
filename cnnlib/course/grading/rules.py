"""An exercise's rules (e.g. "do not call the library's convolution"), enforced while it is checked."""

from __future__ import annotations

import importlib
from dataclasses import replace

from ...check.report import Report
from .verdict import Verdict, library_check


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
    cnnlib.check.Report or Verdict
        The report when no rule was broken; else a falsy Verdict carrying the report's bugs.
    """
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
    return Verdict(
        getattr(fn, "__name__", "your function"), passed, len(ran), result.bugs, tuple(r for r, _ in broken)
    )


def check_refusing_calls(run_check, fn, targets, rule_id, words):
    """``run_check(guarded fn)`` (a ``check`` call) with the exercise's rule "do not call ``targets``".

    For exercises whose point a library function would skip (a closed form to derive, a planted
    loop to correct): the cases run and print as usual; a call to a target breaks the rule, whose
    words are printed after the tally, and the Verdict carries ``rule_id`` in ``broken_rules``.

    Parameters
    ----------
    run_check : callable
        ``run_check(f)`` checks f and returns a Verdict.
    fn : callable
        The learner's function.
    targets : list of (module, attribute name)
        As ``forbid_calls`` takes them.
    rule_id, words : str
        The rule's stable id and what the learner did, in their words.
    """
    guarded, used = forbid_calls(targets)(fn)
    verdict = run_check(guarded)
    if not used():
        return verdict
    print(f"rule broken ({rule_id}): {words}")
    return replace(verdict, broken_rules=(*verdict.broken_rules, rule_id))


# the public modules where a learner finds cnnlib's convolution functions (``cl.``, ``reference.``, ...)
_PUBLIC_MODULES = (
    "cnnlib",
    "cnnlib.conv",
    "cnnlib.conv_transpose",
    "cnnlib.reference",
    "cnnlib.reference.conv",
    "cnnlib.reference.correlate",
    "cnnlib.reference.transposed",
)


def library_functions(*names):
    """[(module, name), ...]: every public cnnlib module that holds one of ``names``, for ``forbid_calls``."""
    modules = [importlib.import_module(m) for m in _PUBLIC_MODULES]
    return [(m, name) for m in modules for name in names if name in vars(m)]


def library_gradients():
    """``library_functions`` of what answers a convolution-gradient exercise without the learner's
    code: the correlations (the gather form) and the backward passes (a transposed convolution is one)."""
    return library_functions(
        "correlate2d", "convolve2d", "conv2d_backward", "conv2d_backward_input", "conv_transpose2d_forward"
    )


def check_refusing_library_gradients(run_check, fn, route):
    """``check_refusing_calls`` with the rule "library-gradient": no call to ``library_gradients()``.

    For a find-the-bug exercise on a gradient loop, which a library call would pass without
    finding anything; ``route`` names that library answer in the notebook's words.
    """
    words = (
        f"your function calls the library's correlation or backward ({route} passes without finding "
        "anything); the exercise asks for the learner's loop, corrected."
    )
    return check_refusing_calls(run_check, fn, library_gradients(), "library-gradient", words)
