"""Score cnnlib.check on the project's corpus of look-alike learner code (tests/learner_impls).

Prints "verdicts right" (a correct implementation passes, a buggy one fails) and "bugs named"
(the expected id is in report.bugs) over the corpus of tests/test_check_corpus.py plus the
refusal look-alikes of tests/learner_impls/refusing.py, each checked with its default
arguments. A cnnlib without report.bugs (before issue 23) is scored by the words of its
diagnosis instead, so that the same script measures before and after:

    python tools/check_corpus_score.py                 # this tree
    PYTHONPATH=/path/to/old/tree python tools/check_corpus_score.py
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from learner_impls import refusing as rf  # noqa: E402
from test_check_corpus import BUGGY, CONV_FWD, CORRECT  # noqa: E402

from cnnlib import check  # noqa: E402

# words an older diagnosis used for each id (scoring a cnnlib without report.bugs)
WORDS = {
    "stride": ["stride"],
    "flip": ["flip", "rot180"],
    "channel": ["channel"],
    "accumulate": ["+=", "accumulate", "overlap"],
    "bias": ["bias"],
    "crop": ["crop"],
    "height-width": ["square", "height", "width"],
    "tie": ["tie"],
    "window-index": ["corner"],
    "zeros": ["all zeros", "not computed"],
    "nan": ["nan"],
    "buffer": ["buffer"],
    "divisible": ["divisible", "assume"],
    "refused-core": ["refuses"],
}

REFUSING_CORRECT = [
    ("cs231n asserts divisibility", check.conv_backward, rf.make_cs231n_divisible_backward(), "cs231n", None),
    ("square kernels only", check.conv_backward, rf.square_conv_backward, "cnnlib", None),
    ("int stride only", check.conv_backward, rf.int_only_backward, "cnnlib", None),
]
REFUSING_BUGGY = [
    (
        "asserts divisibility, flips",
        check.conv_backward,
        rf.make_cs231n_divisible_backward("flip"),
        "cs231n",
        None,
        "flip",
    ),
    ("round() for floor", check.conv_backward, rf.cs231n_rounding_backward, "cs231n", None, "divisible"),
    ("refuses padding 0", check.conv_backward, rf.refusing_padding_0, "cnnlib", None, "refused-core"),
]


def named(report, bug):
    if hasattr(report, "bugs"):
        return bug in report.bugs
    text = " ".join(report.diagnosis).lower()
    return any(w in text for w in WORDS.get(bug, [bug]))


def run(checker, fn, convention, forward):
    kwargs = {} if checker is CONV_FWD else {"forward": forward}
    return checker(fn, convention, **kwargs)


def main():
    right, names, wrong_verdicts, unnamed = 0, 0, [], []
    correct = CORRECT + REFUSING_CORRECT
    buggy = BUGGY + REFUSING_BUGGY
    for name, *args in correct:
        if run(*args):
            right += 1
        else:
            wrong_verdicts.append(name)
    for name, *args, bug in buggy:
        report = run(*args)
        if not report:
            right += 1
        else:
            wrong_verdicts.append(name)
        if named(report, bug):
            names += 1
        else:
            unnamed.append(f"{name} (expected {bug})")
    total = len(correct) + len(buggy)
    print(f"verdicts right: {right}/{total} ({len(correct)} correct, {len(buggy)} buggy implementations)")
    print(f"bugs named: {names}/{len(buggy)}")
    if wrong_verdicts:
        print("wrong verdicts:", "; ".join(wrong_verdicts))
    if unnamed:
        print("not named:", "; ".join(unnamed))


if __name__ == "__main__":
    main()
