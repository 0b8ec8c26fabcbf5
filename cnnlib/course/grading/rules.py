"""An exercise's rules (e.g. "do not call the library's convolution"), enforced while it is checked."""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
from dataclasses import replace
from pathlib import Path

from ...check.report import Report
from .verdict import Verdict, library_check


def _spied(fn, targets, on_call):
    """fn wrapped so that, while it runs, each of ``targets`` is replaced by a spy calling ``on_call``.

    ``on_call(name, args, kwargs)`` sees every call of a target made by fn, not those one target
    makes of another (``conv2d_forward`` calls ``conv2d_forward_with_cache``); the originals are
    restored after each run, also when fn raises.
    """
    depth = [0]

    def spy(original):
        def call(*args, **kwargs):
            if not depth[0]:
                on_call(original.__name__, args, kwargs)
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    def wrapped(*args, **kwargs):
        originals = [(module, name, getattr(module, name)) for module, name in targets]
        if any(fn is original for _, _, original in originals):  # the target itself, passed as fn
            on_call(fn.__name__, args, kwargs)
        try:
            for module, name, original in originals:
                setattr(module, name, spy(original))
            return fn(*args, **kwargs)
        finally:
            for module, name, original in originals:
                setattr(module, name, original)

    return wrapped


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

        def on_call(name, args, kwargs):
            if when is None or when(*args, **kwargs):
                seen.append(name)

        return _spied(fn, targets, on_call), lambda: bool(seen)

    return guard


def call_once(targets):
    """A rule for ``check_naming``: every run of the learner's function calls ``targets`` exactly once.

    For an exercise whose point is one call (e.g. ∂E/∂x of a layer as ONE forward convolution),
    so that a loop of small calls, or none, breaks the rule.

    Parameters
    ----------
    targets : list of (module, attribute name)
        The places the one function may be looked up; a call of any of them counts.

    Returns
    -------
    callable
        ``guard(fn) -> (wrapped_fn, broke)``, as ``check_naming``'s ``rules`` take.
    """

    def guard(fn):
        counts = []  # one entry per run: the number of calls it made

        def on_call(name, args, kwargs):
            counts[-1] += 1

        spied = _spied(fn, targets, on_call)

        def wrapped(*args, **kwargs):
            counts.append(0)
            return spied(*args, **kwargs)

        return wrapped, lambda: any(n != 1 for n in counts)

    return guard


# code that is not the learner's: the Python installation (NumPy, the standard library) and cnnlib
_NOT_LEARNERS = tuple(
    os.path.join(os.path.realpath(d), "")
    for d in {sys.prefix, sys.base_prefix, sysconfig.get_paths()["purelib"], str(Path(__file__).parents[2])}
)


def limit_lines(limit, when):
    """A rule for the checkers: on the calls ``when`` picks, the learner's own code runs fewer than
    ``limit(*args)`` lines of Python.

    A Python loop over n items runs at least n lines; a function vectorised over them runs a
    handful per NumPy call, however large n is. Lines are counted (``sys.settrace``), not timed,
    so the verdict is the same on every machine. Lines inside NumPy, the standard library and
    cnnlib do not count.

    Parameters
    ----------
    limit : callable
        ``limit(*args)``: the fewest lines that mean a loop over the items (e.g. the windows).
    when : callable
        ``when(*args)`` is True for the calls measured (a case large enough to tell).

    Returns
    -------
    callable
        ``guard(fn) -> (wrapped_fn, broke)``, as ``check_naming``'s ``rules`` take.
    """

    def guard(fn):
        over = []

        def counted(*args, **kwargs):
            if not when(*args, **kwargs):
                return fn(*args, **kwargs)
            lines = 0

            def local(frame, event, arg):
                nonlocal lines
                lines += event == "line"
                return local

            def on_call(frame, event, arg):
                filename = os.path.realpath(frame.f_code.co_filename)
                return None if filename.startswith(_NOT_LEARNERS) else local

            previous = sys.gettrace()  # a coverage tool's or a debugger's: put back afterwards
            sys.settrace(on_call)
            try:
                return fn(*args, **kwargs)
            finally:
                sys.settrace(previous)
                if lines >= limit(*args, **kwargs):
                    over.append(lines)

        return counted, lambda: bool(over)

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
