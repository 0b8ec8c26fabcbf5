"""cnnlib.check: refusals, assume=, the time limit and hostile learner code (issue 23).

Correct code that refuses part of the cases on purpose passes with a one-line scope;
a refusal that hides a real bug still fails; wrong values are never a refusal.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnnlib import check
from cnnlib.check import ConvCase

sys.path.insert(0, str(Path(__file__).parent))  # the look-alikes live next to the tests

from learner_impls import course_style as cs  # noqa: E402
from learner_impls import refusing as rf  # noqa: E402

DIVISIBLE = "strides that leave rows no window reaches"
SQUARE = "non-square kernels"
PAIRS = "(h, w) pairs of stride, padding or window"


@pytest.mark.parametrize(
    ("fn", "convention", "forward", "prop", "numbers"),
    [
        (rf.make_cs231n_divisible_backward(), "cs231n", rf.cs231n_divisible_forward, DIVISIBLE, [3, 4, 5]),
        (rf.make_cs231n_divisible_backward(), "cs231n", None, DIVISIBLE, [3, 4, 5]),
        (rf.square_conv_backward, "cnnlib", None, SQUARE, [7, 8, 9]),
        (rf.int_only_backward, "cnnlib", None, PAIRS, [8, 9]),
    ],
    ids=["cs231n assert, own forward", "cs231n assert", "square kernels only", "int stride only"],
)
def test_correct_code_that_refuses_passes_with_its_scope(fn, convention, forward, prop, numbers):
    report = check.conv_backward(fn, convention, forward=forward)
    assert report.passed, str(report)
    assert report.refused == {prop: numbers}
    assert [c.number for c in report.cases if c.verdict == "refused"] == numbers
    assert report.diagnosis == [] and report.bugs == ()
    (line,) = report.scope
    assert line.startswith(f"Your code refuses {prop} (cases ") and "not general" in line
    assert line in str(report).splitlines()[:3]
    assert "(" + ", ".join(map(str, numbers)) + " refused)" not in report.tally  # the tally counts them
    assert f"{len(numbers)} refused" in report.tally


def test_refusing_a_core_case_fails():
    report = check.conv_backward(rf.refusing_padding_0, assume=["int"])
    assert not report
    assert list(report.refused) == ["padding 0"]
    assert all(report.cases[n - 1].padding == (0, 0) for n in report.refused["padding 0"])
    assert report.bugs[0] == "refused-core" and "padding 0" in report.diagnosis[0]


def test_a_refusal_does_not_excuse_wrong_values_elsewhere():
    report = check.conv_backward(rf.make_cs231n_divisible_backward("flip"), "cs231n")
    assert not report and "flip" in report.bugs and "refused-core" not in report.bugs
    assert report.refused == {DIVISIBLE: [3, 4, 5]}


def test_wrong_values_where_the_stride_does_not_divide_fail_and_suggest_assume():
    report = check.conv_backward(rf.cs231n_rounding_backward, "cs231n")
    assert not report and report.bugs[0] == "divisible"
    assert "assume=['divisible']" in report.diagnosis[0]
    assert {c.number for c in report.cases if c.verdict in ("fail", "error")} == {3, 4}
    stated = check.conv_backward(rf.cs231n_rounding_backward, "cs231n", assume=["divisible"])
    assert stated.passed, str(stated)
    assert stated.scope[0].startswith("Assumed (assume=['divisible'])")


def test_a_numpy_error_on_the_learners_line_is_not_a_refusal():
    """Ho and Wo swapped: the non-square cases raise a broadcast ValueError, which is a bug."""
    report = check.conv_backward(cs.conv_backward_hw_swapped)
    assert not report and report.refused == {}
    assert all(c.verdict != "refused" for c in report.cases)
    assert "height-width" in report.bugs


def test_exceptions_from_installed_code_are_errors():
    def calls_numpy_wrongly(dy, x, w, stride, padding):
        np.reshape(x, (7, 7, 7))  # ValueError raised inside NumPy
        return None

    report = check.conv_backward(calls_numpy_wrongly)
    assert all(c.verdict == "error" for c in report.cases) and "exception" in report.bugs


def test_assume_draws_only_cases_inside():
    report = check.conv_backward(rf.int_only_backward, assume=["square", "divisible", "int"])
    assert report.passed and report.refused == {}
    for c in report.cases:
        s = c.spec
        assert s.kh == s.kw and s.stride[0] == s.stride[1] and s.padding[0] == s.padding[1]
        assert not s.features()["rows no window reaches"]
    strides = {c.stride[0] for c in report.cases}
    assert {1, 2, 3} <= strides and {c.padding[0] for c in report.cases} >= {0, 1}
    assert "Assumed" in report.scope[0] and "square kernels" in report.scope[0]
    pool = check.maxpool_backward(cs.maxpool_backward_loops, assume="square")
    assert pool.passed and all(c.size[0] == c.size[1] for c in pool.cases)


def test_assume_validation():
    with pytest.raises(ValueError, match="unknown assumption 'squares'.*'square'.*'divisible'.*'int'"):
        check.conv_backward(rf.int_only_backward, assume=["squares"])
    with pytest.raises(TypeError, match="assume must be a list"):
        check.conv_backward(rf.int_only_backward, assume=3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"groups": 2.5}, TypeError, "groups must be an int"),
        ({"groups": "2"}, TypeError, "groups must be an int"),
        ({"groups": True}, TypeError, "groups must be an int"),
        ({"groups": 0}, ValueError, "groups must be >= 1"),
        ({"groups": -1}, ValueError, "groups must be >= 1"),
        ({"dilation": 1.9}, TypeError, "dilation must be an int"),
        ({"dilation": "2"}, TypeError, "dilation must be an int"),
        ({"dilation": True}, TypeError, "dilation must be an int"),
        ({"dilation": 0}, ValueError, "dilation must be >= 1"),
        ({"dilation": (2, -1)}, ValueError, "dilation must be >= 1"),
        ({"time_limit": 0}, ValueError, "time_limit must be > 0"),
        ({"time_limit": "5"}, TypeError, "time_limit must be a number"),
    ],
)
def test_bad_hyper_parameters_are_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        check.conv_backward(cs.conv_backward_einsum, **kwargs)


def test_learner_exceptions_that_cannot_print_or_are_base_exceptions_are_reported():
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    def raises_unprintable(dy, x, w, stride, padding):
        raise Unprintable()

    def raises_generator_exit(dy, x, w, stride, padding):
        raise GeneratorExit()

    for fn, name in ((raises_unprintable, "Unprintable"), (raises_generator_exit, "GeneratorExit")):
        report = check.conv_backward(fn)
        assert not report and all(c.verdict == "error" for c in report.cases)
        assert name in report.diagnosis[0] and "exception" in report.bugs
        str(report)


def test_time_limit_stops_an_endless_loop_and_reports_the_rest_as_not_run(capsys):
    calls = []

    def slow_then_endless(dy, x, w, stride, padding):
        calls.append(1)
        if len(calls) >= 2:
            while True:
                pass
        return cs.conv_backward_einsum(dy, x, w, stride, padding)

    start = time.perf_counter()
    report = check.conv_backward(slow_then_endless, time_limit=0.5)
    assert time.perf_counter() - start < 5
    assert [c.verdict for c in report.cases][:2] == ["pass", "not run"]
    assert all(c.verdict == "not run" for c in report.cases[1:])
    assert not report and report.bugs == ("not-run",) and "8 not run" in report.tally


def test_progress_lines_are_printed_as_cases_finish(capsys):
    report = check.conv_backward(cs.conv_backward_einsum, cases=check.CONV_CASES[:2], progress=True)
    out = capsys.readouterr().out
    assert out.startswith("case 1 of 2: pass") and "case 2 of 2: pass" in out
    assert report.passed
    check.conv_backward(cs.conv_backward_einsum, cases=check.CONV_CASES[:2])
    assert capsys.readouterr().out == ""  # a fast check prints nothing before its report


def test_a_wrong_shape_prints_the_shapes_not_an_error():
    def dx_padded(dy, x, w, stride, padding):
        dx, dw, db = cs.conv_backward_einsum(dy, x, w, stride, padding)
        return np.zeros((*dx.shape[:2], dx.shape[2] + 1, dx.shape[3])), dw, db

    report = check.conv_backward(dx_padded, cases=[ConvCase(2, 3, 2, 5, 5, 3, 3, 1, 0, seed=1)])
    row = str(report).splitlines()[3]
    assert "wrong shape" in row and "< 1e-12" not in row
    assert "expected (2, 3, 5, 5)" in report.diagnosis[0] and report.bugs == ("shape",)


def test_a_return_value_that_cannot_be_read_fails_cleanly():
    class Unmeasurable(tuple):
        def __len__(self):
            raise RuntimeError("no length")

    report = check.conv_backward(lambda dy, x, w, stride, padding: Unmeasurable((x, w, w[:, 0, 0, 0])))
    assert not report and all(c.verdict == "fail" for c in report.cases)
    assert "cannot read (RuntimeError: no length)" in report.cases[0].message and "return" in report.bugs
