"""An exercise's rules (e.g. "do not call the library's convolution"), enforced while it is checked."""

from __future__ import annotations

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
