"""What every checker returns and prints: the Verdict, the tally, a stub's "not implemented yet"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Verdict:
    """What a checker found: the tally, the bugs named and the exercise's rules broken.

    Truthy when at least one case ran, all passed and no rule (e.g. a forbidden call) was
    broken.
    """

    name: str
    passed_cases: int
    total: int
    bugs: tuple = ()  # ids of the likely bugs named, in the order printed
    broken_rules: tuple = ()  # ids of the exercise's rules the function broke

    def __bool__(self):
        return self.total > 0 and self.passed_cases == self.total and not self.broken_rules

    passed = property(__bool__)


def not_implemented(name):
    """What a checker says about a stub that still returns None."""
    print(f"{name}: not implemented yet (your function returned None).")
    return Verdict(name, 0, 0)


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
