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
"floor", "negative", "sides", "off-by-one", "border", "corners", "phases-of-x",
"empty-phase"); "planted-unchanged" says that a find-the-bug exercise's planted code came back
unchanged (``planted_unchanged``), naming none of its bugs. ``Verdict.bugs`` holds the ids named,
so tests match ids, not wording; ``Verdict.broken_rules`` the ids of the exercise's rules broken
(``forbid_calls``, ``call_once``, ``limit_lines``).

Modules: ``verdict`` (Verdict, the tally), ``compare`` (one case against the right answer),
``attempts`` (WrongAttempt, naming the likely bug; ``planted_unchanged``, ``name_in_report``),
``checkers`` (``check``, ``check_naming``), ``rules`` (``forbid_calls``, ``call_once``,
``limit_lines``, ``library_check_with_rules``, ``check_refusing_calls``, ``library_functions``,
``library_gradients``, ``check_refusing_library_gradients``).
"""

from .attempts import (
    PLANTED_UNCHANGED,
    WrongAttempt,
    combinations,
    likely_bugs,
    name_in_report,
    planted_unchanged,
)
from .checkers import check, check_naming, random_conv_cases
from .compare import compare_case, copies, describe, first_wrong, parts, run_case, same
from .rules import (
    call_once,
    check_refusing_calls,
    check_refusing_library_gradients,
    forbid_calls,
    library_check_with_rules,
    library_functions,
    library_gradients,
    limit_lines,
)
from .verdict import Verdict, library_check, not_implemented, report

__all__ = [
    "PLANTED_UNCHANGED",
    "Verdict",
    "WrongAttempt",
    "call_once",
    "check",
    "check_refusing_calls",
    "check_refusing_library_gradients",
    "check_naming",
    "combinations",
    "compare_case",
    "copies",
    "describe",
    "first_wrong",
    "forbid_calls",
    "library_check",
    "library_check_with_rules",
    "limit_lines",
    "library_functions",
    "library_gradients",
    "likely_bugs",
    "name_in_report",
    "not_implemented",
    "parts",
    "planted_unchanged",
    "random_conv_cases",
    "report",
    "run_case",
    "same",
]
